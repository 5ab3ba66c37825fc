//! The JSON schema of the JSON report (version 1), generated from the types the JSON
//! renderer serializes, so the committed `schemas/report-v1.schema.json` cannot drift from
//! what `--format json` writes (a test compares them).

use crate::json::Document;

/// The JSON schema (draft-07) of `--format json`.
#[must_use]
pub fn json_schema() -> serde_json::Value {
    let settings = schemars::gen::SchemaSettings::draft07().with(|s| {
        s.option_add_null_type = true;
        s.option_nullable = false;
    });
    let schema = settings
        .into_generator()
        .into_root_schema_for::<Document<'static>>();
    let mut value = serde_json::to_value(schema).expect("a schema serializes");
    value["$id"] = serde_json::json!(
        "https://github.com/portcullis-dev/portcullis/schemas/report-v1.schema.json"
    );
    value
}
