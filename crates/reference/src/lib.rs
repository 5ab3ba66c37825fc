//! Container image references: parse, normalize and print them the way Docker does, check
//! digests, and match them against allow/deny glob patterns.
//!
//! Everything here is pure (no I/O), so every other crate can depend on it.
//! INTERFACE STUB: the public API below is the contract other crates build against; the
//! bodies are filled in by the implementation.

use std::fmt;

/// Error parsing an image reference, a digest or a pattern. Every message quotes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The reference text is empty.
    #[error("empty image reference")]
    Empty,
    /// The reference is not a valid image reference.
    #[error("invalid image reference `{text}`: {reason}")]
    Invalid { text: String, reason: String },
    /// The digest is not `sha256:` + 64 lowercase hex or `sha512:` + 128.
    #[error("invalid digest `{text}`: {reason}")]
    InvalidDigest { text: String, reason: String },
    /// The allow/deny pattern is malformed.
    #[error("invalid pattern `{text}`: {reason}")]
    InvalidPattern { text: String, reason: String },
}

/// Digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

/// A content digest such as `sha256:<64 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        todo!("{text}")
    }
    /// The sha256 digest of `bytes`.
    #[must_use]
    pub fn sha256(bytes: &[u8]) -> Self {
        todo!("{}", bytes.len())
    }
    /// Whether `bytes` hash to this digest (with this digest's algorithm).
    #[must_use]
    pub fn verify(&self, bytes: &[u8]) -> bool {
        todo!("{}", bytes.len())
    }
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    /// The lowercase hex part.
    #[must_use]
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self.algorithm {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        };
        write!(f, "{alg}:{}", self.hex)
    }
}

/// A normalized image reference: `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses and normalizes (`nginx` → `docker.io/library/nginx`, `index.docker.io` →
    /// `docker.io`, ...). The tag stays `None` when none is written.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        todo!("{text}")
    }
    /// Registry host (with port), e.g. `docker.io`, `ghcr.io`, `localhost:5000`.
    #[must_use]
    pub fn registry(&self) -> &str {
        &self.registry
    }
    /// Repository path, e.g. `library/nginx`.
    #[must_use]
    pub fn repository(&self) -> &str {
        &self.repository
    }
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    #[must_use]
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
    /// `registry/repository`, e.g. `docker.io/library/nginx`.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
    /// The host to talk to for the registry API (`registry-1.docker.io` for `docker.io`).
    #[must_use]
    pub fn api_host(&self) -> &str {
        todo!()
    }
    /// A copy with `digest` set (tag kept).
    #[must_use]
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self { digest: Some(digest), ..self.clone() }
    }
    /// A copy with the digest removed.
    #[must_use]
    pub fn without_digest(&self) -> Self {
        Self { digest: None, ..self.clone() }
    }
    /// A copy with `tag` set.
    #[must_use]
    pub fn with_tag(&self, tag: &str) -> Self {
        Self { tag: Some(tag.to_owned()), ..self.clone() }
    }
}

/// Prints the normalized form: `docker.io/library/nginx:1.27@sha256:…` (no implicit tag).
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// An allow/deny glob pattern over normalized references: `*` within one segment, `**`
/// across segments, `{a,b}` alternatives, anchored at both ends, optional `:tag` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
}

impl Pattern {
    /// Parses a pattern. The repository part is normalized like a reference
    /// (`ubuntu` → `docker.io/library/ubuntu`).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        todo!("{text}")
    }
    /// Whether the image matches (registry + repository, and tag when the pattern has one).
    #[must_use]
    pub fn matches(&self, image: &ImageRef) -> bool {
        todo!("{image}")
    }
    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}
