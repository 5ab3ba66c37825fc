//! `portcullis promote` end to end: two real Distribution registries (staging and
//! production), the testkit's local Sigstore stack, skopeo reading what was written. A
//! source signed by the trusted identity arrives in production with the same digest, its
//! signature, a new signature and a promotion record; every refusal (policy pair, missing
//! or wrong signature, failing scan) leaves the production registry without a single write.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_exit, portcullis, stderr, stdout};
use portcullis_testkit::sigstore::{Claims, SigstoreStack};
use portcullis_testkit::{sha256_hex, Auth, ImageSpec, Registry};
use serde_json::Value;

const WORKFLOW: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
const PROMOTION: &str = "https://portcullis.dev/promotion/v1";

struct World {
    staging: Registry,
    production: Registry,
    stack: SigstoreStack,
    dir: tempfile::TempDir,
    trust: PathBuf,
    token: String,
}

impl World {
    fn run(&self, args: &[&str]) -> Output {
        portcullis()
            .current_dir(self.dir.path())
            .env_remove("SIGSTORE_ID_TOKEN")
            .env_remove("GITHUB_ACTOR")
            .env_remove("GITLAB_USER_LOGIN")
            .env("USER", "release-manager")
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .args(args)
            .output()
            .expect("run portcullis")
    }

    fn trust(&self) -> &str {
        self.trust.to_str().unwrap()
    }

    /// `portcullis promote SOURCE TARGET ARGS…` with the identity token and trust config.
    fn promote(&self, source: &str, target: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "promote",
            source,
            target,
            "--identity-token",
            &self.token,
            "--trust-config",
            self.trust(),
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Seeds `staging/app:TAG` (a distinct image per tag) and returns it by digest.
    fn seed(&self, tag: &str) -> String {
        let digest = self
            .staging
            .seed_image(
                "staging/app",
                tag,
                &ImageSpec::new("linux", "amd64").layers(vec![tag.as_bytes().to_vec()]),
            )
            .unwrap();
        format!("{}/staging/app@{digest}", self.staging.host())
    }

    /// Signs `image` with a token for `repository`'s release workflow.
    fn sign(&self, image: &str, repository: &str) {
        let token = self.stack.token(&Claims::github(repository)).unwrap();
        let out = self.run(&[
            "sign",
            image,
            "--identity-token",
            &token,
            "--trust-config",
            self.trust(),
        ]);
        assert_exit(&out, 0);
    }

    /// The requests that wrote to the production registry.
    fn production_writes(&self) -> Vec<String> {
        self.production
            .requests()
            .into_iter()
            .filter(|r| matches!(r.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

fn world() -> World {
    let staging = Registry::start(Auth::None).unwrap();
    let production = Registry::start(Auth::None).unwrap();
    let stack = SigstoreStack::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trust = stack.write_trust_files(dir.path()).unwrap().trust_config;
    let token = stack.token(&Claims::github("acme/app")).unwrap();
    let w = World {
        staging,
        production,
        stack,
        dir,
        trust,
        token,
    };
    let (src, dst, issuer) = (
        w.staging.host(),
        w.production.host(),
        w.stack.issuer_url().to_owned(),
    );
    std::fs::write(
        w.dir.path().join("portcullis.toml"),
        format!(
            r#"[images]
require-digest = false

[[trust.signer]]
images = ["{src}/staging/*", "{dst}/prod/*"]
issuer = "{issuer}"
identity = "{WORKFLOW}"

[[promote]]
from = "{src}/staging/*"
to = "{dst}/prod/*"
require = ["verify"]
"#
        ),
    )
    .unwrap();
    w
}

/// The Trivy report of `debian-buster` (from Trivy's own test suite), as if it had been
/// made for `image` (`repository@digest`), tagged `tag`.
fn trivy_report_about(dir: &Path, image: &str, tag: &str) -> PathBuf {
    let fixture = common::repo_root().join("crates/scan/tests/data/debian-buster.json");
    let mut report: Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let repository = image.split_once('@').unwrap().0;
    report["ArtifactName"] = Value::from(image);
    report["Metadata"]["RepoTags"] = serde_json::json!([format!("{repository}:{tag}")]);
    report["Metadata"]["RepoDigests"] = serde_json::json!([image]);
    let path = dir.join("trivy.json");
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    path
}

// One scenario, step on step: each refusal is checked against the production registry's
// request log before the promotion that writes.
#[allow(clippy::too_many_lines)]
#[test]
fn only_a_vetted_image_is_promoted_and_refusals_write_nothing() {
    let w = world();
    let dst = w.production.host();
    let target = format!("{dst}/prod/app:1.0");
    let signed = w.seed("1.0");
    w.sign(&signed, "acme/app");
    let unsigned = w.seed("2.0");
    let stranger = w.seed("3.0");
    w.sign(&stranger, "evil/fork");
    let vulnerable = w.seed("4.0");
    w.sign(&vulnerable, "acme/app");

    // A tag is never trusted; a digest on the target is refused.
    let tagged = format!("{}/staging/app:1.0", w.staging.host());
    let out = w.promote(&tagged, &target, &[]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains(&format!("`{tagged}` has no digest")),
        "{}",
        stderr(&out)
    );
    let digest = signed.rsplit_once('@').unwrap().1;
    let out = w.promote(&signed, &format!("{dst}/prod/app@{digest}"), &[]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("has a digest"), "{}", stderr(&out));

    // A pair no `[[promote]]` entry allows.
    let out = w.promote(
        &signed,
        &format!("{dst}/elsewhere/app:1.0"),
        &["-f", "json"],
    );
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(common::rules(&report), ["promotion-refused"], "{report:#}");
    let message = report["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&signed)
            && message.contains("elsewhere/app:1.0")
            && message.contains("line 9"),
        "{message}"
    );

    // Unsigned, and signed by somebody the policy does not trust.
    let out = w.promote(&unsigned, &target, &["-f", "json"]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(common::rules(&report), ["signature-missing"], "{report:#}");
    assert_eq!(report["mirrored"][0]["outcome"], "refused", "{report:#}");
    let out = w.promote(&stranger, &target, &["-f", "json"]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(common::rules(&report), ["signature-invalid"], "{report:#}");
    assert!(
        report["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("evil/fork"),
        "{report:#}"
    );

    // Signed by the trusted workflow, but its scan fails the gate.
    let trivy = trivy_report_about(w.dir.path(), &vulnerable, "4.0");
    let out = w.promote(
        &vulnerable,
        &target,
        &[
            "--report",
            trivy.to_str().unwrap(),
            "-f",
            "json",
            "-f",
            "sarif=promote.sarif",
            "-f",
            "junit=promote.xml",
            "-f",
            "markdown=promote.md",
        ],
    );
    assert_exit(&out, 1);
    // Every format from the one report.
    let sarif: Value =
        serde_json::from_slice(&std::fs::read(w.dir.path().join("promote.sarif")).unwrap())
            .unwrap();
    assert!(sarif.to_string().contains("CVE-2019-18224"), "{sarif:#}");
    let junit = std::fs::read_to_string(w.dir.path().join("promote.xml")).unwrap();
    assert!(
        junit.contains("<failure") && junit.contains("CVE-2019-18224"),
        "{junit}"
    );
    let markdown = std::fs::read_to_string(w.dir.path().join("promote.md")).unwrap();
    assert!(markdown.contains("CVE-2019-18224"), "{markdown}");
    // Named as a promotion, not a mirror.
    assert!(!junit.contains("mirror"), "{junit}");
    assert!(
        markdown.contains("#### Promoted") && !markdown.contains("Mirrored"),
        "{markdown}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = common::rules(&report);
    assert!(
        !rules.is_empty() && rules.iter().all(|rule| *rule == "vulnerability"),
        "{report:#}"
    );
    assert_eq!(report["scans"][0]["gate"]["passed"], false, "{report:#}");

    // A dry run of the good one checks and plans.
    let out = w.promote(&signed, &target, &["--dry-run"]);
    assert_exit(&out, 0);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains(&format!("would promote `{signed}` → `{target}`")),
        "{all}"
    );
    assert!(all.contains("nothing was written"), "{all}");
    assert!(
        all.contains("would sign") && all.contains(PROMOTION),
        "{all}"
    );
    assert!(
        all.contains("signed by `https://github.com/acme/app"),
        "{all}"
    );

    // Without an identity to sign with, nothing is copied either.
    let out = w.run(&["promote", &signed, &target, "--trust-config", w.trust()]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("SIGSTORE_ID_TOKEN"),
        "{}",
        stderr(&out)
    );

    assert_eq!(
        w.production_writes(),
        Vec::<String>::new(),
        "nothing refused or planned reaches production"
    );
    assert!(w.production.fetch_manifest("prod/app", "1.0").is_err());

    // The promotion itself.
    let out = w.promote(&signed, &target, &["-f", "json"]);
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mirrored"][0]["outcome"], "copied", "{report:#}");
    assert_eq!(report["mirrored"][0]["digest"], digest, "{report:#}");
    assert!(
        report["mirrored"][0]["referrers"].as_u64().unwrap() >= 1,
        "the source's signature is copied: {report:#}"
    );
    assert!(!stdout(&out).contains(&w.token) && !stderr(&out).contains(&w.token));

    // The tag is the last write: it points at an image that is already signed and attested.
    let writes = w.production_writes();
    let tag_write = format!(
        "PUT /v2/prod/app/manifests/{}",
        target.rsplit(':').next().unwrap()
    );
    assert_eq!(writes.last(), Some(&tag_write), "{writes:#?}");
    assert_eq!(
        writes.iter().filter(|w| **w == tag_write).count(),
        1,
        "{writes:#?}"
    );
    assert!(
        writes.len() > 4,
        "the copy, the signature and the record come before the tag: {writes:#?}"
    );

    // skopeo reads the same manifest bytes under the production tag.
    assert_eq!(common::skopeo_digest(&target), digest);
    let (_, source_manifest) = w.staging.fetch_manifest("staging/app", "1.0").unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&source_manifest)), digest);

    // The source's signature referrer is among the target's, with the new signature and
    // the promotion record.
    let fallback = digest.replace(':', "-");
    let referrers = |registry: &Registry, repository: &str| -> Vec<String> {
        let (_, index) = registry.fetch_manifest(repository, &fallback).unwrap();
        let index: Value = serde_json::from_slice(&index).unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["digest"].as_str().unwrap().to_owned())
            .collect()
    };
    let source_referrers = referrers(&w.staging, "staging/app");
    let target_referrers = referrers(&w.production, "prod/app");
    assert_eq!(source_referrers.len(), 1);
    assert!(
        target_referrers.contains(&source_referrers[0]),
        "{target_referrers:?}"
    );
    assert_eq!(target_referrers.len(), 3, "{target_referrers:?}");

    // `verify` accepts the target, and shows the promotion record.
    let out = w.run(&[
        "verify",
        &target,
        "--trusted-root",
        w.trust(),
        "--certificate-identity",
        WORKFLOW,
        "--certificate-oidc-issuer",
        w.stack.issuer_url(),
    ]);
    assert_exit(&out, 0);
    let out = w.run(&[
        "verify",
        &target,
        "--trusted-root",
        w.trust(),
        "--type",
        PROMOTION,
    ]);
    assert_exit(&out, 0);
    let text = stderr(&out);
    let records = promotion_records(&text);
    assert_eq!(records.len(), 1, "{text}");
    let record = &records[0];
    let policy = std::fs::read(w.dir.path().join("portcullis.toml")).unwrap();
    assert_eq!(record["source"]["digest"], digest, "{record:#}");
    assert_eq!(
        record["source"]["reference"],
        format!("{}/staging/app", w.staging.host())
    );
    assert_eq!(record["target"]["reference"], target, "{record:#}");
    assert_eq!(record["target"]["digest"], digest, "{record:#}");
    assert_eq!(
        record["policy"]["digest"],
        format!("sha256:{}", sha256_hex(&policy)),
        "{record:#}"
    );
    assert_eq!(record["promoter"]["issuer"], w.stack.issuer_url());
    assert_eq!(record["promoter"]["actor"], "release-manager");
    assert_eq!(record["checks"][0]["check"], "verify");
    assert_eq!(record["checks"][0]["outcome"], "passed");
    assert_eq!(record["checks"][0]["identities"][0]["identity"], WORKFLOW);
    assert_eq!(record["checks"][1]["check"], "scan");
    assert_eq!(record["checks"][1]["outcome"], "skipped");

    // Promoting another image to the same tag is refused unless asked to move it.
    let out = w.promote(&vulnerable, &target, &["-f", "json"]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(common::rules(&report), ["promotion-refused"], "{report:#}");
    assert!(
        report["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("--allow-retag"),
        "{report:#}"
    );
    assert_eq!(common::skopeo_digest(&target), digest);
    assert_eq!(
        w.production_writes().len(),
        writes.len(),
        "a refused retag writes nothing"
    );

    // A scan that passes is recorded with its counts; a second promotion of the same
    // digest to another tag adds its own record, signed as `[sign] format` says.
    let policy = std::fs::read_to_string(w.dir.path().join("portcullis.toml")).unwrap();
    std::fs::write(
        w.dir.path().join("portcullis.toml"),
        format!("{policy}\n[sign]\nformat = \"both\"\n"),
    )
    .unwrap();
    assert!(w
        .production
        .fetch_manifest("prod/app", &format!("{fallback}.sig"))
        .is_err());
    let scanned = format!("{dst}/prod/app:1.0-scanned");
    let trivy = trivy_report_about(w.dir.path(), &signed, "1.0");
    let out = w.promote(
        &signed,
        &scanned,
        &["--report", trivy.to_str().unwrap(), "--fail-on", "none"],
    );
    assert_exit(&out, 0);
    let out = w.run(&[
        "verify",
        &scanned,
        "--trusted-root",
        w.trust(),
        "--type",
        "promotion",
    ]);
    assert_exit(&out, 0);
    let records = promotion_records(&stderr(&out));
    let record = records
        .iter()
        .find(|r| r["target"]["reference"] == scanned.as_str())
        .unwrap_or_else(|| panic!("{records:#?}"));
    let scan = &record["checks"][1];
    assert_eq!(scan["check"], "scan", "{record:#}");
    assert_eq!(scan["outcome"], "passed", "{record:#}");
    assert_eq!(scan["failOn"], "none", "{record:#}");
    // debian-buster's report: one critical and one low vulnerability.
    assert_eq!(scan["counts"]["critical"], 1, "{record:#}");
    assert_eq!(scan["counts"]["low"], 1, "{record:#}");
    assert_eq!(scan["scanners"][0], "trivy", "{record:#}");
    assert!(
        w.production
            .fetch_manifest("prod/app", &format!("{fallback}.sig"))
            .is_ok(),
        "`[sign] format = \"both\"` also writes cosign's legacy signature tag"
    );

    // A `[[promote]]` entry that requires a scan refuses a promotion with nothing to scan
    // with, before anything is written.
    let policy = std::fs::read_to_string(w.dir.path().join("portcullis.toml")).unwrap();
    std::fs::write(
        w.dir.path().join("portcullis.toml"),
        policy.replace(r#"require = ["verify"]"#, r#"require = ["verify", "scan"]"#),
    )
    .unwrap();
    let writes = w.production_writes().len();
    let out = w.promote(&signed, &format!("{dst}/prod/app:2.0"), &["-f", "json"]);
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(common::rules(&report), ["promotion-refused"], "{report:#}");
    assert!(
        report["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("requires `scan`"),
        "{report:#}"
    );
    assert_eq!(w.production_writes().len(), writes);

    // `[sign] mode = "key"` needs the key: a usage error before anything is written.
    std::fs::write(
        w.dir.path().join("portcullis.toml"),
        policy.replace(r#"format = "both""#, r#"mode = "key""#),
    )
    .unwrap();
    let out = w.promote(&signed, &format!("{dst}/prod/app:3.0"), &[]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--key FILE"), "{}", stderr(&out));
    assert_eq!(w.production_writes().len(), writes);
}

/// The promotion records `verify --type promotion` prints.
fn promotion_records(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|line| line.split_once(&format!("{PROMOTION} predicate: ")))
        .map(|(_, json)| serde_json::from_str(json.trim()).unwrap())
        .collect()
}
