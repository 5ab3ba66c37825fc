//! The step outputs of `portcullis ci` under GitHub Actions, appended to the file
//! `$GITHUB_OUTPUT` names: `result`, `errors`, `warnings` and `signed-digest`, the names
//! the Action's `action.yml` declares. A value that could hold a line break is written in
//! the multi-line form `name<<DELIMITER`, with a delimiter the value does not contain, so
//! no value can end early or set another output.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use portcullis_policy::Report;

/// What a run tells the steps after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutputs {
    /// `passed`, `failed` (policy violations) or `error` (usage, configuration or runtime
    /// failure), from the report's exit code.
    pub result: &'static str,
    /// Open error findings.
    pub errors: usize,
    /// Open warning findings.
    pub warnings: usize,
    /// The digest signed, if the run signed.
    pub signed_digest: Option<String>,
}

impl StepOutputs {
    /// The outputs of a run that ended with `report` and signed `signed_digest`.
    #[must_use]
    pub fn new(report: &Report, signed_digest: Option<&str>) -> Self {
        Self {
            result: match report.exit_code() {
                0 => "passed",
                1 => "failed",
                _ => "error",
            },
            errors: report.summary.errors,
            warnings: report.summary.warnings,
            signed_digest: signed_digest.map(str::to_owned),
        }
    }

    /// The lines for `$GITHUB_OUTPUT`.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        line(&mut out, "result", self.result);
        line(&mut out, "errors", &self.errors.to_string());
        line(&mut out, "warnings", &self.warnings.to_string());
        line(
            &mut out,
            "signed-digest",
            self.signed_digest.as_deref().unwrap_or_default(),
        );
        out
    }

    /// Appends [`StepOutputs::render`] to the file `path`.
    pub fn append(&self, path: &Path) -> std::io::Result<()> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(self.render().as_bytes())
    }
}

/// `name=value`, or `name<<DELIMITER` … `DELIMITER` when `value` holds a line break.
fn line(out: &mut String, name: &str, value: &str) {
    if !value.contains(['\n', '\r']) {
        let _ = writeln!(out, "{name}={value}");
        return;
    }
    let mut delimiter = "PORTCULLIS_EOF".to_owned();
    while value
        .lines()
        .any(|line| line.trim_end_matches('\r') == delimiter)
    {
        delimiter.push('_');
    }
    let _ = writeln!(out, "{name}<<{delimiter}\n{value}\n{delimiter}");
}

#[cfg(test)]
mod tests {
    use portcullis_policy::{Finding, Rule, Severity};

    use super::*;

    fn report(severities: &[Severity]) -> Report {
        let mut report = Report {
            findings: severities
                .iter()
                .map(|s| Finding::new(Rule::DigestNotPinned, *s, String::new(), None))
                .collect(),
            ..Report::default()
        };
        report.finish();
        report
    }

    #[test]
    fn outputs_follow_the_report() {
        let failed = StepOutputs::new(
            &report(&[Severity::Error, Severity::Warning, Severity::Warning]),
            None,
        );
        assert_eq!(
            failed.render(),
            "result=failed\nerrors=1\nwarnings=2\nsigned-digest=\n"
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let passed = StepOutputs::new(&report(&[]), Some(&digest));
        assert_eq!(passed.result, "passed");
        assert!(passed
            .render()
            .ends_with(&format!("signed-digest={digest}\n")));
    }

    #[test]
    fn a_value_with_a_line_break_uses_the_multi_line_form() {
        let mut out = String::new();
        line(&mut out, "signed-digest", "a\nresult=passed");
        assert_eq!(
            out,
            "signed-digest<<PORTCULLIS_EOF\na\nresult=passed\nPORTCULLIS_EOF\n"
        );
        let mut out = String::new();
        line(&mut out, "x", "PORTCULLIS_EOF\nresult=passed");
        assert_eq!(
            out,
            "x<<PORTCULLIS_EOF_\nPORTCULLIS_EOF\nresult=passed\nPORTCULLIS_EOF_\n"
        );
    }

    #[test]
    fn appending_keeps_what_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outputs");
        std::fs::write(&path, "earlier=1\n").unwrap();
        StepOutputs::new(&report(&[]), None).append(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("earlier=1\nresult=passed\n"), "{text}");
    }
}
