//! The JSON report's schema: the committed `schemas/report-v1.schema.json` is the one the
//! types generate, and what the JSON renderer writes validates against it. Regenerate with
//! `UPDATE_SCHEMAS=1 cargo test -p portcullis-report --test formats json_schema`.

use std::path::PathBuf;

use portcullis_policy::Report;
use portcullis_report::{json_schema, render, Format};
use serde_json::Value;

use crate::common::{config_text, options, repo, sample};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/report-v1.schema.json")
}

fn json(report: &Report) -> Value {
    let (root, config) = (repo(), config_text());
    serde_json::from_str(&render(report, Format::Json, &options(&root, &config))).unwrap()
}

fn errors(schema: &Value, value: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("the schema compiles");
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
    let path = committed_path();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "`schemas/report-v1.schema.json` is stale: run `UPDATE_SCHEMAS=1 cargo test -p portcullis-report --test formats json_schema`"
    );
}

#[test]
fn rendered_reports_validate_and_the_schema_is_strict() {
    let schema = json_schema();
    for report in [sample(), Report::default()] {
        let value = json(&report);
        let errors = errors(&schema, &value);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The schema is not a blank cheque: an unknown top-level key, a rule that is not one,
    // and a missing summary are refused.
    let mut value = json(&sample());
    value["surprise"] = serde_json::json!(1);
    assert!(!errors(&schema, &value).is_empty());
    let mut value = json(&sample());
    value["findings"][0]["rule"] = serde_json::json!("no-such-rule");
    assert!(!errors(&schema, &value).is_empty());
    let mut value = json(&sample());
    value.as_object_mut().unwrap().remove("summary");
    assert!(!errors(&schema, &value).is_empty());
}

#[test]
fn waived_findings_name_their_waiver_and_vex_is_counted() {
    let mut report = sample();
    report.summary.suppressed_by_vex = 1;
    let value = json(&report);
    let waived: Vec<&Value> = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["waived"] == true)
        .collect();
    assert_eq!(waived.len(), 1);
    assert_eq!(
        waived[0]["waiver"],
        serde_json::json!({ "reason": "internal tool, pinned by the release job", "expires": "2099-01-01", "file": "portcullis.toml", "line": 5 })
    );
    assert_eq!(value["summary"]["suppressed_by_vex"], 1);
    let schema = json_schema();
    let described = &schema["definitions"]["Summary"]["properties"]["suppressed_by_vex"];
    assert!(described.is_object(), "{schema:#}");
}
