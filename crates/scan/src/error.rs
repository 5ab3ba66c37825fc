//! The one error type of the scan crate, so the CLI can classify every scanner problem
//! (bad report, broken hook, missing binary) into the documented exit codes.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::Format;

/// Everything that can go wrong while running scanner hooks or reading their reports.
///
/// Every variant names the report or hook it is about (a file path, or the hook's name), and the offending field or value in backticks.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The report is not valid JSON of the expected shape. `serde_json`'s message names
    /// the field or value and the line/column.
    #[error("cannot read {source_name} as {format}: at `{field}`: {error}")]
    Parse {
        /// The report file or hook the bytes came from.
        source_name: String,
        /// The format that was expected or detected.
        format: Format,
        /// JSON path of the offending field, e.g. `Results[0].Vulnerabilities[2].Severity`
        /// (`.` for the document itself).
        field: String,
        /// The JSON error (with line and column).
        #[source]
        error: serde_json::Error,
    },
    /// A field holds a value the parser does not accept.
    #[error(
        "{source_name}: field `{field}` has unsupported value `{value}` (expected {expected})"
    )]
    InvalidField {
        /// The report file or hook.
        source_name: String,
        /// JSON path of the field, e.g. `runs[0].results[3].ruleId`.
        field: String,
        /// The offending value, truncated.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// An OpenVEX statement lacks what the specification requires for its status: a
    /// `justification` or an `impact_statement` for `not_affected`, an `action_statement`
    /// for `affected`. It is refused rather than read as an unexplained suppression.
    #[error("{source_name}: statement {index} (`{vulnerability}`) is `{status}` without {missing}, which OpenVEX requires")]
    VexIncomplete {
        /// The VEX file.
        source_name: String,
        /// Index of the statement in `statements`.
        index: usize,
        /// The vulnerability the statement is about.
        vulnerability: String,
        /// The statement's status as written.
        status: String,
        /// What is missing, e.g. "a `justification` or an `impact_statement`".
        missing: String,
    },
    /// The format of the bytes could not be recognised.
    #[error("{source_name}: not a Trivy, Grype, SARIF, CycloneDX, SPDX or OpenVEX JSON document (starts with `{start}`)")]
    UnknownFormat {
        /// The report file or hook.
        source_name: String,
        /// The first characters of the document.
        start: String,
    },
    /// The document is of a kind that holds no vulnerability list (an SBOM or VEX document
    /// given where a scan report was expected, or the reverse).
    #[error("{source_name}: is a {found} document, expected {expected}")]
    WrongKind {
        /// The report file or hook.
        source_name: String,
        /// What the document is.
        found: Format,
        /// What the caller wanted.
        expected: String,
    },
    /// A hook definition is unusable (empty command, unknown placeholder value...).
    #[error("scanner hook `{hook}`: {reason}")]
    InvalidHook {
        /// The hook name.
        hook: String,
        /// What is wrong, naming the offending value in backticks.
        reason: String,
    },
    /// The hook exited 0 but printed nothing but whitespace: the scanner failed, not the
    /// hook definition.
    #[error("scanner hook `{hook}`: `{program}` exited 0 but printed no report on stdout")]
    NoReport {
        /// The hook name.
        hook: String,
        /// The program that ran.
        program: String,
    },
    /// A report (a hook's output or a file) is larger than [`crate::MAX_REPORT_BYTES`]; the
    /// hook was stopped, the file not read further.
    #[error("{source_name} is larger than the {limit}-byte limit for a report")]
    ReportTooLarge {
        /// The report file or hook.
        source_name: String,
        /// The limit.
        limit: u64,
    },
    /// The hook exited, something it started kept its stdout open, and what it had printed
    /// by then is not a usable report.
    #[error("scanner hook `{hook}` exited while something it started kept its stdout open; what it printed is not a usable report: {error}")]
    StdoutHeldOpen {
        /// The hook name.
        hook: String,
        /// Why the output so far is unusable.
        #[source]
        error: Box<ScanError>,
    },
    /// A report or VEX file is not a regular file (a FIFO or device could block or never
    /// end).
    #[error("`{path}` is not a regular file")]
    NotRegular {
        /// The path given.
        path: std::path::PathBuf,
    },
    /// The hook's program is not installed.
    #[error("scanner hook `{hook}`: program `{program}` not found on PATH; {install_hint}")]
    MissingBinary {
        /// The hook name.
        hook: String,
        /// The program that was looked up.
        program: String,
        /// How to install it.
        install_hint: String,
    },
    /// The hook's process could not be started or read.
    #[error("scanner hook `{hook}`: cannot run `{program}`: {error}")]
    Spawn {
        /// The hook name.
        hook: String,
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        error: std::io::Error,
    },
    /// The hook ran longer than its timeout; its process group was killed.
    #[error("scanner hook `{hook}` timed out after {}s and was killed", timeout.as_secs_f64())]
    Timeout {
        /// The hook name.
        hook: String,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The hook exited non-zero and printed no usable report.
    #[error("scanner hook `{hook}` failed (exit {}) without a usable report: `{stderr_first_line}`", code.map_or_else(|| "by signal".to_owned(), |c| c.to_string()))]
    HookFailed {
        /// The hook name.
        hook: String,
        /// The exit code, `None` when killed by a signal.
        code: Option<i32>,
        /// The first non-empty line the hook wrote to stderr.
        stderr_first_line: String,
    },
    /// A hook name that is neither a built-in nor a `[[scan.hook]]` of the policy.
    #[error("unknown scanner hook `{name}`: expected {}", quoted(known))]
    UnknownHook {
        /// The name asked for.
        name: String,
        /// The built-in and `[[scan.hook]]` names.
        known: Vec<String>,
    },
    /// No hook was selected and no report file was given.
    #[error("nothing to scan with: select a hook (`trivy`, `grype`, `syft` or a `[[scan.hook]]` name, or `[scan] hooks` in the policy) or give a report file")]
    NothingToScan,
    /// A report or VEX file given to the scan cannot be used: it is missing, unreadable,
    /// malformed, or of the wrong kind. `error` says why, naming the file.
    #[error("cannot use {role} `{}`", path.display())]
    Input {
        /// What the file was given as.
        role: FileRole,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        error: Box<ScanError>,
    },
    /// A report or SBOM file could not be read or written.
    #[error("cannot access `{}`: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        error: std::io::Error,
    },
}

/// What a file was given to a scan as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileRole {
    /// A scan report (`--report`), which may also be a VEX document.
    Report,
    /// A VEX document (`--vex`, or `[scan] vex` in the policy).
    Vex,
}

impl fmt::Display for FileRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Report => "report",
            Self::Vex => "VEX document",
        })
    }
}

/// `` `a`, `b` or `c` ``.
fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "a hook name".to_owned(),
    }
}

/// Shortens `value` for inclusion in a message (char-boundary safe).
pub(crate) fn excerpt(value: &str, max: usize) -> String {
    let trimmed = value.trim();
    match trimmed.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}
