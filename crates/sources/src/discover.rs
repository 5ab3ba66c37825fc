//! Finding the files that name images (walking the tree the way git sees it) and scanning
//! them in parallel. Everything that can go wrong with one path is a [`Problem`], so one
//! unreadable directory never hides the findings of the rest of the tree.

use std::fs;
use std::io::Read;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ignore::overrides::OverrideBuilder;
use ignore::WalkBuilder;

use crate::{
    Collected, DiscoverOptions, InlineComment, NotChecked, NotCheckedReason, Occurrence,
    ParseOptions, Problem, ProblemKind, SourceError, SourceFile, SourceKind, MAX_FILE_SIZE,
};

/// See [`crate::discover`].
pub(crate) fn discover(
    root: &Path,
    options: &DiscoverOptions,
) -> Result<(Vec<SourceFile>, Vec<Problem>), SourceError> {
    let meta = fs::metadata(root).map_err(|source| SourceError::Read {
        path: root.to_owned(),
        source,
    })?;
    if !meta.is_dir() && !meta.is_file() {
        // A FIFO or device would block the read forever (or never end): refuse it up front.
        return Err(SourceError::NotRegular {
            path: root.to_owned(),
        });
    }
    if !meta.is_dir() {
        // Relative to the directory holding it, like every other `rel`.
        let rel = root
            .file_name()
            .map_or_else(|| display_path(root), |n| n.to_string_lossy().into_owned());
        let kind = classify(root, Path::new(&rel)).unwrap_or_else(|| fallback_kind(root));
        return Ok((
            vec![SourceFile {
                path: root.to_owned(),
                rel,
                kind,
            }],
            Vec::new(),
        ));
    }

    let mut overrides = OverrideBuilder::new(root);
    for pattern in &options.exclude {
        // In override globs a leading `!` means "ignore"; an exclude is exactly that.
        let negated = format!("!{pattern}");
        overrides
            .add(&negated)
            .map_err(|source| SourceError::Exclude {
                pattern: pattern.clone(),
                source,
            })?;
    }
    let overrides = overrides.build().map_err(|source| SourceError::Exclude {
        pattern: options.exclude.join(" "),
        source,
    })?;

    // The walk runs on every core: on a large monorepo it is the one part of `check` that
    // is not otherwise parallel. Results are sorted afterwards, so the order is stable.
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let walker = WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .git_global(false)
        .follow_links(false)
        .overrides(overrides)
        .threads(threads)
        .filter_entry(|entry| entry.file_name() != ".git")
        .build_parallel();

    let found: Mutex<(Vec<SourceFile>, Vec<Problem>)> = Mutex::new((Vec::new(), Vec::new()));
    let canonical_root = fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    walker.run(|| {
        let found = &found;
        let canonical_root = &canonical_root;
        Box::new(move |result| {
            let item = match result {
                Ok(entry) if entry.file_type().is_some_and(|t| t.is_symlink()) => {
                    match symlink(root, canonical_root, entry.path()) {
                        Some(item) => item,
                        None => return ignore::WalkState::Continue,
                    }
                }
                Ok(entry) => {
                    if !entry.file_type().is_some_and(|t| t.is_file()) {
                        return ignore::WalkState::Continue;
                    }
                    let path = entry.path();
                    let Ok(rel_path) = path.strip_prefix(root) else {
                        return ignore::WalkState::Continue;
                    };
                    match classify(path, rel_path) {
                        Some(kind) => Ok(SourceFile {
                            path: path.to_owned(),
                            rel: slash_path(rel_path),
                            kind,
                        }),
                        None => return ignore::WalkState::Continue,
                    }
                }
                Err(err) => Err(walk_problem(root, &err)),
            };
            let mut found = found
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match item {
                Ok(file) => found.0.push(file),
                Err(problem) => found.1.push(problem),
            }
            ignore::WalkState::Continue
        })
    });
    let (mut files, mut problems) = found
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    problems.sort_by(|a, b| (&a.file, &a.message).cmp(&(&b.file, &b.message)));
    Ok((files, problems))
}

/// What a symbolic link in the tree means. A link to a file inside the tree is read under
/// the link's name when the target is not a source file of its own (so each file is read
/// once as each kind); a link to a directory inside the tree is skipped, since the walk reaches the
/// directory under its own name. A link that leaves the tree, or that cannot be followed
/// (broken, a loop), is a problem naming both paths when it could hold references: a
/// source-named file or a directory. Everything else is not a source.
fn symlink(root: &Path, canonical_root: &Path, path: &Path) -> Option<Result<SourceFile, Problem>> {
    let rel_path = path.strip_prefix(root).ok()?;
    let rel = slash_path(rel_path);
    let kind = classify(path, rel_path);
    let problem = |message: String| Problem {
        kind: ProblemKind::FileInvalid,
        file: rel.clone(),
        line: None,
        column: None,
        message,
    };
    let target = match fs::canonicalize(path) {
        Ok(target) => target,
        Err(error) => {
            return kind.map(|_| {
                Err(problem(format!(
                    "`{rel}` is a symbolic link that cannot be followed: {error}"
                )))
            })
        }
    };
    let is_dir = target.is_dir();
    let Ok(inside) = target.strip_prefix(canonical_root) else {
        if kind.is_none() && !is_dir {
            return None;
        }
        let shown = crate::paths::relative_to(&target, canonical_root);
        return Some(Err(problem(format!(
            "`{rel}` is a symbolic link to `{shown}`, outside the checked tree; not read"
        ))));
    };
    let kind = kind?;
    if is_dir || !target.is_file() || classify(&target, inside) == Some(kind) {
        return None;
    }
    Some(Ok(SourceFile {
        path: path.to_owned(),
        rel,
        kind,
    }))
}

/// The kind of a file from its name, or `None` when it names no images.
fn classify(path: &Path, rel: &Path) -> Option<SourceKind> {
    let name = rel.file_name().or_else(|| path.file_name())?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let extension = Path::new(&lower).extension().and_then(|e| e.to_str());
    let yaml = matches!(extension, Some("yaml" | "yml"));
    if is_dockerfile(name) {
        return Some(SourceKind::Dockerfile);
    }
    if lower.starts_with("docker-bake.") && matches!(extension, Some("hcl" | "json")) {
        return Some(SourceKind::Bake);
    }
    // The three names kustomize looks for, exactly.
    if matches!(
        name,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    ) {
        return Some(SourceKind::Kustomization);
    }
    if !yaml {
        return None;
    }
    let stem = lower.trim_end_matches(".yaml").trim_end_matches(".yml");
    if stem == "compose"
        || stem.starts_with("compose.")
        || stem.starts_with("docker-compose")
        || stem.starts_with("docker-stack")
    {
        return Some(SourceKind::Compose);
    }
    // `.gitlab-ci.yml`, and `build.gitlab-ci.yml`-style pipeline files; the files they
    // include are found by `Project`, not by name.
    if stem == ".gitlab-ci" || stem.ends_with(".gitlab-ci") {
        return Some(SourceKind::GitlabCi);
    }
    let mut parents = path.ancestors().skip(1).filter_map(Path::file_name);
    if parents.next().is_some_and(|p| p == "workflows")
        && parents.next().is_some_and(|p| p == ".github")
    {
        return Some(SourceKind::GithubWorkflow);
    }
    Some(SourceKind::Kubernetes)
}

/// Extensions that make `Dockerfile.<ext>` source code or a document about Dockerfiles
/// (`dockerfile.go`, `Dockerfile.md`), not a Dockerfile; `Dockerfile.dev` and the like
/// stay Dockerfiles.
const NOT_DOCKERFILE: [&str; 36] = [
    "md", "markdown", "rst", "txt", "adoc", "html", "go", "py", "rs", "js", "mjs", "cjs", "ts",
    "tsx", "jsx", "java", "kt", "rb", "php", "c", "cc", "cpp", "h", "hpp", "cs", "swift", "sh",
    "json", "yaml", "yml", "toml", "xml", "orig", "rej", "patch", "diff",
];

fn is_dockerfile(name: &str) -> bool {
    if name.ends_with(".dockerignore") {
        // `Dockerfile.dockerignore` is the per-Dockerfile ignore file, not a Dockerfile.
        return false;
    }
    let lower = name.to_ascii_lowercase();
    ["dockerfile", "containerfile"].iter().any(|base| {
        lower == *base
            || lower.strip_prefix(base).is_some_and(|rest| {
                rest.starts_with('.') && rest.len() > 1 && !NOT_DOCKERFILE.contains(&&rest[1..])
            })
            || lower
                .strip_suffix(base)
                .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
    })
}

/// A file named explicitly on the command line is read even if its name is unusual.
fn fallback_kind(path: &Path) -> SourceKind {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("yaml" | "yml") => SourceKind::Kubernetes,
        _ => SourceKind::Dockerfile,
    }
}

/// `/`-separated path relative to the root.
fn slash_path(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// A path as the user gave it, `/`-separated, without a leading `./`.
fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut text = text.as_str();
    while let Some(rest) = text.strip_prefix("./") {
        text = rest;
    }
    text.to_owned()
}

/// Turns a walk error into a problem naming the path it happened at.
fn walk_problem(root: &Path, err: &ignore::Error) -> Problem {
    fn path_of(err: &ignore::Error) -> Option<&Path> {
        match err {
            ignore::Error::WithPath { path, .. } => Some(path),
            ignore::Error::Loop { child, .. } => Some(child),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            ignore::Error::Partial(errs) => errs.iter().find_map(path_of),
            _ => None,
        }
    }
    let file = path_of(err).map_or_else(
        || display_path(root),
        |p| {
            p.strip_prefix(root)
                .map_or_else(|_| display_path(p), slash_path)
        },
    );
    let what = match err {
        ignore::Error::Loop { .. } => "symbolic link loop",
        _ => "cannot read",
    };
    Problem {
        kind: ProblemKind::FileInvalid,
        file: file.clone(),
        line: None,
        column: None,
        message: format!("`{file}`: {what}: {err}"),
    }
}

/// What one file gave: its references, its problems, why it was not checked if it was not,
/// and its inline waiver comments.
type Parsed = (
    Vec<Occurrence>,
    Vec<Problem>,
    Option<NotChecked>,
    Vec<InlineComment>,
);

/// See [`crate::collect`].
pub(crate) fn collect(
    root: &Path,
    discover_options: &DiscoverOptions,
    options: &ParseOptions,
) -> Result<Collected, SourceError> {
    let (mut files, mut problems) = discover(root, discover_options)?;
    let (project, project_problems) = crate::Project::read(root, &files);
    problems.extend(project_problems);
    for file in &mut files {
        file.kind = project.kind_of(file);
    }
    let next = AtomicUsize::new(0);
    let parsed = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Parsed)>> = Mutex::new(Vec::with_capacity(files.len()));
    let workers = std::thread::available_parallelism()
        .map_or(4, usize::from)
        .min(files.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let result = if file.kind == SourceKind::HelmTemplate {
                    // Never read: what a template deploys is decided when Helm renders it.
                    let reason = NotCheckedReason::HelmTemplate;
                    (Vec::new(), Vec::new(), Some(reason), Vec::new())
                } else {
                    match read(file) {
                        Ok(bytes) => {
                            parsed.fetch_add(1, Ordering::Relaxed);
                            crate::parse_file(file, &bytes, options, project.context(file))
                        }
                        Err(problem) => (Vec::new(), vec![problem], None, Vec::new()),
                    }
                };
                let result = (
                    result.0,
                    result.1,
                    result.2.map(|reason| NotChecked {
                        file: file.rel.clone(),
                        reason,
                    }),
                    result.3,
                );
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((i, result));
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Sized once: a monorepo's occurrences are megabytes, and growing them by doubling
    // copies them over and over.
    let mut occurrences = Vec::with_capacity(results.iter().map(|(_, r)| r.0.len()).sum());
    let mut not_checked = Vec::new();
    let mut inline_comments = Vec::new();
    // Files are sorted by name and each file's occurrences by line and column: putting the
    // files back in order sorts the whole list without moving each occurrence around.
    results.sort_unstable_by_key(|(i, _)| *i);
    for (_, (occ, probs, skipped, comments)) in results {
        occurrences.extend(occ);
        problems.extend(probs);
        not_checked.extend(skipped);
        inline_comments.extend(comments);
    }
    not_checked.sort_by(|a, b| a.file.cmp(&b.file));
    crate::sort_comments(&mut inline_comments);
    if !occurrences.is_sorted_by(|a, b| occurrence_key(a) <= occurrence_key(b)) {
        occurrences.sort_by(|a, b| occurrence_key(a).cmp(&occurrence_key(b)));
    }
    problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    Ok(Collected {
        files: parsed.into_inner(),
        occurrences,
        problems,
        not_checked,
        inline_comments,
    })
}

/// The order of occurrences: file, line, column.
fn occurrence_key(o: &Occurrence) -> (&str, u32, u32) {
    (o.location.file.as_str(), o.location.line, o.location.column)
}

/// Reads a file, refusing ones over [`MAX_FILE_SIZE`] without loading them.
fn read(file: &SourceFile) -> Result<Vec<u8>, Problem> {
    let problem = |message: String| Problem {
        kind: ProblemKind::FileInvalid,
        file: file.rel.clone(),
        line: None,
        column: None,
        message,
    };
    let cannot = |e: std::io::Error| problem(format!("`{}`: cannot read: {e}", file.rel));
    let handle = fs::File::open(&file.path).map_err(cannot)?;
    // Sized from the file's length (growing from empty copies and reads in small steps).
    let size = handle
        .metadata()
        .map_or(0, |m| m.len())
        .min(MAX_FILE_SIZE + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0) + 1);
    // Read one byte past the limit so `parse` reports the oversize file without us holding more.
    handle
        .take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(rel: &str) -> Option<SourceKind> {
        classify(Path::new("/repo").join(rel).as_path(), Path::new(rel))
    }

    #[test]
    fn classifies_by_name() {
        for name in [
            "Dockerfile",
            "Containerfile",
            "web.Dockerfile",
            "x.dockerfile",
            "Dockerfile.prod",
            "Containerfile.dev",
            "a/b/dockerfile",
        ] {
            assert_eq!(kind(name), Some(SourceKind::Dockerfile), "{name}");
        }
        for name in [
            "Dockerfile.dockerignore",
            "README.md",
            "Dockerfile.",
            ".dockerfile",
            "NotADockerfile",
            "src/main.rs",
        ] {
            assert_eq!(kind(name), None, "{name}");
        }
        for name in [
            "compose.yaml",
            "compose.yml",
            "docker-compose.yml",
            "docker-compose.prod.yaml",
            "compose.override.yaml",
        ] {
            assert_eq!(kind(name), Some(SourceKind::Compose), "{name}");
        }
        assert_eq!(
            kind(".github/workflows/ci.yml"),
            Some(SourceKind::GithubWorkflow)
        );
        assert_eq!(
            kind(".github/workflows/ci.yaml"),
            Some(SourceKind::GithubWorkflow)
        );
        assert_eq!(kind(".github/dependabot.yml"), Some(SourceKind::Kubernetes));
        assert_eq!(
            kind(".github/workflows/sub/ci.yml"),
            Some(SourceKind::Kubernetes)
        );
        assert_eq!(kind(".gitlab-ci.yml"), Some(SourceKind::GitlabCi));
        for name in [
            ".gitlab-ci.yaml",
            "build.gitlab-ci.yml",
            "ci/deploy.gitlab-ci.yml",
            "ci/x.gitlab-ci.yaml",
        ] {
            assert_eq!(kind(name), Some(SourceKind::GitlabCi), "{name}");
        }
        for name in [
            "gitlab-ci.yml",
            "ci/gitlab-ci-templates.yml",
            "appveyor.yml",
        ] {
            assert_eq!(kind(name), Some(SourceKind::Kubernetes), "{name}");
        }
        assert_eq!(kind("k8s/deploy.yaml"), Some(SourceKind::Kubernetes));
        for name in [
            "kustomization.yaml",
            "base/kustomization.yml",
            "overlays/prod/Kustomization",
        ] {
            assert_eq!(kind(name), Some(SourceKind::Kustomization), "{name}");
        }
        // kustomize reads only these spellings; other names are plain YAML.
        assert_eq!(kind("Kustomization.yaml"), Some(SourceKind::Kubernetes));
        assert_eq!(kind("kustomization"), None);
        for name in [
            "docker-bake.hcl",
            "docker-bake.json",
            "docker-bake.override.hcl",
            "ci/docker-bake.override.json",
        ] {
            assert_eq!(kind(name), Some(SourceKind::Bake), "{name}");
        }
        assert_eq!(kind("docker-bake.md"), None);
        assert_eq!(kind("bake.hcl"), None);
    }

    #[test]
    fn display_path_is_slash_separated_without_dot_prefix() {
        assert_eq!(display_path(Path::new("./a/Dockerfile")), "a/Dockerfile");
        assert_eq!(slash_path(Path::new("a/b/c.yml")), "a/b/c.yml");
    }

    /// Files that only look like Dockerfiles were parsed as Dockerfiles.
    #[test]
    fn compose_overrides_and_stack_files_are_compose() {
        for name in [
            "compose.yaml",
            "compose.override.yaml",
            "docker-compose.prod.yml",
            "docker-stack.yml",
            "docker-stack.web.yaml",
        ] {
            assert_eq!(kind(name), Some(SourceKind::Compose), "{name}");
        }
    }

    #[test]
    fn source_code_and_documents_named_after_dockerfiles_are_not_dockerfiles() {
        for name in [
            "Dockerfile",
            "Containerfile",
            "Dockerfile.dev",
            "Dockerfile.alpine",
            "dockerfile.prod",
            "api.Dockerfile",
            "Dockerfile.j2",
        ] {
            assert!(is_dockerfile(name), "{name}");
        }
        for name in [
            "dockerfile.go",
            "Dockerfile.md",
            "dockerfile.py",
            "Dockerfile.json",
            "Dockerfile.orig",
            "Dockerfile.dockerignore",
            "dockerfile_test.go",
        ] {
            assert!(!is_dockerfile(name), "{name}");
        }
    }
}
