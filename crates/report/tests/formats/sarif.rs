//! SARIF 2.1.0: valid against the OASIS schema, and shaped the way GitHub code scanning
//! reads it.

use std::collections::HashSet;

use portcullis_policy::{Finding, Report, Rule, Severity};
use portcullis_report::{render, Format};
use serde_json::Value;

use crate::common::{at, config_text, finding, options, repo, sample, DOCKERFILE};

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
    assert_eq!(results.len(), sample().findings.len());
    let tag_denied = &results[5];
    assert_eq!(tag_denied["ruleId"], "tag-denied");
    assert_eq!(
        tag_denied["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({ "startLine": 3, "startColumn": 6, "endLine": 3, "endColumn": 18 })
    );
    assert!(tag_denied["message"]["text"]
        .as_str()
        .unwrap()
        .contains("help: name a release tag"));

    let waived = &results[6];
    assert_eq!(waived["suppressions"][0]["kind"], "external");
    assert_eq!(
        waived["suppressions"][0]["justification"],
        "internal tool, pinned by the release job"
    );
    assert!(
        results
            .iter()
            .filter(|r| r.get("suppressions").is_some())
            .count()
            == 1
    );

    let fingerprints: HashSet<&str> = results
        .iter()
        .map(|r| r["partialFingerprints"]["portcullis/v1"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprints.len(), results.len(), "fingerprints are unique");
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
    let vulnerability = &results(&value)[0];
    assert_eq!(vulnerability["ruleId"], "vulnerability");
    let location = &vulnerability["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], DOCKERFILE);
    assert_eq!(location["region"]["startLine"], 3);
    assert_eq!(
        vulnerability["properties"]["vulnerability"]["id"],
        "CVE-2024-1234"
    );

    // With no sighting and no cause, the result has no location at all and stays valid.
    let alone = Report {
        findings: vec![Finding {
            image: Some("registry.example.com/app:1".into()),
            ..sample().findings[0].clone()
        }],
        ..Report::default()
    };
    let value = sarif(&alone);
    assert!(results(&value)[0].get("locations").is_none());
}

#[test]
fn a_finding_with_only_a_config_cause_points_at_the_config() {
    let value = sarif(&sample());
    let unused = &results(&value)[1];
    assert_eq!(unused["ruleId"], "waiver-unused");
    assert_eq!(unused["level"], "warning");
    let location = &unused["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "portcullis.toml");
    assert_eq!(location["region"]["startLine"], 5);
}
