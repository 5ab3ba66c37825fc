//! `JUnit` XML: valid against Jenkins' xunit schema (`junit-10.xsd`, with `xmllint`),
//! counts that match its cases, one suite per command, names unique within a suite.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use portcullis_policy::{Finding, Report, Rule, Severity};
use portcullis_report::{render, Format};

use crate::common::{at, config_text, finding, options, repo, sample};

/// Renders and validates with `xmllint --schema junit-10.xsd`.
fn junit(report: &Report) -> String {
    let (root, config) = (repo(), config_text());
    let text = render(report, Format::Junit, &options(&root, &config));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    std::fs::write(&file, &text).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit-10.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("xmllint runs (apt-get install libxml2-utils; scripts/install-test-deps)");
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn suites(doc: &roxmltree::Document<'_>) -> Vec<(String, Vec<String>)> {
    doc.descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|suite| {
            let names = suite
                .children()
                .filter(|n| n.has_tag_name("testcase"))
                .map(|c| c.attribute("name").unwrap().to_owned())
                .collect();
            (suite.attribute("name").unwrap().to_owned(), names)
        })
        .collect()
}

/// The schema check itself: a document with an attribute the schema forbids fails.
#[test]
fn xmllint_rejects_what_the_schema_forbids() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.xml");
    std::fs::write(
        &file,
        "<testsuites skipped=\"1\"><testsuite name=\"x\" tests=\"0\" failures=\"0\" errors=\"0\"/></testsuites>",
    )
    .unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit-10.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn one_suite_per_command_with_unique_case_names() {
    let text = junit(&sample());
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suites = suites(&doc);
    let names: Vec<&str> = suites.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "portcullis check",
            "portcullis scan docker.io/library/nginx:latest"
        ]
    );
    for (suite, cases) in &suites {
        let unique: HashSet<&String> = cases.iter().collect();
        assert_eq!(unique.len(), cases.len(), "{suite}: {cases:#?}");
    }
    // Vulnerabilities are named by id and package; findings by rule and file:line.
    assert_eq!(suites[1].1, ["CVE-2024-1234 openssl 3.0.13-1"]);
    assert!(suites[0].1.contains(
        &"tag-denied services/web/Dockerfile:3 docker.io/library/nginx:latest".to_owned()
    ));
}

/// Two findings of one rule on one line (the same image twice) and many vulnerabilities of
/// one image would share a name; CI systems merge cases of the same name.
#[test]
fn repeated_findings_get_distinct_names() {
    let mut report = sample();
    let twice = report.findings[4].clone();
    report.findings.insert(4, twice);
    let text = junit(&report);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let cases = &suites(&doc)[0].1;
    let unique: HashSet<&String> = cases.iter().collect();
    assert_eq!(unique.len(), cases.len(), "{cases:#?}");
    assert!(cases.iter().any(|c| c.ends_with(" #2")), "{cases:#?}");
}

#[test]
fn sample_cases_failures_and_skips() {
    let text = junit(&sample());
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    // The check's 8 findings, and no image line without a finding.
    assert_eq!(cases.len(), 8);
    assert_eq!(suite.attribute("tests"), Some("8"));
    let failures = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .count();
    assert_eq!(failures, 6);
    assert_eq!(suite.attribute("failures"), Some("6"));
    let all = doc.root_element();
    assert_eq!(all.attribute("tests"), Some("9"));
    assert_eq!(all.attribute("failures"), Some("7"));
    let skipped: Vec<_> = cases
        .iter()
        .filter_map(|c| c.children().find(|n| n.has_tag_name("skipped")))
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        skipped[0].attribute("message"),
        Some("waived: internal tool, pinned by the release job")
    );
    let tag_denied = cases
        .iter()
        .find(|c| c.attribute("classname") == Some("tag-denied"))
        .unwrap();
    assert_eq!(
        tag_denied.attribute("name"),
        Some("tag-denied services/web/Dockerfile:3 docker.io/library/nginx:latest")
    );
}

#[test]
fn clean_images_pass_and_hostile_text_stays_well_formed() {
    let mut report = sample();
    report.findings.clear();
    report.findings.push(Finding {
        location: at("x/Dockerfile", 1, 1, 2),
        ..finding(
            Rule::ImageNotAllowed,
            Severity::Error,
            "]]></failure><injected a=\"&\"/>\u{1b}\u{0}",
        )
    });
    let text = junit(&report);
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    assert!(!doc.descendants().any(|n| n.has_tag_name("injected")));
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    // Every image passes, plus the one failure; the scan without findings passes once.
    assert_eq!(cases, 4 + 1 + 1);
}
