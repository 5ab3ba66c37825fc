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

/// Cross-file facts of one tree.
#[derive(Debug, Clone, Default)]
pub struct Project {}

/// What the parser of one file gets from the rest of the tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileContext<'p> {
    #[allow(dead_code)]
    project: Option<&'p Project>,
}

impl Project {
    /// Reads the cross-file facts of `files` (discovered under `root`). Problems are about
    /// files that define context (an unreadable `.env`, a bake file that does not parse).
    #[must_use]
    pub fn read(root: &Path, files: &[SourceFile]) -> (Self, Vec<Problem>) {
        let _ = (root, files);
        (Self::default(), Vec::new())
    }

    /// The kind `file` is read as: discovery decides by name alone, the project may know
    /// better (a YAML file a `.gitlab-ci.yml` includes is GitLab CI).
    #[must_use]
    pub fn kind_of(&self, file: &SourceFile) -> SourceKind {
        file.kind
    }

    /// The context the parser of `file` gets.
    #[must_use]
    pub fn context(&self, file: &SourceFile) -> FileContext<'_> {
        let _ = file;
        FileContext {
            project: Some(self),
        }
    }
}
