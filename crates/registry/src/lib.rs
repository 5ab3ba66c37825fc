//! OCI distribution client for portcullis: auth keychain (anonymous bearer tokens, basic,
//! Docker `config.json`, credential helpers, `DOCKER_AUTH_CONFIG`, CI tokens), retries with
//! backoff, tag → digest resolution, the facts `check --resolve` judges
//! ([`Client::facts`]) and the digests `pin` writes ([`Client::pins`]), the copy engine
//! ([`Client::copy`]), and small artifacts written and read whole for signing
//! ([`Client::push_blob`], [`Client::push_manifest`], [`Client::fetch_blob`],
//! [`Client::referrers_of`], [`Client::add_fallback_referrer`]).
//!
//! Request budget: one `HEAD` per unique reference ([`Client::resolve_digest`],
//! [`Client::resolve_all_digests`]); [`Client::resolve`] adds a `GET` only when the result
//! is an index (to list its platforms); [`Client::facts`] and [`Client::pins`] read more only
//! for references pinned to something other than their tag's digest. Each registry is probed
//! once (`GET /v2/`) to learn its challenge, and a bearer token is fetched once per
//! repository scope.
//!
//! The client prints nothing: a caller that shows progress gives it a [`Progress`]
//! observer ([`Client::with_progress`]), told about every lookup of [`Client::pins`] and
//! [`Client::facts`].

mod artifacts;
mod auth;
mod blobs;
mod client;
mod copy;
mod credentials;
mod error;
mod facts;
mod holds;
mod keychain;
mod manifest;
mod options;
mod pin;
mod progress;
mod push;
mod referrers;
mod tags;
mod tls;
mod transport;

pub use artifacts::PushedManifest;
pub use client::{Client, Manifest};
pub use copy::{CopyOptions, CopyReport};
pub use credentials::Credentials;
pub use error::RegistryError;
pub use facts::{Depth, ImageFacts, PinnedFact, TagFact};
pub use keychain::Keychain;
pub use manifest::{
    is_index_media_type, Platform, PlatformManifest, Resolved, DOCKER_LIST, DOCKER_MANIFEST,
    MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES, OCI_INDEX, OCI_MANIFEST,
};
pub use options::{is_loopback, ClientOptions};
pub use pin::{PinChoice, PlatformPins};
/// The redacting type credentials and tokens are held in (from `portcullis-secret`).
pub use portcullis_secret::Secret;
pub use progress::Progress;
pub use push::BlobCopy;
pub use referrers::{fallback_tag, Referrer, LEGACY_SUFFIXES};
pub use transport::{install_crypto_provider, Stats};
