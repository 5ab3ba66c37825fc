//! SARIF 2.1.0 from Trivy (`--format sarif`) or Grype (`-o sarif`) into [`Vulnerability`].
//!
//! SARIF is a code-scanning format, so reading it is lossy. What is recovered: the id
//! (the `Vulnerability …` line, else the rule id; Grype's `<id>-<package>` rule ids are
//! split), package, installed and fixed versions (from the `Key: value` lines Trivy writes
//! in `message.text` and Grype in `rule.help.text`), severity (the `Severity:` line, else
//! a severity tag, else the rule's `security-severity` score bucketed as CVSS, else the
//! result `level`), CVSS (`security-severity`), URL (`helpUri`), title, and the image
//! (Trivy's run `properties`, Grype's `<image>@<layer>:/<path>` logical locations).
//!
//! What is lost: the fix state beyond "a fixed version is listed" (`will_not_fix`,
//! `end_of_life`, `fix_deferred` all read as `NotFixed`), aliases/vendor ids, the CVSS source
//! and vector, layer digests, and suppressed (VEX) findings, which SARIF output omits.

use std::collections::HashMap;

use serde::Deserialize;

use crate::util::{
    from_json, null_default, push_unique, severity_from_cvss, severity_from_str, valid_cvss,
};
use crate::{FixState, Format, ReportedImage, ScanError, VulnSeverity, Vulnerability};

#[derive(Deserialize)]
struct Log {
    #[serde(default, deserialize_with = "null_default")]
    runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    #[serde(default)]
    tool: Tool,
    #[serde(default, deserialize_with = "null_default")]
    results: Vec<SarifResult>,
    #[serde(default, deserialize_with = "null_default")]
    properties: RunProperties,
}

/// Trivy's run properties for an image scan.
#[derive(Deserialize, Default)]
struct RunProperties {
    #[serde(rename = "imageName")]
    image_name: Option<String>,
    #[serde(rename = "repoTags", default, deserialize_with = "null_default")]
    repo_tags: Vec<String>,
    #[serde(rename = "repoDigests", default, deserialize_with = "null_default")]
    repo_digests: Vec<String>,
}

#[derive(Deserialize, Default)]
struct Tool {
    #[serde(default)]
    driver: Driver,
}

#[derive(Deserialize, Default)]
struct Driver {
    name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    id: String,
    #[serde(rename = "shortDescription")]
    short_description: Option<Text>,
    #[serde(rename = "helpUri")]
    help_uri: Option<String>,
    help: Option<Text>,
    #[serde(default)]
    properties: RuleProperties,
}

#[derive(Deserialize, Default)]
struct RuleProperties {
    #[serde(rename = "security-severity")]
    security_severity: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Text {
    text: Option<String>,
}

#[derive(Deserialize)]
struct SarifResult {
    #[serde(rename = "ruleId")]
    rule_id: Option<String>,
    #[serde(rename = "ruleIndex")]
    rule_index: Option<usize>,
    level: Option<String>,
    message: Option<Text>,
    #[serde(default, deserialize_with = "null_default")]
    locations: Vec<Location>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(
        rename = "logicalLocations",
        default,
        deserialize_with = "null_default"
    )]
    logical: Vec<LogicalLocation>,
}

#[derive(Deserialize)]
struct LogicalLocation {
    #[serde(rename = "fullyQualifiedName")]
    fully_qualified_name: Option<String>,
}

/// The image a run names: Trivy's run properties, else Grype's logical locations.
fn run_image(run: &Run, scanner: &str) -> Option<ReportedImage> {
    let props = &run.properties;
    if let Some(image) = crate::image::reported(
        props.image_name.as_deref(),
        &props.repo_tags,
        &props.repo_digests,
        &[],
    ) {
        return Some(image);
    }
    if !scanner.contains("grype") {
        return None;
    }
    let name = run
        .results
        .iter()
        .flat_map(|r| &r.locations)
        .flat_map(|l| &l.logical)
        .filter_map(|l| l.fully_qualified_name.as_deref())
        .find_map(crate::image::from_grype_location)?;
    crate::image::reported(Some(name), &[], &[], &[])
}

/// What a SARIF log holds: the scanner (first driver name, lowercased), the findings and
/// the image the first run that names one is about.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) scanner: String,
    pub(crate) vulnerabilities: Vec<Vulnerability>,
    pub(crate) image: Option<ReportedImage>,
}

/// Parses a SARIF log.
pub(crate) fn parse(source_name: &str, bytes: &[u8]) -> Result<Parsed, ScanError> {
    let log: Log = from_json(source_name, Format::Sarif, bytes)?;
    let mut scanner = String::new();
    let mut image = None;
    let mut out = Vec::new();
    for (r, run) in log.runs.into_iter().enumerate() {
        let name = run
            .tool
            .driver
            .name
            .as_deref()
            .unwrap_or("sarif")
            .to_ascii_lowercase();
        if scanner.is_empty() {
            scanner.clone_from(&name);
        }
        if image.is_none() {
            image = run_image(&run, &name);
        }
        let rules = &run.tool.driver.rules;
        let by_id: HashMap<&str, &Rule> =
            rules.iter().map(|rule| (rule.id.as_str(), rule)).collect();
        for (i, result) in run.results.iter().enumerate() {
            let rule = result
                .rule_index
                .and_then(|ix| rules.get(ix))
                .filter(|rule| result.rule_id.as_deref().is_none_or(|id| id == rule.id))
                .or_else(|| {
                    result
                        .rule_id
                        .as_deref()
                        .and_then(|id| by_id.get(id).copied())
                });
            let Some(rule_id) = result.rule_id.as_deref().or(rule.map(|r| r.id.as_str())) else {
                return Err(ScanError::InvalidField {
                    source_name: source_name.to_owned(),
                    field: format!("runs[{r}].results[{i}].ruleId"),
                    value: "null".to_owned(),
                    expected: "a rule id naming the vulnerability".to_owned(),
                });
            };
            out.push(convert(&name, rule_id, rule, result));
        }
    }
    if scanner.is_empty() {
        "sarif".clone_into(&mut scanner);
    }
    Ok(Parsed {
        scanner,
        vulnerabilities: out,
        image,
    })
}

/// `Key: value` lines of the message and the rule help (message wins).
fn fields<'a>(texts: &[&'a str]) -> HashMap<String, &'a str> {
    let mut map = HashMap::new();
    for text in texts.iter().rev() {
        for line in text.lines() {
            if let Some(id) = line.strip_prefix("Vulnerability ") {
                map.insert("vulnerability".to_owned(), id.trim());
            } else if let Some((key, value)) = line.split_once(':') {
                map.insert(key.trim().to_ascii_lowercase(), value.trim());
            }
        }
    }
    map
}

fn convert(
    scanner: &str,
    rule_id: &str,
    rule: Option<&Rule>,
    result: &SarifResult,
) -> Vulnerability {
    let message = result
        .message
        .as_ref()
        .and_then(|m| m.text.as_deref())
        .unwrap_or("");
    let help = rule
        .and_then(|r| r.help.as_ref())
        .and_then(|h| h.text.as_deref())
        .unwrap_or("");
    let f = fields(&[message, help]);
    let get = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| f.get(*k).copied())
            .filter(|v| !v.is_empty())
    };
    let package = get(&["package"]).unwrap_or("").to_owned();
    let id = get(&["vulnerability"]).map_or_else(
        || {
            rule_id
                .strip_suffix(package.as_str())
                .and_then(|s| s.strip_suffix('-'))
                .filter(|_| !package.is_empty())
                .unwrap_or(rule_id)
                .to_owned()
        },
        |v| v.split_whitespace().next().unwrap_or(v).to_owned(),
    );
    let mut fixed = Vec::new();
    for version in get(&["fixed version", "fix version"])
        .unwrap_or("")
        .split(',')
    {
        push_unique(&mut fixed, version.trim());
    }
    let cvss = rule
        .and_then(|r| r.properties.security_severity.as_deref())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(valid_cvss);
    let severity = get(&["severity"])
        .and_then(severity_from_str)
        .or_else(|| {
            let tags = rule
                .map(|r| r.properties.tags.as_slice())
                .unwrap_or_default();
            tags.iter()
                .filter(|t| t.chars().all(|c| c.is_ascii_uppercase()))
                .find_map(|t| severity_from_str(t))
        })
        .or_else(|| cvss.map(severity_from_cvss))
        .unwrap_or(match result.level.as_deref() {
            Some("error") => VulnSeverity::High,
            Some("warning") => VulnSeverity::Medium,
            Some("note") => VulnSeverity::Low,
            _ => VulnSeverity::Unknown,
        });
    let url = rule.and_then(|r| r.help_uri.clone()).or_else(|| {
        get(&["link"]).and_then(|l| {
            l.split_once("](")
                .map(|(_, rest)| rest.trim_end_matches(')').to_owned())
        })
    });
    Vulnerability {
        installed: get(&["installed version", "version"])
            .unwrap_or("")
            .to_owned(),
        fix_state: if fixed.is_empty() {
            FixState::NotFixed
        } else {
            FixState::Fixed
        },
        fixed,
        severity,
        cvss,
        scanners: vec![scanner.to_owned()],
        title: rule
            .and_then(|r| r.short_description.as_ref())
            .and_then(|t| t.text.clone()),
        url,
        location: None,
        suppressed_by: None,
        justification: None,
        scanner_severity: None,
        cvss_vectors: Vec::new(),
        operating_system: None,
        aliases: Vec::new(),
        package,
        id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_falls_back_to_score_then_level() {
        let doc = r#"{"runs":[{"tool":{"driver":{"name":"X","rules":[
            {"id":"CVE-1","properties":{"security-severity":"9.1"}},{"id":"CVE-2"}]}},
            "results":[{"ruleId":"CVE-1","message":{"text":"Package: a"}},
                       {"ruleId":"CVE-2","level":"error","message":{"text":"Package: b"}}]}]}"#;
        let Parsed {
            scanner,
            vulnerabilities: v,
            image,
        } = parse("s", doc.as_bytes()).unwrap();
        assert_eq!((scanner.as_str(), image), ("x", None));
        assert_eq!(
            (v[0].severity, v[0].cvss),
            (VulnSeverity::Critical, Some(9.1))
        );
        assert_eq!(v[1].severity, VulnSeverity::High);
        assert_eq!(v[1].fix_state, FixState::NotFixed);
    }

    #[test]
    fn result_without_rule_id_is_an_error_naming_it() {
        let doc = r#"{"runs":[{"results":[{"message":{"text":"x"}}]}]}"#;
        let text = parse("r.sarif", doc.as_bytes()).unwrap_err().to_string();
        assert!(
            text.contains("runs[0].results[0].ruleId") && text.contains("r.sarif"),
            "{text}"
        );
    }
}
