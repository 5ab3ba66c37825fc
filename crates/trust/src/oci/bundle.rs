//! cosign v3's layout: a Sigstore bundle as an OCI 1.1 referrer of the signed manifest,
//! written exactly as cosign's `WriteAttestationNewBundleFormat` writes it, and the few
//! fields of a bundle the layouts need.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{Client, Referrer, OCI_MANIFEST};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    OciError, ANNOTATION_BUNDLE_CONTENT, ANNOTATION_BUNDLE_PREDICATE_TYPE, ANNOTATION_CREATED,
    BUNDLE_MEDIA_TYPE, BUNDLE_MEDIA_TYPES, EMPTY_BLOB, EMPTY_MEDIA_TYPE,
};
use crate::statement::{Statement, INTOTO_PAYLOAD_TYPE};

/// What a bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleContent {
    /// A DSSE envelope (image signatures and attestations).
    Dsse {
        payload_type: String,
        /// The decoded payload (an in-toto statement for `application/vnd.in-toto+json`).
        payload: Vec<u8>,
        /// The one signature's bytes.
        signature: Vec<u8>,
        /// The statement's `predicateType`, when the payload is an in-toto statement.
        predicate_type: Option<String>,
    },
    /// A signature over a message digest (blobs, the legacy simple-signing payload).
    MessageSignature {
        /// The digest algorithm as the bundle names it (`SHA2_256`) and the digest bytes.
        digest: Option<(String, Vec<u8>)>,
        signature: Vec<u8>,
    },
}

impl BundleContent {
    /// The `dev.sigstore.bundle.content` annotation value.
    #[must_use]
    pub fn annotation(&self) -> &'static str {
        match self {
            Self::Dsse { .. } => "dsse-envelope",
            Self::MessageSignature { .. } => "message-signature",
        }
    }
}

/// One transparency log entry of a bundle, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    pub log_index: i64,
    /// The log's key id (the bytes of `logId.keyId`).
    pub log_id: Vec<u8>,
    pub integrated_time: i64,
    /// `kindVersion.kind` (`hashedrekord`, `dsse`, …).
    pub kind: String,
    pub kind_version: String,
    /// The canonicalized entry body (JSON bytes).
    pub canonicalized_body: Vec<u8>,
    /// The inclusion promise (signed entry timestamp), when the entry has one.
    pub signed_entry_timestamp: Option<Vec<u8>>,
}

/// The fields of a Sigstore bundle the OCI layouts need, read from its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleView {
    pub media_type: String,
    pub content: BundleContent,
    /// The signing certificate (DER), from `certificate` or the chain's first.
    pub certificate: Option<Vec<u8>>,
    /// The rest of an `x509CertificateChain` (older bundles), DER.
    pub chain: Vec<Vec<u8>>,
    pub tlog_entries: Vec<TlogEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    #[serde(default)]
    verification_material: RawMaterial,
    dsse_envelope: Option<RawEnvelope>,
    message_signature: Option<RawMessage>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    certificate: Option<RawCert>,
    x509_certificate_chain: Option<RawChain>,
    #[serde(default)]
    tlog_entries: Vec<RawTlog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    log_index: Value,
    log_id: RawLogId,
    #[serde(default)]
    kind_version: Option<RawKind>,
    integrated_time: Value,
    inclusion_promise: Option<RawPromise>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawKind {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawSig>,
}

#[derive(Deserialize)]
struct RawSig {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessage {
    message_digest: Option<RawDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct RawDigest {
    algorithm: String,
    digest: String,
}

fn not_a_bundle(reason: impl Into<String>) -> OciError {
    OciError::NotABundle {
        reason: reason.into(),
    }
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, OciError> {
    STANDARD
        .decode(text.trim())
        .map_err(|e| not_a_bundle(format!("`{field}` is not base64: {e}")))
}

/// A protobuf JSON int64: a string of digits, or a number.
fn int64(field: &str, value: &Value) -> Result<i64, OciError> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
    .ok_or_else(|| not_a_bundle(format!("`{field}` is not an integer: `{value}`")))
}

impl BundleView {
    /// Reads a bundle's JSON: its media type must be a Sigstore bundle's, it must hold a DSSE
    /// envelope with exactly one signature or a message signature, and its fields must
    /// decode.
    pub fn parse(bytes: &[u8]) -> Result<Self, OciError> {
        let raw: RawBundle = serde_json::from_slice(bytes)
            .map_err(|e| not_a_bundle(format!("not bundle JSON: {e}")))?;
        if !BUNDLE_MEDIA_TYPES.contains(&raw.media_type.as_str()) {
            return Err(not_a_bundle(format!(
                "media type `{}` is not a Sigstore bundle's",
                raw.media_type
            )));
        }
        let content = match (raw.dsse_envelope, raw.message_signature) {
            (Some(envelope), None) => {
                let [signature] = envelope.signatures.as_slice() else {
                    return Err(not_a_bundle(format!(
                        "a DSSE envelope in a bundle has exactly one signature, not {}",
                        envelope.signatures.len()
                    )));
                };
                let payload = decode("dsseEnvelope.payload", &envelope.payload)?;
                let predicate_type = (envelope.payload_type == INTOTO_PAYLOAD_TYPE)
                    .then(|| Statement::parse(&payload).ok())
                    .flatten()
                    .map(|statement| statement.predicate_type);
                BundleContent::Dsse {
                    signature: decode("dsseEnvelope.signatures[0].sig", &signature.sig)?,
                    payload_type: envelope.payload_type,
                    payload,
                    predicate_type,
                }
            }
            (None, Some(message)) => BundleContent::MessageSignature {
                digest: message
                    .message_digest
                    .map(|d| Ok((d.algorithm, decode("messageDigest.digest", &d.digest)?)))
                    .transpose()?,
                signature: decode("messageSignature.signature", &message.signature)?,
            },
            _ => {
                return Err(not_a_bundle(
                    "a bundle holds either `dsseEnvelope` or `messageSignature`",
                ))
            }
        };
        let material = raw.verification_material;
        let mut chain = Vec::new();
        if let Some(list) = material.x509_certificate_chain {
            for cert in list.certificates {
                chain.push(decode("x509CertificateChain", &cert.raw_bytes)?);
            }
        }
        let certificate = match material.certificate {
            Some(cert) => Some(decode("certificate.rawBytes", &cert.raw_bytes)?),
            None if !chain.is_empty() => Some(chain.remove(0)),
            None => None,
        };
        let tlog_entries = material
            .tlog_entries
            .iter()
            .map(|entry| {
                Ok(TlogEntry {
                    log_index: int64("logIndex", &entry.log_index)?,
                    log_id: decode("logId.keyId", &entry.log_id.key_id)?,
                    integrated_time: int64("integratedTime", &entry.integrated_time)?,
                    kind: entry
                        .kind_version
                        .as_ref()
                        .map(|k| k.kind.clone())
                        .unwrap_or_default(),
                    kind_version: entry
                        .kind_version
                        .as_ref()
                        .map(|k| k.version.clone())
                        .unwrap_or_default(),
                    canonicalized_body: decode("canonicalizedBody", &entry.canonicalized_body)?,
                    signed_entry_timestamp: entry
                        .inclusion_promise
                        .as_ref()
                        .map(|p| decode("signedEntryTimestamp", &p.signed_entry_timestamp))
                        .transpose()?,
                })
            })
            .collect::<Result<_, OciError>>()?;
        Ok(Self {
            media_type: raw.media_type,
            content,
            certificate,
            chain,
            tlog_entries,
        })
    }

    /// The statement's predicate type, for a DSSE bundle of an in-toto statement.
    #[must_use]
    pub fn predicate_type(&self) -> Option<&str> {
        match &self.content {
            BundleContent::Dsse { predicate_type, .. } => predicate_type.as_deref(),
            BundleContent::MessageSignature { .. } => None,
        }
    }
}

/// Where a registry lists a pushed referrer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexedBy {
    /// The registry's referrers API (it answered `OCI-Subject`).
    ReferrersApi,
    /// The `sha256-<hex>` fallback tag index, kept by portcullis.
    FallbackTag,
}

/// A bundle attached to an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrerPush {
    /// The referrer manifest's digest.
    pub manifest: Digest,
    pub size: u64,
    /// The signed manifest's digest.
    pub subject: Digest,
    pub indexed_by: IndexedBy,
    /// The referrer manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Attaches `bundle` (a Sigstore bundle's JSON) to the manifest `image` names by digest:
/// the empty config and the bundle pushed as blobs, then the referrer manifest by digest
/// (`artifactType` the bundle media type, `subject` the signed manifest's media type,
/// digest and size; annotations `dev.sigstore.bundle.content`,
/// `dev.sigstore.bundle.predicateType` and `org.opencontainers.image.created` at
/// `created`), and, when the registry does not index it, an entry with those annotations
/// in the fallback tag index (entries already there kept).
pub async fn attach_bundle(
    client: &Client,
    image: &ImageRef,
    bundle: &[u8],
    created: jiff::Timestamp,
) -> Result<ReferrerPush, OciError> {
    let view = BundleView::parse(bundle)?;
    let subject_digest = image.digest().ok_or_else(|| OciError::NoDigest {
        image: image.to_string(),
    })?;
    let registry = |doing: &'static str| {
        move |source| OciError::Registry {
            doing,
            image: image.to_string(),
            source,
        }
    };
    // By digest alone: a tag beside it may name another manifest by now.
    let pinned = image.without_tag();
    let mut subject = client
        .resolve_digest(&pinned)
        .await
        .map_err(registry("looking up the manifest to sign"))?;
    if subject.size == 0 {
        // The registry gave no length: read the manifest itself (verified by digest).
        let manifest = client
            .fetch_manifest(&pinned)
            .await
            .map_err(registry("reading the manifest to sign"))?;
        subject.size = manifest.bytes.len() as u64;
    }
    let repository = image.without_digest().without_tag();
    let empty = client
        .push_blob(&repository, EMPTY_BLOB)
        .await
        .map_err(registry("pushing the empty config to"))?;
    let layer = client
        .push_blob(&repository, bundle)
        .await
        .map_err(registry("pushing the bundle to"))?;
    let mut annotations = BTreeMap::from([
        (
            ANNOTATION_BUNDLE_CONTENT.to_owned(),
            view.content.annotation().to_owned(),
        ),
        (
            ANNOTATION_CREATED.to_owned(),
            created.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ),
    ]);
    if let Some(predicate_type) = view.predicate_type() {
        annotations.insert(
            ANNOTATION_BUNDLE_PREDICATE_TYPE.to_owned(),
            predicate_type.to_owned(),
        );
    }
    let manifest = referrer_manifest(
        &empty,
        &layer,
        bundle.len() as u64,
        (&subject.media_type, subject_digest, subject.size),
        &annotations,
    );
    let pushed = client
        .push_manifest(&repository, None, OCI_MANIFEST, &manifest)
        .await
        .map_err(registry("pushing the signature referrer to"))?;
    let indexed_by = if pushed.subject_indexed {
        IndexedBy::ReferrersApi
    } else {
        let entry = Referrer::new(
            pushed.digest.clone(),
            OCI_MANIFEST,
            pushed.size,
            BUNDLE_MEDIA_TYPE,
            &annotations,
        );
        client
            .add_fallback_referrer(&repository, subject_digest, &entry)
            .await
            .map_err(registry("updating the referrers fallback index of"))?;
        IndexedBy::FallbackTag
    };
    Ok(ReferrerPush {
        manifest: pushed.digest,
        size: pushed.size,
        subject: subject_digest.clone(),
        indexed_by,
        annotations,
    })
}

/// The referrer manifest's bytes, fields in the order cosign (go-containerregistry)
/// serializes them, `artifactType` also in the config descriptor as cosign writes it.
fn referrer_manifest(
    empty: &Digest,
    layer: &Digest,
    layer_size: u64,
    (subject_type, subject, subject_size): (&str, &Digest, u64),
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "size": EMPTY_BLOB.len(),
            "digest": empty.to_string(),
            "artifactType": BUNDLE_MEDIA_TYPE,
        },
        "layers": [{
            "mediaType": BUNDLE_MEDIA_TYPE,
            "size": layer_size,
            "digest": layer.to_string(),
        }],
        "annotations": annotations,
        "subject": {
            "mediaType": subject_type,
            "size": subject_size,
            "digest": subject.to_string(),
        },
        "artifactType": BUNDLE_MEDIA_TYPE,
    });
    serde_json::to_vec(&manifest).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn dsse_bundle(statement: &Statement) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": STANDARD.encode(b"leaf DER")},
                "tlogEntries": [{
                    "logIndex": "123", "logId": {"keyId": STANDARD.encode([1u8, 2, 255])},
                    "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                    "integratedTime": "1700000000",
                    "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(b"set")},
                    "canonicalizedBody": STANDARD.encode(b"{\"kind\":\"dsse\"}")
                }]
            },
            "dsseEnvelope": {
                "payload": STANDARD.encode(statement.to_bytes()),
                "payloadType": INTOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": STANDARD.encode(b"sig"), "keyid": ""}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_dsse_bundle_gives_its_predicate_type_and_log_entry() {
        let statement = Statement::image_signature(&Digest::sha256(b"image"), &BTreeMap::new());
        let view = BundleView::parse(&dsse_bundle(&statement)).unwrap();
        assert_eq!(view.content.annotation(), "dsse-envelope");
        assert_eq!(
            view.predicate_type(),
            Some("https://sigstore.dev/cosign/sign/v1")
        );
        assert_eq!(view.certificate.as_deref(), Some(&b"leaf DER"[..]));
        let entry = &view.tlog_entries[0];
        assert_eq!(
            (entry.log_index, entry.integrated_time),
            (123, 1_700_000_000)
        );
        assert_eq!(entry.log_id, vec![1, 2, 255]);
        assert_eq!(entry.signed_entry_timestamp.as_deref(), Some(&b"set"[..]));
    }

    #[test]
    fn bundles_that_cannot_be_carried_are_named() {
        let error = BundleView::parse(br#"{"mediaType":"application/json"}"#).unwrap_err();
        assert!(error.to_string().contains("`application/json`"), "{error}");
        let two = json!({"mediaType": BUNDLE_MEDIA_TYPE, "dsseEnvelope": {"payload": "", "payloadType": "x", "signatures": [{"sig": ""}, {"sig": ""}]}});
        let error = BundleView::parse(&serde_json::to_vec(&two).unwrap()).unwrap_err();
        assert!(
            error.to_string().contains("exactly one signature"),
            "{error}"
        );
        let message = json!({"mediaType": BUNDLE_MEDIA_TYPE, "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode([7u8; 32])}, "signature": STANDARD.encode(b"s")}});
        let view = BundleView::parse(&serde_json::to_vec(&message).unwrap()).unwrap();
        assert_eq!(view.content.annotation(), "message-signature");
        assert_eq!(view.predicate_type(), None);
    }

    #[test]
    fn the_referrer_manifest_has_cosigns_shape() {
        let annotations = BTreeMap::from([(
            ANNOTATION_BUNDLE_CONTENT.to_owned(),
            "dsse-envelope".to_owned(),
        )]);
        let subject = Digest::sha256(b"image");
        let bytes = referrer_manifest(
            &Digest::sha256(EMPTY_BLOB),
            &Digest::sha256(b"bundle"),
            6,
            (OCI_MANIFEST, &subject, 321),
            &annotations,
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#), "{text}");
        assert!(text.ends_with(&format!(r#""subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":321,"digest":"{subject}"}},"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}"#)), "{text}");
    }
}
