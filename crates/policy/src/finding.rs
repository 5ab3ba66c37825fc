//! A finding: one diagnostic with a stable rule code, where it is, why, how to fix it, the
//! config entry behind it, the waiver that applied (if any), and its family's own detail.

use portcullis_reference::{Context, Digest, Location};
use serde::Serialize;

use crate::rules::Rule;
use crate::vuln::{VulnSeverity, VulnerabilityFinding};
use crate::ConfigSite;

/// Finding severity.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// The waiver that covered a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedWaiver {
    /// Why the exception exists.
    pub reason: String,
    /// Last day it applies; `None` for an inline waiver without `until`.
    pub expires: Option<jiff::civil::Date>,
    /// Where it is declared: the `[[waiver]]` header of a policy file, or an inline comment.
    pub declared: Option<Location>,
}

/// What only one rule family knows about a finding.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// `vulnerability`: the vulnerability, merged across scanners.
    Vulnerability(VulnerabilityFinding),
    /// `digest-stale`: the pin and where the tag points now.
    DigestStale { pinned: Digest, current: Digest },
    /// `digest-not-found`: the pin that the registry does not have.
    DigestNotFound { pinned: Digest },
    /// `image-stale`: the image, its digest now and why it is stale (what a rebuild
    /// trigger sends).
    ImageStale(crate::families::staleness::StaleDetail),
    /// `scan-report-mismatch`: what the report names and what was scanned.
    ReportMismatch { reported: String, expected: String },
}

/// A diagnostic: rule, where, why, how to fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// Names the offending value in backticks.
    pub message: String,
    /// The exact command or edit that fixes it.
    pub help: Option<String>,
    /// Normalized image, when the finding is about one.
    pub image: Option<String>,
    pub location: Option<Location>,
    /// Where, syntactically, the reference is written.
    pub context: Option<Context>,
    /// Whether a waiver covers it (then it does not count).
    pub waived: bool,
    /// The waiver that covers it.
    pub waiver: Option<AppliedWaiver>,
    /// The config entry that caused the finding (or the waiver that waived it).
    pub cause: Option<ConfigSite>,
    /// The rule family's own detail.
    pub detail: Option<Detail>,
}

impl Finding {
    /// A finding with nothing but its rule, severity and wording.
    #[must_use]
    pub fn new(rule: Rule, severity: Severity, message: String, help: Option<String>) -> Self {
        Self {
            rule,
            severity,
            message,
            help,
            image: None,
            location: None,
            context: None,
            waived: false,
            waiver: None,
            cause: None,
            detail: None,
        }
    }

    /// The vulnerability of a `vulnerability` finding.
    #[must_use]
    pub fn vulnerability(&self) -> Option<&VulnerabilityFinding> {
        match &self.detail {
            Some(Detail::Vulnerability(vuln)) => Some(vuln),
            _ => None,
        }
    }

    /// The detail of an `image-stale` finding.
    #[must_use]
    pub fn stale(&self) -> Option<&crate::families::staleness::StaleDetail> {
        match &self.detail {
            Some(Detail::ImageStale(stale)) => Some(stale),
            _ => None,
        }
    }

    /// Whether it counts against the gate.
    #[must_use]
    pub fn counts(&self, severity: Severity) -> bool {
        !self.waived && self.severity == severity
    }

    /// SARIF `security-severity`: the CVSS score of a vulnerability when known, else a score
    /// from its severity, else the rule's.
    #[must_use]
    pub fn security_severity(&self) -> f32 {
        let Some(vuln) = self.vulnerability() else {
            return self.rule.security_severity();
        };
        #[allow(clippy::cast_possible_truncation)]
        if let Some(cvss) = vuln.cvss.filter(|score| (0.0..=10.0).contains(score)) {
            return cvss as f32;
        }
        match vuln.severity {
            VulnSeverity::Critical => 9.5,
            VulnSeverity::High => 8.0,
            VulnSeverity::Medium => 5.5,
            VulnSeverity::Low => 3.0,
            VulnSeverity::Negligible => 1.0,
            VulnSeverity::Unknown => self.rule.security_severity(),
        }
    }
}
