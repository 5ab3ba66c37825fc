//! Finds the files of a repository that name container images (Dockerfiles, compose files,
//! Kubernetes manifests, kustomizations, Helm values, GitHub workflows, GitLab CI), extracts
//! every image reference with its exact byte span, and rewrites references in place for
//! `pin`. No network.
//!
//! The entry points are [`Root`] (the repository root; [`Root::collect_all`] reads checked
//! paths and names files relative to the root), [`collect`] (discover + read + parse a tree
//! in parallel), [`discover`], [`parse`] (one file's bytes), [`pin_targets`] and
//! [`pin_edits`] (what `pin` rewrites), [`rewrite`]/[`apply`] (byte-span edits) and
//! [`write_atomic`] (the one atomic file write, for edits and reports alike).
//! [`inline_comments`] reads the inline waivers (`# portcullis: ignore …`) of a file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use encoding::{Encoding, NotText};

pub use paths::Root;
pub use pin::{lookup_key, pin_edits, pin_targets, PinTarget, PinTargets, SkipReason, Skipped};
pub use portcullis_reference::inline::{CommentError, InlineComment, InlineIgnore, Part};
pub use portcullis_reference::{
    Context, ImageRef, Location, Platform, Problem, ProblemKind, Resolution,
};
pub use project::{BuildDefinition, FileContext, NamedContext, Project};
pub use rewrite::{write_atomic, write_atomic_with};

mod bake;
mod discover;
mod dockerfile;
mod dotenv;
mod encoding;
mod inline;
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
    /// A kustomization (`kustomization.yaml`, `kustomization.yml`, `Kustomization`): its
    /// `images:` entries decide the images of its resources.
    Kustomization,
    /// A `values*.yaml` file beside a Helm chart's `Chart.yaml`.
    HelmValues,
    /// A file under a Helm chart's `templates/`: a Go template, never parsed as YAML (see
    /// [`Collected::not_checked`]).
    HelmTemplate,
    /// `docker-bake.hcl`/`.json` (and overrides): build definitions for `docker buildx bake`.
    Bake,
}

/// Where the literal reference text lives when it differs from the occurrence text, e.g.
/// the default of `ARG BASE=alpine:3.20` used by `FROM $BASE`. `pin` edits this span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub span: Range<usize>,
    pub text: String,
    /// What `pin` writes over `span`.
    pub form: LiteralForm,
}

/// What the text at a [`Literal`] is, and so what `pin` writes there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LiteralForm {
    /// The reference itself: `pin` writes `name:tag@digest` over it.
    #[default]
    Reference,
    /// The place of a separate digest value (a kustomization's `digest:`, a Helm values
    /// image map's `digest`): the value written there (possibly empty, then `span` is
    /// empty), or an empty span where `pin` inserts one. `pin` writes
    /// `{before}{digest}{after}` over it, e.g. `before` = `"  digest: "`, `after` = `"\n"` to
    /// insert a line.
    Digest { before: String, after: String },
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

/// The base images of the Dockerfiles read (`FROM` images, stages excluded), each once,
/// that are pinned by digest: what a build's provenance names as its resolved
/// dependencies. An unpinned base image is left out — provenance states digests.
#[must_use]
pub fn pinned_base_images(occurrences: &[Occurrence]) -> Vec<ImageRef> {
    let found: std::collections::BTreeSet<&ImageRef> = occurrences
        .iter()
        .filter(|o| o.context == Context::DockerfileFrom)
        .filter_map(|o| o.resolution.image())
        .filter(|image| image.digest().is_some())
        .collect();
    found.into_iter().cloned().collect()
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
    /// The platforms built (`[build] platforms`): the values of `TARGETOS`, `TARGETARCH`,
    /// `BUILDPLATFORM`, ... A Dockerfile that uses them is read once per platform. Empty:
    /// they have no value (a reference using one is unresolved).
    pub platforms: Vec<Platform>,
}

/// The references of a tree of files.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Number of source files parsed.
    pub files: usize,
    /// Sorted by file, line, column.
    pub occurrences: Vec<Occurrence>,
    pub problems: Vec<Problem>,
    /// Files that name images but that portcullis does not read (Helm templates), sorted by
    /// file. Reports count them, so nothing is skipped silently.
    pub not_checked: Vec<NotChecked>,
    /// The inline waiver comments, sorted by file, line, column.
    pub inline_comments: Vec<InlineComment>,
}

/// A file portcullis found but did not check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotChecked {
    /// Relative to the root, `/`-separated.
    pub file: String,
    pub reason: NotCheckedReason,
}

/// Why a file was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotCheckedReason {
    /// A file under a Helm chart's `templates/`: what it deploys is decided when Helm
    /// renders it with the chart's values.
    HelmTemplate,
    /// A YAML-named file that holds Go template actions (`{{ ... }}`) and is not valid YAML
    /// as written: a template rendered by some tool before it is deployed.
    Template,
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
/// The bytes are UTF-8 (a byte-order mark allowed) or UTF-16 with a byte-order mark. Byte
/// spans in the result index the text as UTF-8: `bytes` as given for a UTF-8 file (a
/// leading byte-order mark skipped but counted), the file transcoded to UTF-8 for UTF-16
/// (the mark counted as its three UTF-8 bytes), which is also the text [`apply`] and
/// [`rewrite`] edit. Columns do not count the byte-order mark.
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
    let (occurrences, problems, ..) = parse_file(file, bytes, options, context);
    (occurrences, problems)
}

/// [`parse_in`], also saying why the file was not checked when it was not, and with the
/// file's inline waiver comments ([`inline_comments`]) read from the same decoded text.
pub(crate) fn parse_file(
    file: &SourceFile,
    bytes: &[u8],
    options: &ParseOptions,
    context: FileContext<'_>,
) -> (
    Vec<Occurrence>,
    Vec<Problem>,
    Option<NotCheckedReason>,
    Vec<InlineComment>,
) {
    let text = match decode(file, bytes) {
        Ok(text) => text,
        Err(problem) => return (Vec::new(), vec![problem], None, Vec::new()),
    };
    let text = &*text;
    let (body, shift) = match text.strip_prefix('\u{feff}') {
        Some(body) => (body, '\u{feff}'.len_utf8()),
        None => (text, 0),
    };
    let (mut occurrences, problems, not_checked) = match file.kind {
        SourceKind::Dockerfile => {
            let (occurrences, problems) = dockerfile::parse(file, body, options, context);
            (occurrences, problems, None)
        }
        SourceKind::Bake => {
            let (occurrences, problems) = bake::parse(file, body);
            (occurrences, problems, None)
        }
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
    (occurrences, problems, not_checked, comments_in(file, text))
}

/// The inline waivers of one file's bytes: the comments reading `# portcullis: …` where
/// the file's format has comments (see the grammar in the `inline` module), each with the
/// lines whose references it concerns. A file that cannot be read as text has none.
#[must_use]
pub fn inline_comments(file: &SourceFile, bytes: &[u8]) -> Vec<InlineComment> {
    match decode(file, bytes) {
        Ok(text) => comments_in(file, &text),
        Err(_) => Vec::new(),
    }
}

/// The inline waiver comments of a file's decoded text (byte-order mark included).
fn comments_in(file: &SourceFile, text: &str) -> Vec<InlineComment> {
    if !inline::may_hold(text) {
        return Vec::new();
    }
    let (body, shift) = match text.strip_prefix('\u{feff}') {
        Some(body) => (body, '\u{feff}'.len_utf8()),
        None => (text, 0),
    };
    let mut comments = match file.kind {
        SourceKind::Dockerfile => dockerfile::inline_comments(file, body),
        _ => yaml::inline_comments(file, body),
    };
    if shift > 0 {
        let moved = |location: &mut Location| {
            location.span = location.span.start + shift..location.span.end + shift;
        };
        for comment in &mut comments {
            inline::each_location(comment, moved);
        }
    }
    comments
}

/// Sorts inline comments by file, line, column.
fn sort_comments(comments: &mut [InlineComment]) {
    comments.sort_by(|a, b| {
        let (a, b) = (&a.location, &b.location);
        (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column))
    });
}

/// Checks that `bytes` are text parsers may read: not too large, UTF-8 or UTF-16 with a
/// byte-order mark, no NUL character. UTF-16 comes back transcoded to UTF-8.
fn decode<'a>(file: &SourceFile, bytes: &'a [u8]) -> Result<Cow<'a, str>, Problem> {
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
    let encoding = Encoding::of(bytes);
    if encoding == Encoding::Utf8 {
        if let Some(offset) = bytes.iter().position(|&b| b == 0) {
            return Err(problem(format!(
                "`{}`: binary file (NUL byte at offset {offset})",
                file.rel
            )));
        }
    }
    let text = encoding.decode(bytes).map_err(|e| {
        problem(match e {
            NotText::Utf8 { offset } => format!(
                "`{}`: not UTF-8 text (invalid byte at offset {offset})",
                file.rel
            ),
            NotText::OddLength => format!(
                "`{}`: not UTF-16 text (a UTF-16 byte-order mark, then an odd number of bytes)",
                file.rel
            ),
            NotText::Surrogate { offset } => format!(
                "`{}`: not UTF-16 text (unpaired surrogate at byte offset {offset})",
                file.rel
            ),
        })
    })?;
    if encoding != Encoding::Utf8 {
        if let Some(offset) = text.find('\0') {
            return Err(problem(format!(
                "`{}`: binary file (NUL character at UTF-8 offset {offset})",
                file.rel
            )));
        }
    }
    Ok(text)
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

/// Applies `edits` (non-overlapping, spans as [`parse`] gives them) to `path` and replaces the file atomically (temp file in
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
