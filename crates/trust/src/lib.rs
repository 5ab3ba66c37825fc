//! Sigstore signing and verification for portcullis: identity tokens from the CI or the
//! user, keyless (Fulcio + Rekor) and key-based signatures, in-toto attestations, the OCI
//! layouts cosign reads, and verification that returns the signer identities it proved.
//!
//! - [`token`]: OIDC identity tokens (explicit, file, `SIGSTORE_ID_TOKEN`, GitHub Actions).
//! - [`root`]: trusted roots (embedded public-good root, files, client trust configs).
//! - [`verify`]: bundle verification and the identity policy; returns a
//!   [`VerifiedIdentity`].
//! - [`sign`]: keyless and key-based signing of blobs and in-toto statements.
//! - [`statement`]: in-toto Statement v1 and its predicates (cosign sign, SLSA provenance
//!   v1, vuln, `CycloneDX`, SPDX, custom).
//! - [`promotion`]: the promotion record `portcullis promote` attests.
//! - [`lineage`]: what an image was built from and when (base annotations, provenance),
//!   for `stale`.
//! - [`oci`]: the layouts cosign reads (bundle referrers, legacy `.sig`/`.att` tags) and
//!   their discovery.

pub mod image;
pub mod lineage;
pub mod oci;
pub mod promotion;
mod provenance;
pub mod root;
pub mod sign;
pub mod statement;
pub mod token;
pub mod verify;

pub use root::{RootError, TrustConfig, TrustRoot};
pub use sign::{Mode, Payload, Services, SignError, Signed, SigningKey};
pub use token::{Environment, IdentityToken, TokenError, TokenSource};
pub use verify::{
    Extension, IdentityPolicy, Matcher, Signer, Statement, Subject, VerifiedIdentity, VerifyError,
};

/// The HTTP client for Sigstore services and token endpoints: the workspace's TLS crypto
/// provider (the registry crate's `ring`), timeouts, and a user agent.
#[must_use]
pub fn http_client() -> reqwest::Client {
    portcullis_registry::install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_mins(2))
        .build()
        .expect("a client with the default TLS settings builds")
}
