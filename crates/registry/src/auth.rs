//! Registry authentication: parse `WWW-Authenticate` challenges (Bearer and Basic), learn
//! each registry's challenge once (`GET /v2/`), and fetch bearer tokens from the realm,
//! cached per (registry, scope) until they expire. A per-scope async lock makes concurrent
//! requests for one repository wait for a single token request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portcullis_secret::Secret;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::error::RegistryError;
use crate::keychain::Keychain;
use crate::transport::{read_capped, redact_query, Transport};

/// The largest token answer read.
const MAX_TOKEN_BYTES: u64 = 1 << 20;

/// One authentication challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses every challenge in a `WWW-Authenticate` value. Unknown schemes and malformed
/// parameters are skipped; this never panics.
pub(crate) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        let scheme_end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        let scheme = &rest[..scheme_end];
        rest = rest[scheme_end..].trim_start();
        let mut params: HashMap<String, String> = HashMap::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
            let key_end = rest
                .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
                .unwrap_or(rest.len());
            if key_end == 0 || !rest[key_end..].trim_start().starts_with('=') {
                break; // next scheme (or the end)
            }
            let key = rest[..key_end].to_ascii_lowercase();
            rest = rest[key_end..].trim_start()[1..].trim_start();
            let value;
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut text = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                text.push(escaped);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        other => text.push(other),
                    }
                }
                value = text;
                rest = &quoted[end.min(quoted.len())..];
            } else {
                let end = rest
                    .find(|c: char| c == ',' || c.is_whitespace())
                    .unwrap_or(rest.len());
                value = rest[..end].to_owned();
                rest = &rest[end..];
            }
            params.insert(key, value);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            if let Some(realm) = params.remove("realm") {
                out.push(Challenge::Bearer {
                    realm,
                    service: params.remove("service"),
                    scope: params.remove("scope"),
                });
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            out.push(Challenge::Basic);
        }
        if scheme.is_empty() {
            // Nothing consumable is left (stray punctuation); stop rather than loop.
            break;
        }
    }
    out
}

/// The challenge to answer from a response: Bearer preferred over Basic.
pub(crate) fn pick(headers: &HeaderMap) -> Option<Challenge> {
    let all: Vec<Challenge> = headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .collect();
    all.iter()
        .find(|c| matches!(c, Challenge::Bearer { .. }))
        .or_else(|| all.first())
        .cloned()
}

#[derive(Debug)]
struct CachedToken {
    value: Secret,
    expires: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// Challenges and tokens for every registry a client talks to.
#[derive(Debug)]
pub(crate) struct Authenticator {
    pub keychain: Keychain,
    challenges: Mutex<HashMap<String, Arc<OnceCell<Option<Challenge>>>>>,
    tokens: Mutex<HashMap<(String, String), TokenSlot>>,
}

impl Authenticator {
    pub fn new(keychain: Keychain) -> Self {
        Self {
            keychain,
            challenges: Mutex::default(),
            tokens: Mutex::default(),
        }
    }

    /// The `Authorization` value to send first for `scope` on `registry`, if any.
    pub async fn authorization(
        &self,
        transport: &Transport,
        registry: &str,
        base: &Url,
        scope: &str,
    ) -> Result<Option<Secret>, RegistryError> {
        match self.challenge(transport, base).await? {
            None => Ok(None),
            Some(Challenge::Basic) => {
                Ok(self.keychain.get(registry).await?.map(|c| c.basic_header()))
            }
            Some(Challenge::Bearer { realm, service, .. }) => self
                .token(
                    transport,
                    registry,
                    &realm,
                    service.as_deref(),
                    scope,
                    None,
                    base.scheme() == "http",
                )
                .await
                .map(Some),
        }
    }

    /// The registry's challenge, learned once with `GET /v2/`.
    async fn challenge(
        &self,
        transport: &Transport,
        base: &Url,
    ) -> Result<Option<Challenge>, RegistryError> {
        let cell = Arc::clone(
            self.challenges
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(base.to_string())
                .or_default(),
        );
        cell.get_or_try_init(|| async {
            let url = base.join("/v2/").map_err(|_| RegistryError::Setup {
                reason: format!("bad registry URL `{base}`"),
            })?;
            let response = transport
                .send(Method::GET, url.clone(), HeaderMap::new())
                .await?;
            if response.status().is_server_error()
                || response.status() == StatusCode::TOO_MANY_REQUESTS
            {
                return Err(RegistryError::Http {
                    status: response.status().as_u16(),
                    url: redact_query(&url),
                });
            }
            Ok(if response.status() == StatusCode::UNAUTHORIZED {
                pick(response.headers())
            } else {
                None
            })
        })
        .await
        .cloned()
    }

    /// A bearer header for `scope`, fetched once per (registry, scope) while valid.
    /// `stale` is a header the registry just rejected: it is not returned again.
    /// `plain_ok`: the registry itself is reached over plain HTTP (loopback or configured
    /// `insecure`), so a plain-HTTP realm may receive its credentials.
    #[allow(clippy::too_many_arguments)]
    pub async fn token(
        &self,
        transport: &Transport,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        stale: Option<&Secret>,
        plain_ok: bool,
    ) -> Result<Secret, RegistryError> {
        let slot = Arc::clone(
            self.tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry((registry.to_owned(), scope.to_owned()))
                .or_default(),
        );
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.expires > Instant::now() && stale != Some(&token.value) {
                return Ok(token.value.clone());
            }
        }
        let token = self
            .fetch_token(transport, registry, realm, service, scope, plain_ok)
            .await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    async fn fetch_token(
        &self,
        transport: &Transport,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        plain_ok: bool,
    ) -> Result<CachedToken, RegistryError> {
        let fail = |reason: String| RegistryError::Token {
            realm: realm.to_owned(),
            reason,
        };
        let mut url = Url::parse(realm).map_err(|_| fail("the realm is not a URL".to_owned()))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            // Several scopes (a push with a mount source) are several `scope` parameters.
            for one in scope.split(' ').filter(|s| !s.is_empty()) {
                query.append_pair("scope", one);
            }
        }
        let mut headers = HeaderMap::new();
        if let Some(credentials) = self.keychain.get(registry).await? {
            if url.scheme() != "https" && !plain_ok {
                return Err(fail(format!(
                    "the realm is not HTTPS, so the credentials for `{registry}` are not sent to it; \
                     mark the registry `insecure` in `[registries]` only if plain HTTP is intended"
                )));
            }
            headers.insert(AUTHORIZATION, sensitive(&credentials.basic_header())?);
        }
        transport
            .counters
            .token_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = transport.send(Method::GET, url.clone(), headers).await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(RegistryError::Unauthorized {
                    registry: registry.to_owned(),
                })
            }
            status => {
                return Err(RegistryError::Http {
                    status: status.as_u16(),
                    url: redact_query(&url),
                })
            }
        }
        let body =
            read_capped(response, &url, MAX_TOKEN_BYTES)
                .await
                .map_err(|error| match error {
                    RegistryError::TooLarge { .. } => fail("the answer is over 1 MiB".to_owned()),
                    other => other,
                })?;
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| fail("the answer is not token JSON".to_owned()))?;
        let value = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fail("the answer has no `token` or `access_token`".to_owned()))?;
        // The spec's minimum lifetime is 60 s; renew 10 s early.
        let lifetime = parsed.expires_in.unwrap_or(60).max(60) - 10;
        Ok(CachedToken {
            value: Secret::new(format!("Bearer {value}")),
            expires: Instant::now() + Duration::from_secs(lifetime),
        })
    }
}

/// A header value marked sensitive (hyper then keeps it out of its own debug output).
pub(crate) fn sensitive(secret: &Secret) -> Result<HeaderValue, RegistryError> {
    let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| RegistryError::Setup {
        reason: "a credential holds characters not allowed in an HTTP header".to_owned(),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_bearer_and_basic() {
        let parsed = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull", Basic realm="x""#,
        );
        assert_eq!(
            parsed,
            vec![
                Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: Some("registry.docker.io".into()),
                    scope: Some("repository:library/nginx:pull".into()),
                },
                Challenge::Basic,
            ]
        );
        assert_eq!(
            parse_challenges(r#"basic realm="Registry Realm""#),
            vec![Challenge::Basic]
        );
        assert_eq!(
            parse_challenges(r#"Bearer realm=http://a/t , service="s\"q""#),
            vec![Challenge::Bearer {
                realm: "http://a/t".into(),
                service: Some("s\"q".into()),
                scope: None
            }]
        );
        assert!(
            parse_challenges(r"Bearer service=x").is_empty(),
            "a bearer challenge needs a realm"
        );
    }

    proptest! {
        #[test]
        fn challenge_parser_never_panics(text in "\\PC{0,80}") {
            let _ = parse_challenges(&text);
        }

        #[test]
        fn challenge_parser_never_panics_on_syntax(text in r#"[A-Za-z=", \\]{0,60}"#) {
            let _ = parse_challenges(&text);
        }
    }
}

#[cfg(test)]
mod realm_tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;
    use crate::credentials::Credentials;
    use crate::options::ClientOptions;

    /// A token endpoint on plain HTTP that records every request head.
    async fn realm(seen: Arc<Mutex<Vec<String>>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => head.push(byte[0]),
                        }
                    }
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    let body = r#"{"token":"t"}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        format!("http://{host}/token")
    }

    /// An HTTPS registry whose realm is plain HTTP had its Basic credentials sent in clear.
    #[tokio::test]
    async fn credentials_go_to_a_plain_http_realm_only_for_a_plain_http_registry() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let url = realm(Arc::clone(&seen)).await;
        let options = ClientOptions {
            use_env: false,
            ..ClientOptions::default()
        };
        let transport = Transport::new(&options).unwrap();
        let mut keychain = Keychain::empty();
        keychain.insert(
            "registry.example",
            Credentials::new("ci", "canary-realm-91"),
        );
        let auth = Authenticator::new(keychain);
        let error = auth
            .token(&transport, "registry.example", &url, None, "s", None, false)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&url) && error.contains("not HTTPS"),
            "{error}"
        );
        assert!(!error.contains("canary-realm-91"), "{error}");
        assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
        // A registry reached over plain HTTP (loopback, `insecure`) may use one.
        let token = auth
            .token(&transport, "registry.example", &url, None, "s", None, true)
            .await
            .unwrap();
        assert_eq!(token.expose(), "Bearer t");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
