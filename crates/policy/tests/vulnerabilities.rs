//! Vulnerability gating: `fail-on` × severity × `only-fixed`, VEX suppression, and where a
//! vulnerability finding points.

mod common;

use common::{config, facts, image, today, DIGEST};
use portcullis_policy::vuln::{FixState, ScanResult, SuppressedBy, VulnSeverity, Vulnerability};
use portcullis_policy::{evaluate, vulnerability_counts, Rule};

fn vuln(severity: VulnSeverity, fix_state: FixState) -> Vulnerability {
    Vulnerability {
        id: "CVE-2024-0001".to_owned(),
        aliases: vec!["GHSA-abcd-efgh-ijkl".to_owned()],
        package: "openssl".to_owned(),
        installed: "3.0.1".to_owned(),
        fixed: if fix_state == FixState::Fixed {
            vec!["3.0.2".to_owned()]
        } else {
            vec![]
        },
        fix_state,
        severity,
        cvss: Some(7.5),
        scanners: vec!["trivy".to_owned(), "grype".to_owned()],
        title: None,
        url: None,
        location: None,
        suppressed_by: None,
        justification: None,
        scanner_severity: None,
        cvss_vectors: Vec::new(),
        operating_system: None,
    }
}

#[test]
fn threshold_table() {
    use FixState::{Fixed, NotFixed};
    use VulnSeverity::{Critical, High, Low, Medium, Negligible, Unknown};
    // (fail-on, only-fixed, severity, fix state, counts)
    let table = [
        ("critical", false, Critical, NotFixed, true),
        ("critical", false, High, Fixed, false),
        ("high", false, Critical, NotFixed, true),
        ("high", false, High, NotFixed, true),
        ("high", false, Medium, Fixed, false),
        ("high", true, High, NotFixed, false),
        ("high", true, High, Fixed, true),
        ("high", true, Critical, FixState::WontFix, false),
        ("medium", false, Medium, NotFixed, true),
        ("medium", false, Low, Fixed, false),
        ("low", false, Low, NotFixed, true),
        ("low", false, Negligible, Fixed, false),
        ("low", false, Unknown, Fixed, false),
        ("none", false, Critical, Fixed, false),
        ("none", true, Critical, Fixed, false),
    ];
    for (fail_on, only_fixed, severity, fix_state, expected) in table {
        let config = config(&format!(
            "[scan]\nfail-on = \"{fail_on}\"\nonly-fixed = {only_fixed}\n"
        ));
        let vuln = vuln(severity, fix_state);
        assert_eq!(
            vulnerability_counts(config.scan(), &vuln),
            expected,
            "fail-on={fail_on} only-fixed={only_fixed} {severity:?} {fix_state:?}"
        );
        let mut facts = facts(vec![]);
        facts.scans = vec![ScanResult {
            image: "docker.io/library/alpine:3.20".to_owned(),
            scanners: vec!["trivy".to_owned()],
            vulnerabilities: vec![vuln],
            ..ScanResult::default()
        }];
        let report = evaluate(&config, &facts, today());
        assert_eq!(
            report.findings.len(),
            usize::from(expected),
            "{fail_on} {severity:?}"
        );
        assert_eq!(
            report.scans[0].vulnerabilities.len(),
            1,
            "the inventory keeps everything"
        );
    }
}

#[test]
fn default_threshold_is_high() {
    let config = config("");
    assert!(vulnerability_counts(
        config.scan(),
        &vuln(VulnSeverity::High, FixState::NotFixed)
    ));
    assert!(!vulnerability_counts(
        config.scan(),
        &vuln(VulnSeverity::Medium, FixState::Fixed)
    ));
}

#[test]
fn vex_suppressed_is_not_a_finding() {
    let mut suppressed = vuln(VulnSeverity::Critical, FixState::Fixed);
    suppressed.suppressed_by = Some(SuppressedBy::Vex);
    let mut facts = facts(vec![]);
    facts.scans = vec![ScanResult {
        image: "docker.io/library/alpine:3.20".to_owned(),
        scanners: vec!["trivy".to_owned()],
        vulnerabilities: vec![suppressed],
        ..ScanResult::default()
    }];
    let report = evaluate(&config(""), &facts, today());
    assert!(report.findings.is_empty());
    assert_eq!(
        report.scans[0].vulnerabilities[0].suppressed_by,
        Some(SuppressedBy::Vex)
    );
}

#[test]
fn finding_points_at_the_reference_that_brought_the_image_in() {
    let pinned = format!("alpine:3.20@{DIGEST}");
    let mut facts = facts(vec![
        image("Dockerfile", 1, &format!("nginx:1@{DIGEST}")),
        image("app/Dockerfile", 4, &pinned),
    ]);
    facts.scans = vec![ScanResult {
        image: format!("docker.io/library/alpine:3.20@{DIGEST}"),
        scanners: vec!["trivy".to_owned()],
        vulnerabilities: vec![vuln(VulnSeverity::Critical, FixState::Fixed)],
        ..ScanResult::default()
    }];
    let report = evaluate(&config(""), &facts, today());
    assert_eq!(report.findings.len(), 1);
    let finding = &report.findings[0];
    assert_eq!(finding.rule, Rule::Vulnerability);
    let location = finding.location.as_ref().unwrap();
    assert_eq!(
        (location.file.as_str(), location.line),
        ("app/Dockerfile", 4)
    );
    assert_eq!(
        finding.context,
        Some(portcullis_policy::Context::DockerfileFrom)
    );
    assert!(finding.message.contains("`CVE-2024-0001`") && finding.message.contains("`openssl`"));
    assert!(finding.help.as_ref().unwrap().contains("`3.0.2`"));
    let block = finding.vulnerability().unwrap();
    assert_eq!(block.aliases, ["GHSA-abcd-efgh-ijkl"]);
    assert_eq!(block.scanners, ["trivy", "grype"]);
    assert_eq!(block.suppressed_by, None);
    assert!((finding.security_severity() - 7.5).abs() < f32::EPSILON);
    let json = serde_json::to_value(block).unwrap();
    assert_eq!(json["fix_state"], "fixed");
    assert_eq!(json["severity"], "critical");
    let gate = report.scans[0].gate.as_ref().unwrap();
    assert_eq!(
        (gate.found.critical, gate.failing, gate.passed),
        (1, 1, false)
    );
}

#[test]
fn scanned_image_not_referenced_has_no_location() {
    let mut facts = facts(vec![]);
    facts.scans = vec![ScanResult {
        image: "ghcr.io/org/app:1".to_owned(),
        scanners: vec!["grype".to_owned()],
        vulnerabilities: vec![vuln(VulnSeverity::High, FixState::NotFixed)],
        ..ScanResult::default()
    }];
    let report = evaluate(&config(""), &facts, today());
    assert_eq!(report.findings[0].location, None);
    assert_eq!(
        report.findings[0].image.as_deref(),
        Some("ghcr.io/org/app:1")
    );
    assert!(report.findings[0]
        .help
        .as_ref()
        .unwrap()
        .contains("ids = [\"CVE-2024-0001\"]"));
    assert_eq!(report.exit_code(), 1);
}

/// `unknown-as` and `negligible-as` rate what the scanner left open: the rated severity is
/// what the gate judges and what the report shows, with the scanner's kept beside it.
#[test]
fn unknown_and_negligible_are_rated_by_the_policy() {
    use VulnSeverity::{High, Low, Medium, Negligible, Unknown};
    let scan = |severity| ScanResult {
        image: "docker.io/library/alpine:3.20".to_owned(),
        scanners: vec!["trivy".to_owned()],
        vulnerabilities: vec![vuln(severity, FixState::NotFixed)],
        ..ScanResult::default()
    };
    // (policy, scanner severity, rated severity, fails the gate)
    let table = [
        ("", Unknown, Unknown, false),
        ("", Negligible, Negligible, false),
        ("unknown-as = \"medium\"\n", Unknown, Medium, false),
        ("unknown-as = \"high\"\n", Unknown, High, true),
        ("unknown-as = \"high\"\n", Negligible, Negligible, false),
        (
            "negligible-as = \"low\"\nfail-on = \"low\"\n",
            Negligible,
            Low,
            true,
        ),
        ("unknown-as = \"high\"\n", Medium, Medium, false),
    ];
    for (policy, scanner, rated, fails) in table {
        let config = config(&format!("[scan]\n{policy}"));
        let mut facts = facts(vec![]);
        facts.scans = vec![scan(scanner)];
        let report = evaluate(&config, &facts, today());
        let listed = &report.scans[0].vulnerabilities[0];
        assert_eq!(listed.severity, rated, "{policy} {scanner:?}");
        let kept = (rated != scanner).then_some(scanner);
        assert_eq!(listed.scanner_severity, kept, "{policy} {scanner:?}");
        assert_eq!(
            report.findings.len(),
            usize::from(fails),
            "{policy} {scanner:?}"
        );
        if fails {
            assert_eq!(report.findings[0].vulnerability().unwrap().severity, rated);
        }
        assert_eq!(
            report.scans[0].gate.as_ref().unwrap().failing,
            usize::from(fails)
        );
    }
}

#[test]
fn a_severity_that_is_no_level_names_the_choices() {
    let err = portcullis_policy::Config::parse("p.toml", "[scan]\nunknown-as = \"severe\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`severe`") && err.contains("medium"), "{err}");
}

/// The count of VEX-suppressed vulnerabilities is in the summary, apart from waived
/// findings, and a waived vulnerability names its waiver's reason in the inventory.
#[test]
fn vex_suppressions_are_counted_and_waivers_named() {
    let config = config(
        "[scan]\nfail-on = \"high\"\n\n[[waiver]]\nids = [\"CVE-2024-0001\"]\nreason = \"not reachable\"\nexpires = 2099-01-01\n",
    );
    let mut suppressed = vuln(VulnSeverity::High, FixState::Fixed);
    suppressed.id = "CVE-2024-0002".to_owned();
    suppressed.aliases.clear();
    suppressed.suppressed_by = Some(SuppressedBy::Vex);
    let mut facts = facts(vec![]);
    facts.scans = vec![ScanResult {
        image: "docker.io/library/alpine:3.20".to_owned(),
        scanners: vec!["trivy".to_owned()],
        vulnerabilities: vec![vuln(VulnSeverity::High, FixState::Fixed), suppressed],
        ..ScanResult::default()
    }];
    let report = evaluate(&config, &facts, today());
    assert_eq!(report.summary.suppressed_by_vex, 1);
    assert_eq!(report.summary.waived, 1);
    let waived = &report.scans[0].vulnerabilities[0];
    assert_eq!(waived.suppressed_by, Some(SuppressedBy::Waiver));
    assert_eq!(waived.justification.as_deref(), Some("not reachable"));
}
