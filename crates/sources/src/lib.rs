//! Finds the files of a repository that name container images (Dockerfiles, compose files,
//! Kubernetes manifests, GitHub workflows, GitLab CI), extracts every image reference with
//! its exact byte span, and rewrites references in place for `pin`. No network.
//!
//! The entry points are [`Root`] (the repository root; [`Root::collect_all`] reads checked
//! paths and names files relative to the root), [`collect`] (discover + read + parse a tree
//! in parallel), [`discover`], [`parse`] (one file's bytes), [`pin_targets`] and
//! [`pin_edits`] (what `pin` rewrites), [`rewrite`]/[`apply`] (byte-span edits) and
//! [`write_atomic`] (the one atomic file write, for edits and reports alike).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use paths::Root;
pub use pin::{lookup_key, pin_edits, pin_targets, PinTarget, PinTargets, SkipReason, Skipped};
pub use portcullis_reference::{Context, ImageRef, Location, Problem, ProblemKind, Resolution};
pub use project::{FileContext, Project};
pub use rewrite::write_atomic;

mod discover;
mod dockerfile;
pub mod paths;
mod pin;
pub mod project;
mod rewrite;
mod text;
mod yaml;

/// Errors that stop a whole operation (as opposed to per-file [`Problem`]s).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A path given on the command line does not exist or cannot be read.
    #[error("cannot read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A path given on the command line is neither a regular file nor a directory (a FIFO,
    /// a device, a socket), which could block or never end.
    #[error("`{path}` is not a regular file or a directory")]
    NotRegular { path: PathBuf },
    /// `pin` will not write this file (a link out of the repository, a read-only file, not a
    /// regular file); it is left as it was.
    #[error("`{path}` is not written: {reason}")]
    Refused { path: PathBuf, reason: String },
    /// Writing the rewritten file failed; the original is untouched.
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file changed since it was parsed: the text at an edit's span is not what was expected.
    #[error("`{path}` changed since it was read: expected `{expected}` at byte {offset}")]
    Stale {
        path: PathBuf,
        expected: String,
        offset: usize,
    },
    /// Two edits of one file overlap, so applying both is ambiguous.
    #[error("`{path}`: edits at bytes {first:?} and {second:?} overlap")]
    Overlap {
        path: PathBuf,
        first: Range<usize>,
        second: Range<usize>,
    },
    /// An `--exclude` pattern is not a valid gitignore-style glob.
    #[error("invalid exclude pattern `{pattern}`")]
    Exclude {
        pattern: String,
        #[source]
        source: ignore::Error,
    },
}

/// What kind of file a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Dockerfile,
    Compose,
    /// Any other YAML file; it yields references only if it is a Kubernetes manifest.
    Kubernetes,
    GithubWorkflow,
    /// `.gitlab-ci.yml`, `*.gitlab-ci.yml`, or a YAML file one of them includes locally.
    GitlabCi,
}

/// Where the literal reference text lives when it differs from the occurrence text, e.g.
/// the default of `ARG BASE=alpine:3.20` used by `FROM $BASE`. `pin` edits this span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub span: Range<usize>,
    pub text: String,
}

/// One image reference found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub location: Location,
    /// The reference text as written at `location.span`.
    pub text: String,
    pub resolution: Resolution,
    pub context: Context,
    /// `--platform=` value of a Dockerfile `FROM`, or a Kubernetes/compose `platform:`.
    pub platform: Option<String>,
    /// Where `pin` must write. `None` when the reference comes from a variable whose value is
    /// not written in this file (then `pin` leaves it alone with a warning).
    pub literal: Option<Literal>,
}

/// A file to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Relative to the root, `/`-separated.
    pub rel: String,
    pub kind: SourceKind,
}

/// Options for discovery.
#[derive(Debug, Clone, Default)]
pub struct DiscoverOptions {
    /// Glob patterns (gitignore syntax) of paths to skip.
    pub exclude: Vec<String>,
}

/// Options for parsing.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// `--build-arg NAME=VALUE` overrides for Dockerfile `ARG` defaults.
    pub build_args: BTreeMap<String, String>,
}

/// The references of a tree of files.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Number of source files parsed.
    pub files: usize,
    /// Sorted by file, line, column.
    pub occurrences: Vec<Occurrence>,
    pub problems: Vec<Problem>,
}

impl Collected {
    /// The occurrences `pin` may edit: those in files that parsed without a
    /// `file-invalid` problem. A file portcullis could not read completely is never
    /// rewritten.
    #[must_use]
    pub fn in_valid_files(&self) -> Vec<Occurrence> {
        let invalid: std::collections::BTreeSet<&str> = self
            .problems
            .iter()
            .filter(|p| p.kind == ProblemKind::FileInvalid)
            .map(|p| p.file.as_str())
            .collect();
        self.occurrences
            .iter()
            .filter(|o| !invalid.contains(o.location.file.as_str()))
            .cloned()
            .collect()
    }
}

/// Finds source files under `root` (a directory or a single file), honouring `.gitignore`.
///
/// Hidden directories such as `.github` are walked, `.git` is not, symbolic links are not
/// followed, and the result is sorted by [`SourceFile::rel`]. Unreadable directories become
/// [`Problem`]s. When `root` is a file, it is classified by its name (a file that matches no
/// known name is read as a Dockerfile, since it was named explicitly) and its `rel` is its
/// file name (relative to the directory holding it).
pub fn discover(
    root: &Path,
    options: &DiscoverOptions,
) -> Result<(Vec<SourceFile>, Vec<Problem>), SourceError> {
    discover::discover(root, options)
}

/// Files larger than this are refused with a [`Problem`] instead of being parsed.
pub const MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// Parses one file's bytes.
///
/// Byte spans in the result index `bytes` as given (a leading UTF-8 byte-order mark is
/// skipped but counted); columns do not count the byte-order mark.
#[must_use]
pub fn parse(
    file: &SourceFile,
    bytes: &[u8],
    options: &ParseOptions,
) -> (Vec<Occurrence>, Vec<Problem>) {
    parse_in(file, bytes, options, FileContext::default())
}

/// Parses one file's bytes with what the rest of the tree says about it (see [`Project`]).
#[must_use]
pub fn parse_in(
    file: &SourceFile,
    bytes: &[u8],
    options: &ParseOptions,
    context: FileContext<'_>,
) -> (Vec<Occurrence>, Vec<Problem>) {
    let text = match decode(file, bytes) {
        Ok(text) => text,
        Err(problem) => return (Vec::new(), vec![problem]),
    };
    let (body, shift) = match text.strip_prefix('\u{feff}') {
        Some(body) => (body, '\u{feff}'.len_utf8()),
        None => (text, 0),
    };
    let (mut occurrences, problems) = match file.kind {
        SourceKind::Dockerfile => dockerfile::parse(file, body, options, context),
        _ => yaml::parse(file, body, context),
    };
    if shift > 0 {
        for occurrence in &mut occurrences {
            let span = &mut occurrence.location.span;
            *span = span.start + shift..span.end + shift;
            if let Some(literal) = &mut occurrence.literal {
                literal.span = literal.span.start + shift..literal.span.end + shift;
            }
        }
    }
    occurrences.sort_by_key(|a| (a.location.line, a.location.column));
    (occurrences, problems)
}

/// Checks that `bytes` are text parsers may read: not too large, no NUL byte, UTF-8.
fn decode<'a>(file: &SourceFile, bytes: &'a [u8]) -> Result<&'a str, Problem> {
    let problem = |message: String| Problem {
        kind: ProblemKind::FileInvalid,
        file: file.rel.clone(),
        line: None,
        column: None,
        message,
    };
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(problem(format!(
            "`{}`: file is {} bytes, larger than the {MAX_FILE_SIZE}-byte limit",
            file.rel,
            bytes.len()
        )));
    }
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(problem(format!(
            "`{}`: binary file (NUL byte at offset {offset})",
            file.rel
        )));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        problem(format!(
            "`{}`: not UTF-8 text (invalid byte at offset {})",
            file.rel,
            e.valid_up_to()
        ))
    })
}

/// Discovers and parses every source under `root`, in parallel.
///
/// `files` counts the files that were read and handed to a parser; files that could not be
/// read are [`Problem`]s instead.
pub fn collect(
    root: &Path,
    discover: &DiscoverOptions,
    parse: &ParseOptions,
) -> Result<Collected, SourceError> {
    discover::collect(root, discover, parse)
}

/// One replacement in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub span: Range<usize>,
    /// The text expected at `span` (checked before writing).
    pub expected: String,
    pub replacement: String,
}

/// Applies `edits` (non-overlapping) to `path` and replaces the file atomically (temp file in
/// the same directory + rename, mode and owner kept). Returns whether the content changed.
/// Only a regular, writable file inside `tree` (the repository) is written; anything else is
/// [`SourceError::Refused`].
pub fn rewrite(path: &Path, edits: &[Edit], tree: &Path) -> Result<bool, SourceError> {
    rewrite::rewrite(path, edits, tree)
}

/// The new content after applying `edits` to `content`, without writing (for `pin --check`).
pub fn apply(path: &Path, content: &[u8], edits: &[Edit]) -> Result<Vec<u8>, SourceError> {
    rewrite::apply(path, content, edits)
}
