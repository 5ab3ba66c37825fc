//! Starts a real Distribution registry (`docker-registry serve`) on a free loopback port
//! with temp storage, optionally behind htpasswd or token auth, and reads its access log
//! back so tests can assert exactly which requests a client made.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;

use crate::token::{Policy, Signer, TokenRequest, TokenServer};

/// How the registry authenticates clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may pull and push.
    None,
    /// Basic auth against a bcrypt htpasswd file with one user.
    Htpasswd { user: String, password: String },
    /// Docker token auth through an in-process token server that knows one user.
    Token { user: String, password: String },
}

/// One request from the registry's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `GET`, `HEAD`, `PUT`, ...
    pub method: String,
    /// The request target as sent, e.g. `/v2/app/manifests/1.0`.
    pub path: String,
    /// The status the registry answered.
    pub status: u16,
    /// The client's `User-Agent` (tells portcullis from skopeo in one log).
    pub user_agent: String,
}

/// Options for [`Registry`] beyond the auth mode.
#[derive(Debug, Clone)]
pub struct RegistryBuilder {
    auth: Auth,
    anonymous_pull: bool,
}

impl RegistryBuilder {
    /// With [`Auth::Token`]: whether the token server grants `pull` without credentials
    /// (default `false`: anonymous tokens carry no access).
    #[must_use]
    pub fn anonymous_pull(mut self, allow: bool) -> Self {
        self.anonymous_pull = allow;
        self
    }

    /// Starts the registry and waits until `/v2/` answers.
    pub fn start(self) -> Result<Registry> {
        Registry::launch(self)
    }
}

/// A running registry; killed on drop.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    auth: Auth,
    log_path: PathBuf,
    signer: Option<Arc<Signer>>,
    token_server: Option<TokenServer>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("host", &self.host())
            .finish_non_exhaustive()
    }
}

const SERVICE: &str = "portcullis-testkit";
const ISSUER: &str = "portcullis-testkit-issuer";

impl Registry {
    /// Starts a registry with `auth` (anonymous pull off for token auth).
    pub fn start(auth: Auth) -> Result<Self> {
        Self::builder(auth).start()
    }

    /// A builder for more options.
    #[must_use]
    pub fn builder(auth: Auth) -> RegistryBuilder {
        RegistryBuilder {
            auth,
            anonymous_pull: false,
        }
    }

    fn launch(options: RegistryBuilder) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("portcullis-registry-")
            .tempdir()?;
        let (signer, token_server) = match &options.auth {
            Auth::Token { user, password } => {
                let signer = Arc::new(Signer::new(ISSUER, SERVICE)?);
                let server = TokenServer::start(
                    Arc::clone(&signer),
                    Policy {
                        user: user.clone(),
                        password: password.clone(),
                        anonymous_pull: options.anonymous_pull,
                    },
                )?;
                std::fs::write(dir.path().join("token-cert.pem"), &signer.cert_pem)?;
                (Some(signer), Some(server))
            }
            Auth::Htpasswd { user, password } => {
                write_htpasswd(&dir.path().join("htpasswd"), user, password)?;
                (None, None)
            }
            Auth::None => (None, None),
        };
        let log_path = dir.path().join("registry.log");
        let mut last_error = None;
        for _attempt in 0..5 {
            let port = free_port()?;
            let config = config_yaml(dir.path(), port, &options.auth, token_server.as_ref());
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config)?;
            let log = File::create(&log_path)?;
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config_path)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .context("spawning `docker-registry` (Debian package docker-registry)")?;
            let mut child = child;
            match wait_ready(&mut child, port, &log_path) {
                Ok(()) => {
                    return Ok(Self {
                        child,
                        dir,
                        port,
                        auth: options.auth,
                        log_path,
                        signer,
                        token_server,
                    })
                }
                Err(error) => {
                    last_error = Some(error);
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("registry did not start")))
    }

    /// `127.0.0.1:PORT`.
    #[must_use]
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `127.0.0.1:PORT/REPO:TAG`, a reference to an image in this registry.
    #[must_use]
    pub fn image(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.host())
    }

    /// The port the registry listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user and password for htpasswd and token auth.
    #[must_use]
    pub fn credentials(&self) -> Option<(String, String)> {
        match &self.auth {
            Auth::None => None,
            Auth::Htpasswd { user, password } | Auth::Token { user, password } => {
                Some((user.clone(), password.clone()))
            }
        }
    }

    /// The auth mode.
    #[must_use]
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The token realm URL with token auth.
    #[must_use]
    pub fn token_realm(&self) -> Option<String> {
        self.token_server.as_ref().map(TokenServer::realm)
    }

    /// The registry's temp directory (config, storage, log).
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a Docker `config.json` with this registry's credentials under `dir` and
    /// returns its path (for `DOCKER_CONFIG`-style tests).
    pub fn write_docker_config(&self, dir: &Path) -> Result<PathBuf> {
        let auths = match self.credentials() {
            Some((user, password)) => serde_json::json!({
                self.host(): { "auth": base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{password}")) }
            }),
            None => serde_json::json!({}),
        };
        let path = dir.join("config.json");
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&serde_json::json!({ "auths": auths }))?,
        )?;
        Ok(path)
    }

    /// The registry's whole log output so far.
    #[must_use]
    pub fn log(&self) -> String {
        settle(&self.log_path);
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Every request the registry has answered so far, in order, from its access log.
    #[must_use]
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log().lines().filter_map(parse_access_line).collect()
    }

    /// Every request the token server has answered (empty without token auth).
    #[must_use]
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token_server
            .as_ref()
            .map(TokenServer::requests)
            .unwrap_or_default()
    }

    /// The `Authorization` header value the testkit itself uses to push to `repo`
    /// (minted in-process for token auth, so it does not show in `token_requests`).
    pub(crate) fn admin_authorization(&self, repo: &str) -> Result<Option<String>> {
        Ok(match &self.auth {
            Auth::None => None,
            Auth::Htpasswd { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            Auth::Token { user, .. } => {
                let signer = self
                    .signer
                    .as_ref()
                    .context("token auth without a signer")?;
                let actions = ["pull", "push", "delete"].map(str::to_owned).to_vec();
                Some(format!(
                    "Bearer {}",
                    signer.mint(user, &[(repo.to_owned(), actions)])?
                ))
            }
        })
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the log file stops growing (the access log line is written just after the
/// response, so a client can be faster than the log).
fn settle(path: &Path) {
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = size(path);
    loop {
        std::thread::sleep(Duration::from_millis(40));
        let now = size(path);
        if now == last || Instant::now() > deadline {
            return;
        }
        last = now;
    }
}

/// Parses a combined-log-format line: `IP - - [date] "METHOD PATH HTTP/1.1" STATUS SIZE …`.
fn parse_access_line(line: &str) -> Option<LoggedRequest> {
    let after_date = &line[line.find("] \"")? + 3..];
    let (request, rest) = after_date.split_once('"')?;
    let mut parts = request.split(' ');
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let status = rest.split_whitespace().next()?.parse().ok()?;
    // `… SIZE "REFERER" "USER-AGENT"`: the last quoted field.
    let user_agent = rest
        .trim_end()
        .strip_suffix('"')
        .and_then(|r| r.rsplit_once('"'))
        .map_or_else(String::new, |(_, ua)| ua.to_owned());
    Some(LoggedRequest {
        method,
        path,
        status,
        user_agent,
    })
}

fn wait_ready(child: &mut Child, port: u16, log_path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let listening = format!("listening on 127.0.0.1:{port}");
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!(
                "docker-registry exited with {status}: {}",
                log_tail(log_path)
            );
        }
        let log = std::fs::read_to_string(log_path).unwrap_or_default();
        if log.contains(&listening)
            && crate::http::send("GET", &format!("http://127.0.0.1:{port}/v2/"), &[], None).is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!(
        "docker-registry did not answer on 127.0.0.1:{port} within 15s: {}",
        log_tail(log_path)
    )
}

fn log_tail(log_path: &Path) -> String {
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn write_htpasswd(path: &Path, user: &str, password: &str) -> Result<()> {
    let output = Command::new("htpasswd")
        .args(["-nbB", user, password])
        .output()
        .context("running `htpasswd` (Debian package apache2-utils)")?;
    if !output.status.success() {
        bail!(
            "`htpasswd -nbB` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut file = File::create(path)?;
    file.write_all(String::from_utf8_lossy(&output.stdout).trim().as_bytes())?;
    file.write_all(b"\n")?;
    Ok(())
}

fn config_yaml(dir: &Path, port: u16, auth: &Auth, token: Option<&TokenServer>) -> String {
    let storage = dir.join("storage");
    let base = format!(
        "version: 0.1\nlog:\n  level: info\n  formatter: text\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: portcullis-testkit\n",
        storage.display()
    );
    let auth_section = match (auth, token) {
        (Auth::Htpasswd { .. }, _) => format!(
            "auth:\n  htpasswd:\n    realm: {SERVICE}\n    path: {}\n",
            dir.join("htpasswd").display()
        ),
        (Auth::Token { .. }, Some(token)) => format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            token.realm(),
            dir.join("token-cert.pem").display()
        ),
        _ => String::new(),
    };
    base + &auth_section
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_line_parses() {
        let line = r#"127.0.0.1 - - [27/Nov/2026:01:13:12 +0000] "HEAD /v2/foo/manifests/x HTTP/1.1" 404 91 "" "curl/7.88.1""#;
        assert_eq!(
            parse_access_line(line),
            Some(LoggedRequest {
                method: "HEAD".into(),
                path: "/v2/foo/manifests/x".into(),
                status: 404,
                user_agent: "curl/7.88.1".into(),
            })
        );
        assert_eq!(
            parse_access_line(r#"time="x" level=info msg="response completed""#),
            None
        );
    }
}
