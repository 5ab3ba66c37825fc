//! `JUnit` XML in the shape Jenkins' xunit schema (`junit-10.xsd`), GitLab's merge request
//! test widget and most CI systems read: one `<testsuite>` per command (`portcullis check`,
//! `portcullis scan <image>`; see [`crate::parts`]). In the check's suite each image
//! reference is a test case that passes when nothing is wrong with it; each error finding
//! is a failing case, each warning a passing case that says so in its output, each waived
//! finding a skipped case with the waiver's reason. In a scan's suite each vulnerability
//! finding is a case named by vulnerability id and package, and an image with none passes
//! one case. Case names are unique within a suite (rule and `file:line`, or vulnerability id
//! and package; a repeat gets ` #2`), since CI systems merge cases of the same name.
//! Report text is data: XML-escaped, and characters XML 1.0 cannot carry are replaced.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use portcullis_policy::{CopyKind, Finding, MirrorOutcome, Report, Severity};

use crate::parts::split;
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

/// `rule file:line image`, `vulnerability-id package installed`, or what the finding has
/// of those.
fn case_name(finding: &Finding) -> String {
    if let Some(v) = finding.vulnerability() {
        return format!("{} {} {}", v.id, v.package, v.installed);
    }
    let mut name = code(finding.rule).to_owned();
    if let Some(l) = &finding.location {
        let _ = write!(name, " {}:{}", l.file, l.line);
    } else if let Some(site) = &finding.cause {
        let _ = write!(name, " {}:{}", site.file, site.line);
    }
    match &finding.image {
        Some(image) => {
            name.push(' ');
            name.push_str(image);
        }
        None if finding.location.is_none() && finding.cause.is_none() => {
            name.push(' ');
            name.push_str(&finding.message);
        }
        None => {}
    }
    name
}

/// Gives a name that repeats in one suite a ` #n` suffix.
#[derive(Default)]
struct Names(HashMap<String, usize>);

impl Names {
    fn unique(&mut self, name: String) -> String {
        let n = self.0.entry(name.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            name
        } else {
            format!("{name} #{n}")
        }
    }
}

fn finding_case(finding: &Finding, name: &str) -> String {
    let mut body = finding.message.clone();
    if let Some(help) = &finding.help {
        body.push_str("\nhelp: ");
        body.push_str(help);
    }
    let head = format!(
        "    <testcase classname=\"{}\" name=\"{}\"",
        xml(code(finding.rule)),
        xml(name)
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

/// One suite: its cases, failures and skips.
#[derive(Default)]
struct Suite {
    cases: Vec<String>,
    failures: usize,
    skipped: usize,
    names: Names,
}

impl Suite {
    fn finding(&mut self, finding: &Finding) {
        if finding.waived {
            self.skipped += 1;
        } else if finding.severity == Severity::Error {
            self.failures += 1;
        }
        let name = self.names.unique(case_name(finding));
        self.cases.push(finding_case(finding, &name));
    }

    fn passing(&mut self, classname: &str, name: String) {
        let name = self.names.unique(name);
        self.cases.push(format!(
            "    <testcase classname=\"{}\" name=\"{}\"/>\n",
            xml(classname),
            xml(&name)
        ));
    }

    fn write(&self, out: &mut String, name: &str) {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
            xml(name),
            self.cases.len(),
            self.failures,
            self.skipped
        );
        for case in &self.cases {
            out.push_str(case);
        }
        out.push_str("  </testsuite>\n");
    }
}

/// The command that copied an image, as suites and cases name it.
fn command(kind: CopyKind) -> &'static str {
    match kind {
        CopyKind::Mirror => "mirror",
        CopyKind::Promotion => "promote",
    }
}

/// The cases of a mirror run's images that are not refusals (those are findings).
fn mirror_cases(report: &Report, suite: &mut Suite) {
    for mirrored in &report.mirrored {
        let name = format!("{} → {}", mirrored.source, mirrored.target);
        let class = command(mirrored.kind);
        match mirrored.outcome {
            MirrorOutcome::Copied | MirrorOutcome::Present | MirrorOutcome::Planned => {
                suite.passing(class, name);
            }
            MirrorOutcome::Failed => {
                let message = report
                    .failures
                    .iter()
                    .find(|f| f.image.as_deref() == Some(mirrored.source.as_str()))
                    .map_or("the copy failed", |f| f.message.as_str());
                let name = suite.names.unique(name);
                suite.failures += 1;
                suite.cases.push(format!(
                    "    <testcase classname=\"{class}\" name=\"{}\">\n      <failure type=\"copy-failed\" message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(&name),
                    xml(message),
                    xml(message)
                ));
            }
            MirrorOutcome::Refused => {}
        }
    }
}

/// The `JUnit` document.
pub(crate) fn render(report: &Report) -> String {
    let parts = split(report);
    let mut suites: Vec<(String, Suite)> = Vec::new();
    if let Some(check) = &parts.check {
        let mut suite = Suite::default();
        let flagged: HashSet<(&str, u32)> = check
            .iter()
            .filter_map(|&i| report.findings[i].location.as_ref())
            .map(|l| (l.file.as_str(), l.line))
            .collect();
        for entry in &report.images {
            if !flagged.contains(&(entry.file.as_str(), entry.line)) {
                suite.passing(
                    entry.context.as_str(),
                    format!("{}:{} {}", entry.file, entry.line, entry.image),
                );
            }
        }
        for &i in check {
            suite.finding(&report.findings[i]);
        }
        // A mirror run: its refusals are the findings above; each image copied or found in
        // place passes, each failed copy fails with the error.
        let mirror = !report.mirrored.is_empty() && report.summary.files == 0;
        if mirror {
            mirror_cases(report, &mut suite);
        }
        let command = if mirror {
            command(report.mirrored[0].kind)
        } else {
            "check"
        };
        suites.push((format!("{TOOL_NAME} {command}"), suite));
    }
    for part in &parts.scans {
        let mut suite = Suite::default();
        for &i in &part.findings {
            suite.finding(&report.findings[i]);
        }
        if suite.failures == 0 {
            let fail_on = part
                .scan
                .gate
                .as_ref()
                .map_or("the threshold", |g| g.fail_on.as_str());
            suite.passing(
                "vulnerability",
                format!(
                    "{} has no vulnerability failing at {fail_on}",
                    part.scan.image
                ),
            );
        }
        suites.push((format!("{TOOL_NAME} scan {}", part.scan.image), suite));
    }
    let tests: usize = suites.iter().map(|(_, s)| s.cases.len()).sum();
    let failures: usize = suites.iter().map(|(_, s)| s.failures).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{TOOL_NAME}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">"
    );
    for (name, suite) in &suites {
        suite.write(&mut out, name);
    }
    out.push_str("</testsuites>\n");
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
