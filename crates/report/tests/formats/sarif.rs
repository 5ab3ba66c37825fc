//! SARIF 2.1.0: valid against the OASIS schema (with the `jsonschema` crate and with
//! `check-jsonschema`), and shaped the way GitHub code scanning reads it: a location on
//! every result, one run per command with its own `automationDetails.id`, one rule per
//! vulnerability id with a `security-severity`, levels by severity.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;

use portcullis_policy::vuln::{ScanResult, SuppressedBy, VulnSeverity};
use portcullis_policy::{Finding, Report, Rule, Severity};
use portcullis_report::{render, scan_run_id, Format, CHECK_RUN_ID};
use serde_json::Value;

use crate::common::{at, config_text, finding, options, repo, sample, vuln, DOCKERFILE};

fn sarif(report: &Report) -> Value {
    let (root, config) = (repo(), config_text());
    let text = render(report, Format::Sarif, &options(&root, &config));
    let value: Value = serde_json::from_str(&text).expect("SARIF is JSON");
    let schema: Value =
        serde_json::from_str(include_str!("../data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}\n{text}");
    value
}

fn results(value: &Value) -> &Vec<Value> {
    value["runs"][0]["results"].as_array().unwrap()
}

fn run_results(value: &Value, run: usize) -> &Vec<Value> {
    value["runs"][run]["results"].as_array().unwrap()
}

fn by_rule<'v>(results: &'v [Value], rule: &str) -> &'v Value {
    results
        .iter()
        .find(|r| r["ruleId"] == rule)
        .unwrap_or_else(|| panic!("no `{rule}` result"))
}

/// Every result of every run has a physical location with an artifact URI.
fn assert_every_result_located(value: &Value) {
    for run in value["runs"].as_array().unwrap() {
        for result in run["results"].as_array().unwrap() {
            let uri = &result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
            assert!(
                uri.as_str().is_some_and(|u| !u.is_empty()),
                "no location: {result}"
            );
        }
    }
}

/// Regression guard for the validator itself: a document the schema must reject.
#[test]
fn the_schema_rejects_a_broken_log() {
    let schema: Value =
        serde_json::from_str(include_str!("../data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let broken = serde_json::json!({ "version": "2.1.0", "runs": [{ "tool": { "driver": {} } }] });
    assert!(!validator.is_valid(&broken));
}

#[test]
fn empty_report_is_valid_and_lists_every_rule() {
    let value = sarif(&Report::default());
    assert_eq!(value["version"], "2.1.0");
    let driver = &value["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "portcullis");
    assert_eq!(driver["version"], "0.1.0");
    assert!(driver["informationUri"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), Rule::all().count());
    for (rule, descriptor) in Rule::all().zip(rules) {
        assert_eq!(descriptor["id"], rule.code());
        assert_eq!(descriptor["shortDescription"]["text"], rule.description());
        let severity: f32 = descriptor["properties"]["security-severity"]
            .as_str()
            .expect("a string")
            .parse()
            .unwrap();
        assert!(
            (severity - rule.security_severity()).abs() < 0.051,
            "{rule:?}"
        );
        assert!(descriptor["defaultConfiguration"]["level"].is_string());
        assert!(!descriptor["properties"]["tags"]
            .as_array()
            .unwrap()
            .is_empty());
    }
    assert!(results(&value).is_empty());
}

#[test]
fn one_finding_of_every_rule_is_valid_and_indexes_its_rule() {
    let findings: Vec<Finding> = Rule::all()
        .enumerate()
        .map(|(i, rule)| Finding {
            location: at(DOCKERFILE, u32::try_from(i).unwrap() + 1, 1, 5),
            image: Some(format!("docker.io/library/img{i}")),
            ..finding(
                rule,
                if i % 3 == 0 {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                "something `x`",
            )
        })
        .collect();
    let value = sarif(&Report {
        findings,
        ..Report::default()
    });
    let rules = value["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    for result in results(&value) {
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], DOCKERFILE);
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    }
    assert_eq!(results(&value)[0]["level"], "warning");
    assert_eq!(results(&value)[1]["level"], "error");
}

#[test]
fn sample_report_regions_suppressions_and_fingerprints() {
    let value = sarif(&sample());
    let results = results(&value);
    // The check's run holds every finding but the scan's vulnerability.
    assert_eq!(results.len(), sample().findings.len() - 1);
    let tag_denied = by_rule(results, "tag-denied");
    assert_eq!(
        tag_denied["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({ "startLine": 3, "startColumn": 6, "endLine": 3, "endColumn": 18 })
    );
    assert!(tag_denied["message"]["text"]
        .as_str()
        .unwrap()
        .contains("help: name a release tag"));

    let waived: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(waived.len(), 1);
    assert_eq!(waived[0]["suppressions"][0]["kind"], "external");
    assert_eq!(
        waived[0]["suppressions"][0]["justification"],
        "internal tool, pinned by the release job"
    );

    for run in value["runs"].as_array().unwrap() {
        let results = run["results"].as_array().unwrap();
        let fingerprints: HashSet<&str> = results
            .iter()
            .map(|r| r["partialFingerprints"]["portcullis/v1"].as_str().unwrap())
            .collect();
        assert_eq!(fingerprints.len(), results.len(), "fingerprints are unique");
    }
    assert_every_result_located(&value);
}

#[test]
fn fingerprints_ignore_line_moves() {
    let moved = {
        let mut report = sample();
        for f in &mut report.findings {
            if let Some(l) = &mut f.location {
                l.line += 7;
                l.end_line += 7;
            }
        }
        report
    };
    let fp = |v: &Value| -> Vec<String> {
        results(v)
            .iter()
            .map(|r| {
                r["partialFingerprints"]["portcullis/v1"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(fp(&sarif(&sample())), fp(&sarif(&moved)));
}

#[test]
fn a_vulnerability_without_location_points_where_the_image_was_seen() {
    let value = sarif(&sample());
    let vulnerability = by_rule(run_results(&value, 1), "CVE-2024-1234");
    let location = &vulnerability["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], DOCKERFILE);
    assert_eq!(location["region"]["startLine"], 3);
    assert_eq!(
        vulnerability["properties"]["vulnerability"]["id"],
        "CVE-2024-1234"
    );
}

/// With no sighting and no cause, the image itself is the artifact (as Trivy does), so
/// GitHub still shows the alert.
#[test]
fn a_result_seen_nowhere_points_at_its_image() {
    let alone = Report {
        findings: vec![Finding {
            image: Some("localhost:5000/app:1".into()),
            ..sample().findings[0].clone()
        }],
        ..Report::default()
    };
    let value = sarif(&alone);
    let location = &results(&value)[0]["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "localhost%3A5000/app%3A1"
    );
    assert_eq!(location["region"]["startLine"], 1);
    assert_every_result_located(&value);
}

#[test]
fn a_finding_with_only_a_config_cause_points_at_the_config() {
    let value = sarif(&sample());
    let unused = by_rule(results(&value), "waiver-unused");
    assert_eq!(unused["level"], "warning");
    let location = &unused["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "portcullis.toml");
    assert_eq!(location["region"]["startLine"], 5);
}

/// A check and a scan uploaded separately must not close each other's alerts: each run
/// has its own category.
#[test]
fn runs_are_split_by_command_with_distinct_automation_ids() {
    let value = sarif(&sample());
    let runs = value["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["automationDetails"]["id"], CHECK_RUN_ID);
    assert_eq!(
        runs[1]["automationDetails"]["id"],
        scan_run_id("docker.io/library/nginx:latest")
    );
    assert_eq!(CHECK_RUN_ID, "portcullis/check/");
    assert_eq!(
        scan_run_id("docker.io/library/nginx:latest"),
        "portcullis/scan/docker.io/library/nginx:latest/"
    );
    // A report of scans only (no files read) has no check run.
    let mut scan_only = sample();
    scan_only.summary.files = 0;
    scan_only.images.clear();
    scan_only
        .findings
        .retain(|f| f.rule == Rule::Vulnerability || f.rule == Rule::WaiverUnused);
    let value = sarif(&scan_only);
    let runs = value["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert!(runs[0]["automationDetails"]["id"]
        .as_str()
        .unwrap()
        .starts_with("portcullis/scan/"));
    // The unused waiver rides with the scan rather than opening a check category.
    by_rule(run_results(&value, 0), "waiver-unused");
    assert_every_result_located(&value);
}

/// Every vulnerability of the inventory is a result (not only the one that fails the gate),
/// under one rule per id, with levels and `security-severity` from its severity and CVSS.
#[test]
fn a_scan_run_lists_every_vulnerability_under_its_own_rule() {
    let value = sarif(&sample());
    let run = &value["runs"][1];
    let results = run["results"].as_array().unwrap();
    let scan = &sample().scans[0];
    assert_eq!(results.len(), scan.vulnerabilities.len());
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for v in &scan.vulnerabilities {
        let result = by_rule(results, &v.id);
        let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
        let rule = &rules[index];
        assert_eq!(rule["id"], v.id.as_str());
        assert!(rule["shortDescription"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty()));
        assert!(rule["helpUri"].as_str().unwrap().starts_with("https://"));
        assert_eq!(
            rule["properties"]["security-severity"], "7.5",
            "the CVSS score"
        );
        let level = match v.severity {
            VulnSeverity::Critical | VulnSeverity::High => "error",
            VulnSeverity::Medium => "warning",
            _ => "note",
        };
        assert_eq!(result["level"], level, "{}", v.id);
        assert_eq!(
            result.get("suppressions").is_some(),
            v.suppressed_by.is_some(),
            "{}",
            v.id
        );
    }
    let ids: HashSet<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rules.len(), "one rule per id");
    let vex = by_rule(results, "CVE-2023-0002");
    assert!(vex["suppressions"][0]["justification"]
        .as_str()
        .unwrap()
        .starts_with("VEX"));
    // The failing one keeps its finding's message and help.
    let failing = by_rule(results, "CVE-2024-1234");
    assert!(failing["message"]["text"]
        .as_str()
        .unwrap()
        .contains("help: rebuild"));
    assert_eq!(
        rules.iter().find(|r| r["id"] == "CVE-2024-1234").unwrap()["helpUri"],
        "https://avd.aquasec.com/nvd/cve-2024-1234"
    );
}

#[test]
fn vulnerability_rules_rate_by_severity_without_a_score() {
    let mut unscored = vuln("CVE-2025-0001", "zlib", VulnSeverity::Critical, &[]);
    unscored.cvss = None;
    let mut low = vuln("CVE-2025-0002", "bash", VulnSeverity::Low, &[]);
    low.cvss = None;
    low.suppressed_by = Some(SuppressedBy::Waiver);
    let report = Report {
        scans: vec![ScanResult {
            image: "ghcr.io/acme/app:1".into(),
            vulnerabilities: vec![unscored, low],
            ..ScanResult::default()
        }],
        ..Report::default()
    };
    let value = sarif(&report);
    let rules = value["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let rule = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(
        rule("CVE-2025-0001")["properties"]["security-severity"],
        "9.5"
    );
    assert_eq!(
        rule("CVE-2025-0001")["defaultConfiguration"]["level"],
        "error"
    );
    assert_eq!(
        rule("CVE-2025-0002")["properties"]["security-severity"],
        "3.0"
    );
    assert_eq!(
        rule("CVE-2025-0002")["defaultConfiguration"]["level"],
        "note"
    );
    // Scanned by name only: the image is the artifact.
    let location = &run_results(&value, 0)[0]["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "ghcr.io/acme/app%3A1");
}

/// `check-jsonschema`, the validator CI pipelines use, accepts what the crate renders.
#[test]
fn check_jsonschema_accepts_the_sample() {
    let validator =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/check-jsonschema");
    assert!(validator.exists(), "run scripts/install-test-deps");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.sarif");
    let (root, config) = (repo(), config_text());
    std::fs::write(
        &file,
        render(&sample(), Format::Sarif, &options(&root, &config)),
    )
    .unwrap();
    let schema =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let out = Command::new(&validator)
        .arg("--schemafile")
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
