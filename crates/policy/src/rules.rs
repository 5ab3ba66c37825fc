//! The stable rule codes, each with its one description and severity score, and next to
//! them the constructors of their diagnostics, so that a rule's wording lives in one place
//! (docs, `--help`, SARIF rules, the PR comment and the findings themselves).

use std::fmt;
use std::str::FromStr;

use crate::config::{ConfigSite, Waiver};
use crate::vuln::{SuppressedBy, VulnSeverity, Vulnerability, VulnerabilityFinding};
use crate::{Finding, FindingLocation, Severity};

/// Stable rule codes (DESIGN.md). Each has one description used everywhere.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    ImageNotAllowed,
    DigestNotPinned,
    TagMissing,
    TagDenied,
    UnresolvedVariable,
    DigestNotFound,
    DigestStale,
    SignatureMissing,
    SignatureInvalid,
    Vulnerability,
    WaiverExpired,
    WaiverUnused,
    ImageStale,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::ImageNotAllowed,
        Rule::DigestNotPinned,
        Rule::TagMissing,
        Rule::TagDenied,
        Rule::UnresolvedVariable,
        Rule::DigestNotFound,
        Rule::DigestStale,
        Rule::SignatureMissing,
        Rule::SignatureInvalid,
        Rule::Vulnerability,
        Rule::WaiverExpired,
        Rule::WaiverUnused,
        Rule::ImageStale,
    ];

    /// The kebab-case code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::ImageNotAllowed => "image-not-allowed",
            Self::DigestNotPinned => "digest-not-pinned",
            Self::TagMissing => "tag-missing",
            Self::TagDenied => "tag-denied",
            Self::UnresolvedVariable => "unresolved-variable",
            Self::DigestNotFound => "digest-not-found",
            Self::DigestStale => "digest-stale",
            Self::SignatureMissing => "signature-missing",
            Self::SignatureInvalid => "signature-invalid",
            Self::Vulnerability => "vulnerability",
            Self::WaiverExpired => "waiver-expired",
            Self::WaiverUnused => "waiver-unused",
            Self::ImageStale => "image-stale",
        }
    }

    /// The rule with this code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|rule| rule.code() == code)
    }

    /// One-sentence description (docs, `--help`, SARIF rules, PR comment).
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::ImageNotAllowed => "The image matches no `allow` pattern of the policy, or matches a `deny` pattern.",
            Self::DigestNotPinned => "The reference has no `@sha256:` digest, so the image it names can change under it.",
            Self::TagMissing => "The reference has neither tag nor digest, so it silently means `latest`.",
            Self::TagDenied => "The reference uses a tag listed in `deny-tags`, such as `latest`.",
            Self::UnresolvedVariable => {
                "The reference uses a build argument or variable with no value, so it cannot be checked."
            }
            Self::DigestNotFound => "The pinned digest does not exist in the registry.",
            Self::DigestStale => "The tag now points at another digest than the pin.",
            Self::SignatureMissing => "The image has no signature from a signer trusted for it.",
            Self::SignatureInvalid => "The image has a signature that does not verify against the trusted signers.",
            Self::Vulnerability => "The image contains a vulnerability at or above the `fail-on` severity.",
            Self::WaiverExpired => "A waiver's `expires` date has passed, so the findings it covered count again.",
            Self::WaiverUnused => "A waiver matched no finding and can be removed.",
            Self::ImageStale => {
                "The image is stale: its base digest drifted, it is older than `max-age`, or it has fixable vulnerabilities."
            }
        }
    }

    /// SARIF `security-severity` (0.0–10.0) for code scanning. For `vulnerability` findings
    /// prefer [`Finding::security_severity`], which uses the CVSS score.
    #[must_use]
    pub fn security_severity(self) -> f32 {
        match self {
            Self::ImageNotAllowed | Self::SignatureMissing => 8.0,
            Self::SignatureInvalid => 9.0,
            Self::Vulnerability | Self::DigestNotFound => 7.0,
            Self::DigestNotPinned | Self::TagDenied | Self::TagMissing | Self::WaiverExpired => 5.0,
            Self::DigestStale | Self::ImageStale => 4.0,
            Self::UnresolvedVariable => 3.0,
            Self::WaiverUnused => 1.0,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Error for an unknown rule code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rule `{0}`")]
pub struct UnknownRule(pub String);

impl FromStr for Rule {
    type Err = UnknownRule;
    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::from_code(code).ok_or_else(|| UnknownRule(code.to_owned()))
    }
}

/// What a finding is about: where, in which context, which image, from which file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Subject {
    pub(crate) location: Option<FindingLocation>,
    pub(crate) context: Option<String>,
    /// Normalized image.
    pub(crate) image: Option<String>,
    /// The reference as written.
    pub(crate) text: String,
    /// How a command run from the current directory names the file (`help:` lines).
    pub(crate) command_path: Option<String>,
}

impl Subject {
    /// The file as a command typed in the current directory names it.
    fn file(&self) -> &str {
        self.command_path.as_deref().unwrap_or_else(|| {
            self.location
                .as_ref()
                .map_or("<file>", |location| location.file.as_str())
        })
    }

    fn finding(
        &self,
        rule: Rule,
        severity: Severity,
        message: String,
        help: Option<String>,
    ) -> Finding {
        Finding {
            rule,
            severity,
            message,
            help,
            image: self.image.clone(),
            location: self.location.clone(),
            context: self.context.clone(),
            waived: false,
            cause: None,
            vulnerability: None,
        }
    }
}

pub(crate) fn unresolved_variable(subject: &Subject, variable: &str) -> Finding {
    let dockerfile = subject
        .context
        .as_deref()
        .is_some_and(|context| context.starts_with("dockerfile"));
    let help = if dockerfile {
        format!("pass `--build-arg {variable}=VALUE`, or give `ARG {variable}` a default value")
    } else {
        "write the image reference literally, or check the file where the value is known".to_owned()
    };
    let message = format!(
        "`{}` uses `{variable}`, which has no value here, so the image cannot be checked",
        subject.text
    );
    subject.finding(
        Rule::UnresolvedVariable,
        Severity::Error,
        message,
        Some(help),
    )
}

pub(crate) fn image_denied(
    subject: &Subject,
    pattern: &str,
    cause: Option<&ConfigSite>,
) -> Finding {
    let image = subject.image.as_deref().unwrap_or_default();
    let message = format!("`{image}` matches the deny pattern `{pattern}`");
    let help = "use another image; the policy refuses this one".to_owned();
    let mut finding = subject.finding(Rule::ImageNotAllowed, Severity::Error, message, Some(help));
    finding.cause = cause.map(|site| site.labelled(format!("`{pattern}` denied here")));
    finding
}

pub(crate) fn image_not_allowed(
    subject: &Subject,
    name: &str,
    cause: Option<&ConfigSite>,
) -> Finding {
    let image = subject.image.as_deref().unwrap_or_default();
    let message = format!("`{image}` matches no `allow` pattern");
    let help =
        format!("use an allowed image, or add a pattern matching `{name}` to `[images] allow`");
    let mut finding = subject.finding(Rule::ImageNotAllowed, Severity::Error, message, Some(help));
    finding.cause = cause.map(|site| site.labelled("no pattern of `allow` matches"));
    finding
}

pub(crate) fn digest_not_pinned(subject: &Subject, cause: Option<&ConfigSite>) -> Finding {
    let message = format!("`{}` is not pinned to a digest", subject.text);
    let help = format!("run `portcullis pin {}`", subject.file());
    let mut finding = subject.finding(Rule::DigestNotPinned, Severity::Error, message, Some(help));
    finding.cause = cause.map(|site| site.labelled("`require-digest` set here"));
    finding
}

pub(crate) fn tag_missing(subject: &Subject) -> Finding {
    let message = format!(
        "`{}` has neither tag nor digest, so it means `latest`",
        subject.text
    );
    let help = format!(
        "write the tag you mean, then run `portcullis pin {}`",
        subject.file()
    );
    subject.finding(Rule::TagMissing, Severity::Error, message, Some(help))
}

pub(crate) fn tag_denied(
    subject: &Subject,
    tag: &str,
    pinned: bool,
    cause: Option<&ConfigSite>,
) -> Finding {
    let (severity, message, help) = if pinned {
        (
            Severity::Warning,
            format!(
                "`{}` uses the denied tag `{tag}` (pinned by digest, so it does not move)",
                subject.text
            ),
            "replace the tag with the version the digest points at".to_owned(),
        )
    } else {
        (
            Severity::Error,
            format!("`{}` uses the denied tag `{tag}`", subject.text),
            format!(
                "use a version tag instead of `{tag}`, then run `portcullis pin {}`",
                subject.file()
            ),
        )
    };
    let mut finding = subject.finding(Rule::TagDenied, severity, message, Some(help));
    finding.cause = cause.map(|site| site.labelled(format!("`{tag}` denied here")));
    finding
}

pub(crate) fn digest_not_found(subject: &Subject, digest: &str, has_tag: bool) -> Finding {
    let message = format!(
        "the pinned digest `{digest}` of `{}` does not exist in the registry",
        subject.text
    );
    let help = if has_tag {
        format!(
            "run `portcullis pin {}` to pin the digest the tag points at now",
            subject.file()
        )
    } else {
        "pin a digest that exists in the repository".to_owned()
    };
    subject.finding(Rule::DigestNotFound, Severity::Error, message, Some(help))
}

pub(crate) fn digest_stale(subject: &Subject, pinned: &str, current: &str) -> Finding {
    let message = format!(
        "the tag of `{}` now points at `{current}`, not the pinned `{pinned}`",
        subject.text
    );
    let help = format!("run `portcullis pin {}` to update the pin", subject.file());
    subject.finding(Rule::DigestStale, Severity::Warning, message, Some(help))
}

fn severity_name(severity: VulnSeverity) -> &'static str {
    match severity {
        VulnSeverity::Unknown => "unknown",
        VulnSeverity::Negligible => "negligible",
        VulnSeverity::Low => "low",
        VulnSeverity::Medium => "medium",
        VulnSeverity::High => "high",
        VulnSeverity::Critical => "critical",
    }
}

pub(crate) fn vulnerability(subject: &Subject, scanned: &str, vuln: &Vulnerability) -> Finding {
    let fixed = if vuln.fixed.is_empty() {
        String::new()
    } else {
        format!(", fixed in `{}`", vuln.fixed.join("`, `"))
    };
    let message = format!(
        "`{}` ({}) in `{}` `{}` of `{scanned}`{fixed}",
        vuln.id,
        severity_name(vuln.severity),
        vuln.package,
        vuln.installed
    );
    let help = if vuln.fixed.is_empty() {
        format!(
            "no fix is available: rebuild on another base, or add a `[[waiver]]` with `ids = [\"{}\"]`, a reason and an expiry date",
            vuln.id
        )
    } else {
        format!(
            "upgrade `{}` to `{}` or rebuild on a patched base image",
            vuln.package, vuln.fixed[0]
        )
    };
    let mut finding = subject.finding(Rule::Vulnerability, Severity::Error, message, Some(help));
    finding.image = Some(scanned.to_owned());
    finding.vulnerability = Some(VulnerabilityFinding {
        id: vuln.id.clone(),
        aliases: vuln.aliases.clone(),
        package: vuln.package.clone(),
        installed: vuln.installed.clone(),
        fixed: vuln.fixed.clone(),
        fix_state: vuln.fix_state,
        severity: vuln.severity,
        cvss: vuln.cvss,
        scanners: vuln.scanners.clone(),
        suppressed_by: vuln.suppressed_by.clone(),
    });
    finding
}

/// What a waiver covers, for messages: `digest-not-pinned, CVE-2024-1234`.
fn waiver_scope(waiver: &Waiver) -> String {
    let mut parts: Vec<String> = waiver
        .rules
        .iter()
        .map(|rule| format!("`{}`", rule.value))
        .collect();
    parts.extend(waiver.ids.iter().map(|id| format!("`{}`", id.value)));
    parts.join(", ")
}

fn waiver_subject(waiver: &Waiver) -> Subject {
    Subject {
        location: waiver.location.clone(),
        ..Subject::default()
    }
}

pub(crate) fn waiver_expired(waiver: &Waiver) -> Finding {
    let message = format!(
        "the waiver for {} expired on `{}` (reason: {})",
        waiver_scope(waiver),
        waiver.expires.value,
        waiver.reason.value
    );
    let help =
        "fix what it waived and delete the waiver, or set a new `expires` date with a reason"
            .to_owned();
    let mut finding =
        waiver_subject(waiver).finding(Rule::WaiverExpired, Severity::Error, message, Some(help));
    finding.cause = waiver
        .expires
        .site
        .as_ref()
        .map(|site| site.labelled("expired here"));
    finding
}

pub(crate) fn waiver_unused(waiver: &Waiver) -> Finding {
    let message = format!("the waiver for {} matched no finding", waiver_scope(waiver));
    let help = "delete the waiver".to_owned();
    let mut finding =
        waiver_subject(waiver).finding(Rule::WaiverUnused, Severity::Warning, message, Some(help));
    finding.cause.clone_from(&waiver.site);
    finding
}

/// Marks a finding waived by `waiver`.
pub(crate) fn waive(finding: &mut Finding, waiver: &Waiver) {
    finding.waived = true;
    finding.cause = waiver
        .site
        .as_ref()
        .map(|site| site.labelled(format!("waived here: {}", waiver.reason.value)));
    if let Some(block) = &mut finding.vulnerability {
        block.suppressed_by = Some(SuppressedBy::Waiver);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_and_match_serde() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            let code = rule.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code}"
            );
            assert!(
                !code.starts_with('-') && !code.ends_with('-') && !code.contains("--"),
                "{code}"
            );
            assert_eq!(serde_json::to_value(rule).unwrap(), serde_json::json!(code));
            assert_eq!(
                serde_json::from_value::<Rule>(serde_json::json!(code)).unwrap(),
                rule
            );
            assert_eq!(code.parse::<Rule>(), Ok(rule));
            assert!(rule.description().ends_with('.'), "{code}");
            assert!((0.0..=10.0).contains(&rule.security_severity()), "{code}");
        }
        assert_eq!(seen.len(), Rule::ALL.len());
        assert!("nope".parse::<Rule>().is_err());
    }
}
