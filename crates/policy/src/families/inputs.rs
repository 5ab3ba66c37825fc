//! Input that could not be read or trusted: `file-invalid`, `reference-invalid`,
//! `scan-report-mismatch`. These are findings like any other (every format shows them and
//! the summary counts them), are never waived, and make the exit code 2.

use portcullis_reference::{Location, Problem, ProblemKind};

use crate::finding::{Detail, Finding, Severity};
use crate::rules::Rule;

/// A scanner report that names another image than the one scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMismatch {
    /// The report file or hook that said it.
    pub source: String,
    /// The image (or digest) the report names.
    pub reported: String,
    /// The image that was scanned.
    pub expected: String,
}

/// The `file-invalid` and `reference-invalid` findings of a run that judges nothing else
/// (`pin` reports unreadable files as `check` does).
#[must_use]
pub fn problem_findings(problems: &[Problem]) -> Vec<Finding> {
    problems.iter().map(problem).collect()
}

/// The finding for a file or reference that could not be read.
pub(crate) fn problem(problem: &Problem) -> Finding {
    let (rule, help) = match problem.kind {
        ProblemKind::FileInvalid => (
            Rule::FileInvalid,
            "fix the file so it parses, or exclude it with `--exclude`",
        ),
        ProblemKind::ReferenceInvalid => (
            Rule::ReferenceInvalid,
            "write a valid image reference, `[registry/]repository[:tag][@sha256:…]`",
        ),
    };
    let mut finding = Finding::new(
        rule,
        Severity::Error,
        problem.message.clone(),
        Some(help.to_owned()),
    );
    finding.location = Some(Location {
        file: problem.file.clone(),
        line: problem.line.unwrap_or(1),
        column: problem.column.unwrap_or(1),
        end_line: problem.line.unwrap_or(1),
        end_column: problem.column.unwrap_or(1),
        span: 0..0,
    });
    finding
}

/// The finding for a scanner report about another image.
pub(crate) fn mismatch(mismatch: &ReportMismatch) -> Finding {
    let message = format!(
        "`{}` is a report for `{}`, not for the scanned `{}`",
        mismatch.source, mismatch.reported, mismatch.expected
    );
    let help = format!(
        "scan `{}` again, or pass the report made for it",
        mismatch.expected
    );
    let mut finding = Finding::new(
        Rule::ScanReportMismatch,
        Severity::Error,
        message,
        Some(help),
    );
    finding.image = Some(mismatch.expected.clone());
    finding.detail = Some(Detail::ReportMismatch {
        reported: mismatch.reported.clone(),
        expected: mismatch.expected.clone(),
    });
    finding
}
