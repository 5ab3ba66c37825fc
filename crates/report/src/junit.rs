//! `JUnit` XML, which GitLab's merge request test widget (every tier) and most CI systems
//! show. Each image reference is a test case that passes when nothing is wrong with it;
//! each error finding is a failing case, each warning a passing case that says so in its
//! output, each waived finding a skipped case with the waiver's reason. Report text is data:
//! XML-escaped, and characters XML 1.0 cannot carry are replaced.

use std::collections::HashSet;
use std::fmt::Write as _;

use portcullis_policy::{Finding, Report, Severity};

use crate::{code, waiver_reason, TOOL_NAME};

/// Escapes text for an XML attribute or element; characters XML 1.0 forbids become U+FFFD.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `file:line image` or what the finding has of it.
fn case_name(finding: &Finding) -> String {
    let place = finding
        .location
        .as_ref()
        .map(|l| format!("{}:{}", l.file, l.line));
    match (place, &finding.image) {
        (Some(place), Some(image)) => format!("{place} {image}"),
        (Some(place), None) => place,
        (None, Some(image)) => image.clone(),
        (None, None) => finding.message.clone(),
    }
}

fn finding_case(finding: &Finding) -> String {
    let mut body = finding.message.clone();
    if let Some(help) = &finding.help {
        body.push_str("\nhelp: ");
        body.push_str(help);
    }
    let head = format!(
        "    <testcase classname=\"{}\" name=\"{}\"",
        xml(code(finding.rule)),
        xml(&case_name(finding))
    );
    if finding.waived {
        let reason = waiver_reason(finding).unwrap_or("waived");
        return format!(
            "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            xml(&format!("waived: {reason}"))
        );
    }
    match finding.severity {
        Severity::Error => format!(
            "{head}>\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
            xml(code(finding.rule)),
            xml(&finding.message),
            xml(&body)
        ),
        Severity::Warning | Severity::Note => format!(
            "{head}>\n      <system-out>{}: {}</system-out>\n    </testcase>\n",
            if finding.severity == Severity::Warning {
                "warning"
            } else {
                "note"
            },
            xml(&body)
        ),
    }
}

/// The `JUnit` document.
pub(crate) fn render(report: &Report) -> String {
    let mut cases = Vec::new();
    let mut failures = 0;
    let mut skipped = 0;
    let flagged: HashSet<(&str, u32)> = report
        .findings
        .iter()
        .filter_map(|f| f.location.as_ref().map(|l| (l.file.as_str(), l.line)))
        .collect();
    for entry in &report.images {
        if !flagged.contains(&(entry.file.as_str(), entry.line)) {
            cases.push(format!(
                "    <testcase classname=\"{}\" name=\"{}\"/>\n",
                xml(entry.context.as_str()),
                xml(&format!("{}:{} {}", entry.file, entry.line, entry.image))
            ));
        }
    }
    for finding in &report.findings {
        if finding.waived {
            skipped += 1;
        } else if finding.severity == Severity::Error {
            failures += 1;
        }
        cases.push(finding_case(finding));
    }
    let tests = cases.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"{TOOL_NAME}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">");
    let _ = writeln!(out, "  <testsuite name=\"{TOOL_NAME} check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">");
    for case in &cases {
        out.push_str(case);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_escapes_markup_and_replaces_forbidden_characters() {
        assert_eq!(xml("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(xml("x\u{1b}y\u{0}\n"), "x\u{FFFD}y\u{FFFD}\n");
    }
}
