//! GitHub Actions workflow commands (`::error file=…,line=…::message`) that put findings
//! on the pull request's "Files changed" view. Report text is data: every property and the
//! message are escaped as the Actions runner expects (`%`, `\r`, `\n` everywhere, and `:`
//! and `,` in properties), so a crafted image name cannot end the command early or inject
//! another one. Waived findings produce nothing.

use std::fmt::Write as _;

use portcullis_policy::{Finding, Report, Severity};

use crate::code;

/// Escapes the message part of a workflow command.
pub(crate) fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`): the data escapes plus `:` and `,`.
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One command line for one finding.
fn command(finding: &Finding) -> String {
    let kind = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    };
    let mut properties = Vec::new();
    if let Some(l) = &finding.location {
        properties.push(format!("file={}", escape_property(&l.file)));
        properties.push(format!("line={}", l.line));
        // GitHub takes columns only when the annotation stays on one line.
        if l.end_line == l.line {
            properties.push(format!("col={}", l.column));
            properties.push(format!("endLine={}", l.end_line));
            properties.push(format!("endColumn={}", l.end_column));
        } else {
            properties.push(format!("endLine={}", l.end_line));
        }
    }
    properties.push(format!("title={}", escape_property(code(finding.rule))));
    let mut message = finding.message.clone();
    if let Some(image) = finding
        .image
        .as_ref()
        .filter(|_| finding.location.is_none())
    {
        let _ = write!(message, "\nimage: {image}");
    }
    if let Some(help) = &finding.help {
        let _ = write!(message, "\nhelp: {help}");
    }
    format!(
        "::{kind} {}::{}\n",
        properties.join(","),
        escape_data(&message)
    )
}

/// GitHub shows at most this many annotations of each kind per step and drops the rest
/// without a word.
pub(crate) const PER_KIND: usize = 10;

/// The annotations GitHub will show: the unwaived findings, worst first (by severity, then
/// file, line and column; findings without a place after those with one), at most
/// [`PER_KIND`] of each severity. Then, when some were left out, one plain log line (not a
/// workflow command, which would itself count against the limit) saying how many and
/// where the whole list is.
pub(crate) fn render(report: &Report) -> String {
    let mut open: Vec<&Finding> = report.findings.iter().filter(|f| !f.waived).collect();
    open.sort_by_key(|f| {
        let place = f
            .location
            .as_ref()
            .map(|l| (l.file.clone(), l.line, l.column));
        (f.severity, place.is_none(), place)
    });
    let mut out = String::new();
    let mut left_out = Vec::new();
    for severity in [Severity::Error, Severity::Warning, Severity::Note] {
        let all: Vec<&Finding> = open
            .iter()
            .copied()
            .filter(|f| f.severity == severity)
            .collect();
        for finding in all.iter().take(PER_KIND) {
            out.push_str(&command(finding));
        }
        let hidden = all.len().saturating_sub(PER_KIND);
        if hidden > 0 {
            let kind = match severity {
                Severity::Error => ("error", "errors"),
                Severity::Warning => ("warning", "warnings"),
                Severity::Note => ("notice", "notices"),
            };
            left_out.push(crate::plural(hidden, kind.0, kind.1));
        }
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "{}: {} not annotated: GitHub shows at most {PER_KIND} annotations of each kind per step; every finding is in the job summary",
            crate::TOOL_NAME,
            left_out.join(", "),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_the_runner() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%d\ne"), "a%3Ab%2Cc%25d%0Ae");
        // `%` first, so an escape in the input is not decoded back by the runner.
        assert_eq!(escape_data("%0A"), "%250A");
    }

    fn finding(severity: Severity, file: &str, line: u32) -> Finding {
        let mut finding = Finding::new(
            portcullis_policy::Rule::DigestNotPinned,
            severity,
            format!("{file}:{line}"),
            None,
        );
        if !file.is_empty() {
            finding.location = Some(location(file, line));
        }
        finding
    }

    fn location(file: &str, line: u32) -> portcullis_reference::Location {
        portcullis_reference::Location {
            file: file.to_owned(),
            line,
            column: 1,
            end_line: line,
            end_column: 2,
            span: 0..1,
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            findings,
            ..Report::default()
        }
    }

    fn commands(text: &str) -> Vec<&str> {
        text.lines().filter(|l| l.starts_with("::")).collect()
    }

    #[test]
    fn at_most_ten_of_each_kind_worst_first_and_a_plain_line_for_the_rest() {
        let mut findings = Vec::new();
        // Warnings first and in reverse, so the order below is the renderer's.
        for line in (1..=12).rev() {
            findings.push(finding(Severity::Warning, "b/Dockerfile", line));
        }
        for line in (1..=13).rev() {
            findings.push(finding(Severity::Error, "a/Dockerfile", line));
        }
        findings.push(finding(Severity::Error, "", 0));
        findings.push(finding(Severity::Note, "c/Dockerfile", 1));
        let text = render(&report(findings));
        let commands = commands(&text);
        assert_eq!(commands.len(), 21, "{text}");
        assert!(commands[..10].iter().all(|c| c.starts_with("::error ")));
        assert!(commands[10..20].iter().all(|c| c.starts_with("::warning ")));
        assert!(commands[20].starts_with("::notice "));
        // Errors by file and line, the one without a place last (and so left out).
        for (i, c) in commands[..10].iter().enumerate() {
            assert!(c.contains(&format!("line={},", i + 1)), "{c}");
        }
        assert!(!text.contains("::a/Dockerfile:11") && !text.contains("%3A0"));
        let last = text.lines().last().unwrap();
        assert!(!last.starts_with("::"), "{last}");
        assert_eq!(
            last,
            "portcullis: 4 errors, 2 warnings not annotated: GitHub shows at most 10 annotations of each kind per step; every finding is in the job summary"
        );
    }

    #[test]
    fn no_summary_line_when_everything_fits() {
        let findings = (1..=10)
            .map(|line| finding(Severity::Error, "Dockerfile", line))
            .collect();
        let text = render(&report(findings));
        assert_eq!(commands(&text).len(), 10);
        assert_eq!(text.lines().count(), 10, "{text}");
    }

    #[test]
    fn waived_findings_are_not_annotated() {
        let mut waived = finding(Severity::Error, "Dockerfile", 1);
        waived.waived = true;
        assert_eq!(render(&report(vec![waived])), "");
    }
}
