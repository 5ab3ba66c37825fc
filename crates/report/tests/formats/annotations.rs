//! GitHub workflow commands.

use portcullis_policy::{Finding, Location, Report, Rule, Severity};
use portcullis_report::github_annotations;

use crate::common::{finding, sample};

#[test]
fn one_command_per_unwaived_finding() {
    let out = github_annotations(&sample());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        sample().findings.iter().filter(|f| !f.waived).count()
    );
    assert!(lines.contains(
        &"::error file=services/web/Dockerfile,line=3,col=6,endLine=3,endColumn=18,title=tag-denied::tag `latest` of `nginx` is denied%0Ahelp: name a release tag, e.g. `nginx:1.27`, then run `portcullis pin`"
    ), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("::warning title=waiver-unused::")),
        "{out}"
    );
    assert!(
        !out.contains("ghcr.io/acme/tools:1.2` is not pinned"),
        "waived findings stay silent"
    );
    // A vulnerability without location names its image in the message.
    assert!(lines
        .iter()
        .any(|l| l.starts_with("::error title=vulnerability::")
            && l.contains("%0Aimage: docker.io/library/nginx:latest")));
}

#[test]
fn properties_and_message_are_escaped() {
    let report = Report {
        findings: vec![Finding {
            location: Some(Location {
                file: "dir,x/a:b%c\nd/Dockerfile".into(),
                line: 2,
                column: 1,
                end_line: 2,
                end_column: 4,
                span: 0..0,
            }),
            ..finding(
                Rule::ImageNotAllowed,
                Severity::Note,
                "100% bad\r\n::error::injected",
            )
        }],
        ..Report::default()
    };
    let out = github_annotations(&report);
    assert_eq!(
        out,
        "::notice file=dir%2Cx/a%3Ab%25c%0Ad/Dockerfile,line=2,col=1,endLine=2,endColumn=4,title=image-not-allowed::100%25 bad%0D%0A::error::injected\n"
    );
    assert_eq!(out.lines().count(), 1, "no second command can be injected");
}

#[test]
fn multi_line_spans_drop_columns() {
    let report = Report {
        findings: vec![Finding {
            location: Some(Location {
                file: "k8s/pod.yaml".into(),
                line: 4,
                column: 9,
                end_line: 5,
                end_column: 3,
                span: 0..0,
            }),
            ..finding(Rule::TagMissing, Severity::Warning, "m")
        }],
        ..Report::default()
    };
    assert_eq!(
        github_annotations(&report),
        "::warning file=k8s/pod.yaml,line=4,endLine=5,title=tag-missing::m\n"
    );
}

#[test]
fn overflow_beyond_the_per_step_limit_is_left_out_and_announced_in_a_plain_line() {
    let findings: Vec<Finding> = (0..13)
        .map(|i| Finding {
            location: crate::common::at("Dockerfile", i + 1, 1, 2),
            ..finding(Rule::DigestNotPinned, Severity::Error, "m")
        })
        .collect();
    let out = github_annotations(&Report {
        findings,
        ..Report::default()
    });
    // GitHub would drop the eleventh and later silently: only ten are written, the first
    // lines first.
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 10, "{out}");
    assert!(errors[9].contains(",line=10,"), "{out}");
    // The rest are announced in a plain log line, which no annotation limit drops.
    let last = out.lines().last().unwrap();
    assert!(!last.starts_with("::"), "{last}");
    assert!(
        last.contains("3 errors not annotated") && last.contains("job summary"),
        "{last}"
    );
    // At the limit, nothing to announce.
    assert!(!github_annotations(&sample()).contains("not annotated"));
}
