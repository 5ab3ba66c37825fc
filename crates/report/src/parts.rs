//! Which command a finding comes from. A report may hold a `check`, the scans of `scan`, or
//! both (`ci` merges them); formats that keep commands apart (SARIF runs with their own
//! `automationDetails.id`, one `JUnit` suite per command) split it here, so an upload of
//! the scan never closes the check's alerts.
//!
//! A `vulnerability` or `scan-report-mismatch` finding about a scanned image belongs to that
//! image's scan; everything else to the check. A report of scans only (no files read) has
//! no check part: its other findings (an unused waiver) go with the first scan.

use portcullis_policy::vuln::{ScanResult, Vulnerability, VulnerabilityFinding};
use portcullis_policy::{Finding, Report, Rule};
use portcullis_reference::ImageRef;

/// One scanned image and the indices of its findings in `report.findings`.
pub(crate) struct ScanPart<'r> {
    pub scan: &'r ScanResult,
    pub findings: Vec<usize>,
}

/// The report split by command; indices point into `report.findings`.
pub(crate) struct Parts<'r> {
    /// The check's findings, when the report has a check.
    pub check: Option<Vec<usize>>,
    pub scans: Vec<ScanPart<'r>>,
}

/// Whether a finding is about a scan of `image`.
fn of_scan(finding: &Finding, image: &str) -> bool {
    matches!(finding.rule, Rule::Vulnerability | Rule::ScanReportMismatch)
        && finding.image.as_deref() == Some(image)
}

/// Splits `report` by command.
pub(crate) fn split(report: &Report) -> Parts<'_> {
    let has_check = report.scans.is_empty() || report.summary.files > 0;
    let mut scans: Vec<ScanPart<'_>> = report
        .scans
        .iter()
        .map(|scan| ScanPart {
            scan,
            findings: Vec::new(),
        })
        .collect();
    let mut check = Vec::new();
    for (i, finding) in report.findings.iter().enumerate() {
        match scans.iter_mut().find(|p| of_scan(finding, &p.scan.image)) {
            Some(part) => part.findings.push(i),
            None => match scans.first_mut() {
                Some(first) if !has_check => first.findings.push(i),
                _ => check.push(i),
            },
        }
    }
    Parts {
        check: has_check.then_some(check),
        scans,
    }
}

/// Whether a finding's vulnerability block is this inventory entry.
pub(crate) fn same_vulnerability(block: &VulnerabilityFinding, vuln: &Vulnerability) -> bool {
    block.id == vuln.id && block.package == vuln.package && block.installed == vuln.installed
}

/// Where `image` is written in the report's `images`: the same reference, else the same
/// repository.
pub(crate) fn sighting<'r>(
    report: &'r Report,
    image: &str,
) -> Option<&'r portcullis_policy::ImageEntry> {
    if let Some(entry) = report.images.iter().find(|e| e.image == image) {
        return Some(entry);
    }
    let name = ImageRef::parse(image).ok()?;
    report.images.iter().find(|e| {
        ImageRef::parse(&e.image)
            .ok()
            .is_some_and(|seen| seen.name() == name.name())
    })
}
