//! The normalized vulnerability model shared by every scanner parser and the gate, so that
//! vulnerability findings are the same kind of thing as image findings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Normalized severity (Grype's `Negligible` maps to `Negligible`, below `Low`). How
/// `Unknown` and `Negligible` gate and show is the policy's `[scan] unknown-as` and
/// `negligible-as` (README "Severities").
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum VulnSeverity {
    #[default]
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

/// Whether a fix exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FixState {
    Fixed,
    NotFixed,
    WontFix,
    #[default]
    Unknown,
}

/// Why a vulnerability does not count against the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuppressedBy {
    Vex,
    Waiver,
}

/// A CVSS vector as a scanner reports it: who rated it and the vector string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CvssVector {
    /// Who issued it (`nvd`, `redhat`, `ghsa`, ...), as the scanner names it.
    pub source: String,
    /// `2.0`, `3.0`, `3.1`, `4.0`, when known.
    pub version: Option<String>,
    /// The vector: `CVSS:3.1/AV:N/...`, or a bare v2 vector `AV:N/AC:L/...`.
    pub vector: String,
}

/// One vulnerability in one package, merged across scanners.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Vulnerability {
    pub id: String,
    pub aliases: Vec<String>,
    pub package: String,
    pub installed: String,
    pub fixed: Vec<String>,
    pub fix_state: FixState,
    /// The severity the gate and every format use: the scanner's, unless the policy maps
    /// it (`unknown-as`, `negligible-as`).
    pub severity: VulnSeverity,
    /// The scanner's own severity when the policy mapped it to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanner_severity: Option<VulnSeverity>,
    pub cvss: Option<f64>,
    /// Every CVSS vector the scanners give, in their order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss_vectors: Vec<CvssVector>,
    /// The image's operating system as the scanner names it (`debian 10.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_system: Option<String>,
    pub scanners: Vec<String>,
    pub title: Option<String>,
    pub url: Option<String>,
    /// Layer digest or file path, when the scanner gives one.
    pub location: Option<String>,
    /// Set by a VEX statement in the scanner output or a VEX document (`not_affected`).
    pub suppressed_by: Option<SuppressedBy>,
    /// VEX justification or waiver reason.
    pub justification: Option<String>,
}

/// The `vulnerability` block of a `vulnerability` finding (DESIGN.md JSON contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VulnerabilityFinding {
    pub id: String,
    pub aliases: Vec<String>,
    pub package: String,
    pub installed: String,
    pub fixed: Vec<String>,
    pub fix_state: FixState,
    pub severity: VulnSeverity,
    pub cvss: Option<f64>,
    pub scanners: Vec<String>,
    pub suppressed_by: Option<SuppressedBy>,
}

/// The result of scanning one image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScanResult {
    /// Normalized image reference.
    pub image: String,
    /// The manifest digest scanned, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Scanners that ran (or reports that were read).
    pub scanners: Vec<String>,
    /// What was read: each hook run or report file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<ScanInput>,
    pub vulnerabilities: Vec<Vulnerability>,
    /// How the policy judged it (filled in by evaluation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<ScanGate>,
}

/// One input of a scan: a hook that ran or a report file that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScanInput {
    /// `hook` or `report`.
    pub kind: String,
    /// The hook's name or the file's path.
    pub source: String,
    /// The scanner that wrote it (`trivy`, `grype`, ...).
    pub scanner: String,
    /// The image the report names, when it names one.
    pub image: Option<String>,
    /// How many findings it listed.
    pub findings: usize,
}

/// Counts per severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub negligible: usize,
    pub unknown: usize,
}

impl SeverityCounts {
    /// Adds one of `severity`.
    pub fn add(&mut self, severity: VulnSeverity) {
        match severity {
            VulnSeverity::Critical => self.critical += 1,
            VulnSeverity::High => self.high += 1,
            VulnSeverity::Medium => self.medium += 1,
            VulnSeverity::Low => self.low += 1,
            VulnSeverity::Negligible => self.negligible += 1,
            VulnSeverity::Unknown => self.unknown += 1,
        }
    }

    /// The total.
    #[must_use]
    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.negligible + self.unknown
    }
}

/// The gate's decision on one scanned image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScanGate {
    /// Every vulnerability found, by severity.
    pub found: SeverityCounts,
    /// Suppressed by a VEX statement.
    pub suppressed_by_vex: usize,
    /// Covered by a waiver.
    pub waived: usize,
    /// `fail-on` of the policy (`none` when nothing fails).
    pub fail_on: String,
    /// `only-fixed` of the policy.
    pub only_fixed: bool,
    /// Unwaived vulnerabilities at or above the threshold.
    pub failing: usize,
    /// Whether the image passed.
    pub passed: bool,
}
