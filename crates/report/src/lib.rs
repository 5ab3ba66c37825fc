//! Renders a [`Report`] for people and machines: human diagnostics (source line, caret, the
//! config entry that caused it, `help:`), the JSON contract, SARIF 2.1.0, Markdown, and
//! GitHub workflow-command annotations.
//!
//! INTERFACE STUB: the public API below is the contract other crates build against.

use std::path::Path;

pub use portcullis_policy::Report;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Markdown,
}

/// Rendering options.
#[derive(Debug, Clone)]
pub struct RenderOptions<'a> {
    /// Root the finding paths are relative to (to show source lines).
    pub root: &'a Path,
    /// The policy file text and name (for secondary labels), if any.
    pub config: Option<(&'a str, &'a str)>,
    pub color: bool,
    /// `portcullis` version for `tool.version`.
    pub version: &'a str,
}

/// Renders `report` in `format`.
#[must_use]
pub fn render(report: &Report, format: Format, options: &RenderOptions<'_>) -> String {
    todo!("{report:?} {format:?} {options:?}")
}

/// GitHub Actions workflow commands (`::error file=…,line=…::…`), one per unwaived finding.
#[must_use]
pub fn github_annotations(report: &Report) -> String {
    todo!("{report:?}")
}
