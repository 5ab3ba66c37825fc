//! The normalized vulnerability model shared by every scanner parser and the gate, so that
//! vulnerability findings are the same kind of thing as image findings.

use serde::{Deserialize, Serialize};

/// Normalized severity (Grype's `Negligible` maps to `Negligible`, below `Low`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VulnSeverity {
    Unknown,
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

/// Whether a fix exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixState {
    Fixed,
    NotFixed,
    WontFix,
    Unknown,
}

/// Why a vulnerability does not count against the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressedBy {
    Vex,
    Waiver,
}

/// One vulnerability in one package, merged across scanners.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vulnerability {
    pub id: String,
    pub aliases: Vec<String>,
    pub package: String,
    pub installed: String,
    pub fixed: Vec<String>,
    pub fix_state: FixState,
    pub severity: VulnSeverity,
    pub cvss: Option<f64>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    /// Normalized image reference.
    pub image: String,
    /// Scanners that ran (or reports that were read).
    pub scanners: Vec<String>,
    pub vulnerabilities: Vec<Vulnerability>,
}
