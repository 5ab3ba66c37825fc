//! cosign's legacy layout: `sha256-<hex>.sig` (simple-signing payloads) and `.att` (DSSE
//! envelopes) tags next to the image, one layer per signature with the signature,
//! certificate, chain and Rekor bundle as layer annotations. A new signature is appended to
//! the tag's manifest (read, modify, write): other signers' layers stay.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{fallback_tag, Client, OCI_MANIFEST};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::bundle::{BundleContent, BundleView, TlogEntry};
use super::{
    OciError, ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_PREDICATE_TYPE,
    ANNOTATION_REKOR_BUNDLE, ANNOTATION_SIGNATURE, DSSE_MEDIA_TYPE, OCI_CONFIG_MEDIA_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
};

/// Which legacy tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegacyKind {
    /// `.sig`: simple-signing payloads.
    Signature,
    /// `.att`: DSSE envelopes of in-toto statements.
    Attestation,
}

impl LegacyKind {
    /// The tag suffix.
    #[must_use]
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Signature => "sig",
            Self::Attestation => "att",
        }
    }

    /// The layer media type.
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Signature => SIMPLE_SIGNING_MEDIA_TYPE,
            Self::Attestation => DSSE_MEDIA_TYPE,
        }
    }
}

/// The legacy tag of `digest`: `sha256-<hex>.sig` or `.att`.
#[must_use]
pub fn legacy_tag(digest: &Digest, kind: LegacyKind) -> String {
    format!("{}.{}", fallback_tag(digest), kind.suffix())
}

/// cosign's `dev.sigstore.cosign/bundle`: a Rekor entry with its signed entry timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekorBundle {
    /// Base64 of the signed entry timestamp.
    #[serde(rename = "SignedEntryTimestamp")]
    pub signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    pub payload: RekorPayload,
}

/// The entry a [`RekorBundle`] covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekorPayload {
    /// Base64 of the canonicalized entry body.
    pub body: String,
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    /// The log id, lowercase hex.
    #[serde(rename = "logID")]
    pub log_id: String,
}

impl RekorBundle {
    /// From a bundle's log entry; `None` when it has no signed entry timestamp (a Rekor v2
    /// entry), which this format cannot carry.
    #[must_use]
    pub fn from_entry(entry: &TlogEntry) -> Option<Self> {
        Some(Self {
            signed_entry_timestamp: STANDARD.encode(entry.signed_entry_timestamp.as_ref()?),
            payload: RekorPayload {
                body: STANDARD.encode(&entry.canonicalized_body),
                integrated_time: entry.integrated_time,
                log_index: entry.log_index,
                log_id: hex::encode(&entry.log_id),
            },
        })
    }
}

/// One signature in the legacy layout: the layer's bytes and its annotations, as written
/// and as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyEntry {
    pub kind: LegacyKind,
    /// The layer blob: a simple-signing payload (`.sig`) or a DSSE envelope's JSON (`.att`).
    pub payload: Vec<u8>,
    /// The signature over `payload` (`.sig`); empty for `.att`, whose envelope holds it.
    pub signature: Vec<u8>,
    /// The PEM signing certificate (keyless).
    pub certificate_pem: Option<String>,
    /// The PEM chain above it (intermediates, root).
    pub chain_pem: Option<String>,
    pub rekor_bundle: Option<RekorBundle>,
    /// The statement's predicate type (`.att`).
    pub predicate_type: Option<String>,
}

impl LegacyEntry {
    /// The legacy form of a signed bundle: for a message-signature bundle over
    /// `payload` (a simple-signing payload, logged as `hashedrekord`) a `.sig` layer; for a
    /// DSSE bundle an `.att` layer holding the envelope. The certificate comes from the
    /// bundle; `chain_pem` is the chain Fulcio returned (bundles v0.3 do not carry it); the
    /// Rekor bundle from its first log entry with a signed entry timestamp.
    pub fn from_bundle(
        view: &BundleView,
        payload: &[u8],
        chain_pem: Option<String>,
    ) -> Result<Self, OciError> {
        let certificate_pem = view.certificate.as_deref().map(pem_certificate);
        let rekor_bundle = view.tlog_entries.iter().find_map(RekorBundle::from_entry);
        match &view.content {
            BundleContent::MessageSignature { signature, .. } => Ok(Self {
                kind: LegacyKind::Signature,
                payload: payload.to_vec(),
                signature: signature.clone(),
                certificate_pem,
                chain_pem,
                rekor_bundle,
                predicate_type: None,
            }),
            BundleContent::Dsse {
                payload_type,
                payload: statement,
                signature,
                predicate_type,
            } => {
                let envelope = json!({
                    "payloadType": payload_type,
                    "payload": STANDARD.encode(statement),
                    "signatures": [{"keyid": "", "sig": STANDARD.encode(signature)}],
                });
                Ok(Self {
                    kind: LegacyKind::Attestation,
                    payload: serde_json::to_vec(&envelope).unwrap_or_default(),
                    signature: Vec::new(),
                    certificate_pem,
                    chain_pem,
                    rekor_bundle,
                    predicate_type: predicate_type.clone(),
                })
            }
        }
    }

    /// The layer's annotations, as cosign writes them.
    #[must_use]
    pub fn annotations(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::from([(
            ANNOTATION_SIGNATURE.to_owned(),
            STANDARD.encode(&self.signature),
        )]);
        if let Some(cert) = &self.certificate_pem {
            out.insert(ANNOTATION_CERTIFICATE.to_owned(), cert.clone());
        }
        if let Some(chain) = &self.chain_pem {
            out.insert(ANNOTATION_CHAIN.to_owned(), chain.clone());
        }
        if let Some(bundle) = &self.rekor_bundle {
            out.insert(
                ANNOTATION_REKOR_BUNDLE.to_owned(),
                serde_json::to_string(bundle).unwrap_or_default(),
            );
        }
        if let Some(predicate_type) = &self.predicate_type {
            out.insert(ANNOTATION_PREDICATE_TYPE.to_owned(), predicate_type.clone());
        }
        out
    }

    /// Reads a layer back from its bytes and annotations; `Err(reason)` when an annotation
    /// does not decode.
    pub(crate) fn from_layer(
        kind: LegacyKind,
        payload: Vec<u8>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let signature = match annotations.get(ANNOTATION_SIGNATURE) {
            Some(text) => STANDARD
                .decode(text.trim())
                .map_err(|e| format!("`{ANNOTATION_SIGNATURE}` is not base64: {e}"))?,
            None if kind == LegacyKind::Attestation => Vec::new(),
            None => return Err(format!("no `{ANNOTATION_SIGNATURE}` annotation")),
        };
        let rekor_bundle = annotations
            .get(ANNOTATION_REKOR_BUNDLE)
            .map(|text| {
                serde_json::from_str::<RekorBundle>(text)
                    .map_err(|e| format!("`{ANNOTATION_REKOR_BUNDLE}` is not a Rekor bundle: {e}"))
            })
            .transpose()?;
        Ok(Self {
            kind,
            payload,
            signature,
            certificate_pem: annotations.get(ANNOTATION_CERTIFICATE).cloned(),
            chain_pem: annotations.get(ANNOTATION_CHAIN).cloned(),
            rekor_bundle,
            predicate_type: annotations.get(ANNOTATION_PREDICATE_TYPE).cloned(),
        })
    }
}

/// A DER certificate as PEM.
fn pem_certificate(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// cosign's simple-signing payload for `image` (its repository names the identity) at
/// `digest`, with `optional` annotations (`null` when there are none, as cosign writes).
#[must_use]
pub fn simple_signing_payload(
    image: &ImageRef,
    digest: &Digest,
    optional: &BTreeMap<String, String>,
) -> Vec<u8> {
    let optional = if optional.is_empty() {
        Value::Null
    } else {
        json!(optional)
    };
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": image.name()},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": "cosign container image signature",
        },
        "optional": optional,
    }))
    .unwrap_or_default()
}

/// What [`append_legacy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyPush {
    /// The tag written (`sha256-<hex>.sig` or `.att`).
    pub tag: String,
    /// The manifest the tag names now.
    pub manifest: Digest,
    /// Layers in it, the new one included.
    pub layers: usize,
    /// The same layer with the same annotations was there already: nothing written.
    pub already_present: bool,
}

/// Appends `entry` as a layer of the legacy tag of the manifest `image` names by digest:
/// the tag's manifest is read (when it exists), the layer added after the layers there
/// (unless the same layer with the same annotations is there), the config's `diff_ids`
/// rewritten for the layers, and the manifest put under the tag.
pub async fn append_legacy(
    client: &Client,
    image: &ImageRef,
    entry: &LegacyEntry,
) -> Result<LegacyPush, OciError> {
    let digest = image.digest().ok_or_else(|| OciError::NoDigest {
        image: image.to_string(),
    })?;
    let repository = image.without_digest().without_tag();
    let tag = legacy_tag(digest, entry.kind);
    let tagged = repository.with_tag(&tag);
    let registry = |doing: &'static str| {
        let tagged = tagged.to_string();
        move |source| OciError::Registry {
            doing,
            image: tagged,
            source,
        }
    };
    let mut manifest: Map<String, Value> = match client.fetch_manifest(&tagged).await {
        Ok(existing) => {
            serde_json::from_slice(&existing.bytes).map_err(|e| OciError::InvalidManifest {
                what: tagged.to_string(),
                reason: format!("not a JSON object: {e}"),
            })?
        }
        Err(error) if error.is_not_found() => Map::new(),
        Err(error) => return Err(registry("reading")(error)),
    };
    let layer = Digest::sha256(&entry.payload);
    let annotations = entry.annotations();
    let descriptor = json!({
        "mediaType": entry.kind.media_type(),
        "size": entry.payload.len(),
        "digest": layer.to_string(),
        "annotations": annotations,
    });
    let mut layers = match manifest.remove("layers") {
        Some(Value::Array(layers)) => layers,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(OciError::InvalidManifest {
                what: tagged.to_string(),
                reason: "`layers` is not a list".to_owned(),
            })
        }
    };
    let same = |existing: &Value| {
        existing.get("digest") == descriptor.get("digest")
            && existing.get("annotations") == descriptor.get("annotations")
    };
    if layers.iter().any(same) {
        let current = client
            .resolve_digest(&tagged)
            .await
            .map_err(registry("reading"))?;
        return Ok(LegacyPush {
            tag,
            manifest: current.digest,
            layers: layers.len(),
            already_present: true,
        });
    }
    client
        .push_blob(&repository, &entry.payload)
        .await
        .map_err(registry("pushing a signature layer to"))?;
    layers.push(descriptor);
    let config = legacy_config(&layers);
    let config_digest = client
        .push_blob(&repository, &config)
        .await
        .map_err(registry("pushing the signature config to"))?;
    // Fields in cosign's order; other fields of an existing manifest kept after them.
    let mut out = Map::new();
    out.insert("schemaVersion".into(), Value::from(2));
    out.insert("mediaType".into(), Value::from(OCI_MANIFEST));
    out.insert(
        "config".into(),
        json!({"mediaType": OCI_CONFIG_MEDIA_TYPE, "size": config.len(), "digest": config_digest.to_string()}),
    );
    let count = layers.len();
    out.insert("layers".into(), Value::Array(layers));
    for (key, value) in manifest {
        if !matches!(key.as_str(), "schemaVersion" | "mediaType" | "config") {
            out.insert(key, value);
        }
    }
    let bytes = serde_json::to_vec(&out).unwrap_or_default();
    let pushed = client
        .push_manifest(&repository, Some(&tag), OCI_MANIFEST, &bytes)
        .await
        .map_err(registry("writing"))?;
    Ok(LegacyPush {
        tag,
        manifest: pushed.digest,
        layers: count,
        already_present: false,
    })
}

/// The image config of a legacy signature manifest, as go-containerregistry writes it for
/// cosign: empty platform, one history entry and one `diff_id` per layer (the layers are
/// uncompressed, so each `diff_id` is the layer's digest).
fn legacy_config(layers: &[Value]) -> Vec<u8> {
    let diff_ids: Vec<Value> = layers
        .iter()
        .map(|layer| layer.get("digest").cloned().unwrap_or(Value::Null))
        .collect();
    let history: Vec<Value> = layers
        .iter()
        .map(|_| json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    serde_json::to_vec(&json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": history,
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_signing_payload_is_cosigns() {
        let image = ImageRef::parse("ghcr.io/acme/app:v1").unwrap();
        let digest = Digest::sha256(b"x");
        let text =
            String::from_utf8(simple_signing_payload(&image, &digest, &BTreeMap::new())).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"ghcr.io/acme/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
    }

    #[test]
    fn rekor_bundle_json_is_cosigns() {
        let entry = TlogEntry {
            log_index: 7,
            log_id: vec![0xab, 0x01],
            integrated_time: 1_700_000_000,
            kind: "hashedrekord".into(),
            kind_version: "0.0.1".into(),
            canonicalized_body: b"{}".to_vec(),
            signed_entry_timestamp: Some(b"set".to_vec()),
        };
        let bundle = RekorBundle::from_entry(&entry).unwrap();
        assert_eq!(
            serde_json::to_string(&bundle).unwrap(),
            r#"{"SignedEntryTimestamp":"c2V0","Payload":{"body":"e30=","integratedTime":1700000000,"logIndex":7,"logID":"ab01"}}"#
        );
        let without = TlogEntry {
            signed_entry_timestamp: None,
            ..entry
        };
        assert!(RekorBundle::from_entry(&without).is_none());
    }

    #[test]
    fn a_layer_reads_back_as_written() {
        let entry = LegacyEntry {
            kind: LegacyKind::Signature,
            payload: b"payload".to_vec(),
            signature: vec![1, 2, 3],
            certificate_pem: Some(pem_certificate(b"der")),
            chain_pem: Some("chain".into()),
            rekor_bundle: None,
            predicate_type: None,
        };
        let back = LegacyEntry::from_layer(
            LegacyKind::Signature,
            b"payload".to_vec(),
            &entry.annotations(),
        )
        .unwrap();
        assert_eq!(back, entry);
        assert!(entry
            .certificate_pem
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\nZGVy\n"));
        let mut broken = back.annotations();
        broken.insert(ANNOTATION_SIGNATURE.into(), "%%%".into());
        let error =
            LegacyEntry::from_layer(LegacyKind::Signature, Vec::new(), &broken).unwrap_err();
        assert!(error.contains("not base64"), "{error}");
    }

    #[test]
    fn a_message_signature_bundle_becomes_a_sig_layer() {
        let bundle = json!({
            "mediaType": super::super::BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": STANDARD.encode(b"leaf")},
                "tlogEntries": [{
                    "logIndex": "9", "logId": {"keyId": STANDARD.encode([0x0a, 0xbc])},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                    "integratedTime": "1700000001",
                    "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(b"set")},
                    "canonicalizedBody": STANDARD.encode(b"body")
                }]
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode([1u8; 32])},
                "signature": STANDARD.encode(b"the signature")
            }
        });
        let view = BundleView::parse(&serde_json::to_vec(&bundle).unwrap()).unwrap();
        let image = ImageRef::parse("ghcr.io/acme/app:v1").unwrap();
        let payload = simple_signing_payload(&image, &Digest::sha256(b"x"), &BTreeMap::new());
        let entry = LegacyEntry::from_bundle(&view, &payload, Some("chain".into())).unwrap();
        assert_eq!(entry.kind, LegacyKind::Signature);
        assert_eq!(entry.payload, payload);
        let annotations = entry.annotations();
        assert_eq!(
            annotations[ANNOTATION_SIGNATURE],
            STANDARD.encode(b"the signature")
        );
        assert_eq!(
            annotations[ANNOTATION_CERTIFICATE],
            "-----BEGIN CERTIFICATE-----\nbGVhZg==\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(annotations[ANNOTATION_CHAIN], "chain");
        assert_eq!(
            annotations[ANNOTATION_REKOR_BUNDLE],
            r#"{"SignedEntryTimestamp":"c2V0","Payload":{"body":"Ym9keQ==","integratedTime":1700000001,"logIndex":9,"logID":"0abc"}}"#
        );
        assert!(!annotations.contains_key(ANNOTATION_PREDICATE_TYPE));
    }

    #[test]
    fn the_config_lists_every_layer() {
        let layers = vec![
            json!({"digest": "sha256:aa"}),
            json!({"digest": "sha256:bb"}),
        ];
        let config: Value = serde_json::from_slice(&legacy_config(&layers)).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"],
            json!(["sha256:aa", "sha256:bb"])
        );
        assert_eq!(config["history"].as_array().unwrap().len(), 2);
        let one = String::from_utf8(legacy_config(&layers[..1])).unwrap();
        assert_eq!(
            one,
            r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"config":{}}"#
        );
    }
}
