//! What one file's meaning depends on in other files of the tree, read once before the
//! parallel parse: a compose file's `.env`, the build definitions (bake, compose `build:`)
//! that give a Dockerfile its contexts and args, the GitLab CI files a `.gitlab-ci.yml`
//! includes, a Helm chart's `Chart.yaml`, a kustomization's `images:`.
//!
//! [`Project::read`] looks at the discovered files (and may read the few small files beside
//! them that are not sources themselves, such as `.env`); [`Project::context`] hands each
//! file's parser the part that concerns it. Each concern keeps its own reader in its own
//! module (`bake`, `yaml::compose`, `dotenv`); this file only ties them together.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use portcullis_reference::ImageRef;

use crate::{Problem, SourceFile, SourceKind};

pub(crate) mod gitlab;
pub(crate) mod helm;
pub(crate) mod kustomize;

/// Cross-file facts of one tree.
#[derive(Debug, Clone, Default)]
pub struct Project {
    /// GitLab CI pipelines: the files they include, their shared variables.
    gitlab: gitlab::Pipelines,
    /// Helm charts by directory (`Chart.yaml`'s `appVersion`).
    charts: helm::Charts,
    /// What kustomizations do to the images of their resource files.
    kustomize: kustomize::Kustomize,
    /// The build definitions that build each Dockerfile, by the Dockerfile's `rel`.
    builds: HashMap<String, Vec<BuildDefinition>>,
    /// The variables of the `.env` beside each compose file, by the compose file's `rel`.
    env: HashMap<String, BTreeMap<String, String>>,
}

/// One way a Dockerfile is built: a bake target or a compose service's `build:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildDefinition {
    /// Where it is written, e.g. `docker-bake.hcl` target `app` (for messages).
    pub origin: String,
    /// `args`: values for the Dockerfile's `ARG`s, like `--build-arg`.
    pub args: BTreeMap<String, String>,
    /// Named contexts (`contexts`, `additional_contexts`), by name.
    pub contexts: BTreeMap<String, NamedContext>,
}

/// What a named build context replaces its name with in a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory (or a Git/HTTP context): the name is no image.
    Local(String),
    /// `docker-image://ref`: the name stands for this image.
    Image(ImageRef),
    /// `target:name`: another bake target's result, no image.
    Target(String),
    /// A value that names an image with a variable left without a value.
    Unresolved(String),
}

/// What the parser of one file gets from the rest of the tree.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileContext<'p> {
    project: Option<&'p Project>,
    /// The GitLab CI pipeline the file is read in.
    gitlab: Option<&'p gitlab::Pipeline>,
    /// For a Helm values file: its chart's `appVersion`, the tag of an image map whose
    /// `tag` is empty or missing.
    pub(crate) app_version: Option<&'p str>,
    /// For a resource of kustomizations: the `images:` overrides on each way to it.
    pub(crate) kustomize: &'p [kustomize::Chain],
    rel: Option<&'p str>,
}

impl<'p> FileContext<'p> {
    /// The GitLab CI pipeline the file belongs to, if any.
    pub(crate) fn gitlab(&self) -> Option<&'p gitlab::Pipeline> {
        self.gitlab
    }

    /// The build definitions that build this Dockerfile (empty when none names it).
    #[must_use]
    pub fn builds(&self) -> &'p [BuildDefinition] {
        self.project
            .zip(self.rel)
            .and_then(|(project, rel)| project.builds.get(rel))
            .map_or(&[], Vec::as_slice)
    }

    /// The `.env` variables of this compose file (empty when there is none).
    #[must_use]
    pub fn env(&self) -> Option<&'p BTreeMap<String, String>> {
        self.project
            .zip(self.rel)
            .and_then(|(project, rel)| project.env.get(rel))
    }
}

impl Project {
    /// Reads the cross-file facts of `files` (discovered under `root`). Problems are about
    /// files that define context (an unreadable `.env`, a bake file that does not parse).
    #[must_use]
    pub fn read(root: &Path, files: &[SourceFile]) -> (Self, Vec<Problem>) {
        let _ = root;
        let mut project = Self {
            charts: helm::Charts::read(files),
            kustomize: kustomize::Kustomize::read(files),
            gitlab: gitlab::Pipelines::read(files),
            ..Self::default()
        };
        let mut problems = Vec::new();
        let mut definitions: Vec<(String, BuildDefinition)> = Vec::new();
        for file in files {
            if file.kind != SourceKind::Compose {
                continue;
            }
            let env = crate::dotenv::beside(file).unwrap_or_else(|problem| {
                problems.push(problem);
                None
            });
            let env = env.unwrap_or_default();
            definitions.extend(crate::yaml::compose_builds(file, &env));
            if !env.is_empty() {
                project.env.insert(file.rel.clone(), env);
            }
        }
        // The bake files of one directory are merged, overrides last, as bake reads them; a
        // bake file that does not parse is reported when it is parsed itself.
        let mut bake: BTreeMap<&str, Vec<&SourceFile>> = BTreeMap::new();
        for file in files.iter().filter(|f| f.kind == SourceKind::Bake) {
            bake.entry(dir_of(&file.rel)).or_default().push(file);
        }
        for mut group in bake.into_values() {
            group.sort_by_key(|f| {
                let name = f.rel.to_ascii_lowercase();
                let hcl = Path::new(&name).extension().is_some_and(|e| e == "hcl");
                (name.contains(".override."), hcl)
            });
            definitions.extend(crate::bake::builds(&group));
        }
        let dockerfiles: std::collections::HashSet<&str> = files
            .iter()
            .filter(|f| f.kind == SourceKind::Dockerfile)
            .map(|f| f.rel.as_str())
            .collect();
        for (dockerfile, definition) in definitions {
            if dockerfiles.contains(dockerfile.as_str()) {
                let list = project.builds.entry(dockerfile).or_default();
                if !list.contains(&definition) {
                    list.push(definition);
                }
            }
        }
        (project, problems)
    }

    /// The kind `file` is read as: discovery decides by name alone, the project may know
    /// better (a YAML file a `.gitlab-ci.yml` includes is GitLab CI).
    #[must_use]
    pub fn kind_of(&self, file: &SourceFile) -> SourceKind {
        self.charts
            .kind_of(file)
            .or_else(|| self.gitlab.kind_of(file))
            .unwrap_or(file.kind)
    }

    /// The context the parser of `file` gets.
    #[must_use]
    pub fn context<'p>(&'p self, file: &'p SourceFile) -> FileContext<'p> {
        FileContext {
            project: Some(self),
            rel: Some(&file.rel),
            // Each fact only for the kind of file that reads it: the lookups walk paths.
            app_version: (file.kind == SourceKind::HelmValues)
                .then(|| self.charts.chart_of(&file.rel))
                .flatten()
                .and_then(|(chart, _)| chart.app_version.as_deref()),
            kustomize: if file.kind == SourceKind::Kubernetes {
                self.kustomize.chains_of(&file.rel)
            } else {
                &[]
            },
            gitlab: self.gitlab.pipeline(&file.rel),
        }
    }
}

/// `base/path` joined and normalized lexically (`a/./b/../c` → `a/c`), `/`-separated;
/// `None` when it leaves the root or is absolute.
pub(crate) fn join_rel(base: &str, path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// The directory of a `rel` path (`""` at the root).
pub(crate) fn dir_of(rel: &str) -> &str {
    rel.rfind('/').map_or("", |i| &rel[..i])
}

/// The Dockerfile a build with `context` and `dockerfile` (both as written, relative to the
/// directory of the file `rel` that defines it) reads, as a `rel` path. Remote contexts
/// (`https://`, `git@`, `…://`) and absolute paths name no file of the tree.
pub(crate) fn dockerfile_of(rel: &str, context: &str, dockerfile: &str) -> Option<String> {
    if context.contains("://") || context.starts_with("git@") {
        return None;
    }
    let context = join_rel(dir_of(rel), context)?;
    join_rel(&context, dockerfile)
}

/// What the value of a named context means.
pub(crate) fn named_context(value: &str) -> NamedContext {
    if let Some(image) = value.strip_prefix("docker-image://") {
        return match ImageRef::parse(image) {
            Ok(image) => NamedContext::Image(image),
            Err(_) => NamedContext::Local(value.to_owned()),
        };
    }
    if let Some(target) = value.strip_prefix("target:") {
        return NamedContext::Target(target.to_owned());
    }
    NamedContext::Local(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_lexically_and_stay_inside_the_root() {
        assert_eq!(join_rel("a/b", "../c/./d").as_deref(), Some("a/c/d"));
        assert_eq!(join_rel("", "Dockerfile").as_deref(), Some("Dockerfile"));
        assert_eq!(join_rel("a", "../../x"), None);
        assert_eq!(
            dockerfile_of("svc/compose.yaml", "./web", "Dockerfile.dev").as_deref(),
            Some("svc/web/Dockerfile.dev")
        );
        assert_eq!(
            dockerfile_of(
                "docker-bake.hcl",
                "https://github.com/a/b.git",
                "Dockerfile"
            ),
            None
        );
    }

    #[test]
    fn named_context_values() {
        assert!(matches!(
            named_context("docker-image://alpine:3.20"),
            NamedContext::Image(_)
        ));
        assert_eq!(
            named_context("target:base"),
            NamedContext::Target("base".into())
        );
        assert_eq!(named_context("./src"), NamedContext::Local("./src".into()));
    }
}
