//! What CI systems read, from the built binary on real inputs: the example repository's
//! `check` and real Trivy and Grype reports through `scan`, each output validated by the
//! tool CI pipelines use (`check-jsonschema` against the JSON report's committed schema,
//! SARIF 2.1.0 and GitLab's container-scanning schema; `xmllint` against `junit-10.xsd`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run_in, stderr};

fn venv_bin(name: &str) -> PathBuf {
    common::repo_root().join(".venv/bin").join(name)
}

fn schema(name: &str) -> PathBuf {
    let root = common::repo_root();
    match name {
        "report" => root.join("schemas/report-v1.schema.json"),
        other => root.join("crates/report/tests/data").join(other),
    }
}

fn validate_json(schema_file: &Path, file: &Path) {
    let validator = venv_bin("check-jsonschema");
    assert!(validator.exists(), "run scripts/install-test-deps");
    let out = Command::new(&validator)
        .arg("--schemafile")
        .arg(schema_file)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn validate_junit(file: &Path) {
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema("junit-10.xsd"))
        .arg(file)
        .output()
        .expect("xmllint (scripts/install-test-deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_json(file: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// Every SARIF result of every run has a physical location; returns the runs' ids.
fn sarif_runs(file: &Path) -> Vec<String> {
    let sarif = read_json(file);
    let mut ids = Vec::new();
    for run in sarif["runs"].as_array().unwrap() {
        for result in run["results"].as_array().unwrap() {
            let uri = &result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
            assert!(uri.is_string(), "a result without a location: {result}");
        }
        ids.push(run["automationDetails"]["id"].as_str().unwrap().to_owned());
    }
    ids
}

#[test]
fn check_of_the_example_repository_validates_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path();
    let monorepo = common::repo_root().join("examples/monorepo");
    let arg = |format: &str, file: &str| format!("{format}={}", out_dir.join(file).display());
    let out = run_in(
        &monorepo,
        &[
            "check",
            "-f",
            &arg("json", "r.json"),
            "-f",
            &arg("sarif", "r.sarif"),
            "-f",
            &arg("junit", "r.xml"),
        ],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    validate_json(&schema("report"), &out_dir.join("r.json"));
    validate_json(&schema("sarif-schema-2.1.0.json"), &out_dir.join("r.sarif"));
    assert_eq!(sarif_runs(&out_dir.join("r.sarif")), ["portcullis/check/"]);
    validate_junit(&out_dir.join("r.xml"));
}

/// Real scanner reports, with the Dockerfile that names the image: every output validates,
/// SARIF results point at the `FROM` line, and GitLab gets the OS and CVSS vectors.
#[test]
fn scans_of_real_reports_validate_everywhere() {
    for (report, image, os) in [
        (
            "debian-buster.json",
            "ghcr.io/aquasecurity/trivy-test-images:debian-buster",
            "debian 10.1",
        ),
        ("grype-image.json", "user-input", "centos 8.0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("Dockerfile"), format!("# base\nFROM {image}\n")).unwrap();
        let fixture = common::repo_root()
            .join("crates/scan/tests/data")
            .join(report);
        let out = run_in(
            d,
            &[
                "scan",
                image,
                "--report",
                fixture.to_str().unwrap(),
                "--dockerfile",
                "Dockerfile",
                "-f",
                "json=r.json",
                "-f",
                "sarif=r.sarif",
                "-f",
                "junit=r.xml",
                "-f",
                "gitlab=gl.json",
            ],
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{report}: {}",
            stderr(&out)
        );
        validate_json(&schema("report"), &d.join("r.json"));
        validate_json(&schema("sarif-schema-2.1.0.json"), &d.join("r.sarif"));
        validate_json(
            &schema("container-scanning-report-format-15.0.7.json"),
            &d.join("gl.json"),
        );
        validate_junit(&d.join("r.xml"));

        let json = read_json(&d.join("r.json"));
        let inventory = json["scans"][0]["vulnerabilities"]
            .as_array()
            .unwrap()
            .len();
        let sarif = read_json(&d.join("r.sarif"));
        let runs = sarif["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{report}");
        assert!(runs[0]["automationDetails"]["id"]
            .as_str()
            .unwrap()
            .starts_with("portcullis/scan/"));
        let results = runs[0]["results"].as_array().unwrap();
        let vulnerabilities = results
            .iter()
            .filter(|r| r["ruleId"] != "waiver-unused")
            .count();
        assert_eq!(
            vulnerabilities, inventory,
            "{report}: every vulnerability is a result"
        );
        for result in results {
            let location = &result["locations"][0]["physicalLocation"];
            assert_eq!(
                location["artifactLocation"]["uri"], "Dockerfile",
                "{report}"
            );
            assert_eq!(location["region"]["startLine"], 2, "{report}");
        }
        let gitlab = read_json(&d.join("gl.json"));
        let entries = gitlab["vulnerabilities"].as_array().unwrap();
        assert!(!entries.is_empty());
        assert!(
            entries
                .iter()
                .all(|v| v["location"]["operating_system"] == os),
            "{report}"
        );
        assert!(
            entries.iter().any(|v| v["cvss_vectors"].is_array()),
            "{report}: CVSS vectors carried"
        );
    }
}

#[test]
fn a_missing_dockerfile_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = common::repo_root().join("crates/scan/tests/data/debian-buster.json");
    let out = run_in(
        dir.path(),
        &[
            "scan",
            "ghcr.io/aquasecurity/trivy-test-images:debian-buster",
            "--report",
            fixture.to_str().unwrap(),
            "--dockerfile",
            "nope/Dockerfile",
        ],
    );
    common::assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("`--dockerfile nope/Dockerfile`"),
        "{}",
        stderr(&out)
    );
}
