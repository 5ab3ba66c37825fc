//! The JSON report, version 1 (DESIGN.md "JSON report"): the machine contract that scripts,
//! the fork-safe two-stage comment workflow and other tools read. Keys come out in the
//! documented order, every documented key is always present (`null` when unknown), and
//! `scans` appears only when images were scanned.

use portcullis_policy::vuln::{ScanResult, VulnerabilityFinding};
use portcullis_policy::{Finding, ImageEntry, Report, Summary};
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
    context: Option<&'a str>,
    waived: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    vulnerability: Option<&'a VulnerabilityFinding>,
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
            context: finding.context.as_deref(),
            waived: finding.waived,
            vulnerability: finding.vulnerability.as_ref(),
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
