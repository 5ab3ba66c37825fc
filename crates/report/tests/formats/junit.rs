//! `JUnit` XML: well-formed (parsed by an XML parser), counts that match its cases.

use portcullis_policy::{Finding, Report, Rule, Severity};
use portcullis_report::{render, Format};

use crate::common::{at, config_text, finding, options, repo, sample};

fn junit(report: &Report) -> String {
    let (root, config) = (repo(), config_text());
    render(report, Format::Junit, &options(&root, &config))
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
    // 9 findings, and no image line without a finding.
    assert_eq!(cases.len(), 9);
    assert_eq!(suite.attribute("tests"), Some("9"));
    let failures = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .count();
    assert_eq!(failures, 7);
    assert_eq!(suite.attribute("failures"), Some("7"));
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
        Some("services/web/Dockerfile:3 docker.io/library/nginx:latest")
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
    assert_eq!(cases, 4 + 1, "every image passes, plus the one failure");
}
