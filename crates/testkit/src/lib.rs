//! Test-only helpers: start a real Distribution registry (`docker-registry`) on a free
//! loopback port, seed it with images through the registry API, and shared test context.
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
//! ```

mod http;
mod registry;
mod seed;
mod token;

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
