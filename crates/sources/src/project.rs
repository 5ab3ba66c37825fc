//! What one file's meaning depends on in other files of the tree, read once before the
//! parallel parse: a compose file's `.env`, the build definitions (bake, compose `build:`)
//! that give a Dockerfile its contexts and args, the GitLab CI files a `.gitlab-ci.yml`
//! includes, a Helm chart's `Chart.yaml`, a kustomization's `images:`.
//!
//! [`Project::read`] looks at the discovered files (and may read the few small files beside
//! them that are not sources themselves, such as `.env`); [`Project::context`] hands each
//! file's parser the part that concerns it. Each concern keeps its own reader in its own
//! module; this file only ties them together.

use std::path::{Component, Path, PathBuf};

use crate::{Problem, SourceFile, SourceKind};

pub(crate) mod helm;
pub(crate) mod kustomize;

/// Cross-file facts of one tree.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// Helm charts by directory (`Chart.yaml`'s `appVersion`).
    charts: helm::Charts,
    /// What kustomizations do to the images of their resource files.
    kustomize: kustomize::Kustomize,
}

/// What the parser of one file gets from the rest of the tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileContext<'p> {
    #[allow(dead_code)]
    project: Option<&'p Project>,
    /// For a Helm values file: its chart's `appVersion`, the tag of an image map whose
    /// `tag` is empty or missing.
    pub(crate) app_version: Option<&'p str>,
    /// For a resource of kustomizations: the `images:` overrides on each way to it.
    pub(crate) kustomize: &'p [kustomize::Chain],
}

impl Project {
    /// Reads the cross-file facts of `files` (discovered under `root`). Problems are about
    /// files that define context (an unreadable `.env`, a bake file that does not parse).
    #[must_use]
    pub fn read(root: &Path, files: &[SourceFile]) -> (Self, Vec<Problem>) {
        let _ = root;
        let project = Self {
            charts: helm::Charts::read(files),
            kustomize: kustomize::Kustomize::read(files),
        };
        (project, Vec::new())
    }

    /// The kind `file` is read as: discovery decides by name alone, the project may know
    /// better (a YAML file a `.gitlab-ci.yml` includes is GitLab CI).
    #[must_use]
    pub fn kind_of(&self, file: &SourceFile) -> SourceKind {
        self.charts.kind_of(file).unwrap_or(file.kind)
    }

    /// The context the parser of `file` gets.
    #[must_use]
    pub fn context(&self, file: &SourceFile) -> FileContext<'_> {
        FileContext {
            project: Some(self),
            app_version: self
                .charts
                .chart_of(&file.path)
                .and_then(|(chart, _)| chart.app_version.as_deref()),
            kustomize: self.kustomize.chains_of(&file.path),
        }
    }
}

/// `path` with `.` and `..` resolved lexically, so `overlays/prod/../../base` and `base`
/// name one directory.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
