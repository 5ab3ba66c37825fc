//! Images in a registry: sign one (cosign v3's bundle referrer, the legacy `.sig` tag, or
//! both), attest an in-toto statement about one, and verify what is attached to one. Each
//! write is read back from the registry and verified before it counts as done.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::Client;
use serde_json::{json, Value};

use crate::oci::{
    append_legacy, attach_bundle, discover, BundleContent, BundleView, Discovered, DiscoveryLimits,
    FoundLegacy, LegacyEntry, LegacyKind, LegacyPush, OciError, ReferrerPush,
};
use crate::root::TrustRoot;
use crate::sign::{sign, Mode, Payload, SignError};
use crate::statement::{Statement, COSIGN_SIGN_V1};
use crate::verify::{
    parse_bundle, verify_with, Proofs, Signer, Subject, VerifiedIdentity, VerifyError,
};

/// Where a signature goes (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// cosign v3: a Sigstore bundle v0.3 as an OCI 1.1 referrer (the default).
    Bundle,
    /// cosign v2: a layer of the `sha256-<hex>.sig` (or `.att`) tag.
    Legacy,
    /// Both.
    Both,
}

impl Layout {
    fn bundle(self) -> bool {
        matches!(self, Self::Bundle | Self::Both)
    }

    fn legacy(self) -> bool {
        matches!(self, Self::Legacy | Self::Both)
    }
}

/// How to sign or attest an image.
#[derive(Debug)]
pub struct SignOptions<'a> {
    pub mode: &'a Mode,
    pub layout: Layout,
    /// `-a key=value` annotations, signed into the statement (or the simple-signing
    /// payload's `optional`).
    pub annotations: BTreeMap<String, String>,
    /// Fulcio, Rekor and token requests.
    pub http: &'a reqwest::Client,
    /// What the read-back verification checks against.
    pub root: &'a TrustRoot,
    /// The referrer's `org.opencontainers.image.created`.
    pub created: jiff::Timestamp,
}

/// What was written for an image, and what reading it back proved.
#[derive(Debug, Clone)]
pub struct ImageSigned {
    /// The image, by digest.
    pub image: ImageRef,
    pub referrer: Option<ReferrerPush>,
    pub legacy: Option<LegacyPush>,
    /// The signers proved by reading each written signature back.
    pub verified: Vec<VerifiedIdentity>,
}

/// Why an image could not be signed, attested or verified.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The image is named by tag only: signing a tag signs whatever it names by the time the
    /// signature is checked.
    #[error("`{0}` has no digest: sign `IMAGE@sha256:…` (or pass `--resolve-tag` to sign what the tag names now)")]
    NoDigest(String),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Oci(#[from] OciError),
    /// What was pushed could not be read back, or did not verify.
    #[error("the signature pushed for `{image}` did not verify when read back: {reason}")]
    ReadBack { image: String, reason: String },
    #[error("the bundle could not be encoded: {0}")]
    Encode(String),
}

impl ImageError {
    /// Whether the input was unusable (exit 2) rather than a service failing (exit 3).
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        match self {
            Self::NoDigest(_) => true,
            Self::Sign(error) => error.is_bad_input(),
            _ => false,
        }
    }
}

fn digest_of(image: &ImageRef) -> Result<&Digest, ImageError> {
    image
        .digest()
        .ok_or_else(|| ImageError::NoDigest(image.to_string()))
}

/// The signer a read-back verification expects: the certificate Fulcio issued (any
/// identity: it is ours), or our own key.
fn read_back_signer(mode: &Mode) -> Signer {
    match mode {
        Mode::Keyless { .. } => Signer::AnyCertificate,
        Mode::Key { key, rekor_url } => Signer::Key {
            public_key: key.public_key_der().to_vec(),
            tlog: rekor_url.is_some(),
        },
    }
}

/// Signs the manifest `image` names by digest, in `options.layout`.
pub async fn sign_image(
    client: &Client,
    image: &ImageRef,
    options: &SignOptions<'_>,
) -> Result<ImageSigned, ImageError> {
    let digest = digest_of(image)?.clone();
    let mut done = ImageSigned {
        image: image.clone(),
        referrer: None,
        legacy: None,
        verified: Vec::new(),
    };
    if options.layout.bundle() {
        let statement = Statement::image_signature(&digest, &options.annotations).to_bytes();
        let signed = sign(Payload::Statement(&statement), options.mode, options.http).await?;
        let json = signed
            .to_json()
            .map_err(|e| ImageError::Encode(e.to_string()))?;
        let pushed = attach_bundle(client, image, json.as_bytes(), options.created).await?;
        done.verified
            .push(read_back_bundle(client, image, &pushed, options).await?);
        done.referrer = Some(pushed);
    }
    if options.layout.legacy() {
        let payload = crate::oci::simple_signing_payload(image, &digest, &options.annotations);
        let signed = sign(
            Payload::Blob(&Digest::sha256(&payload)),
            options.mode,
            options.http,
        )
        .await?;
        let json = signed
            .to_json()
            .map_err(|e| ImageError::Encode(e.to_string()))?;
        let view = BundleView::parse(json.as_bytes())?;
        let entry = LegacyEntry::from_bundle(&view, &payload, None)?;
        let pushed = append_legacy(client, image, &entry).await?;
        done.verified
            .push(read_back_legacy(client, image, &entry, options).await?);
        done.legacy = Some(pushed);
    }
    Ok(done)
}

/// Attests `statement` (whose subject names `image`'s digest) about the manifest `image`
/// names by digest: a DSSE bundle as a referrer (and the legacy `.att` tag).
pub async fn attest_image(
    client: &Client,
    image: &ImageRef,
    statement: &Statement,
    options: &SignOptions<'_>,
) -> Result<ImageSigned, ImageError> {
    let digest = digest_of(image)?.clone();
    let bytes = statement.to_bytes();
    let signed = sign(Payload::Statement(&bytes), options.mode, options.http).await?;
    let json = signed
        .to_json()
        .map_err(|e| ImageError::Encode(e.to_string()))?;
    let mut done = ImageSigned {
        image: image.clone(),
        referrer: None,
        legacy: None,
        verified: Vec::new(),
    };
    if options.layout.bundle() {
        let pushed = attach_bundle(client, image, json.as_bytes(), options.created).await?;
        done.verified
            .push(read_back_bundle(client, image, &pushed, options).await?);
        done.referrer = Some(pushed);
    }
    if options.layout.legacy() {
        let view = BundleView::parse(json.as_bytes())?;
        let entry = LegacyEntry::from_bundle(&view, &[], None)?;
        let pushed = append_legacy(client, image, &entry).await?;
        done.verified
            .push(read_back_legacy(client, image, &entry, options).await?);
        done.legacy = Some(pushed);
    }
    let _ = digest;
    Ok(done)
}

async fn discovered(client: &Client, image: &ImageRef) -> Result<Discovered, ImageError> {
    Ok(discover(client, image, DiscoveryLimits::default()).await?)
}

/// Reads the referrer just pushed back from the registry and verifies it.
async fn read_back_bundle(
    client: &Client,
    image: &ImageRef,
    pushed: &ReferrerPush,
    options: &SignOptions<'_>,
) -> Result<VerifiedIdentity, ImageError> {
    let fail = |reason: String| ImageError::ReadBack {
        image: image.to_string(),
        reason,
    };
    let found = discovered(client, image).await?;
    let bundle = found
        .bundles
        .iter()
        .find(|b| b.manifest == pushed.manifest)
        .ok_or_else(|| fail(format!("the referrer `{}` is not listed", pushed.manifest)))?;
    let text = std::str::from_utf8(&bundle.bytes).map_err(|e| fail(e.to_string()))?;
    let parsed = parse_bundle(text).map_err(|e| fail(e.to_string()))?;
    verify_with(
        &parsed,
        Subject::Digest(&pushed.subject),
        &read_back_signer(options.mode),
        options.root,
        Proofs::Checkpoint,
    )
    .map_err(|e| fail(e.to_string()))
}

/// Reads the legacy layer just pushed back and verifies it.
async fn read_back_legacy(
    client: &Client,
    image: &ImageRef,
    entry: &LegacyEntry,
    options: &SignOptions<'_>,
) -> Result<VerifiedIdentity, ImageError> {
    let fail = |reason: String| ImageError::ReadBack {
        image: image.to_string(),
        reason,
    };
    let digest = digest_of(image)?;
    let found = discovered(client, image).await?;
    let layer = found
        .legacy
        .iter()
        .find(|l| l.entry == *entry)
        .ok_or_else(|| fail("the legacy layer is not in its tag".to_owned()))?;
    verify_legacy(layer, digest, &read_back_signer(options.mode), options.root)
        .map_err(|e| fail(e.to_string()))
}

/// What `verify_image` looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Signatures: cosign v3 bundles with the cosign sign predicate, legacy `.sig` layers.
    Signatures,
    /// Attestations, of one predicate type or of any.
    Attestations(Option<String>),
}

/// One signature or attestation found on an image, and what verifying it gave.
#[derive(Debug)]
pub struct Checked {
    /// Where it was found: `referrer sha256:…` or `tag sha256-….sig`.
    pub found_in: String,
    pub result: Result<VerifiedIdentity, VerifyError>,
}

/// Everything attached to an image that was checked.
#[derive(Debug, Default)]
pub struct ImageVerification {
    pub checked: Vec<Checked>,
    /// Attached things that are not signatures portcullis can use, with why.
    pub skipped: Vec<String>,
}

impl ImageVerification {
    /// The signers proved.
    pub fn verified(&self) -> impl Iterator<Item = &VerifiedIdentity> {
        self.checked.iter().filter_map(|c| c.result.as_ref().ok())
    }

    /// Why each signature that did not verify failed.
    #[must_use]
    pub fn rejected(&self) -> Vec<String> {
        self.checked
            .iter()
            .filter_map(|c| {
                c.result
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", c.found_in))
            })
            .collect()
    }
}

/// Finds every signature (or attestation) attached to the manifest `image` names by
/// digest — referrers (API, then the fallback tag) and cosign's legacy tags — and verifies
/// each against `root` and `signer`, the image digest as its subject. Nothing is trusted
/// that did not verify; an image without any gives an empty result, not an error.
pub async fn verify_image(
    client: &Client,
    image: &ImageRef,
    signer: &Signer,
    root: &TrustRoot,
    wanted: &Wanted,
) -> Result<ImageVerification, ImageError> {
    let digest = digest_of(image)?.clone();
    let found = discovered(client, image).await?;
    let mut out = ImageVerification {
        skipped: found
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.manifest, s.reason))
            .collect(),
        ..ImageVerification::default()
    };
    for bundle in &found.bundles {
        if !wants_bundle(wanted, &bundle.bundle) {
            continue;
        }
        let result = std::str::from_utf8(&bundle.bytes)
            .map_err(|e| VerifyError::Bundle(e.to_string()))
            .and_then(parse_bundle)
            .and_then(|parsed| {
                verify_with(
                    &parsed,
                    Subject::Digest(&digest),
                    signer,
                    root,
                    Proofs::Checkpoint,
                )
            })
            .and_then(|identity| signs_image(identity, wanted));
        out.checked.push(Checked {
            found_in: format!("referrer {}", bundle.manifest),
            result,
        });
    }
    for layer in &found.legacy {
        let kind_wanted = match wanted {
            Wanted::Signatures => layer.entry.kind == LegacyKind::Signature,
            Wanted::Attestations(kind) => {
                layer.entry.kind == LegacyKind::Attestation
                    && kind
                        .as_ref()
                        .is_none_or(|k| layer.entry.predicate_type.as_deref() == Some(k))
            }
        };
        if !kind_wanted {
            continue;
        }
        let result = verify_legacy(layer, &digest, signer, root)
            .and_then(|identity| signs_image(identity, wanted));
        out.checked.push(Checked {
            found_in: format!("tag {}", layer.tag),
            result,
        });
    }
    Ok(out)
}

/// Whether a referrer bundle is of the kind looked for (by its own content, not by the
/// annotations beside it, which nobody signed).
fn wants_bundle(wanted: &Wanted, view: &BundleView) -> bool {
    match (wanted, &view.content) {
        (Wanted::Signatures, BundleContent::MessageSignature { .. }) => true,
        (Wanted::Signatures, BundleContent::Dsse { predicate_type, .. }) => {
            predicate_type.as_deref() == Some(COSIGN_SIGN_V1)
        }
        (Wanted::Attestations(_), BundleContent::MessageSignature { .. }) => false,
        (Wanted::Attestations(kind), BundleContent::Dsse { predicate_type, .. }) => {
            predicate_type.as_deref() != Some(COSIGN_SIGN_V1)
                && kind
                    .as_ref()
                    .is_none_or(|k| predicate_type.as_deref() == Some(k))
        }
    }
}

/// The signed statement must be of the kind looked for: a signature is a cosign sign
/// statement (or a message signature), an attestation of the type asked for.
fn signs_image(
    identity: VerifiedIdentity,
    wanted: &Wanted,
) -> Result<VerifiedIdentity, VerifyError> {
    let signed_type = identity
        .statement
        .as_ref()
        .map(|s| s.predicate_type.as_str());
    let fits = match wanted {
        Wanted::Signatures => signed_type.is_none_or(|t| t == COSIGN_SIGN_V1),
        Wanted::Attestations(kind) => {
            signed_type.is_some_and(|t| kind.as_deref().is_none_or(|k| k == t))
        }
    };
    if fits {
        Ok(identity)
    } else {
        Err(VerifyError::SubjectDigest(format!(
            "the signed statement is a `{}`, not what was asked for",
            signed_type.unwrap_or("message signature")
        )))
    }
}

/// Verifies a legacy layer: rebuilt as the bundle v0.1 it amounts to (the certificate, the
/// signature or envelope, and the log entry with its signed entry timestamp), checked with
/// a signed entry timestamp as the log proof (the layout carries no inclusion proof); a
/// `.sig` payload must also name the image digest.
fn verify_legacy(
    layer: &FoundLegacy,
    digest: &Digest,
    signer: &Signer,
    root: &TrustRoot,
) -> Result<VerifiedIdentity, VerifyError> {
    let entry = &layer.entry;
    let bundle = legacy_bundle(entry)?;
    let parsed = parse_bundle(&bundle.to_string())?;
    match entry.kind {
        LegacyKind::Signature => {
            let claimed = simple_signing_digest(&entry.payload)?;
            if claimed != digest.to_string() {
                return Err(VerifyError::SubjectDigest(format!(
                    "the signed payload names `{claimed}`, not `{digest}`"
                )));
            }
            verify_with(
                &parsed,
                Subject::Bytes(&entry.payload),
                signer,
                root,
                Proofs::Promise,
            )
        }
        LegacyKind::Attestation => verify_with(
            &parsed,
            Subject::Digest(digest),
            signer,
            root,
            Proofs::Promise,
        ),
    }
}

fn simple_signing_digest(payload: &[u8]) -> Result<String, VerifyError> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| VerifyError::Bundle(format!("the simple-signing payload: {e}")))?;
    value["critical"]["image"]["docker-manifest-digest"]
        .as_str()
        .map(ToOwned::to_owned)
        .ok_or_else(|| {
            VerifyError::Bundle("the simple-signing payload names no manifest digest".to_owned())
        })
}

/// The bundle v0.1 JSON a legacy layer amounts to.
fn legacy_bundle(entry: &LegacyEntry) -> Result<Value, VerifyError> {
    let bad = |what: &str| VerifyError::Bundle(format!("the legacy layer's {what}"));
    let certificate = entry
        .certificate_pem
        .as_deref()
        .ok_or_else(|| bad("certificate is missing (key-based legacy signatures are not read)"))?;
    let der = pem_body(certificate).ok_or_else(|| bad("certificate is not PEM"))?;
    let rekor = entry
        .rekor_bundle
        .as_ref()
        .ok_or_else(|| bad("Rekor bundle is missing"))?;
    let body = STANDARD
        .decode(&rekor.payload.body)
        .map_err(|_| bad("Rekor entry body is not base64"))?;
    let body_json: Value =
        serde_json::from_slice(&body).map_err(|_| bad("Rekor entry body is not JSON"))?;
    let log_id = hex::decode(&rekor.payload.log_id).map_err(|_| bad("log id is not hex"))?;
    let tlog = json!({
        "logIndex": rekor.payload.log_index.to_string(),
        "logId": {"keyId": STANDARD.encode(log_id)},
        "kindVersion": {
            "kind": body_json["kind"].as_str().unwrap_or_default(),
            "version": body_json["apiVersion"].as_str().unwrap_or_default(),
        },
        "integratedTime": rekor.payload.integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": rekor.signed_entry_timestamp},
        "canonicalizedBody": rekor.payload.body,
    });
    let mut bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [{"rawBytes": STANDARD.encode(der)}]},
            "tlogEntries": [tlog],
        },
    });
    if entry.kind == LegacyKind::Signature {
        let digest = hex::decode(Digest::sha256(&entry.payload).hex()).unwrap_or_default();
        bundle["messageSignature"] = json!({
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest)},
            "signature": STANDARD.encode(&entry.signature),
        });
    } else {
        let envelope: Value =
            serde_json::from_slice(&entry.payload).map_err(|_| bad("DSSE envelope is not JSON"))?;
        bundle["dsseEnvelope"] = envelope;
    }
    Ok(bundle)
}

/// The DER bytes of the first PEM block.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN")?;
    let body_start = pem[start..].find('\n')? + start + 1;
    let end = pem[body_start..].find("-----END")? + body_start;
    let text: String = pem[body_start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_bodies_are_read_and_junk_is_refused() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_body(pem), Some(vec![0, 1, 2, 3]));
        assert_eq!(pem_body("no pem here"), None);
    }

    #[test]
    fn a_simple_signing_payload_names_its_digest() {
        let image = ImageRef::parse("registry.example.com/app").unwrap();
        let digest = Digest::sha256(b"manifest");
        let payload = crate::oci::simple_signing_payload(&image, &digest, &BTreeMap::new());
        assert_eq!(simple_signing_digest(&payload).unwrap(), digest.to_string());
        assert!(simple_signing_digest(b"{}").is_err());
    }

    #[test]
    fn signatures_and_attestations_are_told_apart_by_what_was_signed() {
        let identity = |predicate: Option<&str>| VerifiedIdentity {
            issuer: None,
            identity: None,
            extensions: BTreeMap::new(),
            key_based: true,
            log_index: None,
            integrated_time: None,
            subjects: Vec::new(),
            statement: predicate.map(|t| crate::verify::Statement {
                predicate_type: t.to_owned(),
                predicate: Value::Null,
            }),
        };
        let slsa = "https://slsa.dev/provenance/v1";
        assert!(signs_image(identity(Some(COSIGN_SIGN_V1)), &Wanted::Signatures).is_ok());
        assert!(signs_image(identity(None), &Wanted::Signatures).is_ok());
        assert!(signs_image(identity(Some(slsa)), &Wanted::Signatures).is_err());
        let any = Wanted::Attestations(None);
        assert!(signs_image(identity(Some(slsa)), &any).is_ok());
        assert!(signs_image(identity(None), &any).is_err());
        let vuln = Wanted::Attestations(Some(crate::statement::COSIGN_VULN_V1.to_owned()));
        assert!(signs_image(identity(Some(slsa)), &vuln).is_err());
    }
}
