//! Inline waivers as written: a `# portcullis: ignore RULE[,RULE…] [until DATE] -- REASON`
//! comment read from a source file. `sources` finds the comments and splits them into
//! their parts, each with where it is written; `policy` judges the parts (rule codes,
//! dates) and applies the waiver. Defining the parts here lets the two crates agree
//! without depending on each other.

use std::ops::RangeInclusive;

use crate::Location;

/// One `# portcullis:` comment of a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineComment {
    /// The comment, from `portcullis:` to the end of its line.
    pub location: Location,
    /// The lines (1-based, of the same file) whose references it concerns: its own line
    /// for a trailing comment; for a comment alone on its line, the line below the comment
    /// lines it stands among (in a Dockerfile, every line of the instruction starting
    /// there). Empty when it stands above nothing a reference can be on.
    pub lines: RangeInclusive<u32>,
    /// The parts, or why the text is not an inline waiver.
    pub parsed: Result<InlineIgnore, CommentError>,
}

/// The parts of `ignore RULE[,RULE…] [until DATE] -- REASON`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineIgnore {
    /// The rule codes, in order (not yet checked).
    pub rules: Vec<Part>,
    /// The `until` date (not yet checked).
    pub until: Option<Part>,
    /// Why the exception exists; never empty.
    pub reason: Part,
}

/// A piece of a comment and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub text: String,
    pub location: Location,
}

/// A `# portcullis:` comment that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentError {
    /// Where the offending text is.
    pub location: Location,
    /// Names the offending text in backticks.
    pub message: String,
}
