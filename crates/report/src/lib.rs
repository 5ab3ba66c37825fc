//! Renders a [`Report`] for people and machines: human diagnostics (source line, caret, the
//! config entry that caused it, `help:`), the JSON contract, SARIF 2.1.0, Markdown for pull
//! request comments and job summaries, GitHub workflow-command annotations, and the GitLab
//! container-scanning and code-quality reports, and `JUnit` XML.
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
mod markdown;
mod sarif;

pub use gitlab::{gitlab_codequality, gitlab_container_scanning, CONTAINER_SCANNING_VERSION};
pub use markdown::{markdown_with_limit, COMMENT_LIMIT, MARKER, MIN_LIMIT};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Diagnostics with source excerpts, for a terminal or a CI log.
    Human,
    /// The versioned JSON contract (DESIGN.md "JSON report").
    Json,
    /// SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// A pull/merge request comment or job summary body, under GitHub's comment limit.
    Markdown,
    /// GitLab code-quality report (all tiers); the container-scanning report needs a scan
    /// time and has its own function, [`gitlab_container_scanning`].
    GitlabCodequality,
    /// `JUnit` XML for test-report widgets (GitLab merge requests, most CI systems).
    Junit,
}

/// Rendering options.
#[derive(Debug, Clone)]
pub struct RenderOptions<'a> {
    /// Root the finding paths are relative to (to show source lines).
    pub root: &'a Path,
    /// The policy file's name and text, in that order: `(name, text)`, for the secondary
    /// labels that point at the config entry behind a finding.
    pub config: Option<(&'a str, &'a str)>,
    /// ANSI colors in the human format; never any when `false`.
    pub color: bool,
    /// `portcullis` version for `tool.version`.
    pub version: &'a str,
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
        Format::Junit => junit::render(report),
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

/// Why a finding was waived: the reason from the label of the waiver entry in its cause.
/// The policy labels it `waived here: <reason>`; the prefix up to the first `: ` is dropped
/// when the label starts with "waived", and any other label is kept whole.
fn waiver_reason(finding: &Finding) -> Option<&str> {
    let label = finding
        .cause
        .as_ref()
        .map(|c| c.label.as_str())
        .filter(|l| !l.is_empty())?;
    let reason = label
        .starts_with("waived")
        .then(|| label.split_once(": ").map(|(_, reason)| reason))
        .flatten()
        .unwrap_or(label);
    Some(reason)
}

/// `n thing` or `n things`.
fn plural(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
mod tests {
    use portcullis_policy::{ConfigSite, Finding, Rule, Severity};

    use super::waiver_reason;

    fn waived(label: &str) -> Finding {
        Finding {
            rule: Rule::DigestNotPinned,
            severity: Severity::Error,
            message: String::new(),
            help: None,
            image: None,
            location: None,
            context: None,
            waived: true,
            cause: Some(ConfigSite {
                file: "p.toml".into(),
                line: 1,
                column: 1,
                span: 0..1,
                label: label.into(),
            }),
            vulnerability: None,
        }
    }

    #[test]
    fn the_reason_is_taken_from_the_waiver_label() {
        assert_eq!(
            waiver_reason(&waived("waived here: vendor image: Q1")),
            Some("vendor image: Q1")
        );
        assert_eq!(
            waiver_reason(&waived("`[[waiver]]` here")),
            Some("`[[waiver]]` here")
        );
        assert_eq!(waiver_reason(&waived("")), None);
    }
}
