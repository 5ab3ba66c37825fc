//! GitLab reports: the container-scanning report validates against GitLab's own schema
//! (15.0.7) and carries the image's OS and the CVSS vectors; the code-quality report's
//! required fields are asserted one by one.

use std::collections::HashSet;

use portcullis_policy::vuln::{CvssVector, ScanResult, VulnSeverity};
use portcullis_policy::Report;
use portcullis_report::{gitlab_codequality, gitlab_container_scanning, render, Format};
use serde_json::Value;

use crate::common::{config_text, options, repo, sample, vuln, DOCKERFILE};

fn container_scanning(report: &Report) -> Value {
    let (root, config) = (repo(), config_text());
    let now: jiff::Timestamp = "2026-09-01T10:01:10Z".parse().unwrap();
    let value: Value = serde_json::from_str(&gitlab_container_scanning(
        report,
        &options(&root, &config),
        now,
    ))
    .unwrap();
    let schema: Value = serde_json::from_str(include_str!(
        "../data/container-scanning-report-format-15.0.7.json"
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}\n{value:#}");
    value
}

fn vector(source: &str, version: &str, vector: &str) -> CvssVector {
    CvssVector {
        source: source.into(),
        version: Some(version.into()),
        vector: vector.into(),
    }
}

/// The OS and the CVSS vectors come from the scanner's report; vectors GitLab's schema
/// cannot carry (v4.0, garbage) are left out rather than failing the upload.
#[test]
fn container_scanning_carries_the_os_and_cvss_vectors() {
    let mut v = vuln(
        "CVE-2019-1549",
        "libssl1.1",
        VulnSeverity::Medium,
        &["1.1.1d-r0"],
    );
    v.operating_system = Some("alpine 3.10.2".into());
    v.cvss_vectors = vec![
        vector("nvd", "3.1", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"),
        vector("nvd", "2.0", "AV:N/AC:M/Au:N/C:P/I:N/A:N"),
        vector(
            "ghsa",
            "4.0",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
        ),
        vector("redhat", "3.1", "not a vector"),
    ];
    let plain = vuln("CVE-2020-0001", "musl", VulnSeverity::Negligible, &[]);
    let report = Report {
        scans: vec![ScanResult {
            image: "docker.io/library/alpine:3.10".into(),
            scanners: vec!["trivy".into()],
            vulnerabilities: vec![v, plain],
            ..ScanResult::default()
        }],
        ..Report::default()
    };
    let doc = container_scanning(&report);
    let first = &doc["vulnerabilities"][0];
    assert_eq!(first["location"]["operating_system"], "alpine 3.10.2");
    assert_eq!(
        first["cvss_vectors"],
        serde_json::json!([
            { "vendor": "nvd", "vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N" },
            { "vendor": "nvd", "vector": "AV:N/AC:M/Au:N/C:P/I:N/A:N" },
        ])
    );
    let second = &doc["vulnerabilities"][1];
    assert_eq!(second["location"]["operating_system"], "unknown");
    assert!(
        second.get("cvss_vectors").is_none(),
        "no empty array (minItems 1)"
    );
    assert_eq!(second["severity"], "Info");
}

#[test]
fn container_scanning_has_the_required_shape() {
    let doc = container_scanning(&sample());
    assert_eq!(doc["version"], "15.0.7");
    assert!(doc["schema"]
        .as_str()
        .unwrap()
        .contains("v15.0.7/dist/container-scanning-report-format.json"));
    let scan = &doc["scan"];
    assert_eq!(scan["type"], "container_scanning");
    assert_eq!(scan["status"], "success");
    assert_eq!(scan["start_time"], "2026-09-01T10:01:10");
    assert_eq!(scan["end_time"], "2026-09-01T10:01:10");
    for who in ["analyzer", "scanner"] {
        for key in ["id", "name", "version"] {
            assert!(scan[who][key].is_string(), "scan.{who}.{key}");
        }
        assert!(scan[who]["vendor"]["name"].is_string());
    }
    assert_eq!(scan["analyzer"]["id"], "portcullis");
    assert_eq!(scan["scanner"]["id"], "trivy");
    assert_eq!(scan["scanner"]["vendor"]["name"], "Aqua Security");

    let vulnerabilities = doc["vulnerabilities"].as_array().unwrap();
    // The VEX `not_affected` one is left out; the waived one stays.
    let names: Vec<&str> = vulnerabilities
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "CVE-2024-1234 in openssl",
            "CVE-2023-0001 in zlib",
            "CVE-2022-0003 in bash"
        ]
    );
    let ids: HashSet<&str> = vulnerabilities
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    for v in vulnerabilities {
        assert_eq!(v["id"].as_str().unwrap().len(), 36, "UUID-shaped");
        for key in ["name", "description", "severity", "solution"] {
            assert!(v[key].is_string(), "{key} in {v}");
        }
        assert!(["Critical", "High", "Medium", "Low", "Info", "Unknown"]
            .contains(&v["severity"].as_str().unwrap()));
        assert!(!v["identifiers"].as_array().unwrap().is_empty());
        let location = &v["location"];
        assert!(location["dependency"]["package"]["name"].is_string());
        assert!(location["dependency"]["version"].is_string());
        assert!(location["operating_system"].is_string());
        assert_eq!(location["image"], "docker.io/library/nginx:latest");
    }
    let openssl = &vulnerabilities[0];
    assert_eq!(openssl["severity"], "High");
    assert_eq!(openssl["solution"], "Upgrade `openssl` to 3.0.14-1.");
    assert_eq!(
        openssl["identifiers"][0],
        serde_json::json!({ "type": "cve", "name": "CVE-2024-1234", "value": "CVE-2024-1234", "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-1234" })
    );
    assert_eq!(openssl["identifiers"][1]["type"], "ghsa");
    assert_eq!(
        openssl["links"][0]["url"],
        "https://avd.aquasec.com/nvd/cve-2024-1234"
    );
    assert_eq!(vulnerabilities[1]["severity"], "Critical");
}

#[test]
fn container_scanning_ids_are_stable_across_runs() {
    let a = container_scanning(&sample());
    let b = container_scanning(&sample());
    assert_eq!(a["vulnerabilities"], b["vulnerabilities"]);
}

#[test]
fn container_scanning_without_scans_is_an_empty_valid_shape() {
    let doc = container_scanning(&Report::default());
    assert_eq!(doc["vulnerabilities"], serde_json::json!([]));
    assert_eq!(doc["scan"]["scanner"]["id"], "portcullis");
}

#[test]
fn codequality_issues_for_findings_in_files() {
    let issues: Value = serde_json::from_str(&gitlab_codequality(&sample())).unwrap();
    let issues = issues.as_array().unwrap();
    // Every unwaived finding with a place: all but the waived one and the config-only
    // `waiver-unused`; the vulnerability is placed where its image was seen.
    assert_eq!(issues.len(), 7);
    let fingerprints: HashSet<&str> = issues
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprints.len(), issues.len());
    for issue in issues {
        assert!(issue["description"].is_string());
        assert!(issue["check_name"]
            .as_str()
            .unwrap()
            .starts_with("portcullis/"));
        assert!(["info", "minor", "major", "critical", "blocker"]
            .contains(&issue["severity"].as_str().unwrap()));
        assert!(issue["location"]["path"].is_string());
        assert!(issue["location"]["lines"]["begin"].as_u64().unwrap() >= 1);
    }
    let vulnerability = issues
        .iter()
        .find(|i| i["check_name"] == "portcullis/vulnerability")
        .unwrap();
    assert_eq!(vulnerability["location"]["path"], DOCKERFILE);
    assert_eq!(vulnerability["severity"], "major");
    // The same through `render`.
    let (root, config) = (repo(), config_text());
    let rendered: Value = serde_json::from_str(&render(
        &sample(),
        Format::GitlabCodequality,
        &options(&root, &config),
    ))
    .unwrap();
    assert_eq!(rendered.as_array().unwrap().len(), 7);
}
