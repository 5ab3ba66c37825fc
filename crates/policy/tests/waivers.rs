//! Waivers: matched by rule, by vulnerability id or alias, narrowed by image and package;
//! expired ones bring their findings back; unused ones are reported.

mod common;

use common::{check, config, facts, find, image, rules, today, DIGEST};
use portcullis_policy::vuln::{FixState, ScanResult, SuppressedBy, VulnSeverity, Vulnerability};
use portcullis_policy::{evaluate, Rule, Severity};

fn waiver(body: &str) -> String {
    format!("[[waiver]]\n{body}\nreason = \"vendor image\"\nexpires = 2026-12-31\n")
}

#[test]
fn waiver_by_rule_waives_and_is_counted_apart() {
    let text = waiver("rules = [\"digest-not-pinned\"]");
    let report = check(&text, vec![image("Dockerfile", 1, "postgres:16")]);
    assert_eq!(report.findings.len(), 1);
    let finding = &report.findings[0];
    assert!(finding.waived);
    let cause = finding.cause.as_ref().unwrap();
    assert_eq!((cause.line, cause.column), (1, 1), "cause is the waiver");
    assert!(cause.label.contains("vendor image"));
    assert_eq!((report.summary.errors, report.summary.waived), (0, 1));
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn waiver_narrowed_by_image_pattern() {
    let text = waiver("rules = [\"digest-not-pinned\"]\nimages = [\"docker.io/library/postgres\"]");
    let report = check(
        &text,
        vec![
            image("Dockerfile", 1, "postgres:16"),
            image("Dockerfile", 2, "redis:7"),
        ],
    );
    let waived: Vec<bool> = report.findings.iter().map(|f| f.waived).collect();
    assert_eq!(waived, [true, false]);
    assert_eq!(
        report.findings[1].image.as_deref(),
        Some("docker.io/library/redis:7")
    );
    assert_eq!(report.summary.errors, 1);
}

#[test]
fn waiver_for_another_rule_does_not_waive() {
    let text = waiver("rules = [\"tag-denied\"]");
    let report = check(
        &text,
        vec![
            image("Dockerfile", 1, "postgres:16"),
            image("Dockerfile", 2, "redis:latest"),
        ],
    );
    let statuses: Vec<(&str, bool)> = report
        .findings
        .iter()
        .map(|f| (f.rule.code(), f.waived))
        .collect();
    assert_eq!(
        statuses,
        [
            ("digest-not-pinned", false),
            ("digest-not-pinned", false),
            ("tag-denied", true)
        ]
    );
}

#[test]
fn expired_waiver_brings_the_finding_back_and_is_an_error() {
    let text =
        "[[waiver]]\nrules = [\"digest-not-pinned\"]\nreason = \"old\"\nexpires = 2026-05-31\n";
    let report = check(text, vec![image("Dockerfile", 1, "postgres:16")]);
    assert_eq!(rules(&report), ["digest-not-pinned", "waiver-expired"]);
    let expired = find(&report, Rule::WaiverExpired);
    assert_eq!(expired.severity, Severity::Error);
    let location = expired.location.as_ref().unwrap();
    assert_eq!(
        (location.file.as_str(), location.line, location.column),
        ("portcullis.toml", 1, 1)
    );
    assert_eq!((location.end_line, location.end_column), (1, 11));
    assert!(
        expired.message.contains("`2026-05-31`"),
        "{}",
        expired.message
    );
    assert_eq!(
        expired.cause.as_ref().unwrap().line,
        4,
        "cause is the `expires` value"
    );
    assert_eq!(report.summary.errors, 2);

    // The last day still counts.
    let report = evaluate(
        &config(text),
        &facts(vec![image("Dockerfile", 1, "postgres:16")]),
        jiff::civil::date(2026, 5, 31),
    );
    assert_eq!(report.summary.waived, 1);
    assert_eq!(report.summary.errors, 0);
}

#[test]
fn unused_waiver_is_a_warning_at_the_waiver() {
    let text = format!(
        "[images]\nrequire-digest = true\n\n{}",
        waiver("rules = [\"tag-denied\"]")
    );
    let report = check(
        &text,
        vec![image("Dockerfile", 1, &format!("alpine:3.20@{DIGEST}"))],
    );
    assert_eq!(rules(&report), ["waiver-unused"]);
    let unused = &report.findings[0];
    assert_eq!(unused.severity, Severity::Warning);
    assert_eq!(unused.location.as_ref().unwrap().line, 4);
    assert!(unused.message.contains("`tag-denied`"));
    assert_eq!(report.exit_code(), 0);
}

/// `check services/web` under a root policy warned about waivers that match elsewhere.
#[test]
fn a_run_over_part_of_the_tree_does_not_call_waivers_unused() {
    let text = waiver("rules = [\"tag-denied\"]");
    let mut facts = facts(vec![image(
        "services/web/Dockerfile",
        1,
        &format!("alpine:3.20@{DIGEST}"),
    )]);
    facts.partial_tree = true;
    let report = evaluate(&config(&text), &facts, today());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    // An expired waiver is still reported: that needs no view of the whole tree.
    let expired = "[[waiver]]\nrules = [\"tag-denied\"]\nreason = \"old\"\nexpires = 2026-05-31\n";
    let report = evaluate(&config(expired), &facts, today());
    assert_eq!(rules(&report), ["waiver-expired"]);
    // The applied waiver is data on the finding.
    let waived = check(
        &waiver("rules = [\"digest-not-pinned\"]"),
        vec![image("Dockerfile", 1, "postgres:16")],
    );
    let applied = waived.findings[0].waiver.as_ref().unwrap();
    assert_eq!(applied.reason, "vendor image");
    assert_eq!(applied.expires.unwrap().to_string(), "2026-12-31");
    assert_eq!(applied.declared.as_ref().unwrap().line, 1);
}

#[test]
fn waiver_for_rules_not_evaluated_in_this_run_is_not_unused() {
    // `digest-stale` is only evaluated with --resolve; `ids` only when scans ran.
    let text = format!(
        "{}\n{}",
        waiver("rules = [\"digest-stale\"]"),
        waiver("ids = [\"CVE-2024-1\"]")
    );
    let report = check(&text, vec![]);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
}

fn vuln(id: &str, aliases: &[&str], package: &str) -> Vulnerability {
    Vulnerability {
        id: id.to_owned(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        package: package.to_owned(),
        installed: "1.0".to_owned(),
        fixed: vec!["1.1".to_owned()],
        fix_state: FixState::Fixed,
        severity: VulnSeverity::Critical,
        cvss: Some(9.8),
        scanners: vec!["trivy".to_owned()],
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

fn scan_report(text: &str, vulns: Vec<Vulnerability>) -> portcullis_policy::Report {
    let mut facts = facts(vec![image(
        "Dockerfile",
        1,
        &format!("postgres:16@{DIGEST}"),
    )]);
    facts.scans = vec![ScanResult {
        image: format!("docker.io/library/postgres:16@{DIGEST}"),
        scanners: vec!["trivy".to_owned()],
        vulnerabilities: vulns,
        ..ScanResult::default()
    }];
    evaluate(&config(text), &facts, today())
}

#[test]
fn waiver_by_id_and_by_alias() {
    let vulns = vec![
        vuln("CVE-2024-1", &[], "openssl"),
        vuln("GHSA-xxxx", &["CVE-2024-2"], "zlib"),
    ];
    for ids in [
        "ids = [\"CVE-2024-1\", \"CVE-2024-2\"]",
        "ids = [\"cve-2024-1\", \"cve-2024-2\"]",
    ] {
        let report = scan_report(&waiver(ids), vulns.clone());
        assert_eq!(report.findings.len(), 2, "{:#?}", report.findings);
        assert!(report.findings.iter().all(|f| f.waived), "{ids}");
        for finding in &report.findings {
            assert_eq!(
                finding.vulnerability().unwrap().suppressed_by,
                Some(SuppressedBy::Waiver)
            );
        }
        let inventory = &report.scans[0].vulnerabilities;
        assert!(inventory
            .iter()
            .all(|v| v.suppressed_by == Some(SuppressedBy::Waiver)));
    }
    let report = scan_report(&waiver("ids = [\"CVE-2024-1\"]"), vulns);
    let waived: Vec<(&str, bool)> = report
        .findings
        .iter()
        .map(|f| (f.vulnerability().unwrap().id.as_str(), f.waived))
        .collect();
    assert_eq!(waived, [("CVE-2024-1", true), ("GHSA-xxxx", false)]);
    assert_eq!(report.scans[0].vulnerabilities[1].suppressed_by, None);
}

#[test]
fn waiver_narrowed_by_package() {
    let vulns = vec![
        vuln("CVE-2024-1", &[], "openssl"),
        vuln("CVE-2024-1", &[], "libssl3"),
    ];
    let report = scan_report(
        &waiver("ids = [\"CVE-2024-1\"]\npackages = [\"libssl3\"]"),
        vulns,
    );
    let waived: Vec<(&str, bool)> = report
        .findings
        .iter()
        .map(|f| (f.vulnerability().unwrap().package.as_str(), f.waived))
        .collect();
    assert_eq!(waived, [("libssl3", true), ("openssl", false)]);
}

#[test]
fn waiver_with_image_pattern_does_not_waive_other_images_vulnerabilities() {
    let text = waiver("ids = [\"CVE-2024-1\"]\nimages = [\"docker.io/library/redis\"]");
    let report = scan_report(&text, vec![vuln("CVE-2024-1", &[], "openssl")]);
    assert_eq!(rules(&report), ["vulnerability", "waiver-unused"]);
}
