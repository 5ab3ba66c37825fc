//! Client options: which hosts may use plain HTTP, extra CA roots, where the Docker
//! config lives, concurrency, timeouts and retries.

use std::path::PathBuf;
use std::time::Duration;

/// How a [`crate::Client`] talks to registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Hosts (`host` or `host:port`) reached over plain HTTP. Loopback hosts always are.
    pub insecure: Vec<String>,
    /// Extra PEM root certificates (private CAs).
    pub ca_files: Vec<PathBuf>,
    /// Docker `config.json` (or a directory holding one). `None`: `$DOCKER_CONFIG/config.json`,
    /// else `~/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
    /// Requests in flight at once in [`crate::Client::resolve_all`] (default 8).
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Per-request timeouts for some hosts (`host` or `host:port`), overriding `timeout`.
    pub host_timeouts: Vec<(String, Duration)>,
    /// Retries on 429, 5xx and connection errors (default 4).
    pub max_retries: u32,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Read `DOCKER_AUTH_CONFIG` and CI variables (`GITHUB_TOKEN`, `CI_REGISTRY_*`) from the
    /// environment (default `true`).
    pub use_env: bool,
    /// First backoff delay; doubles per retry, plus jitter (default 250 ms).
    pub backoff: Duration,
    /// The least time one blob transfer may take overall (default 30 minutes); each read
    /// still fails after `timeout` of silence.
    pub blob_timeout: Duration,
    /// Requests the client may send in all, retries and tokens included (`None`: no limit).
    pub max_requests: Option<u64>,
    /// Blobs transferred at once across every [`crate::Client::copy`] of the client
    /// (default 6).
    pub blob_concurrency: usize,
    /// Upload every blob in chunks of this many bytes (`PATCH` with `Content-Range`, then
    /// the closing `PUT`) instead of one streamed `PUT`. `None` (the default): one `PUT`,
    /// unless the registry refuses it as too large (413), after which that registry gets
    /// chunks of [`DEFAULT_CHUNK_BYTES`]. Never below the registry's `OCI-Chunk-Min-Length`.
    pub upload_chunk_bytes: Option<u64>,
}

/// The chunk size of a chunked upload when none is configured: small enough for the
/// request-size limits of common proxies (100 MB and up), large enough to keep the number of
/// round trips low.
pub const DEFAULT_CHUNK_BYTES: u64 = 32 * 1024 * 1024;

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            insecure: Vec::new(),
            ca_files: Vec::new(),
            docker_config: None,
            concurrency: 8,
            timeout: Duration::from_secs(10),
            host_timeouts: Vec::new(),
            max_retries: 4,
            user_agent: concat!("portcullis/", env!("CARGO_PKG_VERSION")).to_owned(),
            use_env: true,
            backoff: Duration::from_millis(250),
            blob_timeout: Duration::from_mins(30),
            max_requests: None,
            blob_concurrency: 6,
            upload_chunk_bytes: None,
        }
    }
}

pub use portcullis_reference::host::is_loopback;

impl ClientOptions {
    /// `http` or `https` for a registry host.
    #[must_use]
    pub fn scheme_for(&self, host: &str) -> &'static str {
        let bare = host.rsplit_once(':').map_or(host, |(name, _)| name);
        if is_loopback(host) || self.insecure.iter().any(|h| h == host || h == bare) {
            "http"
        } else {
            "https"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_use_plain_http() {
        let options = ClientOptions {
            insecure: vec!["reg.local:5000".into()],
            ..Default::default()
        };
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.3.2.1",
            "[::1]:5000",
            "[::1]",
        ] {
            assert_eq!(options.scheme_for(host), "http", "{host}");
        }
        assert_eq!(options.scheme_for("reg.local:5000"), "http");
        for host in [
            "ghcr.io",
            "reg.local:5001",
            "127.0.0.1.evil.com",
            "localhost.evil.com:5000",
            "10.0.0.1",
        ] {
            assert_eq!(options.scheme_for(host), "https", "{host}");
        }
    }
}
