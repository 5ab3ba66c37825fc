//! Merging findings across scanners: one finding per (vulnerability, package).

use portcullis_scan::{merge, FixState, SuppressedBy, VulnSeverity, Vulnerability};

fn v(id: &str, aliases: &[&str], package: &str, installed: &str, scanner: &str) -> Vulnerability {
    Vulnerability {
        id: id.into(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        package: package.into(),
        installed: installed.into(),
        fixed: vec![],
        fix_state: FixState::Unknown,
        severity: VulnSeverity::Low,
        cvss: None,
        scanners: vec![scanner.into()],
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
fn merge_table() {
    // (inputs, expected number of merged findings)
    let cases: Vec<(&str, Vec<Vulnerability>, usize)> = vec![
        (
            "same id same package",
            vec![
                v("CVE-1", &[], "a", "1", "trivy"),
                v("CVE-1", &[], "a", "1", "grype"),
            ],
            1,
        ),
        (
            "alias overlap",
            vec![
                v("CVE-1", &[], "a", "1", "trivy"),
                v("GHSA-x", &["CVE-1"], "a", "1", "grype"),
            ],
            1,
        ),
        (
            "case-insensitive ids",
            vec![
                v("cve-1", &[], "a", "1", "trivy"),
                v("CVE-1", &[], "a", "1", "grype"),
            ],
            1,
        ),
        (
            "unknown installed joins",
            vec![
                v("CVE-1", &[], "a", "", "sarif"),
                v("CVE-1", &[], "a", "1", "grype"),
            ],
            1,
        ),
        (
            "other package",
            vec![
                v("CVE-1", &[], "a", "1", "trivy"),
                v("CVE-1", &[], "b", "1", "grype"),
            ],
            2,
        ),
        (
            "other version",
            vec![
                v("CVE-1", &[], "a", "1", "trivy"),
                v("CVE-1", &[], "a", "2", "grype"),
            ],
            2,
        ),
        (
            "other id",
            vec![
                v("CVE-1", &[], "a", "1", "trivy"),
                v("CVE-2", &[], "a", "1", "grype"),
            ],
            2,
        ),
        (
            "transitive through aliases",
            vec![
                v("GHSA-1", &["CVE-1"], "a", "1", "grype"),
                v("CVE-1", &[], "a", "1", "trivy"),
                v("OSV-1", &["GHSA-1"], "a", "1", "osv"),
            ],
            1,
        ),
        (
            "an advisory covering two CVEs does not merge them",
            vec![
                v("CVE-1", &["RHSA-1"], "a", "1", "trivy"),
                v("CVE-2", &["RHSA-1"], "a", "1", "trivy"),
            ],
            2,
        ),
        ("empty", vec![], 0),
    ];
    for (name, input, want) in cases {
        assert_eq!(merge(input).len(), want, "{name}");
    }
}

#[test]
fn merged_finding_unions_and_takes_maxima() {
    let mut trivy = v("CVE-2024-1", &["DSA-1"], "openssl", "3.0.1", "trivy");
    trivy.severity = VulnSeverity::Medium;
    trivy.cvss = Some(5.9);
    trivy.fixed = vec!["3.0.2".into()];
    trivy.fix_state = FixState::Fixed;
    trivy.location = Some("sha256:aa".into());
    let mut grype = v("GHSA-abcd", &["CVE-2024-1"], "openssl", "3.0.1", "grype");
    grype.severity = VulnSeverity::High;
    grype.cvss = Some(7.5);
    grype.fixed = vec!["3.0.3".into(), "3.0.2".into()];
    grype.fix_state = FixState::NotFixed;
    grype.suppressed_by = Some(SuppressedBy::Vex);
    grype.justification = Some("inline_mitigations_already_exist".into());
    let merged = merge(vec![grype, trivy]);
    assert_eq!(merged.len(), 1);
    let m = &merged[0];
    assert_eq!(m.id, "CVE-2024-1", "a CVE id is preferred");
    assert_eq!(m.aliases, ["DSA-1", "GHSA-abcd"]);
    assert_eq!(m.scanners, ["grype", "trivy"]);
    assert_eq!(m.severity, VulnSeverity::High);
    assert_eq!(m.cvss, Some(7.5));
    assert_eq!(m.fixed, ["3.0.3", "3.0.2"]);
    assert_eq!(m.fix_state, FixState::Fixed);
    assert_eq!(m.location.as_deref(), Some("sha256:aa"));
    assert_eq!(m.suppressed_by, Some(SuppressedBy::Vex));
}

#[test]
fn merge_is_order_independent_in_content() {
    let a = v("CVE-1", &[], "a", "1", "trivy");
    let mut b = v("CVE-1", &[], "a", "1", "grype");
    b.severity = VulnSeverity::Critical;
    let c = v("CVE-2", &[], "a", "1", "grype");
    let one = merge(vec![a.clone(), b.clone(), c.clone()]);
    let two = merge(vec![c, b, a]);
    assert_eq!(one, two);
}
