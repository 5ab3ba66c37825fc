//! End-to-end tests of `portcullis scan`: real Trivy/Grype reports (from their own test
//! suites) through the gate, custom hooks as real processes, and the real Syft against a
//! real local registry.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_exit, run_in, stderr, stdout};

fn data(name: &str) -> String {
    common::repo_root()
        .join("crates/scan/tests/data")
        .join(name)
        .display()
        .to_string()
}

fn venv_bin(name: &str) -> PathBuf {
    common::repo_root().join(".venv/bin").join(name)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// The image the Trivy fixture `debian-buster.json` was made from (its `RepoTags`).
const DEBIAN: &str = "ghcr.io/aquasecurity/trivy-test-images:debian-buster";

/// The image each fixture report names, so the scan is of the image it is about.
fn image_of(report: &str) -> &'static str {
    match report {
        "alpine-310.json" | "alpine-310.sarif" => {
            "ghcr.io/aquasecurity/trivy-test-images:alpine-310"
        }
        "debian-buster.json" => DEBIAN,
        "centos-7.json" => "ghcr.io/aquasecurity/trivy-test-images:centos-7",
        // Grype's test image names itself `user-input`.
        _ => "user-input",
    }
}

fn policy(dir: &Path, text: &str) {
    std::fs::write(dir.join("portcullis.toml"), text).unwrap();
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario: threshold, waiver, expiry on the same report
fn trivy_report_fails_the_gate_at_the_threshold_and_waivers_clear_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = data("debian-buster.json");
    // debian-buster has HIGH findings: the default threshold (high) fails.
    policy(d, "[scan]\nfail-on = \"high\"\n");
    let out = run_in(
        d,
        &["scan", DEBIAN, "--report", &report, "--format", "json"],
    );
    assert_exit(&out, 1);
    let r = json(&out);
    let ids: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["vulnerability"]["id"].as_str().unwrap())
        .collect();
    assert!(!ids.is_empty());
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["rule"] == "vulnerability"));
    // Everything scanned stays in the inventory, counted apart from findings.
    assert!(r["scans"][0]["vulnerabilities"].as_array().unwrap().len() >= ids.len());

    // fail-on critical: nothing at critical in this report → passes.
    policy(d, "[scan]\nfail-on = \"critical\"\n");
    let crit = json(&run_in(
        d,
        &["scan", DEBIAN, "--report", &report, "--format", "json"],
    ));
    let severities: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["vulnerability"]["severity"].as_str().unwrap())
        .collect();
    let expected = i64::from(severities.contains(&"critical"));
    assert_eq!(crit["summary"]["errors"].as_i64().unwrap().min(1), expected);

    // Waive every id: passes, and the findings stay visible as waived.
    let mut text = String::from("[scan]\nfail-on = \"high\"\n");
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    let _ = std::fmt::Write::write_fmt(
        &mut text,
        format_args!(
            "[[waiver]]\nids = [{}]\nreason = \"not reachable in our use\"\nexpires = 2099-01-01\n",
            unique
                .iter()
                .map(|i| format!("\"{i}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    policy(d, &text);
    let out = run_in(
        d,
        &["scan", DEBIAN, "--report", &report, "--format", "json"],
    );
    assert_exit(&out, 0);
    let r = json(&out);
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["waived"] == true));
    assert_eq!(r["summary"]["waived"].as_u64().unwrap() as usize, ids.len());

    // The same waiver, expired: the findings come back, plus waiver-expired.
    policy(d, &text.replace("2099-01-01", "2026-01-01"));
    let out = run_in(
        d,
        &["scan", DEBIAN, "--report", &report, "--format", "json"],
    );
    assert_exit(&out, 1);
    let r = json(&out);
    let rules = common::rules(&r);
    assert!(
        rules.contains(&"waiver-expired") && rules.contains(&"vulnerability"),
        "{rules:?}"
    );
}

/// A Trivy report for `alpine:3.10` was accepted as the result for `scan nginx:1.27`.
#[test]
fn a_report_about_another_image_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let report = data("alpine-310.json");
    let out = run_in(
        dir.path(),
        &[
            "scan",
            "nginx:1.27",
            "--report",
            &report,
            "--format",
            "json",
        ],
    );
    assert_exit(&out, 2);
    let r = json(&out);
    let mismatch = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "scan-report-mismatch")
        .expect("a scan-report-mismatch finding");
    let message = mismatch["message"].as_str().unwrap();
    assert!(
        message.contains("trivy-test-images:alpine-310")
            && message.contains("docker.io/library/nginx:1.27"),
        "{message}"
    );
    // The same report for the image it is about passes the input check.
    let out = run_in(
        dir.path(),
        &[
            "scan",
            image_of("alpine-310.json"),
            "--report",
            &report,
            "--format",
            "json",
        ],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    // The human summary says what was read and decided.
    let out = run_in(
        dir.path(),
        &["scan", image_of("alpine-310.json"), "--report", &report],
    );
    let text = stdout(&out);
    assert!(
        text.contains("scanned `ghcr.io/aquasecurity/trivy-test-images:alpine-310` with report `")
            && text.contains("(trivy, ")
            && text.contains("critical")
            && text.contains("fail-on `high`"),
        "{text}"
    );
    assert!(!text.contains("checked 0 files"), "{text}");
}

#[test]
fn vex_suppressed_findings_are_shown_but_do_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    policy(dir.path(), "[scan]\nfail-on = \"low\"\n");
    let out = run_in(
        dir.path(),
        &[
            "scan",
            "app:1",
            "--report",
            &data("npm-with-suppressed.json"),
            "--format",
            "json",
        ],
    );
    let r = json(&out);
    let vulns = r["scans"][0]["vulnerabilities"].as_array().unwrap();
    let suppressed = vulns.iter().filter(|v| v["suppressed_by"] == "vex").count();
    assert!(suppressed > 0, "{vulns:?}");
    let findings = r["findings"].as_array().unwrap().len();
    assert_eq!(findings, vulns.len() - suppressed);
}

#[test]
fn custom_shell_hook_runs_through_the_whole_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let script = d.join("scanner.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"scanning $1\" >&2\njq --arg image \"$1\" '.source.target.userInput = $image' '{}'\nexit 4\n",
            data("grype-image.json")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    policy(
        d,
        &format!(
            "[scan]\nhooks = [\"mine\"]\nfail-on = \"medium\"\n[[scan.hook]]\nname = \"mine\"\ncommand = [\"{}\", \"{{image}}\"]\nformat = \"grype-json\"\ntimeout = \"30s\"\n",
            script.display()
        ),
    );
    let out = run_in(
        d,
        &[
            "scan",
            "registry.example/app:1",
            "--format",
            "json",
            "--predicate-out",
            "vuln.json",
        ],
    );
    // The scanner's own exit code (4) does not decide; the policy does.
    let r = json(&out);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert_eq!(r["scans"][0]["scanners"][0], "grype");
    assert!(!r["scans"][0]["vulnerabilities"]
        .as_array()
        .unwrap()
        .is_empty());
    let predicate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("vuln.json")).unwrap()).unwrap();
    assert!(predicate["scanner"]["result"].is_object(), "{predicate}");
    assert!(predicate["metadata"]["scanStartedOn"].is_string());

    // GitLab container-scanning report with its `scan` block.
    let out = run_in(d, &["scan", "registry.example/app:1", "--format", "gitlab"]);
    let gl = json(&out);
    assert_eq!(gl["scan"]["type"], "container_scanning");
    assert!(gl["version"].as_str().unwrap().starts_with("15."));
    assert!(!gl["vulnerabilities"].as_array().unwrap().is_empty());
}

#[test]
fn a_hanging_hook_is_killed_at_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    policy(d, "[[scan.hook]]\nname = \"slow\"\ncommand = \"sleep 60\"\nformat = \"trivy-json\"\ntimeout = \"1s\"\n");
    let started = std::time::Instant::now();
    let out = run_in(d, &["scan", "app:1", "--hook", "slow"]);
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("`slow`"), "{}", stderr(&out));
}

#[test]
fn garbage_from_a_hook_is_a_clear_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    policy(d, "[[scan.hook]]\nname = \"noisy\"\ncommand = \"echo this is not json\"\nformat = \"trivy-json\"\n");
    let out = run_in(d, &["scan", "app:1", "--hook", "noisy"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("noisy"), "{}", stderr(&out));
    // A missing scanner says how to install it.
    let out = common::portcullis()
        .current_dir(d)
        .env("PATH", "/nonexistent")
        .args(["scan", "app:1", "--hook", "grype"])
        .output()
        .unwrap();
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("grype") && stderr(&out).contains("install"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_hook_and_missing_report_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_exit(&run_in(dir.path(), &["scan", "app:1", "--hook", "nope"]), 2);
    assert_exit(
        &run_in(dir.path(), &["scan", "app:1", "--report", "missing.json"]),
        2,
    );
    assert_exit(&run_in(dir.path(), &["scan", "app:1"]), 2);
}

#[test]
fn every_scan_sarif_validates_against_the_schema() {
    let validator = venv_bin("check-jsonschema");
    assert!(validator.exists(), "run scripts/install-test-deps");
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/schemas/sarif-schema-2.1.0.json");
    let schema = if schema.exists() {
        schema
    } else {
        common::repo_root().join("crates/report/tests/data/sarif-schema-2.1.0.json")
    };
    let dir = tempfile::tempdir().unwrap();
    for (i, report) in [
        "alpine-310.json",
        "debian-buster.json",
        "centos-7.json",
        "grype-image.json",
        "alpine-310.sarif",
        "grype-image.sarif",
    ]
    .iter()
    .enumerate()
    {
        let out_file = format!("out{i}.sarif");
        let out = run_in(
            dir.path(),
            &[
                "scan",
                image_of(report),
                "--report",
                &data(report),
                "--format",
                "sarif",
                "--output",
                &out_file,
            ],
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{report}: {}",
            stderr(&out)
        );
        let check = Command::new(&validator)
            .arg("--schemafile")
            .arg(&schema)
            .arg(dir.path().join(&out_file))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{report}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}

fn layer() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, body) in [
        ("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n"),
        ("lib/apk/db/installed", "P:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\nT:libc\no:musl\n\nP:zlib\nV:1.3.1-r1\nA:x86_64\nL:Zlib\nT:zlib\no:zlib\n\n"),
    ] {
        let mut header = tar::Header::new_ustar();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, body.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn syft_hook_writes_the_sbom_of_an_image_in_a_local_registry() {
    let syft = venv_bin("syft");
    assert!(syft.exists(), "run scripts/install-test-deps");
    let registry = portcullis_testkit::Registry::start(portcullis_testkit::Auth::None).unwrap();
    let spec = portcullis_testkit::ImageSpec::new("linux", "amd64").layers(vec![layer()]);
    let digest = registry.seed_image("acme/tool", "1.0", &spec).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = format!("{}/acme/tool:1.0@{digest}", registry.host());
    let path = format!(
        "{}:{}",
        venv_bin("").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (format, marker) in [("cyclonedx", "bomFormat"), ("spdx", "spdxVersion")] {
        let out = common::portcullis()
            .current_dir(dir.path())
            .env("PATH", &path)
            .args([
                "scan",
                &image,
                "--hook",
                "syft",
                "--sbom-format",
                format,
                "--sbom-out",
                "sbom.json",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert_exit(&out, 0);
        let sbom = std::fs::read_to_string(dir.path().join("sbom.json")).unwrap();
        assert!(
            sbom.contains(marker),
            "{format}: {}",
            &sbom[..sbom.len().min(300)]
        );
        assert!(
            sbom.contains("musl") && sbom.contains("zlib"),
            "{format}: packages missing"
        );
    }
    // Syft really talked to the registry.
    assert!(registry
        .requests()
        .iter()
        .any(|r| r.path.contains("/manifests/")));
}

/// `scan --fail-on LEVEL` and `--only-fixed` override the policy; levels in any case.
#[test]
fn gate_flags_override_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let report = data("debian-buster.json");
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", DEBIAN, "--report", report.as_str(), "-q"];
        args.extend_from_slice(extra);
        run_in(dir.path(), &args).status.code()
    };
    // The report holds one critical and one low finding: the default (high) fails.
    assert_eq!(scan(&[]), Some(1));
    assert_eq!(scan(&["--fail-on", "NONE"]), Some(0));
    policy(dir.path(), "[scan]\nfail-on = \"none\"\n");
    assert_eq!(scan(&[]), Some(0));
    assert_eq!(scan(&["--fail-on", "Critical"]), Some(1));
    let out = run_in(
        dir.path(),
        &["scan", DEBIAN, "--report", &report, "--fail-on", "severe"],
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("`severe`"), "{}", stderr(&out));
}
