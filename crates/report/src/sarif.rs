//! SARIF 2.1.0 for GitHub code scanning (and any other SARIF viewer). Every portcullis rule
//! is described in `tool.driver.rules` with its `security-severity`, so GitHub ranks alerts
//! by it rather than by `level` alone; waived findings are kept as results with an external
//! suppression, so the alert closes instead of vanishing.
//!
//! One run per command (see [`crate::parts`]), each with its own `automationDetails.id`
//! (`portcullis/check/`, `portcullis/scan/<image>/`), so a scan upload never closes the
//! check's alerts nor another image's. A scan run lists every vulnerability of the image,
//! not only those that fail the gate, as Trivy and Grype do: one rule per vulnerability id
//! (`shortDescription`, `helpUri`, `security-severity` from the CVSS score), results at a
//! level from the severity (critical and high `error`, medium `warning`, the rest `note`),
//! VEX- and waiver-suppressed ones with a suppression.
//!
//! Locations: GitHub shows an alert only when the result has a physical location, so every
//! result has one: its own, else where the report saw its image (`report.images`: a
//! checked reference, or `scan --dockerfile`), else the config entry that caused it, else
//! the image itself as the artifact (as Trivy does for an image scanned by name), else the
//! first line of the policy file that judged the run.

use std::fmt::Write as _;

use portcullis_policy::{Finding, Report, Rule};
use serde_json::{json, Map, Value};

use crate::fingerprint::fingerprints;
use crate::{code, severity_name, waiver_reason, RenderOptions, HOMEPAGE, TOOL_NAME};

/// The schema URL GitHub and `SchemaStore` use for 2.1.0.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key under `partialFingerprints`; versioned so the recipe can change without
/// colliding with old alerts.
pub(crate) const FINGERPRINT_KEY: &str = "portcullis/v1";

/// The level a rule has when the policy does not say otherwise.
fn default_level(rule: Rule) -> &'static str {
    match rule {
        Rule::WaiverUnused | Rule::ImageStale => "warning",
        _ => "error",
    }
}

/// `digest-not-pinned` → `DigestNotPinned`, SARIF's readable rule name.
fn pascal_case(code: &str) -> String {
    code.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// Tags GitHub shows beside an alert (at most 20 per rule).
fn tags(rule: Rule) -> Vec<&'static str> {
    let family = match rule {
        Rule::Vulnerability => "vulnerability",
        Rule::SignatureMissing | Rule::SignatureInvalid => "signature",
        Rule::WaiverExpired | Rule::WaiverUnused => "policy",
        _ => "container-image",
    };
    vec!["security", "supply-chain", family]
}

pub(crate) fn rule_descriptor(rule: Rule) -> Value {
    let description = rule.description();
    json!({
        "id": code(rule),
        "name": pascal_case(code(rule)),
        "shortDescription": { "text": description },
        "fullDescription": { "text": description },
        "help": {
            "text": format!("{description}\nEach result's message names the value at fault and the command or edit that fixes it."),
            "markdown": format!("{description}\n\nEach result's message names the value at fault and the command or edit that fixes it. Rules: [{HOMEPAGE}]({HOMEPAGE}#rules)."),
        },
        "helpUri": format!("{HOMEPAGE}#rules"),
        "defaultConfiguration": { "level": default_level(rule) },
        "properties": {
            "security-severity": format!("{:.1}", rule.security_severity().clamp(0.0, 10.0)),
            "tags": tags(rule),
            "precision": "very-high",
        },
    })
}

/// Percent-encodes a relative path for `artifactLocation.uri` (a URI reference), keeping `/`.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.replace('\\', "/").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

pub(crate) fn physical_location(file: &str, region: &Value) -> Value {
    json!({ "physicalLocation": {
        "artifactLocation": { "uri": uri_path(file), "uriBaseId": "%SRCROOT%" },
        "region": region,
    }})
}

/// The result's location, following the order the module documentation gives.
fn location(finding: &Finding, report: &Report) -> Option<Value> {
    if let Some(l) = &finding.location {
        let line = l.line.max(1);
        let column = l.column.max(1);
        // An empty or inverted span still marks its start.
        let (end_line, end_column) = if (l.end_line, l.end_column) > (line, column) {
            (l.end_line, l.end_column)
        } else {
            (line, column + 1)
        };
        return Some(physical_location(
            &l.file,
            &json!({ "startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column }),
        ));
    }
    if let Some(seen) = finding
        .image
        .as_ref()
        .and_then(|image| crate::parts::sighting(report, image))
    {
        return Some(physical_location(
            &seen.file,
            &json!({ "startLine": seen.line.max(1) }),
        ));
    }
    let from_cause = finding
        .cause
        .as_ref()
        .filter(|site| !site.file.is_empty() && !std::path::Path::new(&site.file).is_absolute())
        .map(|site| {
            physical_location(
                &site.file,
                &json!({ "startLine": site.line.max(1), "startColumn": site.column.max(1) }),
            )
        });
    from_cause
        .or_else(|| finding.image.as_deref().map(image_location))
        .or_else(|| {
            // Nothing else to point at: the policy file that judged the run.
            report
                .policies
                .iter()
                .find(|p| !p.starts_with('<') && !std::path::Path::new(p.as_str()).is_absolute())
                .map(|policy| physical_location(policy, &json!({ "startLine": 1 })))
        })
}

/// The image itself as the artifact, for a result with no place in a file.
fn image_location(image: &str) -> Value {
    json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri_path(image) },
            "region": { "startLine": 1 },
        },
        "message": { "text": image },
    })
}

/// Where a scanned image's results point: where the report saw the image, else the image.
pub(crate) fn scan_location(report: &Report, image: &str) -> Value {
    match crate::parts::sighting(report, image) {
        Some(seen) => physical_location(&seen.file, &json!({ "startLine": seen.line.max(1) })),
        None => image_location(image),
    }
}

fn message_text(finding: &Finding) -> String {
    let mut text = finding.message.clone();
    if let Some(help) = &finding.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    text
}

pub(crate) fn result(finding: &Finding, report: &Report, fingerprint: &str) -> Value {
    let rule_index = Rule::all()
        .position(|r| r == finding.rule)
        .unwrap_or_default();
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(code(finding.rule)));
    result.insert("ruleIndex".into(), json!(rule_index));
    result.insert("level".into(), json!(severity_name(finding.severity)));
    result.insert("message".into(), json!({ "text": message_text(finding) }));
    if let Some(location) = location(finding, report) {
        result.insert("locations".into(), json!([location]));
    }
    result.insert(
        "partialFingerprints".into(),
        json!({ FINGERPRINT_KEY: fingerprint }),
    );
    if finding.waived {
        let mut suppression = json!({ "kind": "external", "status": "accepted" });
        if let Some(reason) = waiver_reason(finding) {
            suppression["justification"] = json!(reason);
        }
        result.insert("suppressions".into(), json!([suppression]));
    }
    let mut properties = Map::new();
    if let Some(image) = &finding.image {
        properties.insert("image".into(), json!(image));
    }
    if let Some(context) = &finding.context {
        properties.insert("context".into(), json!(context));
    }
    if let Some(v) = finding.vulnerability() {
        properties.insert("vulnerability".into(), json!(v));
    }
    if !properties.is_empty() {
        result.insert("properties".into(), Value::Object(properties));
    }
    Value::Object(result)
}

fn run(id: &str, rules: Vec<Value>, results: Vec<Value>, options: &RenderOptions<'_>) -> Value {
    json!({
        "tool": { "driver": {
            "name": TOOL_NAME,
            "informationUri": HOMEPAGE,
            "version": options.version,
            "semanticVersion": options.version,
            "rules": Value::Array(rules),
        }},
        "automationDetails": { "id": id },
        "columnKind": "unicodeCodePoints",
        "results": Value::Array(results),
    })
}

/// The `automationDetails.id` of the check's run.
pub const CHECK_RUN_ID: &str = "portcullis/check/";

/// The `automationDetails.id` of a scan's run: `portcullis/scan/<image>/`.
#[must_use]
pub fn scan_run_id(image: &str) -> String {
    format!("portcullis/scan/{image}/")
}

/// The SARIF log as a value.
pub(crate) fn to_value(report: &Report, options: &RenderOptions<'_>) -> Value {
    let fingerprints = fingerprints(report);
    let parts = crate::parts::split(report);
    let mut runs = Vec::new();
    if let Some(check) = &parts.check {
        let results = check
            .iter()
            .map(|&i| result(&report.findings[i], report, &fingerprints[i]))
            .collect();
        runs.push(run(
            CHECK_RUN_ID,
            Rule::all().map(rule_descriptor).collect(),
            results,
            options,
        ));
    }
    for part in &parts.scans {
        let (rules, results) = crate::sarif_scan::scan_run(report, part, &fingerprints);
        runs.push(run(&scan_run_id(&part.scan.image), rules, results, options));
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": runs,
    })
}

pub(crate) fn render(report: &Report, options: &RenderOptions<'_>) -> String {
    let mut out = serde_json::to_string_pretty(&to_value(report, options))
        .expect("a serde_json::Value always serializes");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal_case("digest-not-pinned"), "DigestNotPinned");
        assert_eq!(pascal_case("vulnerability"), "Vulnerability");
    }

    #[test]
    fn a_finding_about_nothing_points_at_the_policy_file() {
        let finding = Finding::new(
            Rule::WaiverExpired,
            portcullis_policy::Severity::Error,
            "x".into(),
            None,
        );
        let report = Report {
            findings: vec![finding.clone()],
            policies: vec!["<embedded default>".into(), "ci/portcullis.toml".into()],
            ..Report::default()
        };
        let at = location(&finding, &report).expect("a location");
        assert_eq!(
            at["physicalLocation"]["artifactLocation"]["uri"],
            "ci/portcullis.toml"
        );
        let bare = Report::default();
        assert!(location(&finding, &bare).is_none());
    }

    #[test]
    fn uris_are_percent_encoded_relative_references() {
        assert_eq!(
            uri_path("services/web app/Dockerfile"),
            "services/web%20app/Dockerfile"
        );
        assert_eq!(uri_path("a\\b#c"), "a/b%23c");
        assert_eq!(uri_path("é"), "%C3%A9");
    }
}
