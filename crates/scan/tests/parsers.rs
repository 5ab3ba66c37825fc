//! Real Trivy and Grype output (tests/data, see its README) parsed into the normalized
//! model: counts per severity × fix state × suppression, plus the fields the gate uses.

use std::collections::BTreeMap;

use portcullis_scan::{
    apply_vex, merge, parse_document, parse_report, parse_report_named, parse_vex, Document,
    FixState, Format, ScanError, SuppressedBy, VexStatus, VulnSeverity, Vulnerability,
};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

type Key = (VulnSeverity, FixState, bool);
/// (severity, fix state, suppressed, count)
type Row = (VulnSeverity, FixState, bool, usize);

fn table(vulns: &[Vulnerability]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for v in vulns {
        let key: Key = (v.severity, v.fix_state, v.suppressed_by.is_some());
        *counts.entry(format!("{key:?}")).or_insert(0) += 1;
    }
    counts
}

fn expect(rows: &[Row]) -> BTreeMap<String, usize> {
    rows.iter()
        .map(|(s, f, sup, n)| (format!("{:?}", (*s, *f, *sup)), *n))
        .collect()
}

use FixState::{Fixed, NotFixed, Unknown, WontFix};
use VulnSeverity::{Critical, High, Low, Medium};

/// Expected tables were counted independently with jq, e.g.
/// `jq -r '.Results[]?.Vulnerabilities[]? | "\(.Severity) \(.Status)"' F | sort | uniq -c`
/// and `jq '.Results[]?.ExperimentalModifiedFindings[]?'` for suppressed findings;
/// Grype: `jq -r '.matches[] | "\(.vulnerability.severity) \(.vulnerability.fix.state)"'`;
/// SARIF: `jq -c '.runs[0].results[] | {ruleId, level, m: .message.text}'` read by hand.
#[test]
fn each_fixture_counts_per_severity_and_fix_state() {
    let cases: &[(&str, Format, &[Row])] = &[
        // MEDIUM fixed 4
        (
            "alpine-310.json",
            Format::TrivyJson,
            &[(Medium, Fixed, false, 4)],
        ),
        // CRITICAL fixed 1, LOW affected 1
        (
            "debian-buster.json",
            Format::TrivyJson,
            &[(Critical, Fixed, false, 1), (Low, NotFixed, false, 1)],
        ),
        // LOW fixed 1, LOW will_not_fix 1, MEDIUM fixed 1
        (
            "centos-7.json",
            Format::TrivyJson,
            &[
                (Low, Fixed, false, 1),
                (Low, WontFix, false, 1),
                (Medium, Fixed, false, 1),
            ],
        ),
        // HIGH fixed 1; suppressed: LOW fixed 1 (not_affected)
        (
            "npm-with-suppressed.json",
            Format::TrivyJson,
            &[(High, Fixed, false, 1), (Low, Fixed, true, 1)],
        ),
        // Low fixed 1, Critical "" (no versions) 1
        (
            "grype-image.json",
            Format::GrypeJson,
            &[(Low, Fixed, false, 1), (Critical, Unknown, false, 1)],
        ),
        ("grype-empty.json", Format::GrypeJson, &[]),
        // 4 results, all "Severity: MEDIUM" with a Fixed Version line
        (
            "alpine-310.sarif",
            Format::Sarif,
            &[(Medium, Fixed, false, 4)],
        ),
        // low with fix versions; critical with "Fix Version: " empty
        (
            "grype-image.sarif",
            Format::Sarif,
            &[(Low, Fixed, false, 1), (Critical, NotFixed, false, 1)],
        ),
    ];
    for (file, format, rows) in cases {
        let bytes = data(file);
        let sniffed = parse_report(&bytes, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let hinted = parse_report(&bytes, Some(*format)).unwrap();
        assert_eq!(sniffed, hinted, "{file}: sniffing must pick {format}");
        assert_eq!(table(&sniffed), expect(rows), "{file}");
    }
}

fn find<'a>(vulns: &'a [Vulnerability], id: &str, package: &str) -> &'a Vulnerability {
    vulns
        .iter()
        .find(|v| v.id == id && v.package == package)
        .unwrap_or_else(|| panic!("{id} in {package}"))
}

#[test]
fn trivy_fields_are_carried() {
    let alpine = parse_report(&data("alpine-310.json"), None).unwrap();
    let v = find(&alpine, "CVE-2019-1549", "libcrypto1.1");
    assert_eq!(v.installed, "1.1.1c-r0");
    assert_eq!(v.fixed, ["1.1.1d-r0"]);
    assert_eq!(v.cvss, Some(5.3), "nvd V3Score preferred over redhat 4.8");
    assert_eq!(v.scanners, ["trivy"]);
    assert_eq!(
        v.url.as_deref(),
        Some("https://avd.aquasec.com/nvd/cve-2019-1549")
    );
    assert_eq!(
        v.title.as_deref(),
        Some("openssl: information disclosure in fork()")
    );
    assert_eq!(
        v.location.as_deref(),
        Some("sha256:9d48c3bd43c520dc2784e868a780e976b207cbf493eaff8c6596eb871cbd9609")
    );

    let centos = parse_report(&data("centos-7.json"), None).unwrap();
    // Regression: RHSA-2019:2304 covers both openssl CVEs; it must not make them aliases.
    assert!(find(&centos, "CVE-2019-1559", "openssl-libs")
        .aliases
        .is_empty());
    assert_eq!(merge(centos.clone()).len(), 3);
    assert_eq!(find(&centos, "CVE-2019-18276", "bash").fix_state, WontFix);

    let debian = parse_report(&data("debian-buster.json"), None).unwrap();
    let bash = find(&debian, "CVE-2019-18276", "bash");
    assert!(bash.fixed.is_empty());
    assert_eq!(find(&debian, "CVE-2019-18224", "libidn2-0").cvss, Some(9.8));

    let npm = parse_report(&data("npm-with-suppressed.json"), None).unwrap();
    assert_eq!(
        find(&npm, "CVE-2017-20165", "debug").fixed,
        ["3.1.0", "2.6.9"],
        "comma-separated FixedVersion"
    );
    let suppressed = find(&npm, "CVE-2017-16137", "debug");
    assert_eq!(suppressed.suppressed_by, Some(SuppressedBy::Vex));
    assert_eq!(
        suppressed.justification.as_deref(),
        Some("vulnerable_code_not_in_execute_path (./vex.json)")
    );
}

#[test]
fn grype_fields_are_carried() {
    let vulns = parse_report(&data("grype-image.json"), None).unwrap();
    let one = find(&vulns, "CVE-1999-0001", "package-1");
    assert_eq!((one.installed.as_str(), one.cvss), ("1.1.1", Some(8.2)));
    assert_eq!(one.fixed, ["1.2.1", "2.1.3", "3.4.0"]);
    assert_eq!(one.location.as_deref(), Some("/foo/bar/somefile-1.txt"));
    assert_eq!(one.scanners, ["grype"]);
    let two = find(&vulns, "CVE-1999-0002", "package-2");
    assert_eq!((two.severity, two.cvss), (Critical, Some(8.5)));
}

#[test]
fn sarif_recovers_ids_packages_and_versions() {
    let grype = parse_report(&data("grype-image.sarif"), None).unwrap();
    let one = find(&grype, "CVE-1999-0001", "package-1");
    assert_eq!(one.installed, "1.1.1");
    assert_eq!(one.fixed, ["1.2.1", "2.1.3", "3.4.0"]);
    assert_eq!(one.cvss, Some(8.2));
    assert_eq!(one.scanners, ["grype"]);
    let trivy = parse_report(&data("alpine-310.sarif"), None).unwrap();
    let ssl = find(&trivy, "CVE-2019-1551", "libssl1.1");
    assert_eq!(
        (ssl.installed.as_str(), ssl.fixed.as_slice()),
        ("1.1.1c-r0", &["1.1.1d-r2".to_owned()][..])
    );
    assert_eq!(
        ssl.url.as_deref(),
        Some("https://avd.aquasec.com/nvd/cve-2019-1551")
    );
    assert_eq!(ssl.scanners, ["trivy"]);
    // SARIF and JSON of the same Trivy scan merge into the same four findings.
    let mut both = parse_report(&data("alpine-310.json"), None).unwrap();
    both.extend(trivy);
    let merged = merge(both);
    assert_eq!(merged.len(), 4);
    assert!(merged
        .iter()
        .all(|v| v.location.is_some() && v.cvss == Some(5.3)));
}

#[test]
fn vex_documents_suppress_only_matching_not_affected_findings() {
    let openvex = parse_vex("openvex.json", &data("trivy-vex-openvex.json"), None).unwrap();
    assert_eq!(openvex.len(), 1);
    assert_eq!(openvex[0].status, VexStatus::NotAffected);
    let oci = parse_vex(
        "openvex-oci.json",
        &data("trivy-vex-openvex-oci.json"),
        None,
    )
    .unwrap();
    let cdx = parse_vex("cyclonedx.json", &data("trivy-vex-cyclonedx.json"), None).unwrap();
    assert_eq!(cdx.len(), 2);
    assert!(matches!(
        parse_document("c", &data("trivy-vex-cyclonedx.json"), None).unwrap(),
        Document::Vex(_)
    ));

    let vuln = |id: &str, package: &str, installed: &str| Vulnerability {
        id: id.into(),
        aliases: vec![],
        package: package.into(),
        installed: installed.into(),
        fixed: vec![],
        fix_state: NotFixed,
        severity: Critical,
        cvss: None,
        scanners: vec!["trivy".into()],
        title: None,
        url: None,
        location: None,
        suppressed_by: None,
        justification: None,
        ..Vulnerability::default()
    };
    // (statements, finding, suppressed?)
    let cases = [
        (
            &openvex,
            vuln("CVE-2021-44228", "spring-boot", "2.6.0"),
            true,
        ),
        (
            &openvex,
            vuln(
                "CVE-2021-44228",
                "org.springframework.boot/spring-boot",
                "2.6.0",
            ),
            true,
        ),
        (
            &openvex,
            vuln("CVE-2021-44228", "spring-boot", "2.7.0"),
            false,
        ),
        (
            &openvex,
            vuln("CVE-2021-44228", "log4j-core", "2.14.0"),
            false,
        ),
        (
            &openvex,
            vuln("CVE-2021-45046", "spring-boot", "2.6.0"),
            false,
        ),
        (&oci, vuln("CVE-2022-3715", "bash", "5.2"), true),
        (&oci, vuln("CVE-2022-3715", "zsh", "5.9"), false),
        (
            &cdx,
            vuln("CVE-2018-7489", "jackson-databind", "2.8.0"),
            true,
        ),
        (
            &cdx,
            vuln("CVE-2022-27943", "libstdc++6", "12.3.0-1ubuntu1~22.04"),
            true,
        ),
        (&cdx, vuln("cve-2022-27943", "libstdc++6", ""), true),
        (
            &cdx,
            vuln("CVE-2022-27943", "libstdc6", "12.3.0-1ubuntu1~22.04"),
            false,
        ),
    ];
    for (statements, finding, want) in cases {
        let mut list = vec![finding.clone()];
        let count = apply_vex(&mut list, statements);
        assert_eq!(
            count == 1,
            want,
            "{} {} {}",
            finding.id,
            finding.package,
            finding.installed
        );
        assert_eq!(list[0].suppressed_by.is_some(), want);
        if want {
            assert!(list[0]
                .justification
                .as_deref()
                .is_some_and(|j| !j.is_empty()));
        }
    }
}

#[test]
fn later_vex_statement_wins_and_affected_leaves_finding() {
    let doc = br#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[
        {"vulnerability":{"name":"CVE-1"},"status":"not_affected","justification":"component_not_present"},
        {"vulnerability":{"name":"CVE-1"},"status":"affected","action_statement":"upgrade a"},
        {"vulnerability":{"name":"CVE-2","aliases":["GHSA-2"]},"status":"not_affected","impact_statement":"b is never loaded"}]}"#;
    let statements = parse_vex("v", doc, None).unwrap();
    let mut vulns = parse_report(
        br#"{"Results":[{"Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"a"},{"VulnerabilityID":"GHSA-2","PkgName":"b"}]}]}"#,
        None,
    )
    .unwrap();
    assert_eq!(apply_vex(&mut vulns, &statements), 1);
    assert_eq!(vulns[0].suppressed_by, None);
    assert_eq!(vulns[1].suppressed_by, Some(SuppressedBy::Vex));
}

#[test]
fn wrong_kind_and_garbage_errors_name_the_report() {
    let err = parse_report_named("vex.json", &data("trivy-vex-openvex.json"), None).unwrap_err();
    assert!(matches!(err, ScanError::WrongKind { .. }), "{err}");
    assert!(err.to_string().contains("vex.json"));
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#;
    let err = parse_report_named("sbom.json", sbom, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sbom.json") && err.contains("CycloneDX"),
        "{err}"
    );
    let err = parse_report_named("x.json", b"<html>", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.json") && err.contains("`<html>`"), "{err}");
    let err = parse_report_named(
        "t.json",
        b"{\"Results\":[{\"Vulnerabilities\":[{\"VulnerabilityID\":5}]}]}",
        Some(Format::TrivyJson),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("t.json") && err.contains("Results[0].Vulnerabilities[0].VulnerabilityID"),
        "{err}"
    );
    let err = parse_vex(
        "bad.json",
        br#"{"statements":[{"vulnerability":"CVE-1","status":"maybe"}]}"#,
        Some(Format::Openvex),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("statements[0].status") && err.contains("`maybe`"),
        "{err}"
    );
}

#[test]
fn a_cyclonedx_format_given_is_taken_at_its_word() {
    // `cyclonedx-vex` and `cyclonedx` used to be one format, told apart only by sniffing.
    let vex = data("trivy-vex-cyclonedx.json");
    let read = |hint| parse_document("vex.json", &vex, hint).unwrap();
    assert!(matches!(read(None), Document::Vex(s) if s.len() == 2));
    assert!(matches!(read(Some(Format::CyclonedxVex)), Document::Vex(s) if s.len() == 2));
    assert!(matches!(
        read(Some(Format::Cyclonedx)),
        Document::Sbom(portcullis_scan::SbomKind::CycloneDx)
    ));
    let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#;
    assert!(matches!(
        parse_document("sbom.json", sbom, None).unwrap(),
        Document::Sbom(_)
    ));
    assert!(matches!(
        parse_document("sbom.json", sbom, Some(Format::CyclonedxVex)).unwrap(),
        Document::Vex(s) if s.is_empty()
    ));
}

#[test]
fn openvex_statements_missing_what_the_spec_requires_are_refused() {
    // OpenVEX: `not_affected` MUST carry a justification or an impact statement, `affected`
    // an action statement; an unexplained suppression must not pass silently.
    let doc = |statement: &str| {
        format!(
            r#"{{"@context":"https://openvex.dev/ns/v0.2.0","statements":[
            {{"vulnerability":{{"name":"CVE-0"}},"status":"fixed"}},{statement}]}}"#
        )
    };
    for (statement, missing) in [
        (
            r#"{"vulnerability":{"name":"CVE-1"},"status":"not_affected"}"#,
            "a `justification` or an `impact_statement`",
        ),
        (
            r#"{"vulnerability":"CVE-1","status":"not_affected","justification":" ","status_notes":"n"}"#,
            "a `justification` or an `impact_statement`",
        ),
        (
            r#"{"vulnerability":{"name":"CVE-1"},"status":"affected","status_notes":"n"}"#,
            "an `action_statement`",
        ),
    ] {
        let err = parse_vex("vex/app.openvex.json", doc(statement).as_bytes(), None).unwrap_err();
        assert!(
            matches!(err, ScanError::VexIncomplete { index: 1, .. }),
            "{err}"
        );
        let text = err.to_string();
        for want in ["vex/app.openvex.json", "statement 1", "`CVE-1`", missing] {
            assert!(text.contains(want), "{want} missing from: {text}");
        }
    }
    for statement in [
        r#"{"vulnerability":"CVE-1","status":"not_affected","justification":"component_not_present"}"#,
        r#"{"vulnerability":"CVE-1","status":"not_affected","impact_statement":"never called"}"#,
        r#"{"vulnerability":"CVE-1","status":"affected","action_statement":"upgrade"}"#,
        r#"{"vulnerability":"CVE-1","status":"under_investigation"}"#,
    ] {
        let parsed = parse_vex("v", doc(statement).as_bytes(), None);
        assert!(parsed.is_ok(), "{statement}: {parsed:?}");
    }
    // CycloneDX VEX keeps its own rules: an analysis state without justification is read.
    let cdx = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","vulnerabilities":[
        {"id":"CVE-1","analysis":{"state":"not_affected"},"affects":[{"ref":"pkg:oci/app"}]}]}"#;
    assert_eq!(parse_vex("c", cdx, None).unwrap().len(), 1);
}

/// The image's OS and every CVSS vector reach the model (GitLab's container-scanning report
/// carries both): Trivy `Metadata.OS` and `CVSS.<source>.V2Vector/V3Vector`, Grype `distro`
/// and `cvss[].vector`.
#[test]
fn operating_system_and_cvss_vectors_are_kept() {
    let trivy = parse_report(&data("debian-buster.json"), None).unwrap();
    assert!(trivy
        .iter()
        .all(|v| v.operating_system.as_deref() == Some("debian 10.1")));
    let with_vectors = trivy
        .iter()
        .find(|v| v.cvss_vectors.len() >= 3)
        .expect("a finding rated by NVD (v2 and v3) and another source");
    let first = &with_vectors.cvss_vectors[0];
    assert_eq!(first.source, "nvd", "NVD's vectors come first");
    assert!(first.vector.starts_with("CVSS:3."), "{first:?}");
    assert!(with_vectors
        .cvss_vectors
        .iter()
        .any(|c| c.version.as_deref() == Some("2.0") && c.vector.starts_with("AV:")));

    let grype = parse_report(&data("grype-image.json"), None).unwrap();
    assert!(grype
        .iter()
        .all(|v| v.operating_system.as_deref() == Some("centos 8.0")));
    let vector = grype
        .iter()
        .flat_map(|v| &v.cvss_vectors)
        .find(|c| c.vector == "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:H")
        .expect("the vector of the first match");
    assert_eq!(
        (vector.source.as_str(), vector.version.as_deref()),
        ("nvd", Some("3.1"))
    );
}
