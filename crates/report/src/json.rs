//! The JSON report, version 1 (DESIGN.md "JSON report"): the machine contract that scripts,
//! the fork-safe two-stage comment workflow and other tools read. Keys come out in the
//! documented order, every documented key is always present (`null` when unknown), and
//! `scans` appears only when images were scanned. The JSON schema of the contract is
//! generated from these same types ([`crate::json_schema`], committed as
//! `schemas/report-v1.schema.json`).

use portcullis_policy::vuln::{ScanResult, VulnerabilityFinding};
use portcullis_policy::{
    AppliedWaiver, ContextSchema, Failure, Finding, ImageEntry, Report, Rule, Severity, Summary,
};
use schemars::JsonSchema;
use serde::Serialize;

use crate::{RenderOptions, TOOL_NAME};

/// The contract's version; bump only with a breaking change.
pub(crate) const VERSION: u32 = 1;

/// A portcullis report (`--format json`), version 1.
#[derive(Serialize, JsonSchema)]
#[schemars(title = "portcullis report", deny_unknown_fields)]
pub(crate) struct Document<'a> {
    /// The contract's version: 1.
    version: u32,
    tool: Tool<'a>,
    /// Sorted by file, line, column, rule; findings without a file last.
    findings: Vec<JsonFinding<'a>>,
    /// Every image reference seen.
    images: &'a [ImageEntry],
    /// The scanned images: every vulnerability found and the gate's decision (only when
    /// images were scanned).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(default)]
    scans: &'a [ScanResult],
    /// What kept the command from finishing (exit 3).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(default)]
    failures: &'a [Failure],
    /// The policy files that applied.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(default)]
    policies: &'a [String],
    summary: &'a Summary,
}

/// The tool that wrote the report.
#[derive(Serialize, JsonSchema)]
struct Tool<'a> {
    /// `portcullis`.
    name: &'a str,
    version: &'a str,
}

/// One diagnostic.
#[derive(Serialize, JsonSchema)]
struct JsonFinding<'a> {
    rule: Rule,
    severity: Severity,
    /// Names the offending value in backticks.
    message: &'a str,
    /// The command or edit that fixes it.
    help: Option<&'a str>,
    /// The normalized image.
    image: Option<&'a str>,
    /// Relative to the repository root, `/`-separated.
    file: Option<&'a str>,
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
    #[schemars(with = "Option<ContextSchema>")]
    context: Option<&'static str>,
    /// Whether a waiver covers it (then it does not count).
    waived: bool,
    /// The waiver that applied: reason, expiry and where it is declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    waiver: Option<JsonWaiver<'a>>,
    /// A `vulnerability` finding's vulnerability.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    vulnerability: Option<&'a VulnerabilityFinding>,
}

/// The waiver behind a waived finding.
#[derive(Serialize, JsonSchema)]
struct JsonWaiver<'a> {
    /// Why the exception exists.
    reason: &'a str,
    /// Last day it applies, `YYYY-MM-DD`; `null` for an inline waiver without `until`.
    expires: Option<String>,
    /// Where it is declared: a policy file's `[[waiver]]`, or the file of an inline waiver.
    file: Option<&'a str>,
    line: Option<u32>,
}

impl<'a> JsonWaiver<'a> {
    fn new(waiver: &'a AppliedWaiver) -> Self {
        JsonWaiver {
            reason: &waiver.reason,
            expires: waiver.expires.map(|date| date.to_string()),
            file: waiver.declared.as_ref().map(|l| l.file.as_str()),
            line: waiver.declared.as_ref().map(|l| l.line),
        }
    }
}

impl<'a> JsonFinding<'a> {
    fn new(finding: &'a Finding) -> Self {
        let location = finding.location.as_ref();
        JsonFinding {
            rule: finding.rule,
            severity: finding.severity,
            message: &finding.message,
            help: finding.help.as_deref(),
            image: finding.image.as_deref(),
            file: location.map(|l| l.file.as_str()),
            line: location.map(|l| l.line),
            column: location.map(|l| l.column),
            end_line: location.map(|l| l.end_line),
            end_column: location.map(|l| l.end_column),
            context: finding.context.map(portcullis_policy::Context::as_str),
            waived: finding.waived,
            waiver: finding.waiver.as_ref().map(JsonWaiver::new),
            vulnerability: finding.vulnerability(),
        }
    }
}

fn document<'a>(report: &'a Report, options: &RenderOptions<'a>) -> Document<'a> {
    Document {
        version: VERSION,
        tool: Tool {
            name: TOOL_NAME,
            version: options.version,
        },
        findings: report.findings.iter().map(JsonFinding::new).collect(),
        images: &report.images,
        scans: &report.scans,
        failures: &report.failures,
        policies: &report.policies,
        summary: &report.summary,
    }
}

/// Pretty-printed, newline-terminated. Serialized straight from the report (no intermediate
/// `Value` tree: a large monorepo's report is tens of thousands of findings).
pub(crate) fn render(report: &Report, options: &RenderOptions<'_>) -> String {
    // Sized up front (about 400 bytes a finding or image, pretty-printed): growing a
    // buffer of tens of megabytes by doubling copies it over and over.
    let estimate = 4096 + 400 * (report.findings.len() + report.images.len());
    let mut out = Vec::with_capacity(estimate);
    serde_json::to_writer_pretty(&mut out, &document(report, options))
        .expect("the report types serialize to JSON without fail");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}
