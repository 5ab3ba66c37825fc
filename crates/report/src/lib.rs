//! Renders a [`Report`] for people and machines, in one [`Format`] vocabulary: human
//! diagnostics (source line, caret, the config entry that caused it, `help:`, what a scan
//! read and decided, which policies applied), the JSON contract, SARIF 2.1.0, Markdown for
//! pull request comments and job summaries, `JUnit` XML, and the GitLab code-quality and
//! container-scanning reports; also GitHub workflow-command annotations.
//!
//! Every renderer is a pure function of the report (the human one also reads the source files
//! under [`RenderOptions::root`] to quote them). Nothing here decides the gate: the report's
//! contents are the same whatever the format, so a SARIF upload never changes the exit code.

use std::path::Path;

pub use portcullis_policy::Report;
use portcullis_policy::{Finding, Rule, Severity};

mod annotations;
mod fingerprint;
mod gitlab;
mod human;
mod json;
mod junit;
mod links;
mod markdown;
mod parts;
mod sarif;
mod sarif_scan;
mod schema;

pub use gitlab::{gitlab_codequality, gitlab_container_scanning, CONTAINER_SCANNING_VERSION};
pub use links::{encode_segment, SourceLinks};
pub use markdown::{markdown_with_limit, COMMENT_LIMIT, MARKER, MIN_LIMIT};
pub use sarif::{scan_run_id, CHECK_RUN_ID};
pub use sarif_scan::{level as vulnerability_level, security_severity as vulnerability_score};
pub use schema::json_schema;

/// Output format: one vocabulary for every command. Each command's short name `gitlab`
/// stands for the GitLab report that command makes (code quality for `check`, container
/// scanning for `scan`); the CLI maps it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::Display,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Format {
    /// Diagnostics with source excerpts, for a terminal or a CI log.
    Human,
    /// The versioned JSON contract (DESIGN.md "JSON report").
    Json,
    /// SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// A pull/merge request comment or job summary body, under GitHub's comment limit.
    Markdown,
    /// `JUnit` XML for test-report widgets (GitLab merge requests, most CI systems).
    Junit,
    /// GitLab code-quality report (all tiers).
    GitlabCodequality,
    /// GitLab container-scanning report (schema 15.0.7).
    GitlabContainerScanning,
}

impl Format {
    /// The format a command's `--format NAME` means: the kebab-case name of any format,
    /// or `gitlab`, which stands for `gitlab` (the GitLab report that command makes).
    pub fn from_name(name: &str, gitlab: Format) -> Result<Self, UnknownFormat> {
        if name == "gitlab" {
            return Ok(gitlab);
        }
        name.parse().map_err(|_| UnknownFormat(name.to_owned()))
    }

    /// Every name [`Format::from_name`] accepts.
    #[must_use]
    pub fn names() -> Vec<&'static str> {
        use strum::IntoEnumIterator as _;
        let mut names: Vec<&'static str> = Format::iter().map(Into::into).collect();
        names.push("gitlab");
        names
    }
}

/// An output format name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}` (expected {list})", list = Format::names().join(", "))]
pub struct UnknownFormat(pub String);

/// Rendering options.
#[derive(Debug, Clone)]
pub struct RenderOptions<'a> {
    /// The repository root the finding paths are relative to (to quote source lines).
    pub root: &'a Path,
    /// The policy files that applied, `(name, text)`, for the secondary labels that point
    /// at the config entry behind a finding.
    pub configs: &'a [(String, String)],
    /// ANSI colors in the human format; never any when `false`.
    pub color: bool,
    /// Errors only (`-q`): the human format leaves out warnings, notes, waived findings
    /// and the summary.
    pub quiet: bool,
    /// `portcullis` version for `tool.version`.
    pub version: &'a str,
    /// When the report was made (the container-scanning report's scan times).
    pub generated: jiff::Timestamp,
    /// Where the checked files can be read on the web: the Markdown then links each
    /// `file:line` to that line at the commit. `None` writes plain places.
    pub links: Option<&'a SourceLinks>,
}

/// Renders `report` in `format`.
#[must_use]
pub fn render(report: &Report, format: Format, options: &RenderOptions<'_>) -> String {
    match format {
        Format::Human => human::render(report, options),
        Format::Json => json::render(report, options),
        Format::Sarif => sarif::render(report, options),
        Format::Markdown => markdown::render(report, options),
        Format::GitlabCodequality => gitlab_codequality(report),
        Format::GitlabContainerScanning => {
            gitlab_container_scanning(report, options, options.generated)
        }
        Format::Junit => junit::render(report),
    }
}

/// Writes `report` in `format` to `out`, the same bytes as [`render`]. The JSON report is
/// written as it is serialized, so a large one never sits whole in memory.
///
/// # Errors
///
/// When writing to `out` fails; what was written before stays written.
pub fn render_to(
    report: &Report,
    format: Format,
    options: &RenderOptions<'_>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => json::write(report, options, out),
        _ => out.write_all(render(report, format, options).as_bytes()),
    }
}

/// GitHub Actions workflow commands (`::error file=…,line=…::…`), one per unwaived finding.
#[must_use]
pub fn github_annotations(report: &Report) -> String {
    annotations::render(report)
}

/// Where portcullis lives, for `informationUri` and links.
pub const HOMEPAGE: &str = "https://github.com/portcullis-dev/portcullis";

/// The tool name written into machine-readable reports.
pub const TOOL_NAME: &str = "portcullis";

/// The kebab-case code of a rule, the one identifier every format uses.
fn code(rule: Rule) -> &'static str {
    rule.code()
}

/// `error`, `warning` or `note`: the JSON contract's and SARIF's spelling.
fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// Why a finding was waived: the reason of the waiver that applied.
fn waiver_reason(finding: &Finding) -> Option<&str> {
    finding
        .waiver
        .as_ref()
        .map(|waiver| waiver.reason.as_str())
        .filter(|reason| !reason.is_empty())
}

/// `n thing` or `n things`.
fn plural(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
mod tests {
    use portcullis_policy::{AppliedWaiver, Finding, Rule, Severity};
    use strum::IntoEnumIterator as _;

    use super::{waiver_reason, Format};

    #[test]
    fn the_reason_is_the_applied_waivers() {
        let mut finding = Finding::new(Rule::DigestNotPinned, Severity::Error, String::new(), None);
        assert_eq!(waiver_reason(&finding), None);
        finding.waived = true;
        finding.waiver = Some(AppliedWaiver {
            reason: "vendor image: Q1".into(),
            expires: Some(jiff::civil::date(2027, 1, 1)),
            declared: None,
        });
        assert_eq!(waiver_reason(&finding), Some("vendor image: Q1"));
    }

    #[test]
    fn format_names_round_trip() {
        for format in Format::iter() {
            let name: &str = format.into();
            assert_eq!(name.parse::<Format>(), Ok(format));
        }
        assert_eq!(
            "gitlab-container-scanning".parse::<Format>(),
            Ok(Format::GitlabContainerScanning)
        );
        assert!("gitlab".parse::<Format>().is_err());
        let codequality = Format::GitlabCodequality;
        assert_eq!(Format::from_name("gitlab", codequality), Ok(codequality));
        assert_eq!(
            Format::from_name("gitlab-container-scanning", codequality),
            Ok(Format::GitlabContainerScanning)
        );
        let err = Format::from_name("yaml", codequality)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`yaml`") && err.contains("sarif"), "{err}");
    }
}
