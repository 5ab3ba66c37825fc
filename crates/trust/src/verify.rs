//! Verifying a Sigstore bundle (v0.1–v0.3, message signature or DSSE) against an
//! artifact, then judging who signed it with an [`IdentityPolicy`] of our own.
//!
//! The cryptography is sigstore-verify's: the certificate chains to a Fulcio CA of the
//! trusted root at signing time, its SCT verifies against a CT log key, every log entry
//! has an inclusion proof with a signed checkpoint (and its SET, when present, verifies),
//! the log entry describes this signature, and the signature verifies over the artifact
//! (or the DSSE PAE). The identity is then read from the verified certificate only:
//! SAN, issuer (`.1.8`, else `.1.1`) and the Fulcio extensions `.1.9`–`.1.22`.
//!
//! Every failure is an error; nothing falls back to a weaker check.
//!
//! A log entry with a signed entry timestamp but no signed checkpoint (sigstore-python's
//! Python-3.12.5 bundle) is refused, as sigstore-python 4.5 refuses it: the SET alone
//! is a promise to log, not a proof the entry is in the log that monitors watch.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use portcullis_reference::{Algorithm, Digest};
use sigstore_verify::bundle::Error as BundleError;
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash, SignatureContent};
use sigstore_verify::{
    CertificateError, Error as LibError, PublicKeyVerificationPolicy, TransparencyLogError,
    VerificationPolicy, Verifier,
};

use crate::root::TrustRoot;

/// A value to match: exact, or a regular expression that must match the whole value.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    /// Anchored at both ends (unlike cosign's `-regexp` flags, which search).
    Regex(regex::Regex),
}

impl Matcher {
    /// A regular expression, anchored at both ends.
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        regex::Regex::new(&format!("^(?:{pattern})$")).map(Self::Regex)
    }

    #[must_use]
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(expected) => value == expected,
            Self::Regex(re) => re.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(value) => write!(f, "`{value}`"),
            Self::Regex(re) => {
                let text = re.as_str();
                let inner = text
                    .strip_prefix("^(?:")
                    .and_then(|t| t.strip_suffix(")$"))
                    .unwrap_or(text);
                write!(f, "one matching `{inner}`")
            }
        }
    }
}

/// The Fulcio certificate extensions a policy can require (OIDs 1.3.6.1.4.1.57264.1.N): the
/// one type `reference` defines for every crate.
pub use portcullis_reference::identity::CertificateExtension as Extension;

/// The value of `extension` in a verified certificate's claims.
fn claim(
    extension: Extension,
    claims: &sigstore_verify::crypto::x509::FulcioCiClaims,
) -> Option<&String> {
    match extension {
        Extension::Issuer => None,
        Extension::BuildSignerUri => claims.build_signer_uri.as_ref(),
        Extension::BuildSignerDigest => claims.build_signer_digest.as_ref(),
        Extension::RunnerEnvironment => claims.runner_environment.as_ref(),
        Extension::SourceRepositoryUri => claims.source_repository_uri.as_ref(),
        Extension::SourceRepositoryDigest => claims.source_repository_digest.as_ref(),
        Extension::SourceRepositoryRef => claims.source_repository_ref.as_ref(),
        Extension::SourceRepositoryIdentifier => claims.source_repository_identifier.as_ref(),
        Extension::SourceRepositoryOwnerUri => claims.source_repository_owner_uri.as_ref(),
        Extension::SourceRepositoryOwnerIdentifier => {
            claims.source_repository_owner_identifier.as_ref()
        }
        Extension::BuildConfigUri => claims.build_config_uri.as_ref(),
        Extension::BuildConfigDigest => claims.build_config_digest.as_ref(),
        Extension::BuildTrigger => claims.build_trigger.as_ref(),
        Extension::RunInvocationUri => claims.run_invocation_uri.as_ref(),
        Extension::SourceRepositoryVisibility => {
            claims.source_repository_visibility_at_signing.as_ref()
        }
    }
}

/// Who must have signed: issuer and identity, and any extensions.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    pub issuer: Matcher,
    pub identity: Matcher,
    pub extensions: Vec<(Extension, Matcher)>,
}

/// What a bundle must be signed with.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A Fulcio certificate whose identity the policy admits.
    Keyless(IdentityPolicy),
    /// Any Fulcio certificate that chains to the trusted root: who signed is returned for
    /// the caller to judge (`[[trust.signer]]` entries, matched by `policy`).
    AnyCertificate,
    /// A key of our own (SPKI DER); `tlog` requires a transparency log entry.
    Key { public_key: Vec<u8>, tlog: bool },
}

/// What was signed.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// Its `sha256` digest.
    Digest(&'a Digest),
}

/// The in-toto statement of a DSSE bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

/// Who signed, as proved by the certificate (or a key), with the log entry that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedIdentity {
    /// The certificate's OIDC issuer; `None` for a key-based signature.
    pub issuer: Option<String>,
    /// The certificate's SAN (URI or email); `None` for a key-based signature.
    pub identity: Option<String>,
    /// The Fulcio extensions the certificate carries.
    pub extensions: BTreeMap<Extension, String>,
    /// Signed with a key of our own, not a Fulcio certificate.
    pub key_based: bool,
    /// The transparency log index, when logged.
    pub log_index: Option<u64>,
    /// When the log integrated the entry (Unix seconds), when logged.
    pub integrated_time: Option<i64>,
    /// The subject digests signed (the artifact's, or the statement's subjects).
    pub subjects: Vec<Digest>,
    /// The statement of a DSSE bundle.
    pub statement: Option<Statement>,
}

impl VerifiedIdentity {
    /// The signer as `policy` matches it against `[[trust.signer]]`.
    #[must_use]
    pub fn signer(&self) -> portcullis_reference::identity::SignerIdentity {
        use portcullis_reference::identity::SignerIdentity;
        match (&self.issuer, &self.identity) {
            (Some(issuer), Some(subject)) if !self.key_based => SignerIdentity::Certificate {
                issuer: issuer.clone(),
                subject: subject.clone(),
                extensions: self.extensions.clone(),
            },
            _ => SignerIdentity::Key {
                fingerprint: "(a key-based signature)".to_owned(),
            },
        }
    }
}

/// Why a bundle does not verify. Each kind has its own message; all are failures.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a bundle at all (bad input rather than a failed check).
    #[error("not a Sigstore bundle: {0}")]
    Bundle(String),
    /// The artifact digest is not a `sha256` one.
    #[error("`{0}`: only `sha256` digests can be verified")]
    DigestAlgorithm(String),
    /// The trusted root is unusable.
    #[error("the trusted root is unusable: {0}")]
    TrustRoot(String),
    /// The certificate does not chain to a CA of the trusted root (another root, or not
    /// valid at signing time).
    #[error("the signing certificate does not chain to the trusted root: {0}")]
    Chain(String),
    /// The certificate's SCT does not verify against a CT log of the trusted root.
    #[error("the signing certificate's SCT does not verify: {0}")]
    Sct(String),
    /// The SAN is not the required identity.
    #[error("signed by `{actual}`, not by {expected}")]
    Identity { expected: String, actual: String },
    /// The issuer is not the required one.
    #[error("the certificate's OIDC issuer is `{actual}`, not {expected}")]
    Issuer { expected: String, actual: String },
    /// An extension is absent or has another value.
    #[error("the certificate's {extension} is {}, not {expected}", actual.as_ref().map_or_else(|| "absent".to_owned(), |a| format!("`{a}`")))]
    Extension {
        extension: Extension,
        expected: String,
        actual: Option<String>,
    },
    /// The signature does not verify over the artifact or payload.
    #[error("the signature does not verify: {0}")]
    Signature(String),
    /// The artifact (or the statement's subject) is not the one signed.
    #[error("the bundle signs another artifact: {0}")]
    SubjectDigest(String),
    /// A transparency log proof is missing.
    #[error("the transparency log entry has no {0}")]
    TlogMissing(&'static str),
    /// The inclusion proof does not verify.
    #[error("the transparency log inclusion proof does not verify: {0}")]
    InclusionProof(String),
    /// The checkpoint (signed tree head) does not verify.
    #[error("the transparency log checkpoint does not verify: {0}")]
    Checkpoint(String),
    /// The signed entry timestamp does not verify.
    #[error("the transparency log's signed entry timestamp does not verify: {0}")]
    InclusionPromise(String),
    /// The log entry does not describe this signature, or is malformed.
    #[error("the transparency log entry does not match the bundle: {0}")]
    TlogEntry(String),
    /// The log entry comes from a log the trusted root does not know.
    #[error("the transparency log entry is from a log the trusted root does not list: {0}")]
    UnknownLog(String),
    /// Anything else sigstore-verify refuses.
    #[error("the bundle does not verify: {0}")]
    Other(String),
}

impl VerifyError {
    /// Whether the input was unusable (exit 2) rather than a failed check (exit 1).
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::Bundle(_) | Self::DigestAlgorithm(_) | Self::TrustRoot(_)
        )
    }
}

/// Reads a bundle (any of v0.1, v0.2, v0.3).
pub fn parse_bundle(text: &str) -> Result<Bundle, VerifyError> {
    Bundle::from_json(text).map_err(|e| VerifyError::Bundle(e.to_string()))
}

/// Verifies `bundle` over `subject` against `root`, then `signer`.
pub fn verify(
    bundle: &Bundle,
    subject: Subject<'_>,
    signer: &Signer,
    root: &TrustRoot,
) -> Result<VerifiedIdentity, VerifyError> {
    verify_with(bundle, subject, signer, root, Proofs::Checkpoint)
}

/// What a transparency log entry must carry to count as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proofs {
    /// An inclusion proof with a signed checkpoint (bundles v0.2 and later, and what
    /// portcullis itself writes).
    Checkpoint,
    /// A signed entry timestamp suffices: cosign's legacy `.sig`/`.att` layout carries the
    /// entry and its timestamp (the `dev.sigstore.cosign/bundle` annotation) but no proof.
    Promise,
}

/// [`verify`] with the log proofs required spelled out.
pub fn verify_with(
    bundle: &Bundle,
    subject: Subject<'_>,
    signer: &Signer,
    root: &TrustRoot,
    proofs: Proofs,
) -> Result<VerifiedIdentity, VerifyError> {
    let expected = match subject {
        Subject::Bytes(bytes) => Digest::sha256(bytes),
        Subject::Digest(digest) if digest.algorithm() == Algorithm::Sha256 => digest.clone(),
        Subject::Digest(digest) => return Err(VerifyError::DigestAlgorithm(digest.to_string())),
    };
    let hash = Sha256Hash::from_hex(expected.hex())
        .map_err(|e| VerifyError::DigestAlgorithm(format!("{expected}: {e}")))?;
    let needs_tlog = !matches!(signer, Signer::Key { tlog: false, .. });
    if needs_tlog {
        match proofs {
            Proofs::Checkpoint => require_proofs(bundle)?,
            Proofs::Promise => require_promises(bundle)?,
        }
    }
    if matches!(signer, Signer::Keyless(_) | Signer::AnyCertificate) {
        issued_by(bundle, root)?;
    }

    let result = match signer {
        Signer::Key {
            public_key,
            tlog: false,
        } => {
            verify_with_key_only(bundle, &hash, public_key)?;
            None
        }
        Signer::Key { public_key, .. } => {
            let policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(public_key.clone()));
            Some(library(root, bundle, hash, &policy)?)
        }
        Signer::Keyless(_) | Signer::AnyCertificate => Some(library(
            root,
            bundle,
            hash,
            &VerificationPolicy::any_identity(),
        )?),
    };
    let entry = bundle.verification_material.tlog_entries.first();
    let mut proved = VerifiedIdentity {
        issuer: None,
        identity: None,
        extensions: BTreeMap::new(),
        key_based: matches!(signer, Signer::Key { .. }),
        log_index: entry.map(|e| u64::from(e.log_index)),
        integrated_time: entry
            .and_then(|e| e.integrated_time)
            .map(jiff::Timestamp::as_second),
        subjects: vec![expected.clone()],
        statement: None,
    };
    if let SignatureContent::DsseEnvelope(envelope) = &bundle.content {
        let (subjects, statement) = statement(envelope.payload.as_bytes(), &expected)?;
        proved.subjects = subjects;
        proved.statement = Some(statement);
    }
    if matches!(signer, Signer::Keyless(_) | Signer::AnyCertificate) {
        let certificate = result
            .as_ref()
            .and_then(|r| r.certificate().map(|c| (r, c)))
            .filter(|(r, _)| r.certificate_verified() && r.sct_verified())
            .map(|(_, c)| c)
            .ok_or_else(|| VerifyError::Chain("the certificate was not verified".into()))?;
        proved.issuer.clone_from(&certificate.issuer);
        proved.identity = certificate.identity.as_ref().map(ToString::to_string);
        for extension in Extension::claims() {
            if let Some(value) = claim(extension, &certificate.ci_claims) {
                proved.extensions.insert(extension, value.clone());
            }
        }
        if let Signer::Keyless(policy) = signer {
            judge(policy, &proved)?;
        }
    }
    Ok(proved)
}

fn library(
    root: &TrustRoot,
    bundle: &Bundle,
    hash: Sha256Hash,
    policy: &(impl sigstore_verify::Policy + ?Sized),
) -> Result<sigstore_verify::VerificationResult, VerifyError> {
    let verifier = Verifier::new(&root.root).map_err(|e| VerifyError::TrustRoot(e.to_string()))?;
    verifier
        .verify(hash, bundle, policy)
        .map_err(|error| refine(bundle, classify(error)))
}

/// Refuses a certificate that no Fulcio CA of `root` signed, before anything else is
/// checked: another instance's bundle also fails its log checks (its log is unknown too),
/// and "another root of trust" is the finding that explains both. A bundle that ships its
/// own intermediates is left to the full chain check.
fn issued_by(bundle: &Bundle, root: &TrustRoot) -> Result<(), VerifyError> {
    use sigstore_verify::types::bundle::VerificationMaterialContent;
    if let VerificationMaterialContent::X509CertificateChain { certificates } =
        &bundle.verification_material.content
    {
        if certificates.len() > 1 {
            return Ok(());
        }
    }
    let Some(leaf) = bundle.signing_certificate() else {
        return Ok(());
    };
    match root.issued_by_a_fulcio_ca(leaf.as_bytes()) {
        Some(false) => Err(VerifyError::Chain(format!(
            "none of the Fulcio certificate authorities of {} issued it",
            root.origin()
        ))),
        _ => Ok(()),
    }
}

/// A key-based bundle with no log entry: the signature over the digest (or the DSSE PAE)
/// with the given key, and nothing else to check.
fn verify_with_key_only(bundle: &Bundle, hash: &Sha256Hash, key: &[u8]) -> Result<(), VerifyError> {
    use sigstore_verify::crypto::VerificationKey;
    let key = VerificationKey::from_spki(&DerPublicKey::new(key.to_vec()))
        .map_err(|e| VerifyError::Signature(format!("the public key is unusable: {e}")))?;
    let bad = |e: sigstore_verify::crypto::Error| VerifyError::Signature(e.to_string());
    match &bundle.content {
        SignatureContent::MessageSignature(message) => {
            if let Some(digest) = &message.message_digest {
                if digest.digest.as_bytes() != hash.as_bytes() {
                    return Err(VerifyError::SubjectDigest(
                        "the bundle's message digest is not the artifact's".into(),
                    ));
                }
            }
            key.verify_prehashed(hash.as_bytes(), &message.signature)
                .map_err(bad)
        }
        SignatureContent::DsseEnvelope(envelope) => {
            let pae =
                sigstore_verify::types::pae(&envelope.payload_type, envelope.payload.as_bytes());
            key.verify(pae, &envelope.signature.sig).map_err(bad)
        }
        _ => Err(VerifyError::Bundle("it holds no signature content".into())),
    }
}

/// Every log entry needs at least a signed entry timestamp.
fn require_promises(bundle: &Bundle) -> Result<(), VerifyError> {
    let entries = &bundle.verification_material.tlog_entries;
    if entries.is_empty() {
        return Err(VerifyError::TlogMissing("entry at all"));
    }
    if entries
        .iter()
        .any(|entry| entry.inclusion_promise.is_none())
    {
        return Err(VerifyError::TlogMissing("signed entry timestamp"));
    }
    Ok(())
}

/// Every log entry needs an inclusion proof with a signed checkpoint.
fn require_proofs(bundle: &Bundle) -> Result<(), VerifyError> {
    let entries = &bundle.verification_material.tlog_entries;
    if entries.is_empty() {
        return Err(VerifyError::TlogMissing("entry at all"));
    }
    for entry in entries {
        match &entry.inclusion_proof {
            None => return Err(VerifyError::TlogMissing("inclusion proof")),
            Some(proof) if proof.checkpoint.is_empty() => {
                return Err(VerifyError::TlogMissing(
                    "signed checkpoint in its inclusion proof (a signed entry timestamp alone is not accepted)",
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A signed entry timestamp that does not verify may mean a changed timestamp or a
/// changed body: a body that does not describe the bundle is named as such.
fn refine(bundle: &Bundle, error: VerifyError) -> VerifyError {
    if !matches!(error, VerifyError::InclusionPromise(_)) {
        return error;
    }
    for entry in &bundle.verification_material.tlog_entries {
        if let Err(body) = body_describes(bundle, entry.canonicalized_body.as_bytes()) {
            return body;
        }
    }
    error
}

/// Whether a `hashedrekord` log entry's body names this bundle's digest, signature and
/// certificate (sigstore-verify checks this too, after the signed entry timestamp).
fn body_describes(bundle: &Bundle, body: &[u8]) -> Result<(), VerifyError> {
    let mismatch = |what: &str| VerifyError::TlogEntry(format!("its body {what}"));
    let body: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| mismatch("is not JSON"))?;
    if body.get("kind").and_then(|k| k.as_str()) != Some("hashedrekord") {
        return Ok(());
    }
    let SignatureContent::MessageSignature(message) = &bundle.content else {
        return Err(mismatch("is a `hashedrekord` entry for a DSSE bundle"));
    };
    let signature = body
        .pointer("/spec/signature/content")
        .and_then(|v| v.as_str());
    if signature != Some(message.signature.to_base64().as_str()) {
        return Err(mismatch("names another signature"));
    }
    if let Some(digest) = &message.message_digest {
        let hash = body
            .pointer("/spec/data/hash/value")
            .and_then(|v| v.as_str());
        if hash != Some(hex_of(digest.digest.as_bytes()).as_str()) {
            return Err(mismatch("names another artifact digest"));
        }
    }
    if let Some(certificate) = bundle.signing_certificate() {
        let named = body
            .pointer("/spec/signature/publicKey/content")
            .and_then(|v| v.as_str())
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .and_then(|pem| pem_block(&String::from_utf8_lossy(&pem), "CERTIFICATE").ok());
        if named.as_deref() != Some(certificate.as_bytes()) {
            return Err(mismatch("names another certificate"));
        }
    }
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, b| {
        let _ = write!(text, "{b:02x}");
        text
    })
}

/// The statement's subjects, one of which must be `expected`, and its predicate.
fn statement(payload: &[u8], expected: &Digest) -> Result<(Vec<Digest>, Statement), VerifyError> {
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| VerifyError::Signature(format!("the DSSE payload is not JSON: {e}")))?;
    let mut subjects = Vec::new();
    for subject in value
        .get("subject")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(hex) = subject.pointer("/digest/sha256").and_then(|v| v.as_str()) {
            if let Ok(digest) = Digest::parse(&format!("sha256:{hex}")) {
                subjects.push(digest);
            }
        }
    }
    if !subjects.contains(expected) {
        let names: Vec<String> = subjects.iter().map(|d| format!("`{d}`")).collect();
        return Err(VerifyError::SubjectDigest(format!(
            "the statement's subjects are {}, not `{expected}`",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    }
    let predicate_type = value
        .get("predicateType")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let predicate = value
        .get("predicate")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    Ok((
        subjects,
        Statement {
            predicate_type,
            predicate,
        },
    ))
}

fn judge(policy: &IdentityPolicy, verified: &VerifiedIdentity) -> Result<(), VerifyError> {
    let issuer = verified.issuer.clone().unwrap_or_default();
    if !policy.issuer.matches(&issuer) {
        return Err(VerifyError::Issuer {
            expected: policy.issuer.to_string(),
            actual: issuer,
        });
    }
    let identity = verified.identity.clone().unwrap_or_default();
    if !policy.identity.matches(&identity) {
        return Err(VerifyError::Identity {
            expected: policy.identity.to_string(),
            actual: identity,
        });
    }
    for (extension, matcher) in &policy.extensions {
        let actual = verified.extensions.get(extension);
        if !actual.is_some_and(|value| matcher.matches(value)) {
            return Err(VerifyError::Extension {
                extension: *extension,
                expected: matcher.to_string(),
                actual: actual.cloned(),
            });
        }
    }
    Ok(())
}

fn classify(error: LibError) -> VerifyError {
    let text = error.to_string();
    match error {
        LibError::Certificate(CertificateError::Sct(detail)) => VerifyError::Sct(detail),
        LibError::Certificate(_) | LibError::TrustedCertificate(_) => VerifyError::Chain(text),
        LibError::SignatureInvalid(detail) => VerifyError::Signature(detail),
        LibError::ArtifactMismatch(detail) => VerifyError::SubjectDigest(detail),
        LibError::TransparencyLog(kind) => match kind {
            TransparencyLogError::InclusionProof(detail) => VerifyError::InclusionProof(detail),
            TransparencyLogError::Checkpoint(detail) => VerifyError::Checkpoint(detail),
            TransparencyLogError::InclusionPromise(detail) => VerifyError::InclusionPromise(detail),
            TransparencyLogError::UnknownLog { log_id } => VerifyError::UnknownLog(log_id),
            _ => VerifyError::TlogEntry(text),
        },
        LibError::Bundle(
            BundleError::CheckpointRootMismatch | BundleError::LogIndexOutOfRange { .. },
        ) => VerifyError::InclusionProof(text),
        LibError::Bundle(BundleError::MissingCheckpoint) => {
            VerifyError::TlogMissing("signed checkpoint in its inclusion proof")
        }
        LibError::Bundle(BundleError::MissingInclusionProof(_)) => {
            VerifyError::TlogMissing("inclusion proof")
        }
        LibError::InvalidBundle(_) | LibError::UnsupportedBundle(_) | LibError::Bundle(_) => {
            VerifyError::Bundle(text)
        }
        LibError::InvalidTrustRoot(_) | LibError::TrustRoot(_) => VerifyError::TrustRoot(text),
        _ => VerifyError::Other(text),
    }
}

/// A PEM public key (`PUBLIC KEY`, SPKI) as DER.
pub fn public_key_from_pem(text: &str) -> Result<Vec<u8>, String> {
    pem_block(text, "PUBLIC KEY")
}

/// The DER of the first PEM block labelled `label`.
pub(crate) fn pem_block(text: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| format!("no `{begin}` block"))?;
    let rest = &text[start + begin.len()..];
    let stop = rest.find(&end).ok_or_else(|| format!("no `{end}` line"))?;
    let body: String = rest[..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("the `{label}` block is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_match_whole_values() {
        let m = Matcher::regex("https://github.com/acme/.*").unwrap();
        assert!(m.matches("https://github.com/acme/app"));
        assert!(!m.matches("evil https://github.com/acme/app"));
        assert_eq!(m.to_string(), "one matching `https://github.com/acme/.*`");
    }

    #[test]
    fn extensions_know_their_oids() {
        assert_eq!(Extension::BuildSignerUri.arc(), 9);
        assert_eq!(Extension::SourceRepositoryDigest.arc(), 13);
        assert_eq!(Extension::BuildTrigger.arc(), 20);
        assert_eq!(Extension::SourceRepositoryVisibility.arc(), 22);
    }

    #[test]
    fn dsse_subjects_must_include_the_expected_digest() {
        let hex = "a".repeat(64);
        let payload = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "x", "digest": {"sha256": hex}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"k": 1}
        })
        .to_string();
        let ours = Digest::parse(&format!("sha256:{hex}")).unwrap();
        let (subjects, st) = statement(payload.as_bytes(), &ours).unwrap();
        assert_eq!(subjects, vec![ours]);
        assert_eq!(st.predicate_type, "https://slsa.dev/provenance/v1");
        assert_eq!(st.predicate, serde_json::json!({"k": 1}));
        let other = Digest::parse(&format!("sha256:{}", "b".repeat(64))).unwrap();
        let error = statement(payload.as_bytes(), &other).unwrap_err();
        assert!(matches!(error, VerifyError::SubjectDigest(_)), "{error}");
    }
}
