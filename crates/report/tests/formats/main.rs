//! Renders hand-built reports in every format and checks each against its contract: insta
//! snapshots for the human and JSON forms of the same findings, the SARIF 2.1.0 schema,
//! GitHub's escaping and size rules, GitLab's report shapes, and random input.

mod common;

mod annotations;
mod copies;
mod gitlab;
mod human_json;
mod json_schema;
mod junit;
mod markdown;
mod robustness;
mod sarif;
