//! `portcullis stale` against a real registry: images whose base tag moved (named by the
//! manifest's base annotations, or only by a SLSA provenance attached as a bundle
//! referrer), images older than `max-age`, fresh ones on unchanged bases; and `--trigger`
//! against the fake GitHub and GitLab APIs.

mod common;

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use common::{assert_exit, portcullis, stderr, stdout};
use portcullis_testkit::forge::{FakeGithub, FakeGitlab};
use portcullis_testkit::{Auth, ImageSpec, Registry};
use serde_json::{json, Value};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const CANARY: &str = "ghp_stale_canary_token";

/// Pushes `repo:tag` as an image built at `created` whose manifest carries `annotations`.
fn annotated(
    registry: &Registry,
    repo: &str,
    tag: &str,
    created: &str,
    annotations: &Value,
) -> String {
    let spec = ImageSpec::new("linux", "amd64")
        .layers(vec![format!("{repo}:{tag}").into_bytes()])
        .created(created);
    registry.seed_image(repo, "seed", &spec).unwrap();
    let (_, bytes) = registry.fetch_manifest(repo, "seed").unwrap();
    let mut manifest: Value = serde_json::from_slice(&bytes).unwrap();
    manifest["annotations"] = annotations.clone();
    let bytes = serde_json::to_vec(&manifest).unwrap();
    registry
        .push_manifest(repo, tag, OCI_MANIFEST, &bytes)
        .unwrap()
        .to_string()
}

fn base(registry: &Registry, tag_content: &str) -> String {
    let spec = ImageSpec::new("linux", "amd64").layers(vec![tag_content.as_bytes().to_vec()]);
    registry
        .seed_image("library/alpine", "3.20", &spec)
        .unwrap()
        .to_string()
}

/// Attaches a bundle holding a SLSA provenance v1 statement about `repo@digest` that names
/// `base@base_digest`, as a referrer listed in the fallback tag (the registry has no
/// referrers API).
fn attach_provenance(registry: &Registry, repo: &str, digest: &str, base: &str, base_digest: &str) {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let hex = |d: &str| d.strip_prefix("sha256:").unwrap().to_owned();
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": repo, "digest": {"sha256": hex(digest)}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {"buildType": "https://example.com/build", "externalParameters": {},
                "resolvedDependencies": [
                    {"uri": "git+https://github.com/acme/app@refs/heads/main", "digest": {"gitCommit": "abc"}},
                    {"name": base, "digest": {"sha256": hex(base_digest)}}
                ]},
            "runDetails": {"builder": {"id": "https://example.com/builder"}}
        }
    });
    let bundle = json!({
        "mediaType": BUNDLE,
        "verificationMaterial": {},
        "dsseEnvelope": {
            "payload": b64(&serde_json::to_vec(&statement).unwrap()),
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [{"sig": b64(b"not checked here")}]
        }
    });
    let bundle = serde_json::to_vec(&bundle).unwrap();
    let layer = registry.push_blob(repo, &bundle).unwrap();
    let empty = registry.push_blob(repo, b"{}").unwrap();
    let (_, subject) = registry.fetch_manifest(repo, digest).unwrap();
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": BUNDLE, "digest": layer.to_string(), "size": bundle.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": subject.len()},
        "annotations": {"dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1"}
    }))
    .unwrap();
    let referrer_digest = registry
        .push_manifest(
            repo,
            &format!("sha256:{}", sha(&referrer)),
            OCI_MANIFEST,
            &referrer,
        )
        .unwrap();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": referrer_digest.to_string(),
            "size": referrer.len(), "artifactType": BUNDLE}]
    }))
    .unwrap();
    registry
        .push_manifest(repo, &format!("sha256-{}", hex(digest)), OCI_INDEX, &index)
        .unwrap();
}

fn sha(bytes: &[u8]) -> String {
    portcullis_testkit::sha256_hex(bytes)
}

fn now_minus_days(days: i64) -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days)).to_string()
}

struct Setup {
    registry: Registry,
    dir: tempfile::TempDir,
    base_then: String,
    base_now: String,
}

/// `acme/drifted` (base annotations; the base tag then moves), `acme/fresh` (base by
/// digest only: it cannot move), `acme/old` (built long ago, base unknown) and
/// `acme/attested` (base known only from its provenance; it moved too).
fn setup(policy_tail: &str) -> Setup {
    let registry = Registry::start(Auth::None).unwrap();
    let host = registry.host();
    let base_then = base(&registry, "alpine then");
    let base_name = format!("{host}/library/alpine:3.20");
    let recent = now_minus_days(1);
    annotated(
        &registry,
        "acme/drifted",
        "latest",
        &recent,
        &json!({
            "org.opencontainers.image.base.name": base_name,
            "org.opencontainers.image.base.digest": base_then,
        }),
    );
    annotated(
        &registry,
        "acme/fresh",
        "latest",
        &recent,
        &json!({
            "org.opencontainers.image.base.name": format!("{host}/library/alpine@{base_then}"),
            "org.opencontainers.image.base.digest": base_then,
            "org.opencontainers.image.created": recent,
        }),
    );
    annotated(
        &registry,
        "acme/old",
        "latest",
        "2020-01-01T00:00:00Z",
        &json!({}),
    );
    let attested = annotated(&registry, "acme/attested", "latest", &recent, &json!({}));
    attach_provenance(
        &registry,
        "acme/attested",
        &attested,
        &base_name,
        &base_then,
    );
    let base_now = base(&registry, "alpine now");
    assert_ne!(base_then, base_now);
    let dir = tempfile::tempdir().unwrap();
    let policy = format!(
        "[stale]\nmax-age = \"30d\"\nimages = [\"{host}/acme/drifted:latest\", \"{host}/acme/fresh:latest\", \"{host}/acme/old:latest\", \"{host}/acme/attested:latest\", \"{host}/acme/drifted:latest\"]\n{policy_tail}"
    );
    std::fs::write(dir.path().join("portcullis.toml"), policy).unwrap();
    Setup {
        registry,
        dir,
        base_then,
        base_now,
    }
}

fn stale(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = portcullis();
    command.current_dir(dir).arg("stale").args(args);
    for var in [
        "GITHUB_TOKEN",
        "PORTCULLIS_GITHUB_TOKEN",
        "GITHUB_API_URL",
        "CI_API_V4_URL",
        "CI_JOB_TOKEN",
        "PORTCULLIS_GITLAB_TRIGGER_TOKEN",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).output().unwrap()
}

fn stale_images(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "image-stale")
        .map(|f| f["image"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn drifted_bases_and_old_images_are_stale_and_fresh_ones_are_not() {
    let setup = setup("");
    let host = setup.registry.host();
    let out = stale(setup.dir.path(), &["-f", "json"], &[]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut images = stale_images(&report);
    images.sort();
    assert_eq!(
        images,
        [
            format!("{host}/acme/attested:latest"),
            format!("{host}/acme/drifted:latest"),
            format!("{host}/acme/old:latest"),
        ],
        "listed twice, reported once; fresh is not stale"
    );
    let findings = report["findings"].as_array().unwrap();
    let message = |repo: &str| {
        findings
            .iter()
            .find(|f| f["image"].as_str().unwrap().contains(repo))
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for repo in ["acme/drifted", "acme/attested"] {
        let text = message(repo);
        assert!(
            text.contains(&setup.base_then) && text.contains(&setup.base_now),
            "{text}"
        );
        assert!(text.contains("library/alpine:3.20"), "{text}");
    }
    assert!(message("acme/old").contains("longer ago than `max-age` 30d"));
    assert!(
        stderr(&out).contains("the base of")
            && stderr(&out).contains("acme/old:latest` is unknown")
    );
}

#[test]
fn an_image_that_cannot_be_read_exits_3() {
    let setup = setup("");
    let host = setup.registry.host();
    std::fs::write(
        setup.dir.path().join("portcullis.toml"),
        format!("[stale]\nimages = [\"{host}/acme/missing:latest\"]\n"),
    )
    .unwrap();
    let out = stale(setup.dir.path(), &[], &[]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("acme/missing:latest"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn trigger_dispatches_once_per_stale_image_to_github() {
    let fake = FakeGithub::start().unwrap();
    fake.add_token(CANARY, "portcullis-bot");
    let setup = setup("trigger = \"github-dispatch\"\nrepository = \"acme/app\"\n");
    let env = [("GITHUB_TOKEN", CANARY), ("GITHUB_API_URL", fake.url())];
    let dir = setup.dir.path();

    // --dry-run prints each request and sends none.
    let dry = stale(
        dir,
        &["--trigger", "--dry-run", "--trigger-interval-ms", "10"],
        &env,
    );
    assert_exit(&dry, 1);
    assert!(fake.requests().is_empty(), "a dry run sends nothing");
    let text = stderr(&dry);
    assert!(
        text.contains("/repos/acme/app/dispatches") && text.contains("\"base_digest_now\""),
        "{text}"
    );
    assert!(!text.contains(CANARY) && !stdout(&dry).contains(CANARY));

    let out = stale(
        dir,
        &["--trigger", "--trigger-interval-ms", "10", "-f", "json"],
        &env,
    );
    assert_exit(&out, 1);
    let dispatches = fake.dispatches();
    assert_eq!(dispatches.len(), 3, "one per stale image: {dispatches:?}");
    let drifted = dispatches
        .iter()
        .find(|d| {
            d.payload["image"]
                .as_str()
                .unwrap()
                .ends_with("acme/drifted:latest")
        })
        .unwrap();
    assert_eq!(drifted.event_type.as_deref(), Some("portcullis-stale"));
    assert_eq!(drifted.payload["reasons"], json!(["base-drifted"]));
    assert_eq!(
        drifted.payload["base_digest_then"],
        setup.base_then.as_str()
    );
    assert_eq!(drifted.payload["base_digest_now"], setup.base_now.as_str());
    assert!(drifted.payload["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    for output in [stdout(&out), stderr(&out)] {
        assert!(!output.contains(CANARY), "the token leaked: {output}");
    }
    the_reports_list_the_requests(dir, &env, &out, &drifted.payload["digest"]);
    assert!(fake.dispatches().len() == 3, "a dry run sends nothing");

    // Nothing stale: no request.
    std::fs::write(
        dir.join("portcullis.toml"),
        format!(
            "[stale]\nmax-age = \"30d\"\nimages = [\"{}/acme/fresh:latest\"]\ntrigger = \"github-dispatch\"\nrepository = \"acme/app\"\n",
            setup.registry.host()
        ),
    )
    .unwrap();
    let before = fake.requests().len();
    let calm = stale(dir, &["--trigger"], &env);
    assert_exit(&calm, 0);
    assert_eq!(fake.requests().len(), before);
}

/// The JSON report of a `--trigger` run (`out`) lists each request: where it went and what
/// GitHub answered; a dry run's lists them as not sent, with a row each in human and Markdown.
fn the_reports_list_the_requests(dir: &Path, env: &[(&str, &str)], out: &Output, digest: &Value) {
    // The report lists each request: where it went and what GitHub answered.
    let report: Value = serde_json::from_str(&stdout(out)).unwrap();
    let triggers = report["triggers"].as_array().unwrap();
    assert_eq!(triggers.len(), 3, "{report:#}");
    let entry = triggers
        .iter()
        .find(|t| {
            t["image"]
                .as_str()
                .unwrap()
                .ends_with("acme/drifted:latest")
        })
        .unwrap();
    assert_eq!(entry["target"], "github-dispatch");
    assert_eq!(entry["repository"], "acme/app");
    assert_eq!(entry["event_type"], "portcullis-stale");
    assert_eq!(entry["outcome"], "sent");
    assert_eq!(entry["status"], 204);
    assert_eq!(entry["reasons"], json!(["base-drifted"]));
    assert_eq!(&entry["digest"], digest);
    // The dry run's report lists them too, as not sent; human and Markdown show a row each.
    let dry = stale(
        dir,
        &[
            "--trigger",
            "--dry-run",
            "-f",
            "json",
            "-f",
            "markdown=stale.md",
            "-f",
            "human=stale.txt",
        ],
        env,
    );
    assert_exit(&dry, 1);
    let report: Value = serde_json::from_str(&stdout(&dry)).unwrap();
    assert!(
        report["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["outcome"] == "dry-run" && t.get("status").is_none()),
        "{report:#}"
    );
    let markdown = std::fs::read_to_string(dir.join("stale.md")).unwrap();
    assert!(
        markdown.contains("#### Rebuilds")
            && markdown.contains(
                "| github-dispatch | acme/app dispatch portcullis-stale | dry-run | base-drifted |"
            ),
        "{markdown}"
    );
    let human = std::fs::read_to_string(dir.join("stale.txt")).unwrap();
    assert_eq!(human.matches("rebuild of `").count(), 3, "{human}");
    assert!(
        human.contains(": dry-run, github-dispatch to acme/app"),
        "{human}"
    );
}

#[test]
fn trigger_starts_one_gitlab_pipeline_per_stale_image() {
    let fake = FakeGitlab::start(42, "acme/app").unwrap();
    fake.add_trigger_token("glptt-stale-canary");
    let setup = setup("trigger = \"gitlab-pipeline\"\nproject = \"42\"\nref = \"main\"\n");
    let api = fake.api_url();
    let env = [
        ("CI_API_V4_URL", api.as_str()),
        ("PORTCULLIS_GITLAB_TRIGGER_TOKEN", "glptt-stale-canary"),
    ];
    let out = stale(
        setup.dir.path(),
        &["--trigger", "--trigger-interval-ms", "10"],
        &env,
    );
    assert_exit(&out, 1);
    let started = fake.triggered();
    assert_eq!(started.len(), 3);
    assert!(started.iter().all(|p| p.git_ref == "main"));
    let old = started
        .iter()
        .find(|p| p.variables["PORTCULLIS_STALE_IMAGE"].ends_with("acme/old:latest"))
        .unwrap();
    assert_eq!(old.variables["PORTCULLIS_STALE_REASONS"], "too-old");
    assert!(
        !stderr(&out).contains("glptt-stale-canary")
            && !stdout(&out).contains("glptt-stale-canary")
    );
    // A wrong token is refused, named without the token, and the run fails (3).
    let wrong = stale(
        setup.dir.path(),
        &["--trigger", "--trigger-interval-ms", "10"],
        &[
            ("CI_API_V4_URL", api.as_str()),
            ("PORTCULLIS_GITLAB_TRIGGER_TOKEN", "glptt-wrong-canary"),
        ],
    );
    assert_exit(&wrong, 3);
    assert!(stderr(&wrong).contains("HTTP 404") && !stderr(&wrong).contains("glptt-wrong-canary"));
    // The human report names the refused request, its project and status.
    assert!(
        stdout(&wrong).contains("failed (HTTP 404), gitlab-pipeline to GitLab project 42 on main"),
        "{}",
        stdout(&wrong)
    );
}

#[test]
fn trigger_without_a_token_is_a_usage_error() {
    let setup = setup("trigger = \"github-dispatch\"\nrepository = \"acme/app\"\n");
    let out = stale(setup.dir.path(), &["--trigger"], &[]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("GITHUB_TOKEN"));
}

/// The Trivy report of `debian-buster` (from Trivy's own test suite: one fixed critical,
/// one unfixed low), as if it had been made for `image` (`repository@digest`), with
/// `edit` applied to each of its vulnerabilities.
fn trivy_report_about(dir: &Path, image: &str, edit: impl Fn(&mut Value)) -> std::path::PathBuf {
    let fixture = common::repo_root().join("crates/scan/tests/data/debian-buster.json");
    let mut report: Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    report["ArtifactName"] = Value::from(image);
    report["Metadata"]["RepoDigests"] = json!([image]);
    for result in report["Results"].as_array_mut().unwrap() {
        for vuln in result["Vulnerabilities"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            edit(vuln);
        }
    }
    let path = dir.join("trivy.json");
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    path
}

#[test]
fn scan_makes_an_image_with_a_fixable_vulnerability_at_the_gate_stale() {
    let registry = Registry::start(Auth::None).unwrap();
    let host = registry.host();
    // Built yesterday on no known base: only the scan can make it stale.
    let digest = annotated(&registry, "acme/app", "1.0", &now_minus_days(1), &json!({}));
    let dir = tempfile::tempdir().unwrap();
    let policy = |fail_on: &str| {
        format!("[stale]\nmax-age = \"30d\"\nimages = [\"{host}/acme/app:1.0\"]\n\n[scan]\nfail-on = \"{fail_on}\"\n")
    };
    let subject = format!("{host}/acme/app@{digest}");
    let run = |fail_on: &str, edit: &dyn Fn(&mut Value)| {
        std::fs::write(dir.path().join("portcullis.toml"), policy(fail_on)).unwrap();
        let report = trivy_report_about(dir.path(), &subject, edit);
        stale(
            dir.path(),
            &["--scan", "--report", report.to_str().unwrap(), "-f", "json"],
            &[],
        )
    };

    // The report as Trivy wrote it: one fixed critical makes the image stale.
    let out = run("high", &|_| {});
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(stale_images(&report), [format!("{host}/acme/app:1.0")]);
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("1 vulnerability with a fix at or above `high` (1 critical)"),
        "{message}"
    );
    let human = stale(
        dir.path(),
        &[
            "--scan",
            "--report",
            dir.path().join("trivy.json").to_str().unwrap(),
        ],
        &[],
    );
    assert_exit(&human, 1);
    assert!(
        stdout(&human).contains("(1 critical)"),
        "{}",
        stdout(&human)
    );

    // Counts by severity: the unfixed low given a fix counts too under `low`.
    let out = run("low", &|vuln| {
        if vuln["Status"] == "affected" {
            vuln["FixedVersion"] = Value::from("9.9");
            vuln["Status"] = Value::from("fixed");
        }
    });
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("2 vulnerabilities with a fix at or above `low` (1 critical, 1 low)"),
        "{message}"
    );

    // Only unfixed vulnerabilities: not stale.
    let out = run("low", &|vuln| {
        vuln.as_object_mut().unwrap().remove("FixedVersion");
        vuln["Status"] = Value::from("affected");
    });
    assert_exit(&out, 0);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(stale_images(&report).is_empty(), "{report:#}");

    // A fixed vulnerability below the gate: not stale.
    let out = run("critical", &|vuln| vuln["Severity"] = Value::from("MEDIUM"));
    assert_exit(&out, 0);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(stale_images(&report).is_empty(), "{report:#}");
}

/// Pushes an OCI index at `repo:tag` whose first entry is a BuildKit-style attestation
/// manifest (`unknown/unknown`) and whose second is `child`, with `annotations` on the
/// index itself.
fn index_over(registry: &Registry, repo: &str, tag: &str, child: &str, annotations: &Value) {
    let entry = |digest: &str, os: &str, arch: &str| {
        let (media_type, bytes) = registry.fetch_manifest(repo, digest).unwrap();
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len(),
            "platform": {"os": os, "architecture": arch}})
    };
    let attestation = registry
        .seed_image(
            repo,
            "attestation",
            &ImageSpec::new("unknown", "unknown").layers(vec![b"attestation".to_vec()]),
        )
        .unwrap()
        .to_string();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry(&attestation, "unknown", "unknown"), entry(child, "linux", "amd64")],
        "annotations": annotations,
    }))
    .unwrap();
    registry
        .push_manifest(repo, tag, OCI_INDEX, &index)
        .unwrap();
}

#[test]
fn bases_on_an_index_or_only_on_its_platform_child_are_found() {
    let registry = Registry::start(Auth::None).unwrap();
    let host = registry.host();
    let base_then = base(&registry, "alpine then");
    let base_annotations = json!({
        "org.opencontainers.image.base.name": format!("{host}/library/alpine:3.20"),
        "org.opencontainers.image.base.digest": base_then,
    });
    let recent = now_minus_days(1);
    // On the index: the child says nothing.
    let plain = annotated(&registry, "acme/on-index", "child", &recent, &json!({}));
    index_over(&registry, "acme/on-index", "1.0", &plain, &base_annotations);
    // Only on the platform child: the index says nothing.
    let child = annotated(
        &registry,
        "acme/on-child",
        "child",
        &recent,
        &base_annotations,
    );
    index_over(&registry, "acme/on-child", "1.0", &child, &json!({}));
    let base_now = base(&registry, "alpine now");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        format!("[stale]\nimages = [\"{host}/acme/on-index:1.0\", \"{host}/acme/on-child:1.0\"]\n"),
    )
    .unwrap();
    let out = stale(dir.path(), &["-f", "json"], &[]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut images = stale_images(&report);
    images.sort();
    assert_eq!(
        images,
        [
            format!("{host}/acme/on-child:1.0"),
            format!("{host}/acme/on-index:1.0"),
        ]
    );
    for finding in report["findings"].as_array().unwrap() {
        let message = finding["message"].as_str().unwrap();
        assert!(
            message.contains(&base_then) && message.contains(&base_now),
            "{message}"
        );
    }
    assert!(!stderr(&out).contains("is unknown"), "{}", stderr(&out));
}

#[test]
fn a_legacy_att_provenance_names_the_base() {
    use portcullis_testkit::sigstore::{Claims, SigstoreStack};
    let registry = Registry::start(Auth::None).unwrap();
    let host = registry.host();
    let base_then = base(&registry, "alpine then");
    let digest = annotated(&registry, "acme/app", "1.0", &now_minus_days(1), &json!({}));
    let stack = SigstoreStack::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trust = stack.write_trust_files(dir.path()).unwrap().trust_config;
    let token = stack.token(&Claims::github("acme/app")).unwrap();
    let attest = portcullis()
        .current_dir(dir.path())
        .env_remove("SIGSTORE_ID_TOKEN")
        .env("DOCKER_CONFIG", dir.path().join("docker"))
        .envs(common::GITHUB_PUSH_ENV)
        .args([
            "attest",
            &format!("{host}/acme/app@{digest}"),
            "--type",
            "slsaprovenance",
            "--predicate",
            "auto",
            "--base-image",
            &format!("{host}/library/alpine:3.20@{base_then}"),
            "--format",
            "legacy",
            "--identity-token",
            &token,
            "--trust-config",
            trust.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&attest, 0);
    // Only the `.att` tag holds it: no referrer was written.
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert!(registry
        .fetch_manifest("acme/app", &format!("sha256-{hex}.att"))
        .is_ok());
    assert!(registry
        .fetch_manifest("acme/app", &format!("sha256-{hex}"))
        .is_err());
    let base_now = base(&registry, "alpine now");
    std::fs::write(
        dir.path().join("portcullis.toml"),
        format!("[stale]\nimages = [\"{host}/acme/app:1.0\"]\n"),
    )
    .unwrap();
    let out = stale(dir.path(), &["-f", "json"], &[]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(stale_images(&report), [format!("{host}/acme/app:1.0")]);
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{host}/library/alpine:3.20"))
            && message.contains(&base_then)
            && message.contains(&base_now),
        "{message}"
    );
}
