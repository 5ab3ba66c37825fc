//! The policy: `portcullis.toml` (parsed with spans, validated, every error reported at once)
//! and the pure evaluation of facts (image occurrences, registry lookups, scan results)
//! into findings. No I/O beyond reading the config file the caller names.

use std::collections::BTreeMap;

use portcullis_reference::Digest;
use portcullis_sources::Occurrence;
use serde::Serialize;

pub mod config;
mod evaluate;
pub mod rules;
pub mod vuln;
pub mod waiver;

pub use config::{
    settings, CommentMode, Config, ConfigError, ConfigErrors, ConfigSite, FailOn, HookCommand,
    HookSettings, ImagesSettings, MirrorSettings, Platforms, RegistrySettings, ReportFormat,
    ReportSettings, ScanSettings, Settings, SignFormat, SignMode, SignSettings, Signer, Spanned,
    StaleSettings, Trigger, TrustSettings, Waiver, BUILTIN_HOOKS, CONFIG_FILE_NAME,
};
pub use evaluate::{counts as vulnerability_counts, evaluate};
pub use rules::{Rule, UnknownRule};

/// Finding severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// Span of a finding in a checked file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FindingLocation {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

/// A diagnostic: rule, where, why, how to fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// Names the offending value in backticks.
    pub message: String,
    /// The exact command or edit that fixes it.
    pub help: Option<String>,
    /// Normalized image, when the finding is about one.
    pub image: Option<String>,
    pub location: Option<FindingLocation>,
    /// The occurrence context (`dockerfile-from`, ...).
    pub context: Option<String>,
    pub waived: bool,
    /// The config entry that caused the finding (or the waiver that waived it).
    pub cause: Option<ConfigSite>,
    pub vulnerability: Option<vuln::VulnerabilityFinding>,
}

impl Finding {
    /// SARIF `security-severity`: the CVSS score of a vulnerability when known, else a score
    /// from its severity, else the rule's.
    #[must_use]
    pub fn security_severity(&self) -> f32 {
        use vuln::VulnSeverity;
        let Some(vuln) = &self.vulnerability else {
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

/// One image reference seen, for the report's `images` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageEntry {
    pub image: String,
    pub file: String,
    pub line: u32,
    pub context: String,
}

/// Totals for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub files: usize,
    pub images: usize,
    pub errors: usize,
    pub warnings: usize,
    pub waived: usize,
}

/// What evaluation produces and every renderer consumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Sorted by file, line, column, rule.
    pub findings: Vec<Finding>,
    pub images: Vec<ImageEntry>,
    pub scans: Vec<vuln::ScanResult>,
    pub summary: Summary,
}

impl Report {
    /// Exit code contribution: 1 when any unwaived error finding, else 0.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        i32::from(self.summary.errors > 0)
    }
}

/// What the registry said about one reference (keyed by the occurrence's normalized text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFact {
    /// The digest the tag points at now (index digest for multi-platform images).
    pub tag_digest: Option<Digest>,
    /// Digests of the platform manifests under that index (to accept a kept platform pin).
    pub platform_digests: Vec<Digest>,
    /// Whether the pinned digest exists in the repository (`None` when not pinned).
    pub pinned_exists: Option<bool>,
}

/// Everything evaluation looks at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Number of files checked.
    pub files: usize,
    pub occurrences: Vec<Occurrence>,
    /// `--resolve` results by normalized image reference (`ImageRef` Display).
    pub registry: Option<BTreeMap<String, RegistryFact>>,
    pub scans: Vec<vuln::ScanResult>,
    /// The checked root as the user typed it, when it is not the current directory: the
    /// `help:` commands then name files from where the user stands
    /// (`portcullis pin examples/app/Dockerfile`), while `file` stays root-relative.
    pub command_root: Option<String>,
}
