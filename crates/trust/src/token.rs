//! OIDC identity tokens for keyless signing: from the command line, a file, the
//! `SIGSTORE_ID_TOKEN` variable (GitLab's `id_tokens`, or set by hand), or GitHub
//! Actions' token endpoint.
//!
//! The environment comes in as a map, so every source is testable without touching the
//! process environment. A token is a [`Secret`] from the moment it is read: no error,
//! `Debug` output or log line holds it, and an HTTP error body is shown only with the
//! request token and anything shaped like a JWT cut out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use portcullis_secret::Secret;

/// The process environment, or a test's, as a map.
pub type Environment = BTreeMap<String, String>;

/// The audience Fulcio expects.
pub const AUDIENCE: &str = "sigstore";

/// Where a token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// `--identity-token T`.
    Explicit(Secret),
    /// `--identity-token-file F`.
    File(PathBuf),
    /// The CI: `SIGSTORE_ID_TOKEN`, else GitHub Actions' token endpoint.
    Ambient,
}

/// How the token was obtained, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    Explicit,
    File,
    /// `SIGSTORE_ID_TOKEN` (GitLab `id_tokens`, or set by hand).
    Variable,
    /// GitHub Actions' `ACTIONS_ID_TOKEN_REQUEST_URL`.
    GithubActions,
}

/// An identity token and what it says about itself (unverified: Fulcio verifies it).
#[derive(Debug, Clone)]
pub struct IdentityToken {
    token: Secret,
    /// The unverified `iss` claim.
    pub issuer: String,
    /// The unverified `sub` claim.
    pub subject: String,
    /// The unverified `email` claim, when the token has one.
    pub email: Option<String>,
    pub origin: TokenOrigin,
}

impl IdentityToken {
    /// Reads the unverified claims of a JWT.
    pub fn parse(token: &Secret, origin: TokenOrigin) -> Result<Self, TokenError> {
        #[derive(serde::Deserialize)]
        struct Claims {
            iss: String,
            sub: String,
            email: Option<String>,
        }
        let text = token.expose().trim();
        let mut parts = text.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed {
                origin,
                detail: "it is not a JWT (three dot-separated parts)",
            });
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| TokenError::Malformed {
                origin,
                detail: "its payload is not base64url",
            })?;
        let claims: Claims = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed {
            origin,
            detail: "its payload is not JSON with string `iss` and `sub` claims",
        })?;
        Ok(Self {
            token: Secret::new(text),
            issuer: claims.iss,
            subject: claims.sub,
            email: claims.email,
            origin,
        })
    }

    /// The token, for the one request that sends it.
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.token
    }
}

/// Why no token could be had. None of the messages holds a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the identity token ({origin:?}) is malformed: {detail}")]
    Malformed {
        origin: TokenOrigin,
        detail: &'static str,
    },
    #[error("cannot read the identity token file `{}`", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the identity token file `{}` is empty", path.display())]
    EmptyFile { path: PathBuf },
    #[error(
        "GitHub Actions gives this job no identity token: `ACTIONS_ID_TOKEN_REQUEST_URL` and \
         `ACTIONS_ID_TOKEN_REQUEST_TOKEN` are not set; give the job `permissions: id-token: write`"
    )]
    GithubPermission,
    #[error(
        "GitLab CI gives this job no identity token: `SIGSTORE_ID_TOKEN` is not set; add \
         `id_tokens: {{ SIGSTORE_ID_TOKEN: {{ aud: sigstore }} }}` to the job"
    )]
    GitlabIdTokens,
    #[error(
        "no identity token: pass `--identity-token`, set `SIGSTORE_ID_TOKEN`, or run in \
         GitHub Actions with `permissions: id-token: write` (or sign with `--key`)"
    )]
    Missing,
    #[error("GitHub Actions' token endpoint `{url}` failed")]
    GithubRequest {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("GitHub Actions' token endpoint `{url}` answered {status}: {body}")]
    GithubStatus {
        url: String,
        status: u16,
        /// The answer, redacted.
        body: String,
    },
    #[error("GitHub Actions' token endpoint `{url}` answered without a `value` token")]
    GithubAnswer { url: String },
}

/// Obtains a token from `source`, reading the CI variables from `env`.
pub async fn obtain(
    source: &TokenSource,
    env: &Environment,
    http: &reqwest::Client,
) -> Result<IdentityToken, TokenError> {
    match source {
        TokenSource::Explicit(token) => IdentityToken::parse(token, TokenOrigin::Explicit),
        TokenSource::File(path) => from_file(path),
        TokenSource::Ambient => ambient(env, http).await,
    }
}

fn from_file(path: &Path) -> Result<IdentityToken, TokenError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokenError::File {
        path: path.to_owned(),
        source,
    })?;
    let token = Secret::new(text.trim());
    if token.is_empty() {
        return Err(TokenError::EmptyFile {
            path: path.to_owned(),
        });
    }
    IdentityToken::parse(&token, TokenOrigin::File)
}

async fn ambient(env: &Environment, http: &reqwest::Client) -> Result<IdentityToken, TokenError> {
    let var = |name: &str| env.get(name).filter(|v| !v.trim().is_empty());
    if let Some(token) = var("SIGSTORE_ID_TOKEN") {
        return IdentityToken::parse(&Secret::new(token.trim()), TokenOrigin::Variable);
    }
    match (
        var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (Some(url), Some(bearer)) => github(url, &Secret::new(bearer.as_str()), http).await,
        _ if var("GITHUB_ACTIONS").is_some_and(|v| v == "true") => {
            Err(TokenError::GithubPermission)
        }
        _ if var("GITLAB_CI").is_some() => Err(TokenError::GitlabIdTokens),
        _ => Err(TokenError::Missing),
    }
}

/// `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=sigstore` with the request token as bearer;
/// the answer is `{"value": "<jwt>"}`.
async fn github(
    url: &str,
    bearer: &Secret,
    http: &reqwest::Client,
) -> Result<IdentityToken, TokenError> {
    let separator = if url.contains('?') { '&' } else { '?' };
    let request_url = format!("{url}{separator}audience={AUDIENCE}");
    let shown = url.split('?').next().unwrap_or(url).to_owned();
    let failed = |source: reqwest::Error| TokenError::GithubRequest {
        url: shown.clone(),
        source: source.without_url(),
    };
    let response = http
        .get(&request_url)
        .header("Authorization", format!("bearer {}", bearer.expose()))
        .header("Accept", "application/json; api-version=2.0")
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    let body = response.bytes().await.map_err(failed)?;
    if !status.is_success() {
        return Err(TokenError::GithubStatus {
            url: shown,
            status: status.as_u16(),
            body: redact(&String::from_utf8_lossy(&body), bearer),
        });
    }
    let value = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("value").and_then(|v| v.as_str()).map(str::to_owned))
        .ok_or_else(|| TokenError::GithubAnswer { url: shown })?;
    IdentityToken::parse(&Secret::new(value), TokenOrigin::GithubActions)
}

/// An error body fit to show: the request token and every JWT-shaped or long opaque word
/// replaced by `***`, cut to 200 characters.
fn redact(body: &str, bearer: &Secret) -> String {
    let mut text = body.replace(bearer.expose(), "***");
    let words: Vec<String> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || "-_.=+/".contains(c)))
        .filter(|w| w.len() >= 24 || w.matches('.').count() >= 2 && w.len() > 8)
        .map(str::to_owned)
        .collect();
    for word in words {
        text = text.replace(&word, "***");
    }
    let text = text.trim();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::io::{BufRead as _, BufReader, Read as _};
    use std::net::TcpListener;
    use std::sync::mpsc;

    use super::*;

    /// A token no output may ever show.
    const CANARY: &str = "canary-7f3a9c";

    pub(crate) fn jwt(iss: &str, sub: &str) -> String {
        let enc = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.{CANARY}",
            enc(&serde_json::json!({"alg": "RS256"})),
            enc(&serde_json::json!({"iss": iss, "sub": sub, "aud": "sigstore"}))
        )
    }

    /// A one-shot HTTP server: answers one request with `status` and `body`, and sends the
    /// request line and headers it received.
    fn serve_once(status: u16, body: String) -> (String, mpsc::Receiver<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/token?api-version=2.0",
            listener.local_addr().unwrap()
        );
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                lines.push(line.trim_end().to_owned());
            }
            let _ = reader.get_mut().set_nonblocking(true);
            let _ = reader.read(&mut [0; 16]);
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            std::io::Write::write_all(&mut stream, answer.as_bytes()).unwrap();
            tx.send(lines).unwrap();
        });
        (url, rx)
    }

    fn env(pairs: &[(&str, &str)]) -> Environment {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn block<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn client() -> reqwest::Client {
        portcullis_registry::install_crypto_provider();
        reqwest::Client::new()
    }

    #[test]
    fn github_actions_request_has_audience_and_bearer() {
        let issued = jwt(
            "https://token.actions.githubusercontent.com",
            "repo:acme/app:ref:refs/heads/main",
        );
        let (url, seen) = serve_once(200, format!(r#"{{"count":1,"value":"{issued}"}}"#));
        let env = env(&[
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-bearer"),
        ]);
        let token = block(obtain(&TokenSource::Ambient, &env, &client())).unwrap();
        let lines = seen.recv().unwrap();
        assert_eq!(
            lines[0],
            "GET /token?api-version=2.0&audience=sigstore HTTP/1.1"
        );
        assert!(lines
            .iter()
            .any(|l| l.eq_ignore_ascii_case("authorization: bearer request-bearer")));
        assert_eq!(token.origin, TokenOrigin::GithubActions);
        assert_eq!(token.issuer, "https://token.actions.githubusercontent.com");
        assert_eq!(token.subject, "repo:acme/app:ref:refs/heads/main");
        assert_eq!(token.secret().expose(), issued);
    }

    #[test]
    fn gitlab_id_token_comes_from_its_variable() {
        let issued = jwt(
            "https://gitlab.com",
            "project_path:acme/app:ref_type:branch:ref:main",
        );
        let env = env(&[("GITLAB_CI", "true"), ("SIGSTORE_ID_TOKEN", &issued)]);
        let token = block(obtain(&TokenSource::Ambient, &env, &client())).unwrap();
        assert_eq!(token.origin, TokenOrigin::Variable);
        assert_eq!(token.issuer, "https://gitlab.com");
    }

    #[test]
    fn missing_variables_name_what_the_ci_needs() {
        let github = env(&[("GITHUB_ACTIONS", "true")]);
        let error = block(obtain(&TokenSource::Ambient, &github, &client())).unwrap_err();
        assert!(
            error.to_string().contains("permissions: id-token: write"),
            "{error}"
        );
        let gitlab = env(&[("GITLAB_CI", "true")]);
        let error = block(obtain(&TokenSource::Ambient, &gitlab, &client())).unwrap_err();
        assert!(error.to_string().contains("id_tokens"), "{error}");
        let error = block(obtain(&TokenSource::Ambient, &env(&[]), &client())).unwrap_err();
        assert!(error.to_string().contains("--identity-token"), "{error}");
    }

    #[test]
    fn explicit_and_file_tokens_are_read() {
        let issued = jwt("https://accounts.google.com", "someone@example.com");
        let token = block(obtain(
            &TokenSource::Explicit(Secret::new(issued.as_str())),
            &env(&[]),
            &client(),
        ))
        .unwrap();
        assert_eq!(token.origin, TokenOrigin::Explicit);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oidc-token");
        std::fs::write(&path, format!("{issued}\n")).unwrap();
        let token = block(obtain(&TokenSource::File(path), &env(&[]), &client())).unwrap();
        assert_eq!(token.origin, TokenOrigin::File);
        assert_eq!(token.secret().expose(), issued);
    }

    /// Every source with a canary, in the token or echoed back by an HTTP error body:
    /// no result, error (with its causes) or `Debug` output shows it.
    #[test]
    fn the_canary_never_shows() {
        fn check(text: &str) {
            assert!(!text.contains(CANARY), "leaked: {text}");
        }
        fn all(result: &Result<IdentityToken, TokenError>) {
            match result {
                Ok(token) => {
                    check(&format!("{token:?} {token:#?} {}", token.secret()));
                }
                Err(error) => {
                    let mut text = format!("{error} {error:?}");
                    let mut source = std::error::Error::source(error);
                    while let Some(cause) = source {
                        let _ = write!(text, " {cause} {cause:?}");
                        source = cause.source();
                    }
                    check(&text);
                }
            }
        }
        let good = jwt("https://issuer.example", "subject");
        let bad = format!("not-a-jwt-{CANARY}");
        let undecodable = format!("a.{CANARY}!.c");
        for token in [&good, &bad, &undecodable] {
            all(&block(obtain(
                &TokenSource::Explicit(Secret::new(token.as_str())),
                &env(&[]),
                &client(),
            )));
            all(&block(obtain(
                &TokenSource::Ambient,
                &env(&[("SIGSTORE_ID_TOKEN", token)]),
                &client(),
            )));
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t");
            std::fs::write(&path, token).unwrap();
            all(&block(obtain(
                &TokenSource::File(path),
                &env(&[]),
                &client(),
            )));
        }
        // An endpoint that echoes the request token and the token it would have issued.
        let bearer = format!("bearer-{CANARY}");
        let (url, _seen) = serve_once(
            403,
            format!(r#"{{"message":"bad token {bearer}","issued":"{good}"}}"#),
        );
        let result = block(obtain(
            &TokenSource::Ambient,
            &env(&[
                ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &bearer),
            ]),
            &client(),
        ));
        assert!(matches!(
            result,
            Err(TokenError::GithubStatus { status: 403, .. })
        ));
        all(&result);
        // An endpoint that cannot be reached (the URL carries the canary in its query).
        let result = block(obtain(
            &TokenSource::Ambient,
            &env(&[
                (
                    "ACTIONS_ID_TOKEN_REQUEST_URL",
                    &format!("http://127.0.0.1:9/t?x={CANARY}"),
                ),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &bearer),
            ]),
            &client(),
        ));
        assert!(matches!(result, Err(TokenError::GithubRequest { .. })));
        all(&result);
    }

    #[test]
    fn canary_never_reaches_debug_logs() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        let issued = jwt("https://issuer.example", "subject");
        let bearer = format!("bearer-{CANARY}");
        tracing::subscriber::with_default(subscriber, || {
            let (url, _seen) = serve_once(200, format!(r#"{{"value":"{issued}"}}"#));
            let token = block(obtain(
                &TokenSource::Ambient,
                &env(&[
                    ("ACTIONS_ID_TOKEN_REQUEST_URL", &url),
                    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &bearer),
                ]),
                &client(),
            ))
            .unwrap();
            tracing::debug!(?token, "obtained");
        });
        let logged = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("obtained"), "{logged}");
        assert!(!logged.contains(CANARY), "{logged}");
    }
}
