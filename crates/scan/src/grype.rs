//! Grype JSON (`grype -o json`) into [`Vulnerability`].
//!
//! `fix.state` maps `fixed` → `Fixed`, `not-fixed` → `NotFixed`, `wont-fix` → `WontFix`,
//! `unknown` and `""` → `Unknown` (but `Fixed` when `fix.versions` is non-empty).
//! `relatedVulnerabilities[].id` become aliases (the GHSA ↔ CVE link merging relies on).
//! `ignoredMatches` whose ignore rule carries a VEX status `not_affected`/`fixed` are kept
//! as `suppressed_by = Vex`; matches ignored by plain Grype ignore rules come back
//! unsuppressed, because exceptions belong in portcullis waivers (with an expiry).

use serde::Deserialize;

use crate::util::{from_json, null_default, push_unique, severity, unknown_severity, valid_cvss};
use crate::{
    FixState, Format, ReportedImage, ScanError, SuppressedBy, VulnSeverity, Vulnerability,
};
use portcullis_policy::vuln::CvssVector;

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    source: Option<Source>,
    #[serde(default, deserialize_with = "null_default")]
    matches: Vec<Match>,
    #[serde(rename = "ignoredMatches", default, deserialize_with = "null_default")]
    ignored: Vec<IgnoredMatch>,
    #[serde(default)]
    distro: Option<Distro>,
}

/// `distro`: `{"name": "centos", "version": "8.0"}`.
#[derive(Deserialize)]
struct Distro {
    name: Option<String>,
    version: Option<String>,
}

impl Distro {
    /// `centos 8.0`, or what of it is there.
    fn name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.name, &self.version]
            .into_iter()
            .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

#[derive(Deserialize)]
struct Source {
    #[serde(rename = "type")]
    kind: Option<String>,
    target: Option<Target>,
}

/// `source.target`: an object for images and directories, a string for unknown sources.
#[derive(Deserialize)]
#[serde(untagged)]
enum Target {
    Image(ImageTarget),
    Other(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct ImageTarget {
    #[serde(rename = "userInput")]
    user_input: Option<String>,
    #[serde(rename = "manifestDigest")]
    manifest_digest: Option<String>,
    #[serde(rename = "repoDigests", default, deserialize_with = "null_default")]
    repo_digests: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    tags: Vec<String>,
}

impl Source {
    /// The image of an `image` source.
    fn image(&self) -> Option<ReportedImage> {
        if self.kind.as_deref() != Some("image") {
            return None;
        }
        let Some(Target::Image(target)) = &self.target else {
            return None;
        };
        crate::image::reported(
            target.user_input.as_deref(),
            &target.tags,
            &target.repo_digests,
            &target
                .manifest_digest
                .as_deref()
                .into_iter()
                .collect::<Vec<_>>(),
        )
    }
}

#[derive(Deserialize)]
struct IgnoredMatch {
    #[serde(flatten)]
    matched: Match,
    #[serde(
        rename = "appliedIgnoreRules",
        default,
        deserialize_with = "null_default"
    )]
    rules: Vec<IgnoreRule>,
}

#[derive(Deserialize)]
struct IgnoreRule {
    #[serde(rename = "vex-status")]
    vex_status: Option<String>,
    #[serde(rename = "vex-justification")]
    vex_justification: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Match {
    vulnerability: Vuln,
    #[serde(
        rename = "relatedVulnerabilities",
        default,
        deserialize_with = "null_default"
    )]
    related: Vec<Related>,
    #[serde(default)]
    artifact: Artifact,
}

#[derive(Deserialize)]
struct Vuln {
    id: String,
    #[serde(rename = "dataSource")]
    data_source: Option<String>,
    #[serde(default = "unknown_severity", deserialize_with = "severity")]
    severity: VulnSeverity,
    #[serde(default, deserialize_with = "null_default")]
    urls: Vec<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    cvss: Vec<Cvss>,
    #[serde(default)]
    fix: Fix,
}

#[derive(Deserialize)]
struct Related {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    cvss: Vec<Cvss>,
}

#[derive(Deserialize)]
struct Cvss {
    source: Option<String>,
    vector: Option<String>,
    version: Option<String>,
    #[serde(default)]
    metrics: Metrics,
}

#[derive(Deserialize, Default)]
struct Metrics {
    #[serde(rename = "baseScore")]
    base_score: Option<f64>,
}

#[derive(Deserialize, Default)]
struct Fix {
    #[serde(default, deserialize_with = "null_default")]
    versions: Vec<String>,
    state: Option<String>,
}

#[derive(Deserialize, Default)]
struct Artifact {
    name: Option<String>,
    version: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    locations: Vec<Location>,
}

#[derive(Deserialize)]
struct Location {
    path: Option<String>,
    #[serde(rename = "layerID")]
    layer_id: Option<String>,
}

/// Parses a Grype JSON report: its findings and the image it names.
pub(crate) fn parse(
    source_name: &str,
    bytes: &[u8],
) -> Result<(Vec<Vulnerability>, Option<ReportedImage>), ScanError> {
    let doc: Document = from_json(source_name, Format::GrypeJson, bytes)?;
    let image = doc.source.as_ref().and_then(Source::image);
    let os = doc.distro.as_ref().and_then(Distro::name);
    let mut out = Vec::with_capacity(doc.matches.len());
    for (i, m) in doc.matches.into_iter().enumerate() {
        out.push(convert(source_name, ("matches", i), m)?);
    }
    for (i, ignored) in doc.ignored.into_iter().enumerate() {
        let vex_rule = ignored.rules.iter().find(|r| {
            r.vex_status
                .as_deref()
                .is_some_and(|s| matches!(s, "not_affected" | "fixed"))
        });
        let justification = vex_rule.map(|r| {
            r.vex_justification
                .clone()
                .or_else(|| r.reason.clone())
                .or_else(|| r.vex_status.clone())
                .unwrap_or_default()
        });
        let mut vuln = convert(source_name, ("ignoredMatches", i), ignored.matched)?;
        if let Some(justification) = justification {
            vuln.suppressed_by = Some(SuppressedBy::Vex);
            vuln.justification = Some(justification);
        }
        out.push(vuln);
    }
    if let Some(os) = os {
        for vuln in &mut out {
            vuln.operating_system = Some(os.clone());
        }
    }
    Ok((out, image))
}

/// The vectors of `cvss` entries, in Grype's order, each named by its source.
fn vectors(entries: &[Cvss], out: &mut Vec<CvssVector>) {
    for entry in entries {
        let Some(vector) = entry
            .vector
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        if out.iter().any(|known| known.vector == vector) {
            continue;
        }
        out.push(CvssVector {
            source: entry
                .source
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".to_owned()),
            version: entry.version.clone().filter(|v| !v.is_empty()),
            vector: vector.to_owned(),
        });
    }
}

fn convert(source_name: &str, at: (&str, usize), m: Match) -> Result<Vulnerability, ScanError> {
    let v = m.vulnerability;
    let mut fixed = Vec::new();
    for version in &v.fix.versions {
        push_unique(&mut fixed, version.trim());
    }
    let fix_state = match v.fix.state.as_deref().unwrap_or("") {
        "fixed" => FixState::Fixed,
        _ if !fixed.is_empty() => FixState::Fixed,
        "" | "unknown" => FixState::Unknown,
        "not-fixed" => FixState::NotFixed,
        "wont-fix" => FixState::WontFix,
        other => {
            return Err(ScanError::InvalidField {
                source_name: source_name.to_owned(),
                field: format!("{}[{}].vulnerability.fix.state", at.0, at.1),
                value: crate::error::excerpt(other, 60),
                expected: "fixed, not-fixed, wont-fix or unknown".to_owned(),
            })
        }
    };
    let mut aliases = Vec::new();
    let mut cvss = best_cvss(&v.cvss);
    let mut cvss_vectors = Vec::new();
    vectors(&v.cvss, &mut cvss_vectors);
    for related in &m.related {
        vectors(&related.cvss, &mut cvss_vectors);
    }
    for related in &m.related {
        if related.id != v.id {
            push_unique(&mut aliases, &related.id);
        }
        if cvss.is_none() {
            cvss = best_cvss(&related.cvss);
        }
    }
    let location = m.artifact.locations.into_iter().find_map(|l| {
        l.layer_id
            .filter(|s| !s.is_empty())
            .or(l.path.filter(|s| !s.is_empty()))
    });
    let title = v
        .description
        .as_deref()
        .and_then(|d| d.lines().next())
        .filter(|d| !d.is_empty())
        .map(|d| crate::error::excerpt(d, 200));
    Ok(Vulnerability {
        package: m.artifact.name.unwrap_or_default(),
        installed: m.artifact.version.unwrap_or_default(),
        fixed,
        fix_state,
        severity: v.severity,
        scanner_severity: None,
        cvss,
        cvss_vectors,
        operating_system: None,
        scanners: vec!["grype".to_owned()],
        title,
        url: v
            .data_source
            .filter(|s| !s.is_empty())
            .or_else(|| v.urls.into_iter().next()),
        location,
        suppressed_by: None,
        justification: None,
        aliases,
        id: v.id,
    })
}

/// Highest CVSS v3+ base score, else the highest of any version.
fn best_cvss(entries: &[Cvss]) -> Option<f64> {
    let scores = |v3_only: bool| {
        entries
            .iter()
            .filter(|c| !v3_only || c.version.as_deref().is_some_and(|v| !v.starts_with('2')))
            .filter_map(|c| c.metrics.base_score.and_then(valid_cvss))
            .reduce(f64::max)
    };
    scores(true).or_else(|| scores(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_state_table() {
        for (state, versions, want) in [
            ("fixed", r#"["1.2"]"#, FixState::Fixed),
            ("fixed", "[]", FixState::Fixed),
            ("", r#"["2.0"]"#, FixState::Fixed),
            ("not-fixed", "[]", FixState::NotFixed),
            ("wont-fix", "[]", FixState::WontFix),
            ("unknown", "[]", FixState::Unknown),
            ("", "[]", FixState::Unknown),
        ] {
            let doc = format!(
                r#"{{"matches":[{{"vulnerability":{{"id":"CVE-1","fix":{{"state":"{state}","versions":{versions}}}}},"artifact":{{"name":"p"}}}}]}}"#
            );
            assert_eq!(
                parse("t", doc.as_bytes()).unwrap().0[0].fix_state,
                want,
                "{state}"
            );
        }
    }

    #[test]
    fn related_vulnerabilities_become_aliases_and_ignored_vex_is_suppressed() {
        let doc = r#"{"matches":[{"vulnerability":{"id":"GHSA-xxxx","severity":"High"},
              "relatedVulnerabilities":[{"id":"CVE-2024-1","cvss":[{"version":"3.1","metrics":{"baseScore":7.1}}]}],
              "artifact":{"name":"lodash","version":"4.17.1","locations":[{"path":"/app/package.json","layerID":"sha256:ab"}]}}],
            "ignoredMatches":[{"vulnerability":{"id":"CVE-2","severity":"Critical"},"artifact":{"name":"x"},
              "appliedIgnoreRules":[{"vulnerability":"CVE-2","vex-status":"not_affected","vex-justification":"component_not_present"}]},
              {"vulnerability":{"id":"CVE-3","severity":"Low"},"artifact":{"name":"y"},"appliedIgnoreRules":[{"vulnerability":"CVE-3","reason":"noise"}]}]}"#;
        let (v, _) = parse("t", doc.as_bytes()).unwrap();
        assert_eq!(v[0].aliases, ["CVE-2024-1"]);
        assert_eq!(v[0].cvss, Some(7.1));
        assert_eq!(v[0].location.as_deref(), Some("sha256:ab"));
        assert_eq!(v[1].suppressed_by, Some(SuppressedBy::Vex));
        assert_eq!(v[1].justification.as_deref(), Some("component_not_present"));
        assert_eq!(v[2].suppressed_by, None, "plain ignore rules are not VEX");
    }

    #[test]
    fn bad_fix_state_names_field() {
        let doc = r#"{"matches":[{"vulnerability":{"id":"CVE-1","fix":{"state":"maybe"}}}]}"#;
        let text = parse("g.json", doc.as_bytes()).unwrap_err().to_string();
        assert!(
            text.contains("matches[0].vulnerability.fix.state") && text.contains("`maybe`"),
            "{text}"
        );
    }
}
