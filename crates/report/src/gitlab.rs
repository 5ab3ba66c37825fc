//! GitLab CI reports. The container-scanning report (`gl-container-scanning-report.json`,
//! schema 15.0.7, shown in the merge request widget and security dashboards on Ultimate)
//! carries the scanned images' vulnerabilities; the code-quality report (Code Climate
//! issues, shown on every tier) carries the findings that point at a file.
//!
//! Each vulnerability's `location.operating_system` is the image's OS as the scanner reports
//! it (Trivy `Metadata.OS`, Grype `distro`; `unknown` when it gives none) and
//! `cvss_vectors` carries the scanners' CVSS v2 and v3.x vectors with their source as the
//! vendor (GitLab's schema has no place for v4.0 vectors; the first is the primary one).
//!
//! Choices: vulnerabilities a VEX statement marks `not_affected` are left out of the
//! container-scanning report (they are not vulnerabilities of the image); waived ones stay
//! (a waiver accepts a risk, it does not remove it, and GitLab has its own dismissal).
//! Waived findings are left out of the code-quality report, which has no suppression field.

use portcullis_policy::vuln::{
    CvssVector, FixState, ScanResult, SuppressedBy, VulnSeverity, Vulnerability,
};
use portcullis_policy::{Finding, Report, Severity};
use serde_json::{json, Value};

use crate::fingerprint::{fingerprints, sha256_hex, uuid_shaped};
use crate::{code, RenderOptions, TOOL_NAME};

/// The schema version written and the schema it names.
pub const CONTAINER_SCANNING_VERSION: &str = "15.0.7";
const SCHEMA: &str =
    "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v15.0.7/dist/container-scanning-report-format.json";

fn severity(severity: VulnSeverity) -> &'static str {
    match severity {
        VulnSeverity::Critical => "Critical",
        VulnSeverity::High => "High",
        VulnSeverity::Medium => "Medium",
        VulnSeverity::Low => "Low",
        VulnSeverity::Negligible => "Info",
        VulnSeverity::Unknown => "Unknown",
    }
}

/// One identifier per id and alias, typed by its prefix (`CVE-…` → `cve`).
fn identifiers(v: &Vulnerability) -> Vec<Value> {
    std::iter::once(&v.id)
        .chain(v.aliases.iter().filter(|a| **a != v.id))
        .filter(|id| !id.is_empty())
        .map(|id| {
            let upper = id.to_ascii_uppercase();
            let (kind, url) = if upper.starts_with("CVE-") {
                (
                    "cve",
                    Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
                )
            } else if upper.starts_with("GHSA-") {
                ("ghsa", Some(format!("https://github.com/advisories/{id}")))
            } else {
                let prefix = id.split(['-', ':']).next().unwrap_or("id");
                (if prefix.is_empty() { "id" } else { prefix }, None)
            };
            let url = url.or_else(|| (*id == v.id).then(|| v.url.clone()).flatten());
            let mut identifier =
                json!({ "type": kind.to_ascii_lowercase(), "name": id, "value": id });
            if let Some(url) = url {
                identifier["url"] = json!(url);
            }
            identifier
        })
        .collect()
}

fn solution(v: &Vulnerability) -> String {
    match (v.fixed.as_slice(), v.fix_state) {
        ([], FixState::WontFix) => {
            format!("The distribution will not fix {} in `{}`.", v.id, v.package)
        }
        ([], _) => format!("No fixed version of `{}` is known yet.", v.package),
        (fixed, _) => format!("Upgrade `{}` to {}.", v.package, fixed.join(" or ")),
    }
}

fn vulnerability(scan: &ScanResult, v: &Vulnerability) -> Value {
    let id = uuid_shaped(&sha256_hex(&format!(
        "{}\0{}\0{}\0{}",
        scan.image, v.id, v.package, v.installed
    )));
    let description = v
        .title
        .clone()
        .unwrap_or_else(|| format!("{} in {} {}", v.id, v.package, v.installed));
    let mut entry = json!({
        "id": id,
        "name": format!("{} in {}", v.id, v.package),
        "description": description,
        "severity": severity(v.severity),
        "solution": solution(v),
        "identifiers": identifiers(v),
        "location": {
            "dependency": { "package": { "name": v.package }, "version": v.installed },
            "operating_system": v.operating_system.as_deref().filter(|os| !os.is_empty()).unwrap_or("unknown"),
            "image": scan.image,
        },
    });
    let vectors: Vec<Value> = v
        .cvss_vectors
        .iter()
        .filter(|c| gitlab_vector(&c.vector))
        .take(10)
        .map(|c: &CvssVector| json!({ "vendor": vendor(&c.source), "vector": c.vector }))
        .collect();
    if !vectors.is_empty() {
        entry["cvss_vectors"] = Value::Array(vectors);
    }
    if let Some(url) = &v.url {
        entry["links"] = json!([{ "url": url }]);
    }
    entry
}

/// A vendor name GitLab accepts (non-empty).
fn vendor(source: &str) -> &str {
    if source.trim().is_empty() {
        "unknown"
    } else {
        source
    }
}

/// Whether GitLab's schema takes the vector: CVSS v2 (`AV:N/AC:L/Au:N/C:P/I:P/A:P`) or
/// v3.x (`CVSS:3.1/AV:N/…`), each metric a known key with a one-letter value (v2's
/// temporal and environmental values may be longer), 16 (v2) or 32 (v3) to 128 characters.
fn gitlab_vector(vector: &str) -> bool {
    const V3: &[&str] = &[
        "AV", "AC", "PR", "UI", "S", "C", "I", "A", "E", "RL", "RC", "CR", "IR", "AR", "MAV",
        "MAC", "MPR", "MUI", "MS", "MC", "MI", "MA",
    ];
    const V2: &[&str] = &[
        "AV", "AC", "Au", "C", "I", "A", "E", "RL", "RC", "CDP", "TD", "CR", "IR", "AR",
    ];
    let metrics = |body: &str, keys: &[&str], long_values: bool| {
        body.split('/').all(|metric| {
            metric.split_once(':').is_some_and(|(key, value)| {
                keys.contains(&key)
                    && !value.is_empty()
                    && (long_values || value.len() == 1)
                    && value.len() <= 3
                    && value.bytes().all(|b| b.is_ascii_uppercase())
            })
        })
    };
    if vector.len() > 128 {
        return false;
    }
    match vector
        .strip_prefix("CVSS:3.0/")
        .or(vector.strip_prefix("CVSS:3.1/"))
    {
        Some(body) => vector.len() >= 32 && metrics(body, V3, false),
        None => !vector.starts_with("CVSS:") && vector.len() >= 16 && metrics(vector, V2, true),
    }
}

/// Who scanned: the scanner itself when one scanner ran everything, else portcullis, which
/// merged several.
fn scanner(report: &Report, version: &str) -> Value {
    let mut names: Vec<&str> = report
        .scans
        .iter()
        .flat_map(|s| s.scanners.iter().map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        [one] => {
            let vendor = match one.to_ascii_lowercase().as_str() {
                "trivy" => "Aqua Security",
                "grype" | "syft" => "Anchore",
                _ => "unknown",
            };
            json!({ "id": one, "name": one, "version": "unknown", "vendor": { "name": vendor } })
        }
        _ => {
            json!({ "id": TOOL_NAME, "name": TOOL_NAME, "version": version, "vendor": { "name": TOOL_NAME } })
        }
    }
}

/// The GitLab container-scanning report for the report's scans, with `now` as the scan's
/// start and end time (GitLab wants `yyyy-mm-ddThh:mm:ss`, UTC, no zone).
#[must_use]
pub fn gitlab_container_scanning(
    report: &Report,
    options: &RenderOptions<'_>,
    now: jiff::Timestamp,
) -> String {
    let time = now.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let vulnerabilities: Vec<Value> = report
        .scans
        .iter()
        .flat_map(|scan| {
            scan.vulnerabilities
                .iter()
                .filter(|v| v.suppressed_by != Some(SuppressedBy::Vex))
                .map(move |v| vulnerability(scan, v))
        })
        .collect();
    let document = json!({
        "version": CONTAINER_SCANNING_VERSION,
        "schema": SCHEMA,
        "scan": {
            "analyzer": { "id": TOOL_NAME, "name": TOOL_NAME, "version": options.version, "vendor": { "name": TOOL_NAME } },
            "scanner": scanner(report, options.version),
            "type": "container_scanning",
            "start_time": time,
            "end_time": time,
            "status": "success",
        },
        "vulnerabilities": vulnerabilities,
        "remediations": [],
    });
    pretty(&document)
}

fn codequality_severity(finding: &Finding) -> &'static str {
    if let Some(v) = finding.vulnerability() {
        return match v.severity {
            VulnSeverity::Critical => "critical",
            VulnSeverity::High => "major",
            VulnSeverity::Medium => "minor",
            _ => "info",
        };
    }
    match finding.severity {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Note => "info",
    }
}

/// The GitLab code-quality report: one issue per unwaived finding that has a place in a file
/// (its own location, or where the report saw its image), with a fingerprint unique in the
/// report and stable across unrelated edits.
#[must_use]
pub fn gitlab_codequality(report: &Report) -> String {
    let fingerprints = fingerprints(report);
    let issues: Vec<Value> = report
        .findings
        .iter()
        .zip(&fingerprints)
        .filter(|(f, _)| !f.waived)
        .filter_map(|(finding, fingerprint)| {
            let (path, line) = if let Some(l) = &finding.location {
                (l.file.clone(), l.line)
            } else {
                let image = finding.image.as_ref()?;
                let seen = report.images.iter().find(|e| &e.image == image)?;
                (seen.file.clone(), seen.line)
            };
            let mut description = finding.message.clone();
            if let Some(help) = &finding.help {
                description.push_str(" (help: ");
                description.push_str(help);
                description.push(')');
            }
            Some(json!({
                "description": description,
                "check_name": format!("{TOOL_NAME}/{}", code(finding.rule)),
                "fingerprint": &fingerprint[..32],
                "severity": codequality_severity(finding),
                "location": { "path": path, "lines": { "begin": line.max(1) } },
            }))
        })
        .collect();
    pretty(&Value::Array(issues))
}

fn pretty(value: &Value) -> String {
    let mut out =
        serde_json::to_string_pretty(value).expect("a serde_json::Value always serializes");
    out.push('\n');
    out
}
