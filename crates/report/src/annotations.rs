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

pub(crate) fn render(report: &Report) -> String {
    let open: Vec<&Finding> = report.findings.iter().filter(|f| !f.waived).collect();
    let mut out: String = open.iter().map(|f| command(f)).collect();
    let hidden: usize = [Severity::Error, Severity::Warning, Severity::Note]
        .iter()
        .map(|s| {
            open.iter()
                .filter(|f| f.severity == *s)
                .count()
                .saturating_sub(PER_KIND)
        })
        .sum();
    if hidden > 0 {
        let _ = writeln!(
            out,
            "::notice title={}::{}",
            escape_property(crate::TOOL_NAME),
            escape_data(&format!(
                "GitHub shows {PER_KIND} annotations of each kind per step: {hidden} more are in the job summary and the JSON report"
            ))
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
}
