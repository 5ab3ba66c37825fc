//! The OCI layouts cosign reads and writes, on the registry client's write path:
//!
//! - [`attach_bundle`]: cosign v3's layout, a Sigstore bundle as the one layer of an OCI
//!   1.1 referrer of the signed manifest (empty config, `artifactType` the bundle media
//!   type, `subject`, the `dev.sigstore.bundle.*` annotations), pushed by digest and listed
//!   in the `sha256-<hex>` fallback index when the registry has no referrers API;
//! - [`append_legacy`]: cosign's legacy `sha256-<hex>.sig` / `.att` tags, one layer per
//!   signature, appended to what is there (read, modify, write), never replacing another
//!   signer's layer;
//! - [`discover`]: every bundle and legacy layer attached to an image, read under
//!   [`DiscoveryLimits`] with every blob size-capped and digest-checked.
//!
//! A bundle is handled as its JSON bytes plus the few fields these layouts need
//! ([`BundleView`]); verifying it is another module's job.

mod bundle;
mod discover;
mod legacy;

use portcullis_registry::RegistryError;

pub use bundle::{attach_bundle, BundleContent, BundleView, IndexedBy, ReferrerPush, TlogEntry};
pub use discover::{discover, Discovered, DiscoveryLimits, FoundBundle, FoundLegacy, Skipped};
pub use legacy::{
    append_legacy, legacy_tag, simple_signing_payload, LegacyEntry, LegacyKind, LegacyPush,
    RekorBundle, RekorPayload,
};

/// The bundle media type cosign v3 writes (layer media type and `artifactType`).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Every bundle media type a reader accepts.
pub const BUNDLE_MEDIA_TYPES: [&str; 4] = [
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];
/// The empty descriptor's media type (a referrer's config).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty blob.
pub const EMPTY_BLOB: &[u8] = b"{}";
/// The legacy `.sig` layer media type.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The legacy `.att` layer media type.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// An OCI image config (the legacy manifests' config).
pub const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// Annotation: what a bundle holds (`dsse-envelope` or `message-signature`).
pub const ANNOTATION_BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// Annotation: the bundle's in-toto predicate type.
pub const ANNOTATION_BUNDLE_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
/// Annotation: when the referrer was made (RFC 3339).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Legacy annotation: the base64 signature over the layer.
pub const ANNOTATION_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
/// Legacy annotation: the PEM signing certificate.
pub const ANNOTATION_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
/// Legacy annotation: the PEM certificate chain.
pub const ANNOTATION_CHAIN: &str = "dev.sigstore.cosign/chain";
/// Legacy annotation: the Rekor bundle JSON.
pub const ANNOTATION_REKOR_BUNDLE: &str = "dev.sigstore.cosign/bundle";
/// Legacy `.att` annotation: the predicate type.
pub const ANNOTATION_PREDICATE_TYPE: &str = "predicateType";

/// Why an OCI signing layout could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// The registry failed or refused; `doing` says what for.
    #[error("{doing} `{image}`: {source}")]
    Registry {
        doing: &'static str,
        image: String,
        #[source]
        source: RegistryError,
    },
    /// The image reference has no digest: signatures attach to a digest.
    #[error("`{image}` has no digest; signatures attach to a manifest digest (`portcullis pin` or resolve it first)")]
    NoDigest { image: String },
    /// The bytes are not a Sigstore bundle this layout can carry.
    #[error("not a Sigstore bundle: {reason}")]
    NotABundle { reason: String },
    /// More referrers than discovery reads.
    #[error("`{image}` lists {count} referrers that may hold signatures, more than the {limit} read; a registry listing that many is refused")]
    TooManyReferrers {
        image: String,
        count: usize,
        limit: usize,
    },
    /// A legacy tag with more layers than discovery reads.
    #[error("`{tag}` has {count} layers, more than the {limit} read; a signature tag that large is refused")]
    TooManyLayers {
        tag: String,
        count: usize,
        limit: usize,
    },
    /// The signatures of one image add up to more bytes than discovery reads.
    #[error(
        "the signatures attached to `{image}` exceed the {limit}-byte budget of one discovery"
    )]
    TooMuchData { image: String, limit: u64 },
    /// A manifest that is not what a signing layout needs.
    #[error("`{what}`: {reason}")]
    InvalidManifest { what: String, reason: String },
}
