//! Key-based signing without a transparency log, then verification with the public key.

use portcullis_reference::Digest;
use portcullis_trust::sign::{self, Mode, Payload, SigningKey};
use portcullis_trust::verify::{self, Signer, Subject};
use portcullis_trust::{TrustRoot, VerifyError};

fn block<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn a_blob_signed_with_a_key_verifies_with_that_key_only() {
    let key = SigningKey::generate().unwrap();
    let blob = b"portcullis release notes";
    let digest = Digest::sha256(blob);
    let mode = Mode::Key {
        key,
        rekor_url: None,
    };
    let signed = block(sign::sign(
        Payload::Blob(&digest),
        &mode,
        &portcullis_trust::http_client(),
    ))
    .unwrap();
    assert!(signed.key_based && signed.log_index.is_none());
    let json = signed.to_json().unwrap();
    assert!(
        json.contains("application/vnd.dev.sigstore.bundle.v0.3+json"),
        "{json}"
    );
    assert!(json.contains("portcullis-key:sha256:"), "{json}");

    let Mode::Key { key, .. } = &mode else {
        unreachable!()
    };
    let public = verify::public_key_from_pem(&key.public_key_pem()).unwrap();
    let bundle = verify::parse_bundle(&json).unwrap();
    let by_key = Signer::Key {
        public_key: public,
        tlog: false,
    };
    let proved = verify::verify(
        &bundle,
        Subject::Bytes(blob),
        &by_key,
        &TrustRoot::production(),
    )
    .unwrap();
    assert!(proved.key_based);
    assert_eq!(proved.subjects, vec![digest]);

    // Another blob, another key, or a required log entry: refused.
    let error = verify::verify(
        &bundle,
        Subject::Bytes(b"other"),
        &by_key,
        &TrustRoot::production(),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            VerifyError::SubjectDigest(_) | VerifyError::Signature(_)
        ),
        "{error:?}"
    );
    let other = SigningKey::generate().unwrap();
    let wrong = Signer::Key {
        public_key: other.public_key_der().to_vec(),
        tlog: false,
    };
    let error = verify::verify(
        &bundle,
        Subject::Bytes(blob),
        &wrong,
        &TrustRoot::production(),
    )
    .unwrap_err();
    assert!(
        matches!(error, VerifyError::Signature(_) | VerifyError::Other(_)),
        "{error:?}"
    );
    let logged = Signer::Key {
        public_key: key.public_key_der().to_vec(),
        tlog: true,
    };
    let error = verify::verify(
        &bundle,
        Subject::Bytes(blob),
        &logged,
        &TrustRoot::production(),
    )
    .unwrap_err();
    assert!(matches!(error, VerifyError::TlogMissing(_)), "{error:?}");
}

#[test]
fn a_statement_signed_with_a_key_returns_its_predicate() {
    let key = SigningKey::generate().unwrap();
    let digest = Digest::sha256(b"image manifest");
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {"sha256": digest.hex()}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "x"}}
    })
    .to_string();
    let public = key.public_key_der().to_vec();
    let mode = Mode::Key {
        key,
        rekor_url: None,
    };
    let signed = block(sign::sign(
        Payload::Statement(statement.as_bytes()),
        &mode,
        &portcullis_trust::http_client(),
    ))
    .unwrap();
    let bundle = verify::parse_bundle(&signed.to_json().unwrap()).unwrap();
    let by_key = Signer::Key {
        public_key: public,
        tlog: false,
    };
    let proved = verify::verify(
        &bundle,
        Subject::Digest(&digest),
        &by_key,
        &TrustRoot::production(),
    )
    .unwrap();
    let st = proved.statement.unwrap();
    assert_eq!(st.predicate_type, "https://slsa.dev/provenance/v1");
    assert_eq!(st.predicate["buildDefinition"]["buildType"], "x");
    let other = Digest::sha256(b"another image");
    let error = verify::verify(
        &bundle,
        Subject::Digest(&other),
        &by_key,
        &TrustRoot::production(),
    )
    .unwrap_err();
    assert!(matches!(error, VerifyError::SubjectDigest(_)), "{error:?}");
}

#[test]
fn keys_are_read_from_pkcs8_pem_and_bad_ones_are_named() {
    let error = SigningKey::from_pem("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n").unwrap_err();
    assert!(error.to_string().contains("encrypted"), "{error}");
    let error =
        SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
    assert!(error.to_string().contains("PKCS#8 ECDSA P-256"), "{error}");
    assert!(error.is_bad_input());
}
