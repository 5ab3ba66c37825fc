//! `portcullis sign`, `attest` and `verify` end to end: a real Distribution registry, the
//! testkit's local Sigstore stack (OIDC issuer, Fulcio, Rekor), skopeo reading what was
//! written, and sigstore-python as the independent Sigstore client in both directions.
//! Then `check --verify` and the mirror gate on the same signatures.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_exit, portcullis, stderr, stdout};
use portcullis_testkit::sigstore::{Claims, Service, SigstoreStack};
use portcullis_testkit::{sha256_hex, Auth, ImageSpec, Registry};
use serde_json::Value;

const WORKFLOW: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

struct World {
    registry: Registry,
    stack: SigstoreStack,
    dir: tempfile::TempDir,
    trust: PathBuf,
    /// `host/acme/app@sha256:…` and its manifest bytes.
    image: String,
    manifest: Vec<u8>,
    /// Another image of the same repository.
    other: String,
}

fn world() -> World {
    let registry = Registry::start(Auth::None).unwrap();
    let digest = registry
        .seed_image("acme/app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let other = registry
        .seed_image(
            "acme/app",
            "2.0",
            &ImageSpec::new("linux", "arm64").layers(vec![b"two".to_vec()]),
        )
        .unwrap();
    let (_, manifest) = registry.fetch_manifest("acme/app", "1.0").unwrap();
    assert_eq!(
        format!("sha256:{}", sha256_hex(&manifest)),
        digest.to_string()
    );
    let stack = SigstoreStack::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trust = stack.write_trust_files(dir.path()).unwrap().trust_config;
    World {
        image: format!("{}/acme/app@{digest}", registry.host()),
        other: format!("{}/acme/app@{other}", registry.host()),
        manifest,
        registry,
        stack,
        dir,
        trust,
    }
}

impl World {
    fn run(&self, args: &[&str]) -> Output {
        portcullis()
            .current_dir(self.dir.path())
            .env_remove("SIGSTORE_ID_TOKEN")
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .args(args)
            .output()
            .expect("run portcullis")
    }

    fn token(&self) -> String {
        self.stack.token(&Claims::github("acme/app")).unwrap()
    }

    fn trust(&self) -> &str {
        self.trust.to_str().unwrap()
    }

    fn verify(&self, image: &str, identity: &str, issuer: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "verify",
            image,
            "--trusted-root",
            self.trust(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

fn sigstore_python() -> Option<PathBuf> {
    let venv = common::repo_root().join(".venv/bin/sigstore");
    venv.is_file().then_some(venv)
}

fn python(client: &Path, trust: &Path, args: &[&str]) -> Output {
    Command::new(client)
        .env("COLUMNS", "400")
        .arg("--trust-config")
        .arg(trust)
        .args(args)
        .output()
        .expect("running sigstore-python")
}

/// The bundles attached to the image, read through the fallback tag index the registry
/// serves (it has no referrers API) — by plain HTTP, as any client would.
fn attached_bundles(registry: &Registry, image: &str) -> Vec<(Value, Vec<u8>)> {
    let digest = image.rsplit_once('@').unwrap().1;
    let tag = digest.replace(':', "-");
    let (_, index) = registry.fetch_manifest("acme/app", &tag).unwrap();
    let index: Value = serde_json::from_slice(&index).unwrap();
    let mut out = Vec::new();
    for entry in index["manifests"].as_array().unwrap() {
        let (_, manifest) = registry
            .fetch_manifest("acme/app", entry["digest"].as_str().unwrap())
            .unwrap();
        let manifest: Value = serde_json::from_slice(&manifest).unwrap();
        let layer = manifest["layers"][0]["digest"].as_str().unwrap();
        let bundle =
            reqwest::blocking::get(format!("{}/v2/acme/app/blobs/{layer}", registry.url()))
                .unwrap()
                .bytes()
                .unwrap()
                .to_vec();
        out.push((manifest, bundle));
    }
    out
}

fn skopeo_raw(registry: &Registry, reference: &str) -> Option<Value> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/acme/app{reference}", registry.host()))
        .output()
        .expect("skopeo");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

// One scenario, step on step: each refusal is checked against what was signed before it.
// A skipped part says why on stderr.
#[allow(clippy::too_many_lines, clippy::print_stderr)]
#[test]
fn signed_and_attested_images_verify_only_for_the_right_signer() {
    let w = world();
    let token = w.token();
    // A tag without a digest is refused unless asked to resolve it.
    let tagged = format!("{}/acme/app:1.0", w.registry.host());
    let out = w.run(&[
        "sign",
        &tagged,
        "--identity-token",
        &token,
        "--trust-config",
        w.trust(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("has no digest"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&token), "the token never appears");

    let out = w.run(&[
        "sign",
        &tagged,
        "--resolve-tag",
        "--format",
        "both",
        "--identity-token",
        &token,
        "--trust-config",
        w.trust(),
    ]);
    assert_exit(&out, 0);
    // Two signatures (bundle and legacy): one certificate and one log entry each.
    assert_eq!(w.stack.requests_to(Service::Fulcio).len(), 2);
    let rekor_posts = w
        .stack
        .requests_to(Service::Rekor)
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(rekor_posts, 2);
    assert!(
        stderr(&out).contains("read back and verified"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(WORKFLOW), "{}", stderr(&out));
    assert!(!stdout(&out).contains(&token) && !stderr(&out).contains(&token));

    // skopeo sees the referrer manifest (with its subject) and the legacy signature tag.
    let digest = w.image.rsplit_once('@').unwrap().1;
    let fallback = skopeo_raw(&w.registry, &format!(":{}", digest.replace(':', "-")))
        .expect("skopeo reads the fallback index");
    let referrer = fallback["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let manifest = skopeo_raw(&w.registry, &format!("@{referrer}")).unwrap();
    assert_eq!(manifest["subject"]["digest"], digest);
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(skopeo_raw(&w.registry, &format!(":{}.sig", digest.replace(':', "-"))).is_some());

    // Attest a SLSA provenance built from the CI environment (its base image is the pinned
    // `FROM` that `check` finds here), and a vuln predicate.
    std::fs::write(
        w.dir.path().join("Dockerfile"),
        format!(
            "FROM {}\nFROM {}/acme/app:2.0 AS unpinned\n",
            w.other,
            w.registry.host()
        ),
    )
    .unwrap();
    let mut attest = portcullis();
    attest
        .current_dir(w.dir.path())
        .env("DOCKER_CONFIG", w.dir.path().join("docker"))
        .envs(common::GITHUB_PUSH_ENV)
        .args([
            "attest",
            &w.image,
            "--type",
            "slsaprovenance",
            "--predicate",
            "auto",
            "--identity-token",
            &token,
            "--trust-config",
            w.trust(),
        ]);
    let out = attest.output().unwrap();
    assert_exit(&out, 0);
    let vuln = w.dir.path().join("vuln.json");
    std::fs::write(
        &vuln,
        r#"{"invocation":{"uri":"","event_id":"","builder.id":""},"scanner":{"uri":"pkg:github/aquasecurity/trivy","version":"0.50.0","db":{"uri":"","version":""},"result":{}},"metadata":{"scanStartedOn":"2026-12-01T00:00:00Z","scanFinishedOn":"2026-12-01T00:00:01Z"}}"#,
    )
    .unwrap();
    let out = w.run(&[
        "attest",
        &w.image,
        "--type",
        "vuln",
        "--predicate",
        vuln.to_str().unwrap(),
        "--identity-token",
        &token,
        "--trust-config",
        w.trust(),
    ]);
    assert_exit(&out, 0);
    // A predicate over the size limit is refused with a hint.
    let out = w.run(&[
        "attest",
        &w.image,
        "--type",
        "vuln",
        "--predicate",
        vuln.to_str().unwrap(),
        "--max-predicate-bytes",
        "10",
        "--identity-token",
        &token,
        "--trust-config",
        w.trust(),
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--max-predicate-bytes"),
        "{}",
        stderr(&out)
    );

    // The right identity: accepted, the signature and each attestation.
    let issuer = w.stack.issuer_url().to_owned();
    let before = w.stack.requests().len();
    let out = w.verify(&tagged, WORKFLOW, &issuer, &[]);
    assert_exit(&out, 0);
    assert_eq!(
        w.stack.requests().len(),
        before,
        "verifying asks no Sigstore service"
    );
    assert_eq!(
        stderr(&out).matches("verified, signed by").count(),
        2,
        "{}",
        stderr(&out)
    );
    let out = w.verify(&w.image, WORKFLOW, &issuer, &["--type", "slsaprovenance"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("https://slsa.dev/provenance/v1 predicate"),
        "{}",
        stderr(&out)
    );
    let base_hex = w.other.rsplit_once("sha256:").unwrap().1;
    assert!(
        stderr(&out).contains(base_hex),
        "the base image is in the provenance"
    );
    let out = w.verify(&w.image, WORKFLOW, &issuer, &["--type", "vuln"]);
    assert_exit(&out, 0);
    // With the Fulcio extensions too.
    let out = w.verify(
        &w.image,
        WORKFLOW,
        &issuer,
        &["--certificate-github-workflow-repository", "acme/app"],
    );
    assert_exit(&out, 0);

    // Each refusal with its own reason.
    let out = w.verify(
        &w.image,
        "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main",
        &issuer,
        &[],
    );
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("signature-invalid") && stdout(&out).contains("not by"),
        "{}",
        stdout(&out)
    );
    let out = w.verify(&w.image, WORKFLOW, "https://accounts.google.com", &[]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("OIDC issuer is"), "{}", stdout(&out));
    let out = w.verify(
        &w.image,
        WORKFLOW,
        &issuer,
        &["--certificate-github-workflow-repository", "evil/app"],
    );
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("1.3.6.1.4.1.57264.1.12"),
        "{}",
        stdout(&out)
    );
    // Another image has no signature of its own.
    let out = w.verify(&w.other, WORKFLOW, &issuer, &[]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("signature-missing"),
        "{}",
        stdout(&out)
    );
    // A certificate from another root.
    let stranger = SigstoreStack::start().unwrap();
    let strange = tempfile::tempdir().unwrap();
    let strange_trust = stranger
        .write_trust_files(strange.path())
        .unwrap()
        .trust_config;
    let out = w.run(&[
        "verify",
        &w.image,
        "--trusted-root",
        strange_trust.to_str().unwrap(),
        "--certificate-identity",
        WORKFLOW,
        "--certificate-oidc-issuer",
        &issuer,
    ]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("signature-invalid")
            && stdout(&out).contains("does not chain to the trusted root"),
        "{}",
        stdout(&out)
    );

    // sigstore-python agrees: the bundle portcullis pushed verifies against the image's
    // manifest bytes (whose digest the statement names).
    let Some(client) = sigstore_python() else {
        eprintln!("SKIPPED (sigstore-python part): `.venv/bin/sigstore` not found; scripts/install-test-deps installs it");
        return;
    };
    let manifest_file = w.dir.path().join("manifest.json");
    std::fs::write(&manifest_file, &w.manifest).unwrap();
    let bundles = attached_bundles(&w.registry, &w.image);
    let signature = bundles
        .iter()
        .find(|(m, _)| {
            m["annotations"]["dev.sigstore.bundle.predicateType"]
                == "https://sigstore.dev/cosign/sign/v1"
        })
        .expect("the signature referrer");
    let bundle_file = w.dir.path().join("pushed.sigstore.json");
    std::fs::write(&bundle_file, &signature.1).unwrap();
    if std::env::var_os("KEEP_BUNDLE").is_some() {
        std::fs::copy(&bundle_file, "/tmp/pushed.sigstore.json").unwrap();
    }
    let out = python(
        &client,
        &w.trust,
        &[
            "verify",
            "identity",
            "--bundle",
            bundle_file.to_str().unwrap(),
            "--cert-identity",
            WORKFLOW,
            "--cert-oidc-issuer",
            &issuer,
            manifest_file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "sigstore-python refused portcullis's bundle: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Attaches `bundle` to `image` as a referrer, as another signer (or an attacker with push
/// access) would.
fn attach(image: &str, bundle: &[u8]) {
    let client = portcullis_registry::Client::new(portcullis_registry::ClientOptions {
        use_env: false,
        ..portcullis_registry::ClientOptions::default()
    })
    .unwrap();
    let image = portcullis_reference::ImageRef::parse(image).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(portcullis_trust::oci::attach_bundle(
            &client,
            &image,
            bundle,
            jiff::Timestamp::now(),
        ))
        .unwrap();
}

// A skipped part says why on stderr; one scenario across the gate's three entry points.
#[allow(clippy::too_many_lines, clippy::print_stderr)]
#[test]
fn foreign_and_tampered_signatures_are_refused_and_the_gate_uses_the_verifier() {
    let w = world();
    let token = w.token();
    let issuer = w.stack.issuer_url().to_owned();
    let out = w.run(&[
        "sign",
        &w.image,
        "--identity-token",
        &token,
        "--trust-config",
        w.trust(),
    ]);
    assert_exit(&out, 0);
    let (_, signature) = attached_bundles(&w.registry, &w.image).remove(0);

    // A signature for another digest: image 1.0's bundle attached to image 2.0.
    attach(&w.other, &signature);
    let out = w.verify(&w.other, WORKFLOW, &issuer, &[]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("signs another artifact"),
        "{}",
        stdout(&out)
    );

    // A tampered payload: the statement changed after signing, attached to a third image.
    let third_digest = w
        .registry
        .seed_image(
            "acme/app",
            "3.0",
            &ImageSpec::new("linux", "amd64").layers(vec![b"three".to_vec()]),
        )
        .unwrap();
    let third = format!("{}/acme/app@{third_digest}", w.registry.host());
    let mut bundle: Value = serde_json::from_slice(&signature).unwrap();
    let payload = base64_decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap());
    let statement = String::from_utf8(payload).unwrap().replace(
        w.image.rsplit_once("sha256:").unwrap().1,
        third_digest.hex(),
    );
    bundle["dsseEnvelope"]["payload"] = Value::from(base64_encode(statement.as_bytes()));
    attach(&third, &serde_json::to_vec(&bundle).unwrap());
    let out = w.verify(&third, WORKFLOW, &issuer, &[]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("signature-invalid")
            && !stdout(&out).contains("signs another artifact"),
        "{}",
        stdout(&out)
    );

    // The policy decides when no identity is given: `[[trust.signer]]`.
    let host = w.registry.host();
    std::fs::write(
        w.dir.path().join("portcullis.toml"),
        format!(
            r#"[images]
allow = ["{host}/**"]
require-digest = false

[[trust.signer]]
images = ["{host}/acme/*"]
issuer = "{issuer}"
identity = "{WORKFLOW}"
"#
        ),
    )
    .unwrap();
    let out = w.run(&["verify", &w.image, "--trusted-root", w.trust()]);
    assert_exit(&out, 0);
    let out = w.run(&["verify", &third, "--trusted-root", w.trust()]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("signature-invalid"),
        "{}",
        stdout(&out)
    );

    // check --verify: the signed base image passes, the unsigned one is signature-missing.
    std::fs::write(
        w.dir.path().join("Dockerfile"),
        format!(
            "FROM {} AS signed\nFROM {host}/acme/app:2.0\n",
            w.image.replacen("/acme/app@", "/acme/app:1.0@", 1)
        ),
    )
    .unwrap();
    let out = w.run(&[
        "check",
        "--verify",
        "--trusted-root",
        w.trust(),
        "--format",
        "json",
    ]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings: Vec<(&str, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(findings, [("signature-invalid", 2)], "{report:#}");
    // Without --verify nothing is checked.
    let out = w.run(&["check", "--format", "json"]);
    assert_exit(&out, 0);

    // The mirror gate: the signed tag is copied by its verified digest, the other refused.
    let target = Registry::start(Auth::None).unwrap();
    std::fs::write(
        w.dir.path().join("portcullis.toml"),
        format!(
            r#"[images]
allow = ["{host}/**"]

[[trust.signer]]
images = ["{host}/acme/*"]
issuer = "{issuer}"
identity = "{WORKFLOW}"

[[mirror]]
from = "{host}/acme/app"
to = "{}/mirror/app"
tags = ["1.0", "2.0"]
"#,
            target.host()
        ),
    )
    .unwrap();
    let out = w.run(&["mirror", "--trusted-root", w.trust(), "--format", "json"]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<&str> = report["mirrored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["outcome"].as_str().unwrap())
        .collect();
    // Refusals come first (the gate), then the copies.
    assert_eq!(outcomes, ["refused", "copied"], "{report:#}");
    assert_eq!(common::rules(&report), ["signature-invalid"], "{report:#}");
    assert!(target.fetch_manifest("mirror/app", "1.0").is_ok());
    assert!(target.fetch_manifest("mirror/app", "2.0").is_err());

    // A bundle sigstore-python signs (over the manifest bytes) verifies with portcullis.
    let Some(client) = sigstore_python() else {
        eprintln!("SKIPPED (sigstore-python part): `.venv/bin/sigstore` not found; scripts/install-test-deps installs it");
        return;
    };
    let fourth_digest = w
        .registry
        .seed_image(
            "acme/app",
            "4.0",
            &ImageSpec::new("linux", "amd64").layers(vec![b"four".to_vec()]),
        )
        .unwrap();
    let (_, manifest) = w.registry.fetch_manifest("acme/app", "4.0").unwrap();
    let manifest_file = w.dir.path().join("four.json");
    std::fs::write(&manifest_file, &manifest).unwrap();
    let out = python(
        &client,
        &w.trust,
        &[
            "sign",
            "--identity-token",
            &token,
            manifest_file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = std::fs::read(w.dir.path().join("four.json.sigstore.json")).unwrap();
    let fourth = format!("{host}/acme/app@{fourth_digest}");
    attach(&fourth, &theirs);
    let out = w.verify(&fourth, WORKFLOW, &issuer, &[]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("verified, signed by"),
        "{}",
        stderr(&out)
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
