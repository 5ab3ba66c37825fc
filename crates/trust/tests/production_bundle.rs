//! The real production bundle of rfc8785 0.1.2 (signed by its GitHub release workflow),
//! verified offline against the embedded public-good trusted root, and refused after any
//! change to its signature, certificate, log entry or artifact.

use base64::Engine as _;
use portcullis_reference::Digest;
use portcullis_trust::{
    Extension, IdentityPolicy, Matcher, Signer, Subject, TrustRoot, VerifyError,
};

const WHEEL: &[u8] = include_bytes!("data/rfc8785-0.1.2-py3-none-any.whl");
const BUNDLE: &str = include_str!("data/rfc8785-0.1.2-py3-none-any.whl.sigstore.json");
const IDENTITY: &str =
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SOURCE_DIGEST: &str = "d8b4a6445f38c48b9137a8099706d9b8073146e4";

fn policy() -> IdentityPolicy {
    IdentityPolicy {
        issuer: Matcher::Exact(ISSUER.into()),
        identity: Matcher::Exact(IDENTITY.into()),
        extensions: vec![(
            Extension::SourceRepositoryDigest,
            Matcher::Exact(SOURCE_DIGEST.into()),
        )],
    }
}

fn check(
    bundle: &str,
    artifact: &[u8],
    policy: IdentityPolicy,
) -> Result<portcullis_trust::VerifiedIdentity, VerifyError> {
    let bundle = portcullis_trust::verify::parse_bundle(bundle)?;
    portcullis_trust::verify::verify(
        &bundle,
        Subject::Bytes(artifact),
        &Signer::Keyless(policy),
        &TrustRoot::production(),
    )
}

#[test]
fn accepts_the_production_bundle_with_its_documented_identity() {
    let verified = check(BUNDLE, WHEEL, policy()).unwrap();
    assert_eq!(verified.identity.as_deref(), Some(IDENTITY));
    assert_eq!(verified.issuer.as_deref(), Some(ISSUER));
    assert_eq!(
        verified
            .extensions
            .get(&Extension::SourceRepositoryUri)
            .map(String::as_str),
        Some("https://github.com/trailofbits/rfc8785.py")
    );
    assert_eq!(
        verified
            .extensions
            .get(&Extension::SourceRepositoryRef)
            .map(String::as_str),
        Some("refs/tags/v0.1.2")
    );
    assert!(!verified.key_based);
    assert!(verified.log_index.is_some() && verified.integrated_time.is_some());
    assert_eq!(verified.subjects, vec![Digest::sha256(WHEEL)]);
    // By digest, without the bytes.
    let bundle = portcullis_trust::verify::parse_bundle(BUNDLE).unwrap();
    let by_digest = portcullis_trust::verify::verify(
        &bundle,
        Subject::Digest(&Digest::sha256(WHEEL)),
        &Signer::Keyless(policy()),
        &TrustRoot::production(),
    )
    .unwrap();
    assert_eq!(by_digest, verified);
}

#[test]
fn regex_policies_match_the_whole_value() {
    let mut p = policy();
    p.identity = Matcher::regex(r"https://github\.com/trailofbits/.*").unwrap();
    p.issuer = Matcher::regex(r"https://token\.actions\.githubusercontent\.com").unwrap();
    check(BUNDLE, WHEEL, p).unwrap();
    let mut p = policy();
    p.identity = Matcher::regex(r"release\.yml").unwrap();
    assert!(matches!(
        check(BUNDLE, WHEEL, p),
        Err(VerifyError::Identity { .. })
    ));
}

#[test]
fn refuses_another_identity_issuer_or_source_digest() {
    let mut p = policy();
    p.identity = Matcher::Exact(IDENTITY.replace("v0.1.2", "v0.1.3"));
    let error = check(BUNDLE, WHEEL, p).unwrap_err();
    assert!(matches!(error, VerifyError::Identity { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "signed by `{IDENTITY}`, not by `{}`",
            IDENTITY.replace("v0.1.2", "v0.1.3")
        )
    );

    let mut p = policy();
    p.issuer = Matcher::Exact("https://gitlab.com".into());
    let error = check(BUNDLE, WHEEL, p).unwrap_err();
    assert!(matches!(error, VerifyError::Issuer { .. }), "{error}");
    assert!(
        error.to_string().contains("`https://gitlab.com`"),
        "{error}"
    );

    let mut p = policy();
    p.extensions = vec![(
        Extension::SourceRepositoryDigest,
        Matcher::Exact("0".repeat(40)),
    )];
    let error = check(BUNDLE, WHEEL, p).unwrap_err();
    assert!(
        matches!(
            error,
            VerifyError::Extension {
                extension: Extension::SourceRepositoryDigest,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("1.3.6.1.4.1.57264.1.13")
            && error.to_string().contains(SOURCE_DIGEST),
        "{error}"
    );

    // An extension the certificate does not carry is a mismatch, not a pass.
    let mut p = policy();
    p.extensions = vec![(
        Extension::SourceRepositoryVisibility,
        Matcher::Exact("public".into()),
    )];
    let result = check(BUNDLE, WHEEL, p);
    if let Err(error) = &result {
        assert!(matches!(error, VerifyError::Extension { .. }), "{error}");
    }
}

/// Flips one byte in the middle of a base64 field.
fn flip_b64(value: &mut serde_json::Value) {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(value.as_str().unwrap()).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    *value = serde_json::Value::String(engine.encode(bytes));
}

fn mutate(edit: impl Fn(&mut serde_json::Value)) -> String {
    let mut bundle: serde_json::Value = serde_json::from_str(BUNDLE).unwrap();
    edit(&mut bundle);
    bundle.to_string()
}

fn checkpoint_signature_changed(b: &mut serde_json::Value) {
    let c = b
        .pointer_mut("/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope")
        .unwrap();
    let mut lines: Vec<String> = c.as_str().unwrap().split('\n').map(str::to_owned).collect();
    let last = lines
        .iter()
        .rposition(|l| l.starts_with('\u{2014}'))
        .unwrap();
    let sig = &mut lines[last];
    let at = sig.len() - 4;
    let ch = if &sig[at..=at] == "A" { "B" } else { "A" };
    sig.replace_range(at..=at, ch);
    *c = serde_json::Value::String(lines.join("\n"));
}

/// Part changed, bundle, artifact, error kind, words of the message.
type Case = (
    &'static str,
    String,
    Vec<u8>,
    fn(&VerifyError) -> bool,
    &'static str,
);

#[test]
fn refuses_every_tampered_part_with_its_own_message() {
    let entry = "/verificationMaterial/tlogEntries/0";
    let at = |field: &str| format!("{entry}/{field}");
    let flip = |pointer: String| mutate(move |b| flip_b64(b.pointer_mut(&pointer).unwrap()));
    let remove = |parent: String, key: &'static str| {
        mutate(move |b| {
            b.pointer_mut(&parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(key);
        })
    };
    // (part changed, bundle, artifact, error kind, words of the message)
    let cases: Vec<Case> = vec![
        ("signature", flip("/messageSignature/signature".into()), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::Signature(_)), "the signature does not verify"),
        ("certificate", flip("/verificationMaterial/x509CertificateChain/certificates/0/rawBytes".into()), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::Chain(_)), "does not chain to the trusted root"),
        ("log entry body", flip(at("canonicalizedBody")), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::TlogEntry(_)), "log entry does not match the bundle"),
        ("signed entry timestamp", flip(at("inclusionPromise/signedEntryTimestamp")), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::InclusionPromise(_)), "signed entry timestamp does not verify"),
        ("inclusion proof hash", flip(at("inclusionProof/hashes/0")), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::InclusionProof(_)), "inclusion proof does not verify: inclusion proof verification failed: root hash mismatch"),
        ("inclusion proof root", flip(at("inclusionProof/rootHash")), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::InclusionProof(_)), "does not match checkpoint root hash"),
        ("checkpoint signature", mutate(checkpoint_signature_changed), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::Checkpoint(_)), "checkpoint does not verify"),
        ("no checkpoint", remove(at("inclusionProof"), "checkpoint"), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::TlogMissing(_)), "has no signed checkpoint"),
        ("no inclusion proof", remove(entry.into(), "inclusionProof"), WHEEL.to_vec(),
            |e| matches!(e, VerifyError::TlogMissing(_)), "has no inclusion proof"),
        ("artifact", BUNDLE.to_owned(), { let mut a = WHEEL.to_vec(); a[WHEEL.len() / 2] ^= 1; a },
            |e| matches!(e, VerifyError::SubjectDigest(_)), "the bundle signs another artifact"),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for (part, bundle, artifact, kind, words) in &cases {
        let error = check(bundle, artifact, policy()).expect_err(part);
        let message = error.to_string();
        assert!(kind(&error), "{part}: {error:?}");
        assert!(message.contains(words), "{part}: {message}");
        assert!(
            !error.is_bad_input(),
            "{part}: a failed check, not bad input"
        );
        assert!(
            messages.insert(message.clone()),
            "{part}: same message as another part: {message}"
        );
    }
    // The integrated time is covered by the signed entry timestamp.
    let later = mutate(|b| {
        let t = b.pointer_mut(&at("integratedTime")).unwrap();
        let v: i64 = t.as_str().unwrap().parse().unwrap();
        *t = serde_json::Value::String((v + 1).to_string());
    });
    let error = check(&later, WHEEL, policy()).unwrap_err();
    assert!(matches!(error, VerifyError::InclusionPromise(_)), "{error}");
}

#[test]
fn refuses_a_certificate_from_another_root() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other-ca.json");
    // The production logs, but the staging instance's Fulcio CAs.
    let mut root: serde_json::Value =
        serde_json::from_str(portcullis_trust::root::PRODUCTION_TRUSTED_ROOT).unwrap();
    let staging: serde_json::Value =
        serde_json::from_str(sigstore_verify::trust_root::SIGSTORE_STAGING_TRUSTED_ROOT).unwrap();
    root["certificateAuthorities"] = staging["certificateAuthorities"].clone();
    std::fs::write(&path, root.to_string()).unwrap();
    let staging = TrustRoot::from_file(&path).unwrap();
    let bundle = portcullis_trust::verify::parse_bundle(BUNDLE).unwrap();
    let error = portcullis_trust::verify::verify(
        &bundle,
        Subject::Bytes(WHEEL),
        &Signer::Keyless(policy()),
        &staging,
    )
    .unwrap_err();
    assert!(matches!(error, VerifyError::Chain(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("does not chain to the trusted root"),
        "{error}"
    );
}

/// A v0.1 bundle whose log entry has a signed entry timestamp and an inclusion proof
/// but no signed checkpoint: refused, as sigstore-python 4.5 refuses it.
#[test]
fn refuses_a_log_entry_without_a_checkpoint() {
    let bundle = portcullis_trust::verify::parse_bundle(include_str!(
        "data/Python-3.12.5.tgz.sigstore.json"
    ))
    .unwrap();
    let digest =
        Digest::parse("sha256:38dc4e2c261d49c661196066edbfb70fdb16be4a79cc8220c224dfeb5636d405")
            .unwrap();
    let error = portcullis_trust::verify::verify(
        &bundle,
        Subject::Digest(&digest),
        &Signer::Keyless(IdentityPolicy {
            issuer: Matcher::Exact("https://accounts.google.com".into()),
            identity: Matcher::Exact("thomas@python.org".into()),
            extensions: Vec::new(),
        }),
        &TrustRoot::production(),
    )
    .unwrap_err();
    assert!(matches!(error, VerifyError::TlogMissing(_)), "{error:?}");
    assert!(
        error.to_string().contains("no signed checkpoint"),
        "{error}"
    );
}
