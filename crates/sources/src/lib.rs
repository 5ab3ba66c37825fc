//! Finds the files of a repository that name container images (Dockerfiles, compose files,
//! Kubernetes manifests, GitHub workflows, GitLab CI), extracts every image reference with
//! its exact byte span, and rewrites references in place for `pin`. No network.
//!
//! INTERFACE STUB: the public API below is the contract other crates build against.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use portcullis_reference::ImageRef;

mod dockerfile;
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
    /// Writing the rewritten file failed; the original is untouched.
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file changed since it was parsed: the text at an edit's span is not what was expected.
    #[error("`{path}` changed since it was read: expected `{expected}` at byte {offset}")]
    Stale { path: PathBuf, expected: String, offset: usize },
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
    GitlabCi,
}

/// Where, syntactically, a reference was found. Printed kebab-case (`dockerfile-from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Context {
    DockerfileFrom,
    DockerfileCopyFrom,
    DockerfileRunMount,
    DockerfileSyntax,
    ComposeImage,
    KubernetesContainer,
    KubernetesInitContainer,
    KubernetesEphemeralContainer,
    GithubContainer,
    GithubService,
    GithubStep,
    GitlabImage,
    GitlabService,
}

impl Context {
    /// The kebab-case name used in reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DockerfileFrom => "dockerfile-from",
            Self::DockerfileCopyFrom => "dockerfile-copy-from",
            Self::DockerfileRunMount => "dockerfile-run-mount",
            Self::DockerfileSyntax => "dockerfile-syntax",
            Self::ComposeImage => "compose-image",
            Self::KubernetesContainer => "kubernetes-container",
            Self::KubernetesInitContainer => "kubernetes-init-container",
            Self::KubernetesEphemeralContainer => "kubernetes-ephemeral-container",
            Self::GithubContainer => "github-container",
            Self::GithubService => "github-service",
            Self::GithubStep => "github-step",
            Self::GitlabImage => "gitlab-image",
            Self::GitlabService => "gitlab-service",
        }
    }
}

/// A position in a source file. Lines and columns are 1-based; columns count characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Location {
    /// Path relative to the checked root, `/`-separated.
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    /// Byte range of the reference text in the file.
    pub span: Range<usize>,
}

/// What a reference resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A concrete image.
    Image(ImageRef),
    /// The text uses a variable with no value (build ARG without default, `${{ }}`, `$VAR`).
    Unresolved {
        /// The variable or placeholder, e.g. `BASE_IMAGE` or `${{ matrix.image }}`.
        variable: String,
    },
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

/// A per-file problem that does not stop the run (invalid YAML, non-UTF-8 text, an invalid
/// reference, an unreadable file). The CLI prints them and exits 2 at the end.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
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

/// The result of scanning a tree.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Number of source files parsed.
    pub files: usize,
    /// Sorted by file, line, column.
    pub occurrences: Vec<Occurrence>,
    pub problems: Vec<Problem>,
}

/// Finds source files under `root` (a directory or a single file), honouring `.gitignore`.
pub fn discover(root: &Path, options: &DiscoverOptions) -> Result<(Vec<SourceFile>, Vec<Problem>), SourceError> {
    todo!("{} {options:?}", root.display())
}

/// Parses one file's bytes.
#[must_use]
pub fn parse(file: &SourceFile, bytes: &[u8], options: &ParseOptions) -> (Vec<Occurrence>, Vec<Problem>) {
    todo!("{file:?} {} {options:?}", bytes.len())
}

/// Discovers and parses every source under `root`, in parallel.
pub fn scan(root: &Path, discover: &DiscoverOptions, parse: &ParseOptions) -> Result<Scan, SourceError> {
    todo!("{} {discover:?} {parse:?}", root.display())
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
/// the same directory + rename, permissions kept). Returns whether the content changed.
pub fn rewrite(path: &Path, edits: &[Edit]) -> Result<bool, SourceError> {
    todo!("{} {edits:?}", path.display())
}

/// The new content after applying `edits` to `content`, without writing (for `pin --check`).
pub fn apply(path: &Path, content: &[u8], edits: &[Edit]) -> Result<Vec<u8>, SourceError> {
    todo!("{} {} {edits:?}", path.display(), content.len())
}
