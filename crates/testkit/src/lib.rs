//! Test-only helpers: start a real Distribution registry (`docker-registry`) on a free
//! loopback port, seed it with images through the registry API, put a fault-injecting
//! proxy in front of it, run a local Sigstore ([`sigstore::SigstoreStack`]: OIDC issuer,
//! Fulcio, Rekor and the trust files that point clients at them), stateful fakes of the
//! GitHub and GitLab comment APIs ([`forge`]), and shared test context.
//!
//! [`FaultProxy`] relays every request to an upstream (streaming bodies, keeping upload
//! `Location`s on the proxy) and injects [`Fault`]s by [`FaultRule`]: error statuses with
//! `Retry-After`, Docker Hub rate limits, resets and truncation mid-body, stalls, corrupted
//! bytes, and `307` redirects to a second origin that records the headers it receives. A
//! rule picks requests by method and [`PathMatch`], on the first N and/or at a rate drawn
//! from a seed, so runs are reproducible; the proxy logs each request and counts faults.
//!
//! Everything here is blocking and safe to call from inside a tokio test: HTTP calls run on
//! a short-lived thread of their own, so no runtime is nested.
//!
//! ```no_run
//! use portcullis_testkit::{Auth, ImageSpec, Registry};
//! let registry = Registry::start(Auth::None).unwrap();
//! let digest = registry.seed_image("app", "1.0", &ImageSpec::new("linux", "amd64")).unwrap();
//! assert!(registry.requests().iter().any(|r| r.method == "PUT"));
//! # let _ = digest;
//! use portcullis_testkit::{Fault, FaultKind, FaultProxy, FaultRule, PathMatch};
//! let rule = FaultRule::new(Fault::Status { code: 503, retry_after: Some(1) })
//!     .method("GET")
//!     .path(PathMatch::Blobs)
//!     .first(2);
//! let proxy = FaultProxy::start(&registry.url(), vec![rule], 42).unwrap();
//! // … point the client at proxy.image("app", "1.0") …
//! assert_eq!(proxy.injected_of(FaultKind::Status), 2);
//! ```

mod fault;
pub mod forge;
mod http;
mod registry;
mod seed;
pub mod sigstore;
mod token;

pub use fault::{
    Fault, FaultKind, FaultProxy, FaultRule, PathMatch, ProxiedRequest, RedirectedRequest,
};
pub use registry::{Auth, LoggedRequest, Registry, RegistryBuilder};
pub use seed::{Format, ImageSpec, MEDIA_TYPES};
pub use token::TokenRequest;

/// The sha256 hex of `bytes`, for tests that compare digests with an independent client.
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Whether `program` can be found on `PATH` (tests that need skopeo skip loudly without it).
#[must_use]
pub fn have_program(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
