//! HTTP with the registry's failure modes handled: retries with exponential backoff and
//! jitter on 429/5xx/connection errors (honouring `Retry-After`), redirects followed by
//! hand so an `Authorization` header never reaches another host, and request counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode, Url};

use crate::error::RegistryError;
use crate::options::ClientOptions;

/// Counters of what a client did, for `--verbose` output and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Manifest HEAD and GET requests (first attempts, not retries).
    pub manifest_requests: u64,
    /// Blob GET requests (image configs).
    pub blob_requests: u64,
    /// Token endpoint requests.
    pub token_requests: u64,
    /// Retried attempts (429, 5xx, connection errors).
    pub retries: u64,
    /// Blob and manifest uploads, mounts and tag writes (first attempts).
    pub write_requests: u64,
    /// Blob bytes read from sources.
    pub bytes_read: u64,
    /// Blob bytes sent to targets.
    pub bytes_written: u64,
    /// Every HTTP request sent, retries and token requests included.
    pub total_requests: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub manifest_requests: AtomicU64,
    pub blob_requests: AtomicU64,
    pub token_requests: AtomicU64,
    pub retries: AtomicU64,
    pub write_requests: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub total_requests: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> Stats {
        Stats {
            manifest_requests: self.manifest_requests.load(Ordering::Relaxed),
            blob_requests: self.blob_requests.load(Ordering::Relaxed),
            token_requests: self.token_requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            write_requests: self.write_requests.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            total_requests: self.total_requests.load(Ordering::Relaxed),
        }
    }
}

const MAX_REDIRECTS: usize = 5;
/// The longest `Retry-After` we wait for (documented): beyond it the registry wants a
/// human, and a gate must not sleep for minutes on a registry's say-so.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// How often a request that timed out or could not connect is tried again: a registry that
/// does not answer costs seconds, not minutes.
const MAX_UNREACHABLE_RETRIES: u32 = 1;

#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    max_retries: u32,
    backoff: Duration,
    /// The overall limit on one small request (a manifest, a token, a HEAD).
    timeout: Duration,
    /// The least a streamed blob may take overall.
    body_timeout: Duration,
    /// Requests this client may send in all (`None`: no limit).
    max_requests: Option<u64>,
    pub counters: Arc<Counters>,
    /// Per-request timeouts by `host` or `host:port`.
    host_timeouts: Vec<(String, Duration)>,
    /// Origins that could not be reached, with the first failure: every later request to
    /// them fails at once, so a dead registry costs one timeout per run, not one per
    /// reference.
    down: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Transport {
    pub fn new(options: &ClientOptions) -> Result<Self, RegistryError> {
        let mut roots = Vec::new();
        for file in &options.ca_files {
            roots.extend(crate::tls::read_ca_file(file)?);
        }
        let builder = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::client_config(roots))
            .redirect(reqwest::redirect::Policy::none())
            // A silent peer fails after `timeout`; a layer that keeps arriving may take longer.
            .read_timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(5)))
            .user_agent(options.user_agent.clone());
        let http = builder.build().map_err(|e| RegistryError::Setup {
            reason: e.to_string(),
        })?;
        Ok(Self {
            http,
            max_retries: options.max_retries,
            timeout: options.timeout,
            body_timeout: options.blob_timeout,
            max_requests: options.max_requests,
            backoff: options.backoff,
            counters: Arc::default(),
            host_timeouts: options.host_timeouts.clone(),
            down: std::sync::Mutex::default(),
        })
    }

    /// Sends a request, following redirects (dropping `Authorization` when the origin
    /// changes) and retrying transient failures.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
    ) -> Result<Response, RegistryError> {
        self.send_with(method, url, headers, None).await
    }

    /// [`Transport::send`] with a body that can be sent again on a retry (a manifest, an
    /// empty upload request).
    pub async fn send_with(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Option<bytes::Bytes>,
    ) -> Result<Response, RegistryError> {
        self.send_following(method, url, headers, body, false).await
    }

    /// [`Transport::send`] for a response whose body is streamed (a blob): the body may take
    /// as long as it keeps arriving (`blob_timeout` at least), not one request's timeout.
    pub async fn send_streamed(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
    ) -> Result<Response, RegistryError> {
        self.send_following(method, url, headers, None, true).await
    }

    async fn send_following(
        &self,
        method: Method,
        url: Url,
        mut headers: HeaderMap,
        body: Option<bytes::Bytes>,
        streamed: bool,
    ) -> Result<Response, RegistryError> {
        let mut url = url;
        for _ in 0..=MAX_REDIRECTS {
            let response = self
                .send_retrying(&method, &url, &headers, body.as_ref(), streamed)
                .await?;
            if !response.status().is_redirection() || response.status() == StatusCode::NOT_MODIFIED
            {
                return Ok(response);
            }
            let Some(location) = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Ok(response);
            };
            let next = url.join(location).map_err(|_| RegistryError::Redirect {
                url: redact_query(&url),
                reason: format!("unparsable `Location` `{location}`"),
            })?;
            if next.scheme() != "https" && next.scheme() != "http" {
                return Err(RegistryError::Redirect {
                    url: redact_query(&url),
                    reason: format!("scheme `{}` is not HTTP", next.scheme()),
                });
            }
            if next.origin() != url.origin() {
                headers.remove(AUTHORIZATION);
            }
            url = next;
        }
        Err(RegistryError::Redirect {
            url: redact_query(&url),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    /// Sends a body that can be read only once (a blob streamed from its source): one
    /// attempt, no redirect followed. The caller retries the whole copy.
    pub async fn send_once(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: reqwest::Body,
    ) -> Result<Response, RegistryError> {
        self.spend(&url)?;
        let mut request = self
            .http
            .request(method, url.clone())
            .headers(headers)
            .body(body);
        request = request.timeout(self.body_timeout_for(&url));
        request
            .send()
            .await
            .map_err(|source| RegistryError::Network {
                url: redact_query(&url),
                source: source.without_url(),
            })
    }

    /// Counts a request against the run's budget.
    fn spend(&self, url: &Url) -> Result<(), RegistryError> {
        let sent = self.counters.total_requests.fetch_add(1, Ordering::Relaxed) + 1;
        match self.max_requests {
            Some(limit) if sent > limit => Err(RegistryError::Budget {
                limit,
                url: redact_query(url),
            }),
            _ => Ok(()),
        }
    }

    /// The time a streamed body may take: the whole of a large layer, not one small
    /// request's timeout. `None`: no overall limit (the connect and read timeouts hold).
    fn body_timeout_for(&self, url: &Url) -> Duration {
        self.timeout_for(url)
            .unwrap_or(self.timeout)
            .max(self.body_timeout)
    }

    async fn send_retrying(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: Option<&bytes::Bytes>,
        streamed: bool,
    ) -> Result<Response, RegistryError> {
        let origin = url.origin().ascii_serialization();
        if let Some(first) = self
            .down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&origin)
        {
            return Err(RegistryError::Unreachable {
                origin,
                first: first.clone(),
            });
        }
        let mut attempt: u32 = 0;
        loop {
            self.spend(url)?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(body) = body {
                request = request.body(body.clone());
            }
            request = request.timeout(if streamed {
                self.body_timeout_for(url)
            } else {
                self.timeout_for(url).unwrap_or(self.timeout)
            });
            let result = request.send().await;
            let retry_in = match &result {
                // Docker Hub's pull limit is spent: pause for its `Retry-After`, else as long
                // as a gate waits (`MAX_RETRY_AFTER`), rather than hammering it.
                Ok(response) if limit_spent(response).is_some() => {
                    Some(retry_after(response).unwrap_or(MAX_RETRY_AFTER))
                }
                Ok(response) if is_transient(response.status()) => {
                    Some(retry_after(response).unwrap_or_else(|| self.backoff_for(attempt)))
                }
                Err(error) if error.is_connect() || error.is_timeout() || error.is_request() => {
                    Some(self.backoff_for(attempt))
                }
                Ok(_) | Err(_) => None,
            };
            let unreachable = matches!(&result, Err(e) if e.is_connect() || e.is_timeout());
            let limit = if unreachable {
                self.max_retries.min(MAX_UNREACHABLE_RETRIES)
            } else {
                self.max_retries
            };
            match retry_in {
                Some(delay) if attempt < limit => {
                    tracing::debug!(url = %redact_query(url), attempt, ?delay, "retrying registry request");
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                _ => {
                    if let Some(limit) = result.as_ref().ok().and_then(limit_spent) {
                        return Err(RegistryError::RateLimited {
                            url: redact_query(url),
                            limit,
                        });
                    }
                    return result.map_err(|source| {
                        let error = RegistryError::Network {
                            url: redact_query(url),
                            source: source.without_url(),
                        };
                        if unreachable {
                            self.down
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .insert(origin.clone(), full_message(&error));
                        }
                        error
                    });
                }
            }
        }
    }

    /// The configured timeout for `url`'s host, when `[registries."host"] timeout` set one.
    fn timeout_for(&self, url: &Url) -> Option<Duration> {
        let host = url.host_str()?;
        let with_port = url.port().map(|port| format!("{host}:{port}"));
        self.host_timeouts
            .iter()
            .find(|(name, _)| Some(name) == with_port.as_ref() || name == host)
            .map(|(_, timeout)| *timeout)
    }

    fn backoff_for(&self, attempt: u32) -> Duration {
        let base = self
            .backoff
            .saturating_mul(1 << attempt.min(6))
            .min(Duration::from_secs(20));
        let jitter_ms = rand::random_range(0..=base.as_millis().min(1000) as u64 / 2 + 1);
        base + Duration::from_millis(jitter_ms)
    }
}

/// Makes `ring` the process's TLS crypto provider (once; a provider installed earlier is
/// kept). reqwest is built without one so that the tree carries a single implementation.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// An error with its causes, on one line.
fn full_message(error: &RegistryError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `ratelimit-limit` of a 429 whose `ratelimit-remaining` is 0 (Docker Hub's pull
/// limit, used up), or `None`.
fn limit_spent(response: &Response) -> Option<String> {
    if response.status() != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let headers = response.headers();
    let remaining = headers.get("ratelimit-remaining")?.to_str().ok()?;
    let left = remaining.split(';').next()?.trim();
    (left == "0").then(|| {
        headers
            .get("ratelimit-limit")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .to_owned()
    })
}

fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (the HTTP-date form is treated as "use backoff").
fn retry_after(response: &Response) -> Option<Duration> {
    let headers = response.headers();
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Reads a body, refusing more than `limit` bytes whatever `Content-Length` claims: the one
/// reader for every network body, which stops at the limit instead of reading it all first.
pub(crate) async fn read_capped(
    mut response: Response,
    url: &Url,
    limit: u64,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        url: redact_query(url),
        limit,
    };
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| RegistryError::Network {
            url: redact_query(url),
            source: source.without_url(),
        })?
    {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A URL for messages: no query string (token realms carry scopes, uploads carry state).
pub(crate) fn redact_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let transport = Transport::new(&ClientOptions::default()).unwrap();
        let first = transport.backoff_for(0);
        let later = transport.backoff_for(3);
        assert!(first >= Duration::from_millis(250) && first < Duration::from_millis(500));
        assert!(later >= Duration::from_secs(2));
        assert!(transport.backoff_for(30) <= Duration::from_secs(21));
    }

    #[test]
    fn redacted_urls_drop_query_and_userinfo() {
        let url = Url::parse("https://u:p@auth.example.com/token?scope=x&account=me").unwrap();
        assert_eq!(redact_query(&url), "https://auth.example.com/token");
    }
}
