//! The local Sigstore stack against the real client, sigstore-python (`sigstore` from
//! `PyPI`, in the repository's `.venv` as `scripts/test` installs it, or on `PATH`): it
//! signs and attests through the stack's Fulcio and Rekor and verifies what it signed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use portcullis_testkit::sigstore::{Claims, Service, SigstoreStack, SubjectName};
use serde_json::Value;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn sigstore_python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/sigstore");
    if venv.is_file() {
        return Some(venv);
    }
    portcullis_testkit::have_program("sigstore").then(|| PathBuf::from("sigstore"))
}

/// sigstore-python, or `None` after saying why the test does not run.
#[allow(clippy::print_stderr)] // a skipped test says why
fn client() -> Option<PathBuf> {
    let found = sigstore_python();
    if found.is_none() {
        eprintln!(
            "SKIPPED: sigstore-python not found (`.venv/bin/sigstore`); `scripts/install-test-deps` installs it"
        );
    }
    found
}

fn run(client: &Path, trust: &Path, args: &[&str]) -> Output {
    Command::new(client)
        .env("COLUMNS", "400") // rich wraps its messages at the terminal width
        .arg("--trust-config")
        .arg(trust)
        .args(args)
        .output()
        .expect("running sigstore-python")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[allow(clippy::print_stderr)] // the client's own words when it fails
fn ok(output: &Output) -> bool {
    if !output.status.success() {
        eprintln!(
            "sigstore-python failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output.status.success()
}

fn http() -> reqwest::blocking::Client {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::blocking::Client::new()
}

fn answer(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(url: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = http().get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    answer(request.send().unwrap())
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    answer(
        http()
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap(),
    )
}

/// A token from the stack's HTTP token endpoint, fetched as a GitHub runner does.
fn fetch_token(stack: &SigstoreStack) -> String {
    let (status, body) = get(
        &format!("{}&audience=sigstore", stack.token_url()),
        Some(stack.request_token()),
    );
    assert_eq!(status, 200);
    body["value"].as_str().unwrap().to_owned()
}

struct Signed {
    dir: tempfile::TempDir,
    trust: PathBuf,
    artifact: PathBuf,
    bundle: PathBuf,
    token: String,
}

fn sign_blob(client: &Path, stack: &SigstoreStack) -> Signed {
    let dir = tempfile::tempdir().unwrap();
    let trust = stack.write_trust_files(dir.path()).unwrap().trust_config;
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"portcullis signs this\n").unwrap();
    let token = fetch_token(stack);
    let output = run(
        client,
        &trust,
        &[
            "sign",
            "--identity-token",
            &token,
            artifact.to_str().unwrap(),
        ],
    );
    assert!(ok(&output));
    let bundle = dir.path().join("artifact.txt.sigstore.json");
    assert!(bundle.is_file(), "sigstore-python wrote no bundle");
    Signed {
        dir,
        trust,
        artifact,
        bundle,
        token,
    }
}

const WORKFLOW: &str = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main";

fn verify(client: &Path, trust: &Path, identity: &str, issuer: &str, file: &Path) -> Output {
    run(
        client,
        trust,
        &[
            "verify",
            "identity",
            "--cert-identity",
            identity,
            "--cert-oidc-issuer",
            issuer,
            file.to_str().unwrap(),
        ],
    )
}

#[test]
fn sigstore_python_signs_a_blob_and_verifies_it() {
    let Some(client) = client() else { return };
    let stack = SigstoreStack::start().unwrap();
    let signed = sign_blob(&client, &stack);
    let output = verify(
        &client,
        &signed.trust,
        WORKFLOW,
        stack.issuer_url(),
        &signed.artifact,
    );
    assert!(ok(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("OK"));

    let bundle: Value = serde_json::from_slice(&std::fs::read(&signed.bundle).unwrap()).unwrap();
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");
    assert_eq!(entry["logIndex"], "0");
    assert_eq!(stack.log_size(), 1);

    // One certificate, one log entry; the token went to Fulcio and nowhere else.
    let fulcio = stack.requests_to(Service::Fulcio);
    let rekor = stack.requests_to(Service::Rekor);
    assert_eq!(fulcio.len(), 1, "{fulcio:?}");
    assert_eq!(
        (fulcio[0].method.as_str(), fulcio[0].path.as_str()),
        ("POST", "/api/v2/signingCert")
    );
    assert_eq!(fulcio[0].status, 201);
    assert_eq!(
        fulcio[0].header("authorization"),
        Some(format!("Bearer {}", signed.token).as_str())
    );
    let posts: Vec<_> = rekor.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 1, "{rekor:?}");
    assert_eq!(posts[0].path, "/api/v1/log/entries");
    assert_eq!(posts[0].status, 201);
    for request in &rekor {
        for (name, value) in &request.headers {
            assert!(
                !value.contains(&signed.token),
                "token leaked to Rekor in `{name}`"
            );
        }
    }
    let token_requests = stack.requests_to(Service::Oidc);
    assert_eq!(
        token_requests[0].header("authorization"),
        Some(format!("Bearer {}", stack.request_token()).as_str())
    );
    drop(signed.dir);
}

#[test]
fn a_changed_artifact_or_another_identity_or_issuer_does_not_verify() {
    let Some(client) = client() else { return };
    let stack = SigstoreStack::start().unwrap();
    let signed = sign_blob(&client, &stack);
    let bundle = signed.bundle.to_str().unwrap();

    let other_workflow = WORKFLOW.replace("release.yml", "evil.yml");
    let output = verify(
        &client,
        &signed.trust,
        &other_workflow,
        stack.issuer_url(),
        &signed.artifact,
    );
    assert!(!output.status.success(), "another identity verified");
    assert!(
        stderr(&output).contains("SANs do not match"),
        "{}",
        stderr(&output)
    );

    let output = verify(
        &client,
        &signed.trust,
        WORKFLOW,
        "https://token.actions.githubusercontent.com",
        &signed.artifact,
    );
    assert!(!output.status.success(), "another issuer verified");
    assert!(
        stderr(&output).contains("OIDCIssuer does not match"),
        "{}",
        stderr(&output)
    );

    let tampered = signed.dir.path().join("tampered.txt");
    std::fs::write(&tampered, b"portcullis signs that\n").unwrap();
    let output = run(
        &client,
        &signed.trust,
        &[
            "verify",
            "identity",
            "--bundle",
            bundle,
            "--cert-identity",
            WORKFLOW,
            "--cert-oidc-issuer",
            stack.issuer_url(),
            tampered.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success(), "a changed artifact verified");
}

#[test]
fn a_bundle_from_one_stack_does_not_verify_with_another_stacks_trust_root() {
    let Some(client) = client() else { return };
    let stack_a = SigstoreStack::start().unwrap();
    let stack_b = SigstoreStack::start().unwrap();
    let signed = sign_blob(&client, &stack_a);
    let dir_b = tempfile::tempdir().unwrap();
    let trust_b = stack_b
        .write_trust_files(dir_b.path())
        .unwrap()
        .trust_config;
    // Same identity and issuer string, so only the root of trust differs.
    let output = verify(
        &client,
        &trust_b,
        WORKFLOW,
        stack_a.issuer_url(),
        &signed.artifact,
    );
    assert!(!output.status.success(), "stack B trusted stack A's bundle");
    assert!(
        stderr(&output).contains("certificate chain"),
        "{}",
        stderr(&output)
    );
    // And with A's own trust config it does verify.
    let output = verify(
        &client,
        &signed.trust,
        WORKFLOW,
        stack_a.issuer_url(),
        &signed.artifact,
    );
    assert!(ok(&output));
}

#[test]
fn sigstore_python_attests_an_in_toto_statement_as_a_rekor_dsse_entry() {
    let Some(client) = client() else { return };
    let stack = SigstoreStack::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trust = stack.write_trust_files(dir.path()).unwrap().trust_config;
    let artifact = dir.path().join("image.tar");
    std::fs::write(&artifact, b"an image, say").unwrap();
    let predicate = dir.path().join("provenance.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}"#,
    )
    .unwrap();
    let token = stack.token(&Claims::github("org/repo")).unwrap();
    let output = run(
        &client,
        &trust,
        &[
            "attest",
            "--predicate",
            predicate.to_str().unwrap(),
            "--predicate-type",
            "https://slsa.dev/provenance/v1",
            "--identity-token",
            &token,
            artifact.to_str().unwrap(),
        ],
    );
    assert!(ok(&output));
    let bundle_path = dir.path().join("image.tar.sigstore.json");
    let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "dsse");
    assert_eq!(entry["kindVersion"]["version"], "0.0.1");
    // The stored body carries the hashes Rekor computes.
    let body: Value = serde_json::from_slice(
        &B64.decode(entry["canonicalizedBody"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let payload = B64
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        body["spec"]["payloadHash"]["value"],
        portcullis_testkit::sha256_hex(&payload)
    );
    assert_eq!(body["spec"]["signatures"].as_array().unwrap().len(), 1);

    let output = verify(&client, &trust, WORKFLOW, stack.issuer_url(), &artifact);
    assert!(ok(&output));
}

/// The extension `1.3.6.1.4.1.57264.1.<arc>` of `cert`, as raw extnValue octets.
fn fulcio_extension(cert: &x509_cert::Certificate, arc: u32) -> Option<Vec<u8>> {
    let oid =
        x509_cert::der::asn1::ObjectIdentifier::new(&format!("1.3.6.1.4.1.57264.1.{arc}")).unwrap();
    cert.tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|e| e.extn_id == oid)
        .map(|e| e.extn_value.as_bytes().to_vec())
}

/// A DER `UTF8String`'s text.
fn utf8(der: &[u8]) -> String {
    use x509_cert::der::Decode as _;
    x509_cert::der::asn1::Utf8StringRef::from_der(der)
        .unwrap()
        .as_str()
        .to_owned()
}

#[test]
fn the_certificate_carries_fulcio_extensions_for_github_claims() {
    use x509_cert::der::Decode as _;
    let Some(client) = client() else { return };
    let stack = SigstoreStack::start().unwrap();
    let signed = sign_blob(&client, &stack);
    let bundle: Value = serde_json::from_slice(&std::fs::read(&signed.bundle).unwrap()).unwrap();
    let der = B64
        .decode(
            bundle["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let issuer = stack.issuer_url();

    // Legacy issuer (raw bytes) and the v2 issuer (DER UTF8String).
    assert_eq!(fulcio_extension(&cert, 1).unwrap(), issuer.as_bytes());
    assert_eq!(utf8(&fulcio_extension(&cert, 8).unwrap()), issuer);
    let expected = [
        (9, WORKFLOW.to_owned()),
        (10, "8f4e3c2b1a0918273645546372819aabbccddeef".to_owned()),
        (11, "github-hosted".to_owned()),
        (12, "https://github.com/org/repo".to_owned()),
        (13, "8f4e3c2b1a0918273645546372819aabbccddeef".to_owned()),
        (14, "refs/heads/main".to_owned()),
        (15, "100200300".to_owned()),
        (16, "https://github.com/org".to_owned()),
        (17, "4005006".to_owned()),
        (18, WORKFLOW.to_owned()),
        (20, "push".to_owned()),
        (
            21,
            "https://github.com/org/repo/actions/runs/7001/attempts/1".to_owned(),
        ),
        (22, "public".to_owned()),
    ];
    for (arc, value) in expected {
        let found = fulcio_extension(&cert, arc).unwrap_or_else(|| panic!("no OID .1.{arc}"));
        assert_eq!(utf8(&found), value, "OID .1.{arc}");
    }
    // The deprecated GitHub OIDs hold raw strings.
    assert_eq!(fulcio_extension(&cert, 2).unwrap(), b"push");
    assert_eq!(fulcio_extension(&cert, 5).unwrap(), b"org/repo");
    assert_eq!(fulcio_extension(&cert, 6).unwrap(), b"refs/heads/main");

    // An empty subject, a critical URI SAN, an embedded SCT list; issued by the
    // stack's intermediate, valid ten minutes.
    assert!(cert.tbs_certificate.subject.0.is_empty());
    let extensions = cert.tbs_certificate.extensions.as_ref().unwrap();
    let san = extensions
        .iter()
        .find(|e| e.extn_id.to_string() == "2.5.29.17")
        .unwrap();
    assert!(san.critical);
    assert!(san
        .extn_value
        .as_bytes()
        .windows(WORKFLOW.len())
        .any(|w| w == WORKFLOW.as_bytes()));
    assert!(extensions
        .iter()
        .any(|e| e.extn_id.to_string() == "1.3.6.1.4.1.11129.2.4.2"));
    let validity = &cert.tbs_certificate.validity;
    let lifetime = validity
        .not_after
        .to_unix_duration()
        .checked_sub(validity.not_before.to_unix_duration())
        .unwrap();
    assert_eq!(lifetime.as_secs(), 600);
    let identity = stack.identity(&Claims::github("org/repo")).unwrap();
    assert_eq!(identity.san, SubjectName::Uri(WORKFLOW.to_owned()));
}

/// Posts the public-key form of a signing-certificate request; returns status and body.
fn post_signing_cert(stack: &SigstoreStack, token: &str, proof_subject: &str) -> (u16, Value) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &pair.serialize_der(),
        &rng,
    )
    .unwrap();
    let proof = key.sign(&rng, proof_subject.as_bytes()).unwrap();
    let request = serde_json::json!({
        "credentials": { "oidcIdentityToken": token },
        "publicKeyRequest": {
            "publicKey": { "algorithm": "ECDSA", "content": pair.public_key_pem() },
            "proofOfPossession": B64.encode(proof.as_ref()),
        },
    });
    post(
        &format!("{}/api/v2/signingCert", stack.fulcio_url()),
        &request,
    )
}

#[test]
fn fulcio_issues_gitlab_certificates_for_a_proven_key_and_refuses_the_rest() {
    use x509_cert::der::Decode as _;
    let stack = SigstoreStack::start().unwrap();
    let claims = Claims::gitlab("group/project");
    let token = stack.token(&claims).unwrap();
    let sub = claims.get("sub").unwrap();

    let (status, body) = post_signing_cert(&stack, &token, sub);
    assert_eq!(status, 201, "{body}");
    let chain = body["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap();
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    assert_eq!(chain[1..].to_vec(), stack.ca_chain_pem());
    let pem = chain[0].as_str().unwrap();
    let der = B64
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let config = "https://gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main";
    assert_eq!(utf8(&fulcio_extension(&cert, 9).unwrap()), config);
    assert_eq!(
        utf8(&fulcio_extension(&cert, 12).unwrap()),
        "https://gitlab.com/group/project"
    );
    assert_eq!(
        utf8(&fulcio_extension(&cert, 16).unwrap()),
        "https://gitlab.com/group"
    );
    assert_eq!(utf8(&fulcio_extension(&cert, 20).unwrap()), "push");
    assert_eq!(fulcio_extension(&cert, 2), None);

    // A proof over something else, a token from another issuer's key, no token.
    let (status, body) = post_signing_cert(&stack, &token, "someone else");
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("proofOfPossession"));
    let other = SigstoreStack::start().unwrap();
    let foreign = other.token(&claims).unwrap();
    let (status, body) = post_signing_cert(&stack, &foreign, sub);
    assert_eq!(status, 401, "{body}");
    let (status, _) = post_signing_cert(&stack, "", sub);
    assert_eq!(status, 401);
}

#[test]
fn tokens_with_another_issuer_are_certified_only_when_the_stack_accepts_it() {
    let actions = "https://token.actions.githubusercontent.com";
    let claims = Claims::github("org/repo").set("iss", actions);
    let plain = SigstoreStack::start().unwrap();
    let token = plain.token(&claims).unwrap();
    let (status, body) = post_signing_cert(&plain, &token, claims.get("sub").unwrap());
    assert_eq!(status, 401, "{body}");
    assert!(body["message"].as_str().unwrap().contains(actions));

    let accepting = SigstoreStack::builder()
        .accept_issuer(actions)
        .start()
        .unwrap();
    let token = accepting.token(&claims).unwrap();
    let (status, body) = post_signing_cert(&accepting, &token, claims.get("sub").unwrap());
    assert_eq!(status, 201, "{body}");
}

#[test]
fn the_token_endpoint_refuses_a_wrong_request_token() {
    let stack = SigstoreStack::start().unwrap();
    let (status, _) = get(
        &format!("{}&audience=sigstore", stack.token_url()),
        Some("not-the-request-token"),
    );
    assert_eq!(status, 401);
    let (_, discovery) = get(
        &format!("{}/.well-known/openid-configuration", stack.issuer_url()),
        None,
    );
    assert_eq!(discovery["issuer"], stack.issuer_url());
    let (_, jwks) = get(discovery["jwks_uri"].as_str().unwrap(), None);
    assert_eq!(jwks["keys"][0]["crv"], "P-256");
}

#[test]
fn rekor_serves_entries_log_info_and_retrieval_after_a_signature() {
    let Some(client) = client() else { return };
    let stack = SigstoreStack::start().unwrap();
    let signed = sign_blob(&client, &stack);
    let bundle: Value = serde_json::from_slice(&std::fs::read(&signed.bundle).unwrap()).unwrap();
    let body = bundle["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
        .as_str()
        .unwrap()
        .to_owned();
    let rekor = stack.rekor_url();
    let (_, log) = get(&format!("{rekor}/api/v1/log"), None);
    assert_eq!(log["treeSize"], 1);
    let (_, by_index) = get(&format!("{rekor}/api/v1/log/entries?logIndex=0"), None);
    let (uuid, entry) = by_index.as_object().unwrap().iter().next().unwrap();
    assert_eq!(entry["body"], body.as_str());
    let (_, by_uuid) = get(&format!("{rekor}/api/v1/log/entries/{uuid}"), None);
    assert_eq!(by_uuid[uuid]["logIndex"], 0);
    let proposed: Value = serde_json::from_slice(&B64.decode(&body).unwrap()).unwrap();
    let (_, found) = post(
        &format!("{rekor}/api/v1/log/entries/retrieve"),
        &serde_json::json!({ "entries": [proposed] }),
    );
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert!(found[0].get(uuid).is_some());
    // The same entry again is a conflict, as on Rekor.
    let (status, _) = post(&format!("{rekor}/api/v1/log/entries"), &proposed);
    assert_eq!(status, 409);
    assert_eq!(stack.log_size(), 1);
}
