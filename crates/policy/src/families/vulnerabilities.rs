//! Vulnerabilities found by scanners: `[scan] fail-on` and `only-fixed` → `vulnerability`,
//! and the per-image gate summary (what was found, suppressed, waived, decided).

use super::At;
use crate::config::ScanSettings;
use crate::finding::{Detail, Finding, Severity};
use crate::rules::Rule;
use crate::vuln::{
    FixState, ScanGate, ScanResult, SeverityCounts, SuppressedBy, VulnSeverity, Vulnerability,
    VulnerabilityFinding,
};

/// Whether a vulnerability counts against the gate.
#[must_use]
pub fn counts(settings: &ScanSettings, vuln: &Vulnerability) -> bool {
    let Some(threshold) = settings.fail_on.value.threshold() else {
        return false;
    };
    vuln.suppressed_by != Some(SuppressedBy::Vex)
        && vuln.severity >= threshold
        && (!settings.only_fixed.value || vuln.fix_state == FixState::Fixed)
}

/// A `vulnerability` finding for each vulnerability that counts.
pub(crate) fn check(settings: &ScanSettings, at: &At<'_>, scan: &ScanResult) -> Vec<Finding> {
    scan.vulnerabilities
        .iter()
        .filter(|vuln| counts(settings, vuln))
        .map(|vuln| finding(at, &scan.image, vuln))
        .collect()
}

/// The scan inventory with waived vulnerabilities marked `suppressed_by: waiver`, and the
/// gate's summary.
pub(crate) fn judged(
    settings: &ScanSettings,
    scan: &ScanResult,
    findings: &[Finding],
) -> ScanResult {
    let mut scan = scan.clone();
    let mut gate = ScanGate {
        fail_on: settings.fail_on.value.as_str().to_owned(),
        only_fixed: settings.only_fixed.value,
        ..ScanGate::default()
    };
    let mut found = SeverityCounts::default();
    for vuln in &mut scan.vulnerabilities {
        found.add(vuln.severity);
        let waived = findings.iter().any(|finding| {
            finding.waived
                && finding.image.as_deref() == Some(scan.image.as_str())
                && finding.vulnerability().is_some_and(|block| {
                    block.id == vuln.id
                        && block.package == vuln.package
                        && block.installed == vuln.installed
                })
        });
        if waived && vuln.suppressed_by.is_none() {
            vuln.suppressed_by = Some(SuppressedBy::Waiver);
        }
        match vuln.suppressed_by {
            Some(SuppressedBy::Vex) => gate.suppressed_by_vex += 1,
            Some(SuppressedBy::Waiver) => gate.waived += 1,
            None if counts(settings, vuln) => gate.failing += 1,
            None => {}
        }
    }
    gate.found = found;
    gate.passed = gate.failing == 0;
    scan.gate = Some(gate);
    scan
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

fn finding(at: &At<'_>, scanned: &str, vuln: &Vulnerability) -> Finding {
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
    let mut finding = at.finding(Rule::Vulnerability, Severity::Error, message, Some(help));
    finding.image = Some(scanned.to_owned());
    finding.detail = Some(Detail::Vulnerability(VulnerabilityFinding {
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
    }));
    finding
}
