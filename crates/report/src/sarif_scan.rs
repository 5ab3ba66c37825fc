//! The SARIF run of one scanned image: every vulnerability of its inventory as a result
//! under a rule of its own id, beside the scan's other findings under portcullis's rules.

use std::collections::HashMap;
use std::fmt::Write as _;

use portcullis_policy::vuln::{FixState, SuppressedBy, VulnSeverity, Vulnerability};
use portcullis_policy::{Finding, Report, Rule};
use serde_json::{json, Map, Value};

use crate::fingerprint::sha256_hex;
use crate::parts::{same_vulnerability, ScanPart};
use crate::sarif::{result, rule_descriptor, scan_location, FINGERPRINT_KEY};
use crate::HOMEPAGE;

/// The SARIF level of a vulnerability severity: critical and high `error`, medium
/// `warning`, low, negligible and unknown `note`.
#[must_use]
pub fn level(severity: VulnSeverity) -> &'static str {
    match severity {
        VulnSeverity::Critical | VulnSeverity::High => "error",
        VulnSeverity::Medium => "warning",
        VulnSeverity::Low | VulnSeverity::Negligible | VulnSeverity::Unknown => "note",
    }
}

/// The `security-severity` of a vulnerability: its CVSS score when known, else a score in
/// the band GitHub gives its severity (critical 9.5, high 8.0, medium 5.5, low 3.0,
/// negligible 1.0, unknown 0.0).
#[must_use]
pub fn security_severity(cvss: Option<f64>, severity: VulnSeverity) -> f64 {
    if let Some(score) = cvss.filter(|s| (0.0..=10.0).contains(s)) {
        return score;
    }
    match severity {
        VulnSeverity::Critical => 9.5,
        VulnSeverity::High => 8.0,
        VulnSeverity::Medium => 5.5,
        VulnSeverity::Low => 3.0,
        VulnSeverity::Negligible => 1.0,
        VulnSeverity::Unknown => 0.0,
    }
}

fn severity_word(severity: VulnSeverity) -> &'static str {
    match severity {
        VulnSeverity::Critical => "critical",
        VulnSeverity::High => "high",
        VulnSeverity::Medium => "medium",
        VulnSeverity::Low => "low",
        VulnSeverity::Negligible => "negligible",
        VulnSeverity::Unknown => "unknown",
    }
}

/// Where to read about a vulnerability: the scanner's link, else the advisory database of
/// its id, else portcullis's rule documentation.
fn help_uri(v: &Vulnerability) -> String {
    if let Some(url) = v.url.as_deref().filter(|u| u.starts_with("https://")) {
        return url.to_owned();
    }
    let upper = v.id.to_ascii_uppercase();
    if upper.starts_with("CVE-") {
        format!("https://nvd.nist.gov/vuln/detail/{}", v.id)
    } else if upper.starts_with("GHSA-") {
        format!("https://github.com/advisories/{}", v.id)
    } else {
        format!("{HOMEPAGE}#rules")
    }
}

/// One rule per vulnerability id, rated by the worst of its occurrences.
struct VulnRule<'a> {
    first: &'a Vulnerability,
    severity: VulnSeverity,
    cvss: Option<f64>,
}

fn vuln_descriptor(rule: &VulnRule<'_>) -> Value {
    let v = rule.first;
    let short = v
        .title
        .clone()
        .unwrap_or_else(|| format!("{} in {}", v.id, v.package));
    let uri = help_uri(v);
    let score = security_severity(rule.cvss, rule.severity);
    json!({
        "id": v.id,
        "name": "ImageVulnerability",
        "shortDescription": { "text": short },
        "fullDescription": { "text": short },
        "helpUri": uri,
        "help": {
            "text": format!("{} ({}): {short}\n{uri}", v.id, severity_word(rule.severity)),
            "markdown": format!("**{}** ({}): {short}\n\n[{uri}]({uri})", v.id, severity_word(rule.severity)),
        },
        "defaultConfiguration": { "level": level(rule.severity) },
        "properties": {
            "security-severity": format!("{score:.1}"),
            "tags": ["security", "vulnerability", severity_word(rule.severity)],
            "precision": "very-high",
        },
    })
}

fn inventory_message(image: &str, v: &Vulnerability) -> String {
    let mut text = format!(
        "`{}` ({}) in `{}` `{}` of `{image}`",
        v.id,
        severity_word(v.severity),
        v.package,
        v.installed
    );
    if v.fixed.is_empty() {
        text.push_str(match v.fix_state {
            FixState::WontFix => "; the distribution will not fix it",
            _ => "; no fix is known yet",
        });
    } else {
        let _ = write!(text, ", fixed in `{}`", v.fixed.join("`, `"));
    }
    text
}

/// A result for an inventory entry that is not a finding (below `fail-on`, suppressed).
fn inventory_result(report: &Report, image: &str, v: &Vulnerability) -> Value {
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(v.id));
    result.insert("level".into(), json!(level(v.severity)));
    result.insert(
        "message".into(),
        json!({ "text": inventory_message(image, v) }),
    );
    result.insert("locations".into(), json!([scan_location(report, image)]));
    if let Some(by) = &v.suppressed_by {
        let mut suppression = json!({ "kind": "external", "status": "accepted" });
        let why = match by {
            SuppressedBy::Vex => "VEX: not affected",
            SuppressedBy::Waiver => "waived",
        };
        let justification = v
            .justification
            .as_deref()
            .map_or_else(|| why.to_owned(), |j| format!("{why}: {j}"));
        suppression["justification"] = json!(justification);
        result.insert("suppressions".into(), json!([suppression]));
    }
    result.insert(
        "properties".into(),
        json!({ "image": image, "vulnerability": v }),
    );
    Value::Object(result)
}

/// The fingerprint of a vulnerability result: image repository, id, package; the same
/// whether or not the vulnerability fails the gate, so raising `fail-on` keeps the alert.
fn vuln_fingerprint(image: &str, id: &str, package: &str) -> String {
    let repository = portcullis_reference::ImageRef::parse(image)
        .map_or_else(|_| image.to_owned(), |r| r.name());
    sha256_hex(&format!("vulnerability\0{repository}\0{id}\0{package}"))
}

/// The rules and results of the run of `part`.
pub(crate) fn scan_run(
    report: &Report,
    part: &ScanPart<'_>,
    fingerprints: &[String],
) -> (Vec<Value>, Vec<Value>) {
    let image = part.scan.image.as_str();
    let mut order: Vec<&str> = Vec::new();
    let mut vuln_rules: HashMap<&str, VulnRule<'_>> = HashMap::new();
    for v in &part.scan.vulnerabilities {
        let entry = vuln_rules.entry(v.id.as_str()).or_insert_with(|| {
            order.push(v.id.as_str());
            VulnRule {
                first: v,
                severity: v.severity,
                cvss: v.cvss,
            }
        });
        entry.severity = entry.severity.max(v.severity);
        entry.cvss = match (entry.cvss, v.cvss) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let base = Rule::all().count();
    let index: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, base + i))
        .collect();
    let mut rules: Vec<Value> = Rule::all().map(rule_descriptor).collect();
    rules.extend(order.iter().map(|id| vuln_descriptor(&vuln_rules[id])));

    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut unique = |fingerprint: String| {
        let n = seen.entry(fingerprint.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            fingerprint
        } else {
            sha256_hex(&format!("{fingerprint}\0#{n}"))
        }
    };
    let mut results = Vec::new();
    let mut covered = vec![false; part.scan.vulnerabilities.len()];
    for &i in &part.findings {
        let finding: &Finding = &report.findings[i];
        let Some(block) = finding.vulnerability() else {
            results.push(result(finding, report, &fingerprints[i]));
            continue;
        };
        let mut value = result(finding, report, "");
        if let Some(at) = part
            .scan
            .vulnerabilities
            .iter()
            .position(|v| same_vulnerability(block, v))
        {
            covered[at] = true;
        }
        value["ruleId"] = json!(block.id);
        match index.get(block.id.as_str()) {
            Some(&at) => value["ruleIndex"] = json!(at),
            None => {
                if let Some(map) = value.as_object_mut() {
                    map.remove("ruleIndex");
                }
            }
        }
        value["level"] = json!(level(block.severity));
        if value.get("locations").is_none() {
            value["locations"] = json!([scan_location(report, image)]);
        }
        value["partialFingerprints"] = json!({
            FINGERPRINT_KEY: unique(vuln_fingerprint(image, &block.id, &block.package)),
        });
        results.push(value);
    }
    for (v, _) in part
        .scan
        .vulnerabilities
        .iter()
        .zip(&covered)
        .filter(|(_, covered)| !**covered)
    {
        let mut value = inventory_result(report, image, v);
        value["ruleIndex"] = json!(index[v.id.as_str()]);
        value["partialFingerprints"] = json!({
            FINGERPRINT_KEY: unique(vuln_fingerprint(image, &v.id, &v.package)),
        });
        results.push(value);
    }
    (rules, results)
}
