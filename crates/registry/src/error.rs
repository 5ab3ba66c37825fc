//! The one error type of the registry client. Messages name the image, registry, URL or
//! file in backticks and never carry credentials or tokens.

/// What went wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The repository, tag or digest does not exist.
    #[error("`{image}` not found in the registry")]
    NotFound { image: String },
    /// The registry refused our credentials (or we have none and it requires some).
    #[error("unauthorized at `{registry}`: no valid credentials (check `docker login {registry}` or DOCKER_AUTH_CONFIG)")]
    Unauthorized { registry: String },
    /// Authenticated, but access to the image was denied (HTTP 403).
    #[error("access to `{image}` denied by the registry")]
    Denied { image: String },
    /// An unexpected HTTP status.
    #[error("HTTP {status} from `{url}`")]
    Http { status: u16, url: String },
    /// Connection, TLS or timeout failure after all retries.
    #[error("network error talking to `{url}`")]
    Network {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Content did not hash to the digest it was requested by or announced with.
    #[error("digest mismatch: expected `{expected}`, got `{actual}`")]
    DigestMismatch { expected: String, actual: String },
    /// A blob's length is not the size its descriptor gives (a source that sends more or
    /// fewer bytes than it announced).
    #[error("size mismatch: {detail}")]
    SizeMismatch { digest: String, detail: String },
    /// After a redirect, another origin asked for credentials: the registry's are not sent
    /// to it.
    #[error("`{origin}` asked for credentials after a redirect from `{registry}`; the registry's credentials answer only its own challenges")]
    ForeignChallenge { registry: String, origin: String },
    /// The registry could not be reached earlier in this run; it is not tried again.
    #[error("`{origin}` did not answer earlier in this run ({first}); not tried again")]
    Unreachable { origin: String, first: String },
    /// A manifest or config larger than we accept.
    #[error("`{url}` is larger than the {limit}-byte limit")]
    TooLarge { url: String, limit: u64 },
    /// A manifest or config that is not what its media type says.
    #[error("invalid manifest from `{url}`: {reason}")]
    InvalidManifest { url: String, reason: String },
    /// The token endpoint answered something unusable.
    #[error("token request to `{realm}` failed: {reason}")]
    Token { realm: String, reason: String },
    /// Too many redirects, or a redirect to an unusable location.
    #[error("bad redirect from `{url}`: {reason}")]
    Redirect { url: String, reason: String },
    /// The Docker config file (or `DOCKER_AUTH_CONFIG`) cannot be read or parsed.
    #[error("docker config `{path}`: {reason}")]
    Config { path: String, reason: String },
    /// A `docker-credential-<helper>` program failed.
    #[error("credential helper `docker-credential-{helper}` failed: {reason}")]
    CredentialHelper { helper: String, reason: String },
    /// The registry's pull limit (Docker Hub's `ratelimit-remaining: 0`) stayed used up
    /// through every pause.
    #[error("`{url}`: the registry's pull limit is used up (`ratelimit-limit: {limit}`); wait for its window, or log in for a higher limit")]
    RateLimited { url: String, limit: String },
    /// The run's request budget is spent.
    #[error("the budget of {limit} registry requests is spent (next: `{url}`)")]
    Budget { limit: u64, url: String },
    /// The target tag names another image, and moving it was not allowed.
    #[error("`{target}` already points at `{existing}`, not `{wanted}`; pass `--allow-retag` to move it")]
    Retag {
        target: String,
        existing: String,
        wanted: String,
    },
    /// An upload or write the registry did not accept.
    #[error("`{url}` refused the upload: HTTP {status}{detail}")]
    Upload {
        url: String,
        status: u16,
        detail: String,
    },
    /// Client setup failed (CA file, TLS).
    #[error("client setup: {reason}")]
    Setup { reason: String },
}

impl RegistryError {
    /// Whether this is a 404-style "does not exist".
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// Whether this only repeats a failure already reported in this run (a registry found
    /// down earlier): report the first failure once, not this one per reference.
    #[must_use]
    pub fn repeats_earlier_failure(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// Whether this is an authentication or authorization failure.
    #[must_use]
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Unauthorized { .. } | Self::Denied { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_remembered_outage_repeats_an_earlier_failure() {
        let repeat = RegistryError::Unreachable {
            origin: "http://127.0.0.1:1".into(),
            first: "connection refused".into(),
        };
        assert!(repeat.repeats_earlier_failure());
        let first = RegistryError::NotFound { image: "a".into() };
        assert!(!first.repeats_earlier_failure());
    }
}
