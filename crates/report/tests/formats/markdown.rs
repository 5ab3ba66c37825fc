//! The pull request comment / job summary body.

use portcullis_policy::{Finding, Report, Rule, Severity, Summary};
use portcullis_report::{markdown_with_limit, render, Format, COMMENT_LIMIT, MARKER};

use crate::common::{at, config_text, finding, options, repo, sample};

fn markdown(report: &Report) -> String {
    let (root, config) = (repo(), config_text());
    render(report, Format::Markdown, &options(&root, &config))
}

fn utf16(text: &str) -> usize {
    text.encode_utf16().count()
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(markdown(&sample()));
}

#[test]
fn marker_first_then_status() {
    let blocked = markdown(&sample());
    assert!(blocked.starts_with(&format!("{MARKER}\n")));
    assert!(blocked.contains("❌ blocked"));
    let passed = markdown(&Report::default());
    assert!(passed.starts_with(MARKER));
    assert!(passed.contains("✅ passed"));
    assert!(passed.contains("No findings."));
}

#[test]
fn tables_counts_waived_details_and_vulnerabilities() {
    let out = markdown(&sample());
    assert!(out.contains("| 2 | 4 | 6 | 1 | 1 |"), "{out}");
    assert!(out.contains("| ❌ error | `tag-denied` | `services/web/Dockerfile:3` | `docker.io/library/nginx:latest` |"), "{out}");
    let details =
        &out[out.find("<details>").expect("waived block")..out.find("</details>").unwrap()];
    assert!(details.contains("`ghcr.io/acme/tools:1.2`"));
    assert!(details.contains("internal tool, pinned by the release job"));
    // Waived findings are not in the main table.
    let main = &out[..out.find("<details>").unwrap()];
    assert_eq!(
        main.matches("`ghcr.io/acme/tools:1.2`").count(),
        1,
        "only the image-not-allowed row:\n{out}"
    );
    // High 1 (fixable), critical waived and medium VEX-suppressed are not counted, low 1.
    assert!(
        out.contains("| `docker.io/library/nginx:latest` | 0 | 1 | 0 | 1 | 0 | 1 | 2 |"),
        "{out}"
    );
}

#[test]
fn errors_come_before_warnings() {
    let out = markdown(&sample());
    let warning = out.find("`waiver-unused`").unwrap();
    let error = out.find("`vulnerability`").unwrap();
    assert!(error < warning);
}

#[test]
fn cells_cannot_inject_markup() {
    let report = Report {
        findings: vec![Finding {
            location: at("a|b/Dockerfile", 1, 1, 2),
            ..finding(
                Rule::ImageNotAllowed,
                Severity::Error,
                "bad <img src=x onerror=alert(1)> | `ok|` ` trailing\nnext",
            )
        }],
        ..Report::default()
    };
    let out = markdown(&report);
    assert!(!out.contains("<img"), "{out}");
    assert!(
        out.contains("&lt;img src=x onerror=alert(1)&gt; \\| `ok\\|` \\` trailing<br>next"),
        "{out}"
    );
    assert!(out.contains("`a\\|b/Dockerfile:1`"), "{out}");
}

fn many(n: usize) -> Report {
    let findings = (0..n)
        .map(|i| Finding {
            location: at(&format!("services/s{i}/Dockerfile"), 3, 6, 18),
            image: Some(format!("registry.example.com/team/service-{i}:1.0")),
            help: Some(format!("run `portcullis pin services/s{i}/Dockerfile`")),
            waived: i % 10 == 0,
            ..finding(
                Rule::DigestNotPinned,
                Severity::Error,
                &format!(
                    "`registry.example.com/team/service-{i}:1.0` is not pinned by digest — é 🦀"
                ),
            )
        })
        .collect();
    Report {
        findings,
        summary: Summary {
            files: n,
            images: n,
            errors: n,
            ..Summary::default()
        },
        ..Report::default()
    }
}

#[test]
fn long_reports_are_truncated_under_the_comment_limit_with_a_count() {
    let report = many(3000);
    let out = markdown(&report);
    assert!(utf16(&out) <= COMMENT_LIMIT, "{} units", utf16(&out));
    assert!(
        utf16(&out) > COMMENT_LIMIT - 2_000,
        "the budget is used, not wasted"
    );
    let shown = out.matches("services/s").count();
    // Each shown finding names its file twice (place and help).
    let shown_rows = shown / 2;
    let note = out
        .lines()
        .find(|l| l.contains("left out"))
        .expect("a truncation note");
    let left: usize = note
        .trim_start_matches("> ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(shown_rows + left, 3000, "{note}");
    // Unwaived findings take the budget before waived ones.
    assert!(!out.contains("<details>"), "waived rows are dropped first");
}

#[test]
fn short_reports_are_not_truncated() {
    let out = markdown(&many(20));
    assert!(!out.contains("left out"));
    assert_eq!(out.matches("services/s").count(), 40);
}

#[test]
fn a_tiny_limit_keeps_heading_counts_and_note() {
    let (root, config) = (repo(), config_text());
    let out = markdown_with_limit(&many(50), &options(&root, &config), 1_000);
    assert!(utf16(&out) <= 1_000);
    assert!(out.starts_with(MARKER));
    assert!(out.contains("❌ blocked"));
    assert!(out.contains("left out"));
}
