//! The JSON report, version 1 (DESIGN.md "JSON report"): the machine contract that scripts,
//! the fork-safe two-stage comment workflow and other tools read. Keys come out in the
//! documented order, every documented key is always present (`null` when unknown), and
//! `scans` appears only when images were scanned.

use portcullis_policy::vuln::{ScanResult, VulnerabilityFinding};
use portcullis_policy::{AppliedWaiver, Failure, Finding, ImageEntry, Report, Summary};
use serde::Serialize;

use crate::{code, severity_name, RenderOptions, TOOL_NAME};

/// The contract's version; bump only with a breaking change.
pub(crate) const VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    tool: Tool<'a>,
    findings: Vec<JsonFinding<'a>>,
    images: &'a [ImageEntry],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    scans: &'a [ScanResult],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    failures: &'a [Failure],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    policies: &'a [String],
    summary: &'a Summary,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'static str,
    severity: &'static str,
    message: &'a str,
    help: Option<&'a str>,
    image: Option<&'a str>,
    file: Option<&'a str>,
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
    context: Option<&'static str>,
    waived: bool,
    /// The waiver that applied: reason, expiry and where it is declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    waiver: Option<JsonWaiver<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vulnerability: Option<&'a VulnerabilityFinding>,
}

#[derive(Serialize)]
struct JsonWaiver<'a> {
    reason: &'a str,
    /// `null` for an inline waiver without `until`.
    expires: Option<String>,
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
            rule: code(finding.rule),
            severity: severity_name(finding.severity),
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
    let mut out = serde_json::to_string_pretty(&document(report, options))
        .expect("the report types serialize to JSON without fail");
    out.push('\n');
    out
}
