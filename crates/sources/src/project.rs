//! What one file's meaning depends on in other files of the tree, read once before the
//! parallel parse: a compose file's `.env`, the build definitions (bake, compose `build:`)
//! that give a Dockerfile its contexts and args, the GitLab CI files a `.gitlab-ci.yml`
//! includes, a Helm chart's `Chart.yaml`, a kustomization's `images:`.
//!
//! [`Project::read`] looks at the discovered files (and may read the few small files beside
//! them that are not sources themselves, such as `.env`); [`Project::context`] hands each
//! file's parser the part that concerns it. Each concern keeps its own reader in its own
//! module; this file only ties them together.

use std::path::Path;

use crate::{Problem, SourceFile, SourceKind};

pub(crate) mod gitlab;

/// Cross-file facts of one tree.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// GitLab CI pipelines: the files they include, their shared variables.
    gitlab: gitlab::Pipelines,
}

/// What the parser of one file gets from the rest of the tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileContext<'p> {
    #[allow(dead_code)]
    project: Option<&'p Project>,
    /// The GitLab CI pipeline the file is read in.
    gitlab: Option<&'p gitlab::Pipeline>,
}

impl<'p> FileContext<'p> {
    /// The GitLab CI pipeline the file belongs to, if any.
    pub(crate) fn gitlab(&self) -> Option<&'p gitlab::Pipeline> {
        self.gitlab
    }
}

impl Project {
    /// Reads the cross-file facts of `files` (discovered under `root`). Problems are about
    /// files that define context (an unreadable `.env`, a bake file that does not parse).
    #[must_use]
    pub fn read(root: &Path, files: &[SourceFile]) -> (Self, Vec<Problem>) {
        let _ = root;
        let project = Self {
            gitlab: gitlab::Pipelines::read(files),
        };
        (project, Vec::new())
    }

    /// The kind `file` is read as: discovery decides by name alone, the project may know
    /// better (a YAML file a `.gitlab-ci.yml` includes is GitLab CI).
    #[must_use]
    pub fn kind_of(&self, file: &SourceFile) -> SourceKind {
        self.gitlab.kind_of(file)
    }

    /// The context the parser of `file` gets.
    #[must_use]
    pub fn context(&self, file: &SourceFile) -> FileContext<'_> {
        FileContext {
            project: Some(self),
            gitlab: self.gitlab.pipeline(&file.rel),
        }
    }
}
