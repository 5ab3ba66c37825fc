//! Inline waivers (`# portcullis: ignore RULE… [until DATE] -- REASON`): they waive the
//! named rules on the lines they concern only, expire, are reported unused, never waive
//! bad input, and a comment that is not a valid waiver is bad input itself.

mod common;

use std::ops::RangeInclusive;

use common::{config, facts, find, image, rules, today};
use portcullis_policy::{evaluate, Facts, ProblemKind, Report, Rule, Severity, Subject};
use portcullis_reference::inline::{CommentError, InlineComment, InlineIgnore, Part};
use portcullis_reference::{Location, Problem};

fn at(file: &str, line: u32, column: u32) -> Location {
    Location {
        file: file.to_owned(),
        line,
        column,
        end_line: line,
        end_column: column + 10,
        span: 0..10,
    }
}

fn part(text: &str, line: u32, column: u32) -> Part {
    Part {
        text: text.to_owned(),
        location: at("Dockerfile", line, column),
    }
}

/// `# portcullis: ignore RULES [until UNTIL] -- vendor base` on `line`, concerning `lines`.
fn comment(
    line: u32,
    lines: RangeInclusive<u32>,
    rules: &[&str],
    until: Option<&str>,
) -> InlineComment {
    InlineComment {
        location: at("Dockerfile", line, 3),
        lines,
        parsed: Ok(InlineIgnore {
            rules: rules
                .iter()
                .enumerate()
                .map(|(i, code)| part(code, line, 22 + 20 * i as u32))
                .collect(),
            until: until.map(|date| part(date, line, 60)),
            reason: part("vendor base", line, 80),
        }),
    }
}

fn run(
    subjects: Vec<Subject>,
    comments: Vec<InlineComment>,
    tweak: impl FnOnce(&mut Facts),
) -> Report {
    let mut facts = facts(subjects);
    facts.inline_comments = comments;
    tweak(&mut facts);
    evaluate(&config(""), &facts, today())
}

#[test]
fn an_inline_waiver_waives_its_rules_on_its_lines_only() {
    let report = run(
        vec![
            image("Dockerfile", 2, "postgres:16"),
            image("Dockerfile", 3, "redis:7"),
            image("compose.yaml", 2, "nginx:1.27"),
        ],
        vec![comment(1, 2..=2, &["digest-not-pinned"], None)],
        |_| {},
    );
    let waived: Vec<(&str, u32, bool)> = report
        .findings
        .iter()
        .map(|f| {
            let location = f.location.as_ref().unwrap();
            (location.file.as_str(), location.line, f.waived)
        })
        .collect();
    assert_eq!(
        waived,
        [
            ("Dockerfile", 2, true),
            ("Dockerfile", 3, false),
            ("compose.yaml", 2, false)
        ]
    );
    let applied = report.findings[0].waiver.as_ref().unwrap();
    assert_eq!(applied.reason, "vendor base");
    assert_eq!(applied.expires, None);
    let declared = applied.declared.as_ref().unwrap();
    assert_eq!((declared.file.as_str(), declared.line), ("Dockerfile", 1));
    assert_eq!((report.summary.errors, report.summary.waived), (2, 1));
}

#[test]
fn a_multi_line_instruction_is_covered_whole_and_other_rules_stay() {
    let report = run(
        vec![image("Dockerfile", 4, "nginx:latest")],
        vec![comment(2, 3..=5, &["tag-denied"], Some("2026-12-31"))],
        |_| {},
    );
    assert_eq!(rules(&report), ["digest-not-pinned"]);
    let waived = find(&report, Rule::TagDenied);
    assert!(waived.waived);
    assert_eq!(
        waived.waiver.as_ref().unwrap().expires,
        Some(jiff::civil::date(2026, 12, 31))
    );
}

#[test]
fn an_expired_inline_waiver_brings_the_finding_back_and_is_an_error() {
    // today() is 2026-06-01: the waiver still applies on its last day.
    let last_day = run(
        vec![image("Dockerfile", 2, "postgres:16")],
        vec![comment(
            1,
            2..=2,
            &["digest-not-pinned"],
            Some("2026-06-01"),
        )],
        |_| {},
    );
    assert!(rules(&last_day).is_empty(), "{:#?}", last_day.findings);
    let report = run(
        vec![image("Dockerfile", 2, "postgres:16")],
        vec![comment(
            1,
            2..=2,
            &["digest-not-pinned"],
            Some("2026-05-31"),
        )],
        |_| {},
    );
    assert_eq!(rules(&report), ["waiver-expired", "digest-not-pinned"]);
    let expired = find(&report, Rule::WaiverExpired);
    assert_eq!(expired.severity, Severity::Error);
    assert_eq!(expired.location.as_ref().unwrap().line, 1);
    assert!(expired.message.contains("`2026-05-31`") && expired.message.contains("vendor base"));
    assert_eq!(report.exit_code(), 1);
}

#[test]
fn an_inline_waiver_matching_nothing_is_reported_unused() {
    let comments = vec![
        comment(1, 2..=2, &["tag-denied"], None),
        #[allow(clippy::reversed_empty_ranges)]
        comment(5, 1..=0, &["digest-not-pinned"], None),
        comment(7, 8..=8, &["digest-stale"], None),
    ];
    // A partial run still reports them: an inline waiver can only match in its own file.
    let report = run(
        vec![image("Dockerfile", 2, "postgres:16")],
        comments,
        |facts| {
            facts.partial_tree = true;
        },
    );
    let unused: Vec<(u32, Severity)> = report
        .findings
        .iter()
        .filter(|f| f.rule == Rule::WaiverUnused)
        .map(|f| (f.location.as_ref().unwrap().line, f.severity))
        .collect();
    // `digest-stale` is not evaluated without `--resolve`, so that one is not judged.
    assert_eq!(unused, [(1, Severity::Warning), (5, Severity::Warning)]);
    assert!(find(&report, Rule::WaiverUnused).message.contains("line 2"));
}

#[test]
fn bad_input_cannot_be_waived_inline_and_a_bad_comment_is_bad_input() {
    let cases: Vec<(InlineComment, &str, u32)> = vec![
        (
            comment(1, 2..=2, &["file-invalid"], None),
            "`file-invalid` cannot be waived",
            22,
        ),
        (
            comment(1, 2..=2, &["digest-not-pinned", "waiver-unused"], None),
            "`waiver-unused` is about waivers",
            42,
        ),
        (
            comment(1, 2..=2, &["digest-not-pined"], None),
            "did you mean `digest-not-pinned`",
            22,
        ),
        (
            comment(1, 2..=2, &["tag-denied"], Some("2027-02-30")),
            "`2027-02-30` is not a date",
            60,
        ),
        (
            comment(1, 2..=2, &["tag-denied"], Some("2027-1-05")),
            "`2027-1-05` is not a date",
            60,
        ),
        (
            InlineComment {
                location: at("Dockerfile", 1, 3),
                lines: 2..=2,
                parsed: Err(CommentError {
                    location: at("Dockerfile", 1, 15),
                    message: "expected `ignore` after `portcullis:`, found `skip`".to_owned(),
                }),
            },
            "found `skip`",
            15,
        ),
    ];
    for (comment, wanted, column) in cases {
        let report = run(
            vec![image("Dockerfile", 2, "postgres:16")],
            vec![comment],
            |_| {},
        );
        let bad = find(&report, Rule::FileInvalid);
        assert!(bad.message.contains(wanted), "{}", bad.message);
        assert!(
            bad.message.starts_with("inline waiver: "),
            "{}",
            bad.message
        );
        let location = bad.location.as_ref().unwrap();
        assert_eq!(
            (location.file.as_str(), location.line, location.column),
            ("Dockerfile", 1, column)
        );
        assert!(bad
            .help
            .as_deref()
            .unwrap()
            .contains("# portcullis: ignore"));
        assert_eq!(report.exit_code(), 2, "{wanted}");
        assert_eq!(
            rules(&report)
                .iter()
                .filter(|r| **r == "digest-not-pinned")
                .count(),
            1
        );
    }
    // The problem type sources would report for the same line.
    let problem: Problem =
        portcullis_policy::InlineWaiver::read(&comment(1, 2..=2, &["nope"], None)).unwrap_err();
    assert_eq!(problem.kind, ProblemKind::FileInvalid);
}

#[test]
fn inline_waivers_never_cover_bad_input_findings() {
    let waiver =
        portcullis_policy::InlineWaiver::read(&comment(1, 2..=2, &["digest-not-pinned"], None))
            .unwrap();
    let mut finding =
        portcullis_policy::Finding::new(Rule::FileInvalid, Severity::Error, "x".into(), None);
    finding.location = Some(at("Dockerfile", 2, 1));
    assert!(!waiver.covers(&finding));
    finding.rule = Rule::DigestNotPinned;
    assert!(waiver.covers(&finding));
}
