//! An image copied by `mirror` and one copied by `promote` are named after their command:
//! `mirror`'s copy is "copied"/"already mirrored" in a `portcullis mirror` suite, a
//! promotion's is "promoted"/"already in place" in a `portcullis promote` suite.

use portcullis_policy::{CopyKind, MirrorOutcome, Mirrored, Report};
use portcullis_report::{render, Format};

use crate::common::{config_text, options, repo};

fn copies(kind: CopyKind) -> Report {
    let entry = |outcome, target: &str| Mirrored {
        source: "registry.example.com/staging/app@sha256:aa".to_owned(),
        target: target.to_owned(),
        outcome,
        digest: Some("sha256:aa".to_owned()),
        manifests: 1,
        blobs: 2,
        bytes: 2_000_000,
        referrers: 1,
        kind,
    };
    let mut report = Report {
        mirrored: vec![
            entry(MirrorOutcome::Copied, "registry.example.com/prod/app:1.0"),
            entry(MirrorOutcome::Present, "registry.example.com/prod/app:1.1"),
            entry(MirrorOutcome::Planned, "registry.example.com/prod/app:1.2"),
        ],
        ..Report::default()
    };
    report.finish();
    report
}

fn rendered(report: &Report, format: Format) -> String {
    let (root, config) = (repo(), config_text());
    render(report, format, &options(&root, &config))
}

#[test]
fn a_promotion_is_named_promoted_in_human_markdown_and_junit() {
    let report = copies(CopyKind::Promotion);
    let human = rendered(&report, Format::Human);
    for words in [
        "promoted `registry.example.com/staging/app@sha256:aa` → `registry.example.com/prod/app:1.0`",
        "already in place `registry.example.com/staging/app@sha256:aa`",
        "would promote `",
    ] {
        assert!(human.contains(words), "{words}\n{human}");
    }
    let markdown = rendered(&report, Format::Markdown);
    assert!(markdown.contains("#### Promoted"), "{markdown}");
    assert!(
        markdown.contains("| promoted |") && markdown.contains("| already in place |"),
        "{markdown}"
    );
    let junit = rendered(&report, Format::Junit);
    assert!(
        junit.contains("name=\"portcullis promote\"") && junit.contains("classname=\"promote\""),
        "{junit}"
    );
    for text in [&human, &markdown, &junit] {
        assert!(
            !text.contains("mirror"),
            "a promotion is no mirror:\n{text}"
        );
    }
    let json = rendered(&report, Format::Json);
    assert!(json.contains("\"kind\": \"promotion\""), "{json}");
}

#[test]
fn a_mirror_copy_keeps_its_words() {
    let report = copies(CopyKind::Mirror);
    let human = rendered(&report, Format::Human);
    assert!(
        human.contains("copied `registry.example.com/staging/app@sha256:aa`")
            && human.contains("already mirrored `")
            && human.contains("would copy `"),
        "{human}"
    );
    let markdown = rendered(&report, Format::Markdown);
    assert!(
        markdown.contains("#### Mirrored") && markdown.contains("| already mirrored |"),
        "{markdown}"
    );
    let junit = rendered(&report, Format::Junit);
    assert!(
        junit.contains("name=\"portcullis mirror\"") && junit.contains("classname=\"mirror\""),
        "{junit}"
    );
    // The JSON report leaves the kind of a mirror's copy out, as it always has.
    assert!(!rendered(&report, Format::Json).contains("\"kind\""));
}
