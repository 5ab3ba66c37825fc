//! Where credentials come from, in Docker's order: `DOCKER_AUTH_CONFIG` (the same JSON as
//! `config.json`, as GitLab runners set it), the Docker `config.json` (`credHelpers`,
//! `credsStore`, `auths`), then CI variables (`GITHUB_TOKEN` for ghcr.io, `CI_REGISTRY_*`
//! on GitLab). Helper programs get the server URL on stdin, as `docker login` does.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use portcullis_secret::Secret;
use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;

use crate::credentials::Credentials;
use crate::error::RegistryError;

/// The server URL Docker uses for Docker Hub in `config.json` and with helpers.
const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// One parsed config source and where it came from (for error messages).
#[derive(Debug)]
struct Source {
    origin: String,
    config: DockerConfig,
}

/// Looks up credentials per registry host; results are cached for the client's lifetime.
#[derive(Debug)]
pub struct Keychain {
    sources: Vec<Source>,
    ci: Vec<(String, Credentials)>,
    cache: Mutex<HashMap<String, Option<Credentials>>>,
}

/// `docker.io`, `index.docker.io`, `https://index.docker.io/v1/` → `docker.io`;
/// `https://host:5000/path` → `host:5000`.
fn normalize_host(key: &str) -> String {
    portcullis_reference::host::canonical_host(key)
}

fn parse_config(origin: &str, text: &str) -> Result<DockerConfig, RegistryError> {
    serde_json::from_str(text).map_err(|e| RegistryError::Config {
        path: origin.to_owned(),
        reason: format!("line {} column {}: {}", e.line(), e.column(), classify(&e)),
    })
}

/// A serde error message without echoing input (which may be a credential).
fn classify(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "unexpected value type",
        serde_json::error::Category::Eof => "unexpected end of file",
    }
}

impl Keychain {
    /// An empty keychain (anonymous only).
    #[must_use]
    pub fn empty() -> Self {
        Self {
            sources: Vec::new(),
            ci: Vec::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Reads `DOCKER_AUTH_CONFIG` and CI variables (when `use_env`) and the Docker config
    /// file (`path`, or the default location). A missing file is fine; a malformed one is
    /// an error naming it.
    pub fn load(path: Option<&Path>, use_env: bool) -> Result<Self, RegistryError> {
        let mut keychain = Self::empty();
        if use_env {
            if let Ok(text) = std::env::var("DOCKER_AUTH_CONFIG") {
                if !text.trim().is_empty() {
                    let config = parse_config("DOCKER_AUTH_CONFIG", &text)?;
                    keychain.sources.push(Source {
                        origin: "DOCKER_AUTH_CONFIG".into(),
                        config,
                    });
                }
            }
        }
        let file = match path {
            Some(path) if path.is_dir() => Some(path.join("config.json")),
            Some(path) => Some(path.to_owned()),
            None => default_config_path(),
        };
        if let Some(file) = file {
            match std::fs::read_to_string(&file) {
                Ok(text) => {
                    let origin = file.display().to_string();
                    let config = parse_config(&origin, &text)?;
                    keychain.sources.push(Source { origin, config });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.is_none() => {}
                Err(e) => {
                    return Err(RegistryError::Config {
                        path: file.display().to_string(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        if use_env {
            keychain.ci = ci_credentials();
        }
        Ok(keychain)
    }

    /// Adds fixed credentials for `registry` (checked before every other source).
    pub fn insert(&mut self, registry: &str, credentials: Credentials) {
        self.cache
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(normalize_host(registry), Some(credentials));
    }

    /// Credentials for `registry` (as in an image reference: `docker.io`, `host:port`).
    pub async fn get(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        let host = normalize_host(registry);
        if let Some(hit) = self.lock().get(&host) {
            return Ok(hit.clone());
        }
        let found = self.lookup(&host).await?;
        self.lock().insert(host, found.clone());
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Credentials>>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn lookup(&self, host: &str) -> Result<Option<Credentials>, RegistryError> {
        let server = if host == "docker.io" {
            DOCKER_HUB_SERVER
        } else {
            host
        };
        for source in &self.sources {
            let config = &source.config;
            if let Some((_, helper)) = config
                .cred_helpers
                .iter()
                .find(|(key, _)| normalize_host(key) == host)
            {
                return run_helper(helper, server).await;
            }
            let entry = config
                .auths
                .iter()
                .find(|(key, _)| normalize_host(key) == host);
            if let Some(store) = &config.creds_store {
                if let Some(found) = run_helper(store, server).await? {
                    return Ok(Some(found));
                }
            }
            if let Some((_, entry)) = entry {
                if let Some(found) = entry_credentials(&source.origin, entry)? {
                    return Ok(Some(found));
                }
            }
        }
        Ok(self
            .ci
            .iter()
            .find(|(key, _)| key == host)
            .map(|(_, c)| c.clone()))
    }
}

fn entry_credentials(
    origin: &str,
    entry: &AuthEntry,
) -> Result<Option<Credentials>, RegistryError> {
    if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials {
            username: "<token>".to_owned(),
            password: Secret::new(token.clone()),
        }));
    }
    if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some((user, password)) = decoded.as_deref().and_then(|t| t.split_once(':')) else {
            return Err(RegistryError::Config {
                path: origin.to_owned(),
                reason: "an `auth` entry is not base64 of `user:password`".to_owned(),
            });
        };
        return Ok(Some(Credentials::new(user, password)));
    }
    match (&entry.username, &entry.password) {
        (Some(user), Some(password)) => Ok(Some(Credentials::new(user.clone(), password.clone()))),
        _ => Ok(None),
    }
}

fn default_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker").join("config.json"))
}

fn ci_credentials() -> Vec<(String, Credentials)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut found = Vec::new();
    if let Some(token) = var("GITHUB_TOKEN") {
        let user = var("GITHUB_ACTOR").unwrap_or_else(|| "github-actions".to_owned());
        found.push(("ghcr.io".to_owned(), Credentials::new(user, token)));
    }
    if let (Some(registry), Some(user), Some(password)) = (
        var("CI_REGISTRY"),
        var("CI_REGISTRY_USER"),
        var("CI_REGISTRY_PASSWORD"),
    ) {
        found.push((normalize_host(&registry), Credentials::new(user, password)));
    }
    found
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Runs `docker-credential-<helper> get` with `server` on stdin.
async fn run_helper(helper: &str, server: &str) -> Result<Option<Credentials>, RegistryError> {
    let program = format!("docker-credential-{helper}");
    let fail = |reason: String| RegistryError::CredentialHelper {
        helper: helper.to_owned(),
        reason,
    };
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run `{program}`: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .map_err(|_| fail("timed out after 30s".to_owned()))?
        .map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        let stdout = String::from_utf8_lossy(&output.stdout);
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        return Err(fail(format!(
            "exited with {} for `{server}`",
            output.status
        )));
    }
    let parsed: HelperOutput = serde_json::from_slice(&output.stdout).map_err(|e| {
        fail(format!(
            "output is not the expected JSON ({})",
            classify(&e)
        ))
    })?;
    Ok(Some(Credentials::new(parsed.username, parsed.secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_normalize_like_docker() {
        assert_eq!(normalize_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_host("registry-1.docker.io"), "docker.io");
        assert_eq!(
            normalize_host("http://Reg.Example.com:5000/x"),
            "reg.example.com:5000"
        );
        assert_eq!(normalize_host("ghcr.io"), "ghcr.io");
    }

    #[tokio::test]
    async fn auths_entries_decode() {
        let text = r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYTpzcw=="},
            "reg.example.com":{"username":"u2","password":"p2"}}}"#;
        let keychain = Keychain {
            sources: vec![Source {
                origin: "t".into(),
                config: parse_config("t", text).unwrap(),
            }],
            ..Keychain::empty()
        };
        let hub = keychain.get("docker.io").await.unwrap().unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.expose()),
            ("user", "pa:ss")
        );
        let other = keychain.get("reg.example.com").await.unwrap().unwrap();
        assert_eq!(other.password.expose(), "p2");
        assert!(keychain.get("ghcr.io").await.unwrap().is_none());
    }

    #[test]
    fn malformed_config_names_the_file_not_the_content() {
        let error = parse_config("/x/config.json", r#"{"auths": {"h": {"auth": 5 "#).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("`/x/config.json`") && text.contains("line 1"),
            "{text}"
        );
        let error = entry_credentials(
            "f",
            &AuthEntry {
                auth: Some("!!!".into()),
                ..Default::default()
            },
        );
        assert!(error.unwrap_err().to_string().contains("`auth`"));
    }
}
