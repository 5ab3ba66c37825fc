//! Where a reference is written: the position type every crate shares, the syntactic
//! context of a reference, what its text resolves to, and the per-file problems that keep a
//! file from being read. `sources` produces these, `policy` judges them, `report` renders
//! them; defining them here lets those crates agree without depending on each other.

use std::ops::Range;

use crate::ImageRef;

/// A span in a file. Lines and columns are 1-based; columns count characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Location {
    /// Path relative to the repository root, `/`-separated.
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    /// Byte range in the file.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// Where, syntactically, a reference is written. Printed kebab-case (`dockerfile-from`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Context {
    DockerfileFrom,
    DockerfileCopyFrom,
    DockerfileRunMount,
    DockerfileSyntax,
    ComposeImage,
    KubernetesContainer,
    KubernetesInitContainer,
    KubernetesEphemeralContainer,
    /// An `image` string anywhere in a custom resource (a Prometheus, an operator's CR).
    KubernetesImage,
    /// A kustomization's `images:` entry, which decides the image its resources deploy.
    KustomizeImage,
    /// An image in a Helm chart's values (`image: {repository, tag}` or `image: repo:tag`).
    HelmValues,
    GithubContainer,
    GithubService,
    GithubStep,
    GitlabImage,
    GitlabService,
    /// A `docker-image://` build context named in a bake file or a compose `build:` section.
    BuildContext,
}

impl Context {
    /// The kebab-case name used in reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the reference is in a Dockerfile (build arguments can give it a value).
    #[must_use]
    pub fn is_dockerfile(self) -> bool {
        matches!(
            self,
            Self::DockerfileFrom
                | Self::DockerfileCopyFrom
                | Self::DockerfileRunMount
                | Self::DockerfileSyntax
        )
    }
}

/// What the text of a reference resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    /// A concrete image.
    Image(ImageRef),
    /// The text uses a variable with no value (build ARG without default, `${{ }}`, `$VAR`).
    Unresolved {
        /// The variable or placeholder, e.g. `BASE_IMAGE` or `${{ matrix.image }}`.
        variable: String,
    },
}

impl Resolution {
    /// The image, when the text resolved to one.
    #[must_use]
    pub fn image(&self) -> Option<&ImageRef> {
        match self {
            Self::Image(image) => Some(image),
            Self::Unresolved { .. } => None,
        }
    }
}

/// What kind of input problem a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A file that should hold references cannot be read or parsed.
    FileInvalid,
    /// A value in an image position is not a valid image reference.
    ReferenceInvalid,
}

/// A per-file problem that does not stop the run (invalid YAML, non-UTF-8 text, an invalid
/// reference, an unreadable file). It becomes a finding, so every format shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// Relative to the repository root, `/`-separated.
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// Names the offending value in backticks.
    pub message: String,
}

/// The path of `to` as seen from the directory `from`, both `/`-separated and relative to
/// the same base, without touching the file system: `relative("services", "services/web/x")`
/// is `web/x`, `relative("a/b", "c")` is `../../c`. `.` components are dropped and `x/..`
/// collapses, so the result names the same file from `from`. An empty result is `.`.
#[must_use]
pub fn relative(from: &str, to: &str) -> String {
    fn components(path: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." if out.last().is_some_and(|last| *last != "..") => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }
    let from = components(from);
    let to = components(to);
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_from_a_directory() {
        for (from, to, want) in [
            ("", "services/web/Dockerfile", "services/web/Dockerfile"),
            (".", "./Dockerfile", "Dockerfile"),
            ("services", "services/web/Dockerfile", "web/Dockerfile"),
            (
                "services/api",
                "services/web/Dockerfile",
                "../web/Dockerfile",
            ),
            ("a/b", "c", "../../c"),
            ("services", "../x/Dockerfile", "../../x/Dockerfile"),
            ("a", "a", "."),
            ("a/./b/../c", "a/c/d", "d"),
        ] {
            assert_eq!(relative(from, to), want, "{from} -> {to}");
        }
    }
    use strum::IntoEnumIterator as _;

    #[test]
    fn context_names_are_kebab_case_and_round_trip() {
        for context in Context::iter() {
            let name = context.as_str();
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert_eq!(name.parse::<Context>(), Ok(context));
            assert_eq!(
                serde_json::to_value(context).unwrap(),
                serde_json::json!(name)
            );
        }
        assert_eq!(Context::DockerfileFrom.as_str(), "dockerfile-from");
        assert!(Context::DockerfileSyntax.is_dockerfile());
        assert!(!Context::ComposeImage.is_dockerfile());
    }
}
