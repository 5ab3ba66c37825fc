//! The pull request comment / job summary body: counts first, findings grouped by rule and
//! file with the group's fix, details folded, under GitHub's size limit at any volume.

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
fn templates_not_checked_are_counted_and_absent_otherwise() {
    let mut report = sample();
    assert!(!markdown(&report).contains("not checked"));
    report.summary.not_checked = 3;
    let out = markdown(&report);
    assert!(out.contains("3 template files not checked"), "{out}");
}

#[test]
fn tables_counts_waived_details_and_vulnerabilities() {
    let out = markdown(&sample());
    assert!(out.contains("| 2 | 4 | 6 | 1 | 1 | 0 |"), "{out}");
    // Counts per rule come before the details.
    let counts = out.find("#### Findings by rule").expect("counts per rule");
    let details = out.find("#### Details").expect("details");
    assert!(counts < details);
    assert!(
        out.contains("| `digest-not-pinned` | 3 | 0 | 0 | 1 | 2 |"),
        "{out}"
    );
    // The group of `tag-denied` in the Dockerfile, folded, with its fix once.
    assert!(
        out.contains("<details><summary>❌ <code>tag-denied</code> in <code>services/web/Dockerfile</code>: 1 finding</summary>"),
        "{out}"
    );
    assert!(out.contains("**Fix:** name a release tag"), "{out}");
    assert!(
        out.contains("| ❌ | 3 | `docker.io/library/nginx:latest` |"),
        "{out}"
    );
    let waived_at = out.find("<summary>Waived findings").expect("waived block");
    let waived = &out[waived_at..];
    assert!(waived.contains("`ghcr.io/acme/tools:1.2`"));
    assert!(waived.contains("internal tool, pinned by the release job"));
    // Waived findings are not in the groups.
    assert_eq!(
        out[..waived_at].matches("`ghcr.io/acme/tools:1.2`").count(),
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
    // The group line is HTML, where `|` is plain text and markup is escaped.
    assert!(out.contains("<code>a|b/Dockerfile</code>"), "{out}");
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

/// The number a truncation note starts with.
fn left_out(out: &str) -> usize {
    let note = out
        .lines()
        .find(|l| l.contains("left out"))
        .expect("a truncation note");
    note.trim_start_matches("> ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
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
    let shown_rows = out.matches("| ❌ | 3 |").count();
    assert_eq!(shown_rows + left_out(&out), 3000);
    // Unwaived findings take the budget before waived ones.
    assert!(
        !out.contains("Waived findings"),
        "waived rows are dropped first"
    );
    // One file per finding: each group names its fix once.
    assert_eq!(
        out.matches("**Fix:** run `portcullis pin services/s")
            .count(),
        shown_rows
    );
}

#[test]
fn short_reports_are_not_truncated() {
    let out = markdown(&many(20));
    assert!(!out.contains("left out"));
    assert_eq!(out.matches("| ❌ | 3 |").count(), 18);
    assert_eq!(
        out.matches("<summary>❌ <code>digest-not-pinned</code>")
            .count(),
        18
    );
}

#[test]
fn a_tiny_limit_keeps_heading_counts_and_note() {
    let (root, config) = (repo(), config_text());
    let out = markdown_with_limit(&many(50), &options(&root, &config), 1_000);
    assert!(utf16(&out) <= portcullis_report::MIN_LIMIT);
    assert!(out.starts_with(MARKER));
    assert!(out.contains("❌ blocked"));
    assert!(
        out.contains("| `digest-not-pinned` | 45 | 0 | 0 | 5 | 50 |"),
        "{out}"
    );
    assert!(out.contains("left out"));
}

/// A thousand findings of every rule over many files: the comment stays under GitHub's
/// 65,536-character limit, every rule is represented with its true count, and the note
/// says what was cut.
#[test]
fn a_thousand_findings_across_every_rule_fit_and_every_rule_shows() {
    let rules: Vec<Rule> = Rule::all().collect();
    let findings: Vec<Finding> = (0..1000)
        .map(|i| {
            let rule = rules[i % rules.len()];
            let file = format!("apps/app{}/Dockerfile", i % 97);
            Finding {
                location: at(&file, u32::try_from(i).unwrap() + 1, 6, 40),
                image: Some(format!("registry.example.com/team/app-{i}:1.0")),
                help: Some(format!("run `portcullis pin {file}`")),
                ..finding(
                    rule,
                    if i % 3 == 0 {
                        Severity::Warning
                    } else {
                        Severity::Error
                    },
                    &format!(
                        "`registry.example.com/team/app-{i}:1.0` breaks `{}` {}",
                        rule.code(),
                        "x".repeat(120)
                    ),
                )
            }
        })
        .collect();
    let mut report = Report {
        findings,
        ..Report::default()
    };
    report.finish();
    let out = markdown(&report);
    assert!(
        out.chars().count() < 65_536,
        "{} characters",
        out.chars().count()
    );
    assert!(utf16(&out) <= COMMENT_LIMIT);
    let counts =
        &out[out.find("#### Findings by rule").unwrap()..out.find("#### Details").unwrap()];
    for rule in &rules {
        let n = report.findings.iter().filter(|f| f.rule == *rule).count();
        let row = counts
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", rule.code())))
            .unwrap_or_else(|| panic!("no row for `{}`:\n{counts}", rule.code()));
        let total: usize = row
            .split('|')
            .skip(2)
            .take(4)
            .map(|c| c.trim().parse::<usize>().unwrap())
            .sum();
        assert_eq!(total, n, "{row}");
    }
    let shown = out.matches("| ❌ | ").count() + out.matches("| ⚠️ | ").count();
    assert!(shown > 0);
    assert_eq!(
        shown + left_out(&out),
        1000,
        "every finding is shown or counted as cut"
    );
    assert!(out.contains("<details><summary>"), "groups are folded");
}
