//! Signing a blob digest (a `hashedrekord` message signature) or an in-toto statement
//! (a DSSE envelope) into a Sigstore bundle v0.3.
//!
//! Keyless: sigstore-sign's Fulcio client asks for a certificate for an ephemeral key with
//! the identity token (the token goes to Fulcio and nowhere else), the key signs, and the
//! signature is logged in Rekor v1 — a `hashedrekord` 0.0.1 entry for a blob and a `dsse`
//! 0.0.1 entry (`proposedContent` with the envelope and the certificate) for a statement.
//! The log entry is built here, with the certificate as `\n`-ended PEM, so that verifiers
//! that rebuild the entry from the bundle (sigstore-python, cosign) find the same bytes.
//! Services come from a signing config (or a client trust config) or from explicit URLs;
//! plain `http://` works, for a local stack.
//!
//! Key-based: an ECDSA P-256 PKCS#8 key of our own signs; the bundle then holds a public
//! key hint (`portcullis-key:sha256:<hex of the SPKI>`) instead of a certificate, and
//! [`Signed::key_based`] says so. With a Rekor URL the signature is logged (the entry
//! carries the public key); without one it is not, and the report says that too.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use portcullis_reference::{Algorithm, Digest};
use sigstore_sign::fulcio::FulcioClient;
use sigstore_verify::bundle::{BundleV03, VerificationMaterialV03};
use sigstore_verify::crypto::KeyPair;
use sigstore_verify::rekor::LogEntry;
use sigstore_verify::trust_root::SigningConfig;
use sigstore_verify::types::bundle::{MessageDigest, MessageSignature};
use sigstore_verify::types::{
    Bundle, DerPublicKey, DigestBytes, DsseEnvelope, DsseSignature, HashAlgorithm, KeyId,
    KindVersion, PayloadBytes, Sha256Hash, SignatureContent, TransparencyLogEntry,
};

use crate::token::IdentityToken;
use crate::verify::pem_block;

/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Where keyless signing sends its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    pub fulcio_url: String,
    pub rekor_url: String,
}

impl Services {
    /// The Fulcio and Rekor v1 services a signing config lists (valid now). Rekor v1 is
    /// chosen because every verifier reads its entries (cosign 2, sigstore-rs, Kyverno).
    pub fn from_signing_config(config: &SigningConfig) -> Result<Self, SignError> {
        let fulcio = config
            .fulcio_url()
            .ok_or_else(|| SignError::Config("it lists no valid Fulcio (`caUrls`)".into()))?;
        let rekor = config.rekor_url(Some(1)).ok_or_else(|| {
            SignError::Config("it lists no valid Rekor v1 log (`rekorTlogUrls`)".into())
        })?;
        Ok(Self {
            fulcio_url: fulcio.url.clone(),
            rekor_url: rekor.url.clone(),
        })
    }
}

/// A signing key of our own.
pub struct SigningKey {
    pair: KeyPair,
    public_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a PEM PKCS#8 ECDSA P-256 key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pem(text: &str) -> Result<Self, SignError> {
        if text.contains("ENCRYPTED SIGSTORE PRIVATE KEY")
            || text.contains("ENCRYPTED COSIGN PRIVATE KEY")
        {
            return Err(SignError::Key(
                "cosign's encrypted key format is not read: export the key as an unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`)".into(),
            ));
        }
        if text.contains("BEGIN EC PRIVATE KEY") {
            return Err(SignError::Key(
                "it is a SEC1 `EC PRIVATE KEY`; convert it with `openssl pkcs8 -topk8 -nocrypt`"
                    .into(),
            ));
        }
        let der = pem_block(text, "PRIVATE KEY").map_err(SignError::Key)?;
        let pair = KeyPair::from_pkcs8_der(&der)
            .map_err(|e| SignError::Key(format!("it is not a PKCS#8 ECDSA P-256 key: {e}")))?;
        let public_der = pair
            .public_key_der()
            .map_err(|e| SignError::Key(e.to_string()))?
            .as_bytes()
            .to_vec();
        Ok(Self { pair, public_der })
    }

    /// A new random key (tests, and `generate-key` later).
    pub fn generate() -> Result<Self, SignError> {
        let pair = KeyPair::generate_ecdsa_p256().map_err(|e| SignError::Key(e.to_string()))?;
        let public_der = pair
            .public_key_der()
            .map_err(|e| SignError::Key(e.to_string()))?
            .as_bytes()
            .to_vec();
        Ok(Self { pair, public_der })
    }

    /// The public key, SPKI DER.
    #[must_use]
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// The public key, PEM.
    #[must_use]
    pub fn public_key_pem(&self) -> String {
        DerPublicKey::new(self.public_der.clone()).to_pem()
    }

    /// The hint the bundle carries: the SPKI's sha256.
    #[must_use]
    pub fn hint(&self) -> String {
        format!("portcullis-key:{}", Digest::sha256(&self.public_der))
    }
}

/// How to sign.
#[derive(Debug)]
pub enum Mode {
    /// Fulcio certificate for the token's identity, logged in Rekor.
    Keyless {
        token: IdentityToken,
        services: Services,
    },
    /// A key of our own; logged in Rekor when `rekor_url` is given.
    Key {
        key: SigningKey,
        rekor_url: Option<String>,
    },
}

/// What to sign.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// A blob, by its `sha256` digest.
    Blob(&'a Digest),
    /// An in-toto statement (JSON bytes), as a DSSE envelope.
    Statement(&'a [u8]),
}

/// A bundle and how it was made.
#[derive(Debug, Clone)]
pub struct Signed {
    pub bundle: Bundle,
    /// Signed with a key of our own, not a Fulcio certificate.
    pub key_based: bool,
    /// The log index, when logged.
    pub log_index: Option<u64>,
}

impl Signed {
    /// The bundle as pretty JSON with a final newline.
    pub fn to_json(&self) -> Result<String, SignError> {
        self.bundle
            .to_json_pretty()
            .map(|text| text + "\n")
            .map_err(|e| SignError::Other(e.to_string()))
    }
}

/// Why signing failed. No message holds the identity token.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the signing config is unusable: {0}")]
    Config(String),
    #[error("the signing key is unusable: {0}")]
    Key(String),
    #[error("only `sha256` digests can be signed, not `{0}`")]
    DigestAlgorithm(String),
    #[error("the in-toto statement is invalid: {0}")]
    Statement(String),
    #[error("Fulcio at `{url}` refused or failed: {detail}")]
    Fulcio { url: String, detail: String },
    #[error("Rekor at `{url}` failed: {detail}")]
    Rekor { url: String, detail: String },
    #[error("signing failed: {0}")]
    Other(String),
}

impl SignError {
    /// Whether the input was unusable (exit 2) rather than a service failing (exit 3).
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::Config(_) | Self::Key(_) | Self::DigestAlgorithm(_) | Self::Statement(_)
        )
    }
}

/// Signs `payload`. `http` carries the workspace's TLS settings.
pub async fn sign(
    payload: Payload<'_>,
    mode: &Mode,
    http: &reqwest::Client,
) -> Result<Signed, SignError> {
    if let Payload::Blob(digest) = payload {
        if digest.algorithm() != Algorithm::Sha256 {
            return Err(SignError::DigestAlgorithm(digest.to_string()));
        }
    }
    if let Payload::Statement(bytes) = payload {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| SignError::Statement(e.to_string()))?;
        if value.get("_type").is_none() || value.get("subject").is_none() {
            return Err(SignError::Statement(
                "it needs `_type` and `subject` (an in-toto Statement)".into(),
            ));
        }
    }
    match mode {
        Mode::Keyless { token, services } => keyless(payload, token, services, http).await,
        Mode::Key { key, rekor_url } => keyed(payload, key, rekor_url.as_deref(), http).await,
    }
}

async fn keyless(
    payload: Payload<'_>,
    token: &IdentityToken,
    services: &Services,
    http: &reqwest::Client,
) -> Result<Signed, SignError> {
    let fulcio_url = services.fulcio_url.trim_end_matches('/');
    let fulcio = |detail: String| SignError::Fulcio {
        url: fulcio_url.to_owned(),
        detail: detail.replace(token.secret().expose(), "***"),
    };
    let jwt = sigstore_oidc::IdentityToken::from_jwt(token.secret().expose())
        .map_err(|_| SignError::Config("the identity token's claims cannot be read".into()))?;
    let pair = KeyPair::generate_ecdsa_p256().map_err(|e| SignError::Other(e.to_string()))?;
    let client = FulcioClient::builder(fulcio_url)
        .with_http_client(http.clone())
        .build()
        .map_err(|e| fulcio(chain(&e)))?;
    let issued = client
        .create_signing_certificate(&jwt, &pair)
        .await
        .map_err(|e| fulcio(chain(&e)))?;
    let certificate = issued.leaf_certificate().clone();
    let verifier = lf_pem("CERTIFICATE", certificate.as_bytes());
    let (bundle, log_index) = signed_and_logged(
        payload,
        &pair,
        &verifier,
        VerificationMaterialV03::Certificate(certificate),
        Some(&services.rekor_url),
        http,
    )
    .await?;
    Ok(Signed {
        bundle,
        key_based: false,
        log_index,
    })
}

/// An error and its causes, one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn keyed(
    payload: Payload<'_>,
    key: &SigningKey,
    rekor_url: Option<&str>,
    http: &reqwest::Client,
) -> Result<Signed, SignError> {
    let verifier = lf_pem("PUBLIC KEY", &key.public_der);
    let (bundle, log_index) = signed_and_logged(
        payload,
        &key.pair,
        &verifier,
        VerificationMaterialV03::PublicKey { hint: key.hint() },
        rekor_url,
        http,
    )
    .await?;
    Ok(Signed {
        bundle,
        key_based: true,
        log_index,
    })
}

/// Signs `payload` with `pair` and, with a Rekor URL, logs it as a `hashedrekord` or
/// `dsse` 0.0.1 entry whose verifier is `verifier_pem` (the certificate or public key).
///
/// The entry is built here rather than by sigstore-sign because verifiers rebuild it from
/// the bundle and compare bytes: sigstore-python and cosign write PEM with `\n` line ends,
/// and an entry whose PEM has `\r\n` (what sigstore-sign 0.15 sends) is refused by
/// sigstore-python as "inconsistent with other materials".
async fn signed_and_logged(
    payload: Payload<'_>,
    pair: &KeyPair,
    verifier_pem: &str,
    material: VerificationMaterialV03,
    rekor_url: Option<&str>,
    http: &reqwest::Client,
) -> Result<(Bundle, Option<u64>), SignError> {
    let failed = |e: sigstore_verify::crypto::Error| SignError::Other(e.to_string());
    let verifier_b64 = base64::engine::general_purpose::STANDARD.encode(verifier_pem.as_bytes());
    let (content, entry, kind) = match payload {
        Payload::Blob(digest) => {
            let hash = sha256(digest)?;
            let signature = pair.sign_digest(&hash).map_err(failed)?;
            let entry = serde_json::json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": hash.to_hex()}},
                    "signature": {"content": signature.to_base64(), "publicKey": {"content": verifier_b64}},
                }
            });
            let content = SignatureContent::MessageSignature(
                MessageSignature::new(signature).with_message_digest(MessageDigest::new(
                    HashAlgorithm::Sha2256,
                    DigestBytes::new(hash.as_bytes().to_vec()),
                )),
            );
            (content, entry, KindVersion::HashedRekordV001)
        }
        Payload::Statement(bytes) => {
            let pae = sigstore_verify::types::pae(IN_TOTO_PAYLOAD_TYPE, bytes);
            let signature = pair.sign(&pae).map_err(failed)?;
            let envelope = DsseEnvelope::new(
                IN_TOTO_PAYLOAD_TYPE,
                PayloadBytes::new(bytes.to_vec()),
                DsseSignature::new(signature, KeyId::default()),
            );
            let envelope_json =
                serde_json::to_string(&envelope).map_err(|e| SignError::Other(e.to_string()))?;
            let entry = serde_json::json!({
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {"proposedContent": {"envelope": envelope_json, "verifiers": [verifier_b64]}}
            });
            (
                SignatureContent::DsseEnvelope(envelope),
                entry,
                KindVersion::DsseV001,
            )
        }
    };
    let mut builder = BundleV03::new(material, content);
    let mut log_index = None;
    if let Some(url) = rekor_url {
        let logged = log_entry(url, &entry, kind, http).await?;
        log_index = Some(u64::from(logged.log_index));
        builder = builder.with_tlog_entry(logged);
    }
    Ok((builder.into_bundle(), log_index))
}

/// PEM with `\n` line ends and 64-character lines, as Go's and Python's encoders write.
fn lf_pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem + "-----END " + label + "-----\n"
}

/// `POST /api/v1/log/entries` with a proposed entry, as a bundle's log entry.
async fn log_entry(
    url: &str,
    entry: &serde_json::Value,
    kind: KindVersion,
    http: &reqwest::Client,
) -> Result<TransparencyLogEntry, SignError> {
    let base = url.trim_end_matches('/');
    let rekor = |detail: String| SignError::Rekor {
        url: base.to_owned(),
        detail,
    };
    let response = http
        .post(format!("{base}/api/v1/log/entries"))
        .header("Content-Type", "application/json")
        .body(entry.to_string())
        .timeout(Duration::from_mins(1))
        .send()
        .await
        .map_err(|e| rekor(e.without_url().to_string()))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| rekor(e.without_url().to_string()))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(rekor(format!(
            "answered {status}: {}",
            text.chars().take(300).collect::<String>()
        )));
    }
    let entries: BTreeMap<String, LogEntry> = serde_json::from_slice(&body)
        .map_err(|e| rekor(format!("its answer is not a log entry: {e}")))?;
    let (_, logged) = entries
        .into_iter()
        .next()
        .ok_or_else(|| rekor("its answer holds no log entry".into()))?;
    logged
        .to_bundle_entry(kind)
        .map_err(|e| rekor(format!("its log entry is unusable: {e}")))
}

fn sha256(digest: &Digest) -> Result<Sha256Hash, SignError> {
    if digest.algorithm() != Algorithm::Sha256 {
        return Err(SignError::DigestAlgorithm(digest.to_string()));
    }
    Sha256Hash::from_hex(digest.hex()).map_err(|e| SignError::DigestAlgorithm(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verifiers rebuild the log entry with `\n`-ended PEM and compare bytes, so the
    /// entry's PEM must be exactly that (sigstore-sign's encoder writes `\r\n`).
    #[test]
    fn log_entries_carry_lf_pem_as_verifiers_rebuild_it() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = lf_pem("CERTIFICATE", &der);
        assert!(!pem.contains('\r'), "{pem:?}");
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN CERTIFICATE-----"));
        assert_eq!(lines.last(), Some(&"-----END CERTIFICATE-----"));
        assert!(pem.ends_with("-----\n"));
        assert!(lines[1..lines.len() - 2].iter().all(|l| l.len() == 64));
        let body: String = lines[1..lines.len() - 1].concat();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap(),
            der
        );
    }
}
