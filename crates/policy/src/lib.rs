//! The policy: `portcullis.toml` (parsed with spans, validated, every error reported at once)
//! and the pure evaluation of facts (image occurrences, registry lookups, scan results)
//! into findings. No I/O beyond reading the config file the caller names.
//!
//! INTERFACE STUB: the public API below is the contract other crates build against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portcullis_reference::Digest;
use portcullis_sources::Occurrence;
use serde::Serialize;

pub mod vuln;

/// Every problem found in a config file, collected before failing.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

/// One config problem at `file:line:col`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Names the offending key or value in backticks.
    pub message: String,
}

/// Where a config value is written, for the secondary label of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ConfigSite {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Byte range in the config file.
    pub span: std::ops::Range<usize>,
    /// What the label says, e.g. "`deny-tags` set here".
    pub label: String,
}

/// The loaded policy. Construct with [`Config::load`], [`Config::from_str`] or
/// [`Config::embedded_default`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from; `None` for the embedded default.
    pub path: Option<PathBuf>,
    /// The source text (for diagnostics).
    pub source: String,
    // Further fields are private to the implementation.
}

impl Config {
    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        todo!("{}", path.display())
    }
    /// Parses and validates text; `name` is used in error messages.
    pub fn parse(name: &str, text: &str) -> Result<Self, ConfigErrors> {
        todo!("{name} {}", text.len())
    }
    /// Require digests, deny `latest`, allow everything.
    #[must_use]
    pub fn embedded_default() -> Self {
        todo!()
    }
    /// Walks up from `start` looking for `portcullis.toml`.
    #[must_use]
    pub fn find(start: &Path) -> Option<PathBuf> {
        todo!("{}", start.display())
    }
    /// The commented starter file `portcullis init` writes (it must pass validation).
    #[must_use]
    pub fn starter() -> &'static str {
        todo!()
    }
}

/// Stable rule codes (DESIGN.md). Each has one description used everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
        todo!("{self:?}")
    }
    /// One-sentence description (docs, `--help`, SARIF rules, PR comment).
    #[must_use]
    pub fn description(self) -> &'static str {
        todo!("{self:?}")
    }
    /// SARIF `security-severity` (0.0–10.0) for code scanning.
    #[must_use]
    pub fn security_severity(self) -> f32 {
        todo!("{self:?}")
    }
}

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
}

/// Evaluates facts against the policy. `today` decides waiver expiry.
#[must_use]
pub fn evaluate(config: &Config, facts: &Facts, today: jiff::civil::Date) -> Report {
    todo!("{config:?} {facts:?} {today}")
}
