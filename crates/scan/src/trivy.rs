//! Trivy JSON (`trivy image --format json`, schema version 2) into [`Vulnerability`].
//!
//! Every Trivy field is `omitempty`, so everything but `VulnerabilityID` is optional and
//! `null` is accepted wherever a list or map is expected. Fields the gate does not use
//! (descriptions, references, packages) are skipped without allocation, which keeps memory
//! proportional to the findings rather than to the report.
//!
//! `Status` maps to [`FixState`]: `fixed` → `Fixed`; `affected`, `fix_deferred` →
//! `NotFixed`; `will_not_fix`, `end_of_life` → `WontFix`; `under_investigation`, `unknown`
//! → `Unknown`. Without `Status` (older Trivy), a `FixedVersion` means `Fixed`, none
//! `NotFixed`. `ExperimentalModifiedFindings` (`--show-suppressed`) of type vulnerability
//! become findings with `suppressed_by = Vex` and the statement as justification.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::util::{from_json, null_default, push_unique, severity, unknown_severity, valid_cvss};
use crate::{
    FixState, Format, ReportedImage, ScanError, SuppressedBy, VulnSeverity, Vulnerability,
};
use portcullis_policy::vuln::CvssVector;

#[derive(Deserialize)]
struct Report {
    #[serde(rename = "ArtifactName")]
    artifact_name: Option<String>,
    #[serde(rename = "ArtifactType")]
    artifact_type: Option<String>,
    #[serde(rename = "Metadata", default)]
    metadata: Metadata,
    #[serde(rename = "Results", default, deserialize_with = "null_default")]
    results: Vec<TrivyResult>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    #[serde(rename = "RepoTags", default, deserialize_with = "null_default")]
    repo_tags: Vec<String>,
    #[serde(rename = "RepoDigests", default, deserialize_with = "null_default")]
    repo_digests: Vec<String>,
    #[serde(rename = "OS")]
    os: Option<Os>,
}

/// `Metadata.OS`: `{"Family": "debian", "Name": "10.1"}`.
#[derive(Deserialize)]
struct Os {
    #[serde(rename = "Family")]
    family: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
}

impl Os {
    /// `debian 10.1`, or what of it is there.
    fn name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.family, &self.name]
            .into_iter()
            .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

#[derive(Deserialize)]
struct TrivyResult {
    #[serde(rename = "Vulnerabilities", default, deserialize_with = "null_default")]
    vulnerabilities: Vec<Finding>,
    #[serde(
        rename = "ExperimentalModifiedFindings",
        default,
        deserialize_with = "null_default"
    )]
    modified: Vec<ModifiedFinding>,
}

#[derive(Deserialize)]
struct ModifiedFinding {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Statement")]
    statement: Option<String>,
    #[serde(rename = "Source")]
    source: Option<String>,
    #[serde(rename = "Finding")]
    finding: Option<Finding>,
}

#[derive(Deserialize)]
struct Finding {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "PkgName")]
    pkg_name: Option<String>,
    #[serde(rename = "PkgID")]
    pkg_id: Option<String>,
    #[serde(rename = "PkgPath")]
    pkg_path: Option<String>,
    #[serde(rename = "InstalledVersion")]
    installed: Option<String>,
    #[serde(rename = "FixedVersion")]
    fixed: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(
        rename = "Severity",
        default = "unknown_severity",
        deserialize_with = "severity"
    )]
    severity: VulnSeverity,
    #[serde(rename = "CVSS", default, deserialize_with = "null_default")]
    cvss: BTreeMap<String, Cvss>,
    #[serde(rename = "Layer")]
    layer: Option<Layer>,
    #[serde(rename = "PrimaryURL")]
    url: Option<String>,
    #[serde(rename = "Title")]
    title: Option<String>,
}

#[derive(Deserialize)]
struct Cvss {
    #[serde(rename = "V3Vector")]
    v3_vector: Option<String>,
    #[serde(rename = "V40Vector")]
    v40_vector: Option<String>,
    #[serde(rename = "V2Vector")]
    v2_vector: Option<String>,
    #[serde(rename = "V3Score")]
    v3: Option<f64>,
    #[serde(rename = "V40Score")]
    v40: Option<f64>,
    #[serde(rename = "V2Score")]
    v2: Option<f64>,
}

#[derive(Deserialize)]
struct Layer {
    #[serde(rename = "Digest")]
    digest: Option<String>,
    #[serde(rename = "DiffID")]
    diff_id: Option<String>,
}

/// Parses a Trivy JSON report: its findings and the image it names.
pub(crate) fn parse(
    source_name: &str,
    bytes: &[u8],
) -> Result<(Vec<Vulnerability>, Option<ReportedImage>), ScanError> {
    let report: Report = from_json(source_name, Format::TrivyJson, bytes)?;
    let image = report
        .artifact_type
        .as_deref()
        .is_none_or(|t| t == "container_image")
        .then(|| {
            crate::image::reported(
                report.artifact_name.as_deref(),
                &report.metadata.repo_tags,
                &report.metadata.repo_digests,
                &[],
            )
        })
        .flatten();
    let os = report.metadata.os.as_ref().and_then(Os::name);
    let mut out = Vec::new();
    for (r, result) in report.results.into_iter().enumerate() {
        for finding in result.vulnerabilities {
            out.push(convert(source_name, r, finding)?);
        }
        for modified in result.modified {
            if modified
                .kind
                .as_deref()
                .is_some_and(|k| !k.eq_ignore_ascii_case("vulnerability"))
            {
                continue;
            }
            let Some(finding) = modified.finding else {
                continue;
            };
            let mut vuln = convert(source_name, r, finding)?;
            vuln.suppressed_by = Some(SuppressedBy::Vex);
            vuln.justification = Some(justification(
                modified.status.as_deref(),
                modified.statement.as_deref(),
                modified.source.as_deref(),
            ));
            out.push(vuln);
        }
    }
    if let Some(os) = os {
        for vuln in &mut out {
            vuln.operating_system = Some(os.clone());
        }
    }
    Ok((out, image))
}

/// Every vector of `CVSS`: NVD's first, then the other sources by name; within a source
/// v3, v4.0, then v2.
fn vectors(scores: &BTreeMap<String, Cvss>) -> Vec<CvssVector> {
    let mut sources: Vec<(&String, &Cvss)> = scores.iter().collect();
    sources.sort_by_key(|(source, _)| source.as_str() != "nvd");
    let mut out = Vec::new();
    for (source, cvss) in sources {
        for (vector, default_version) in [
            (&cvss.v3_vector, None),
            (&cvss.v40_vector, Some("4.0")),
            (&cvss.v2_vector, Some("2.0")),
        ] {
            let Some(vector) = vector.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
                continue;
            };
            let version = vector
                .strip_prefix("CVSS:")
                .and_then(|rest| rest.split('/').next())
                .or(default_version)
                .map(str::to_owned);
            out.push(CvssVector {
                source: source.clone(),
                version,
                vector: vector.to_owned(),
            });
        }
    }
    out
}

fn justification(status: Option<&str>, statement: Option<&str>, source: Option<&str>) -> String {
    let mut text = statement
        .filter(|s| !s.is_empty())
        .or(status)
        .unwrap_or("suppressed")
        .to_owned();
    if let Some(source) = source.filter(|s| !s.is_empty()) {
        text.push_str(" (");
        text.push_str(source);
        text.push(')');
    }
    text
}

fn convert(source_name: &str, result_index: usize, f: Finding) -> Result<Vulnerability, ScanError> {
    let mut fixed = Vec::new();
    for version in f.fixed.as_deref().unwrap_or("").split(',') {
        push_unique(&mut fixed, version.trim());
    }
    let (fix_state, vex) = match f.status.as_deref() {
        None | Some("") if fixed.is_empty() => (FixState::NotFixed, false),
        None | Some("") => (FixState::Fixed, false),
        Some(status) => match status.to_ascii_lowercase().as_str() {
            "fixed" => (FixState::Fixed, false),
            "affected" | "fix_deferred" => (FixState::NotFixed, false),
            "will_not_fix" | "end_of_life" => (FixState::WontFix, false),
            "under_investigation" | "unknown" => (FixState::Unknown, false),
            "not_affected" => (FixState::Unknown, true),
            other => {
                return Err(ScanError::InvalidField {
                    source_name: source_name.to_owned(),
                    field: format!("Results[{result_index}].Vulnerabilities[`{}`].Status", f.id),
                    value: crate::error::excerpt(other, 60),
                    expected: "fixed, affected, will_not_fix, fix_deferred, end_of_life, under_investigation, not_affected or unknown".to_owned(),
                })
            }
        },
    };
    // `VendorIDs` (RHSA-…, DSA-…, ALAS-…) are advisories that often cover several CVEs, so
    // they are not aliases of this one: using them as such would merge distinct CVEs.
    let aliases = Vec::new();
    let location = f
        .layer
        .and_then(|l| {
            l.digest
                .filter(|d| !d.is_empty())
                .or(l.diff_id.filter(|d| !d.is_empty()))
        })
        .or(f.pkg_path.filter(|p| !p.is_empty()));
    Ok(Vulnerability {
        cvss: pick_cvss(&f.cvss),
        cvss_vectors: vectors(&f.cvss),
        scanner_severity: None,
        operating_system: None,
        package: f.pkg_name.or(f.pkg_id).unwrap_or_default(),
        installed: f.installed.unwrap_or_default(),
        fixed,
        fix_state,
        severity: f.severity,
        scanners: vec!["trivy".to_owned()],
        title: f.title.filter(|t| !t.is_empty()),
        url: f.url.filter(|u| !u.is_empty()),
        location,
        suppressed_by: vex.then_some(SuppressedBy::Vex),
        justification: vex.then(|| "status `not_affected` reported by Trivy".to_owned()),
        aliases,
        id: f.id,
    })
}

/// NVD's v3 score, else the highest v3 score of any source, else v4.0, else v2.
fn pick_cvss(scores: &BTreeMap<String, Cvss>) -> Option<f64> {
    if let Some(nvd) = scores.get("nvd").and_then(|c| c.v3).and_then(valid_cvss) {
        return Some(nvd);
    }
    let best = |get: fn(&Cvss) -> Option<f64>| {
        scores
            .values()
            .filter_map(|c| get(c).and_then(valid_cvss))
            .reduce(f64::max)
    };
    best(|c| c.v3)
        .or_else(|| best(|c| c.v40))
        .or_else(|| best(|c| c.v2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_null_shapes_parse() {
        for doc in [
            "{}",
            r#"{"Results":null}"#,
            r#"{"Results":[{"Target":"x"}]}"#,
            r#"{"Results":[{"Vulnerabilities":null,"ExperimentalModifiedFindings":null}]}"#,
        ] {
            assert!(parse("t", doc.as_bytes()).unwrap().0.is_empty(), "{doc}");
        }
    }

    #[test]
    fn minimal_finding_defaults() {
        let doc = r#"{"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","FixedVersion":"1.2, 1.3,,1.2"}]}]}"#;
        let (v, _) = parse("t", doc.as_bytes()).unwrap();
        assert_eq!(v[0].fixed, ["1.2", "1.3"]);
        assert_eq!(v[0].fix_state, FixState::Fixed);
        assert_eq!(v[0].severity, VulnSeverity::Unknown);
        assert_eq!(v[0].cvss, None);
    }

    #[test]
    fn cvss_prefers_nvd_v3_then_best_v3_then_v2() {
        let doc = r#"{"Results":[{"Vulnerabilities":[
            {"VulnerabilityID":"A","CVSS":{"ghsa":{"V3Score":9.1},"nvd":{"V3Score":7.5}}},
            {"VulnerabilityID":"B","CVSS":{"ghsa":{"V3Score":6.1},"redhat":{"V3Score":6.8,"V2Score":9.0}}},
            {"VulnerabilityID":"C","CVSS":{"nvd":{"V2Score":5.0}}}]}]}"#;
        let (v, _) = parse("t", doc.as_bytes()).unwrap();
        assert_eq!(
            [v[0].cvss, v[1].cvss, v[2].cvss],
            [Some(7.5), Some(6.8), Some(5.0)]
        );
    }

    #[test]
    fn status_table() {
        for (status, want) in [
            ("fixed", FixState::Fixed),
            ("affected", FixState::NotFixed),
            ("fix_deferred", FixState::NotFixed),
            ("will_not_fix", FixState::WontFix),
            ("end_of_life", FixState::WontFix),
            ("under_investigation", FixState::Unknown),
            ("unknown", FixState::Unknown),
        ] {
            let doc = format!(
                r#"{{"Results":[{{"Vulnerabilities":[{{"VulnerabilityID":"X","Status":"{status}"}}]}}]}}"#
            );
            assert_eq!(
                parse("t", doc.as_bytes()).unwrap().0[0].fix_state,
                want,
                "{status}"
            );
        }
    }

    #[test]
    fn errors_name_report_and_field() {
        let doc =
            r#"{"Results":[{"Vulnerabilities":[{"VulnerabilityID":"X","Severity":"SUPER"}]}]}"#;
        let text = parse("hook `trivy`", doc.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("hook `trivy`") && text.contains("Severity") && text.contains("SUPER"),
            "{text}"
        );
        let doc = r#"{"Results":[{"Vulnerabilities":[{"PkgName":"x"}]}]}"#;
        let text = parse("a.json", doc.as_bytes()).unwrap_err().to_string();
        assert!(
            text.contains("a.json") && text.contains("VulnerabilityID"),
            "{text}"
        );
        let doc = r#"{"Results":[{"Vulnerabilities":[{"VulnerabilityID":"X","Status":"bogus"}]}]}"#;
        let text = parse("a.json", doc.as_bytes()).unwrap_err().to_string();
        assert!(
            text.contains("`bogus`") && text.contains("Status"),
            "{text}"
        );
    }
}
