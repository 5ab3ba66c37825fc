//! Paths as reports print them: relative to the repository root (the top of the git work
//! tree holding the current directory; the current directory outside git), `/`-separated,
//! never absolute, whichever paths were checked and wherever portcullis was started.

use std::path::{Component, Path, PathBuf};

use crate::{Collected, DiscoverOptions, Occurrence, ParseOptions, SourceError};

/// Where reported paths start, and where the user stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The repository root, absolute.
    pub dir: PathBuf,
    /// The current directory relative to [`Root::dir`] (`/`-separated; empty at the root).
    pub cwd: String,
}

impl Root {
    /// The root for a run started in `cwd` (absolute): the closest ancestor holding `.git`
    /// (a directory, or a file as in worktrees and submodules), else `cwd` itself.
    #[must_use]
    pub fn find(cwd: &Path) -> Self {
        let dir = cwd
            .ancestors()
            .find(|dir| dir.join(".git").exists())
            .unwrap_or(cwd)
            .to_path_buf();
        let cwd = slash(cwd.strip_prefix(&dir).unwrap_or(Path::new("")));
        Self { dir, cwd }
    }

    /// The root for a run started in the process's current directory.
    pub fn current() -> std::io::Result<Self> {
        Ok(Self::find(&std::env::current_dir()?))
    }

    /// `path` (absolute, or relative to the current directory) as a report names it.
    #[must_use]
    pub fn display(&self, path: &Path) -> String {
        let absolute = self.dir.join(&self.cwd).join(path);
        relative_to(&absolute, &self.dir)
    }

    /// `path` (absolute, or relative to the current directory) on disk.
    #[must_use]
    pub fn absolute(&self, path: &Path) -> PathBuf {
        lexical(&self.dir.join(&self.cwd).join(path))
    }

    /// `path` (absolute, or relative to the current directory) relative to the current
    /// directory when it lies in the repository, so that messages naming it hold no
    /// absolute path and it still opens; a path outside the repository stays as given.
    #[must_use]
    pub fn from_cwd(&self, path: &Path) -> PathBuf {
        if !self.absolute(path).starts_with(&self.dir) {
            return path.to_path_buf();
        }
        PathBuf::from(portcullis_reference::source::relative(
            &self.cwd,
            &self.display(path),
        ))
    }

    /// A reported path on disk.
    #[must_use]
    pub fn file(&self, reported: &str) -> PathBuf {
        self.dir.join(reported)
    }

    /// Discovers and parses the sources under `checked` (a directory or a file), naming
    /// every file relative to the root.
    pub fn collect(
        &self,
        checked: &Path,
        discover: &DiscoverOptions,
        parse: &ParseOptions,
    ) -> Result<Collected, SourceError> {
        let absolute = self.absolute(checked);
        let mut collected = crate::collect(&absolute, discover, parse)?;
        let base = if absolute.is_dir() {
            absolute.clone()
        } else {
            absolute
                .parent()
                .map_or_else(|| absolute.clone(), Path::to_path_buf)
        };
        let prefix = relative_to(&base, &self.dir);
        if prefix == "." {
            return Ok(collected);
        }
        let join =
            |rel: &str| portcullis_reference::source::relative("", &format!("{prefix}/{rel}"));
        // Occurrences come sorted by file: each file's new name is computed once.
        let mut last: Option<(String, String)> = None;
        for occurrence in &mut collected.occurrences {
            let file = &mut occurrence.location.file;
            match &last {
                Some((old, new)) if old == file => file.clone_from(new),
                _ => {
                    let new = join(file);
                    last = Some((std::mem::replace(file, new.clone()), new));
                }
            }
        }
        for skipped in &mut collected.not_checked {
            skipped.file = join(&skipped.file);
        }
        for problem in &mut collected.problems {
            let old = problem.file.clone();
            problem.file = join(&old);
            problem.message = problem
                .message
                .replace(&format!("`{old}`"), &format!("`{}`", problem.file));
        }
        // The inline waivers name their file as the references they waive do.
        for comment in &mut collected.inline_comments {
            crate::inline::each_location(comment, |location| {
                location.file = join(&location.file);
            });
        }
        Ok(collected)
    }
}

impl Root {
    /// [`Root::collect`] over several checked paths, as one tree: a path inside another
    /// checked path is read once, and the result is sorted whatever the order of `checked`.
    pub fn collect_all(
        &self,
        checked: &[PathBuf],
        discover: &DiscoverOptions,
        parse: &ParseOptions,
    ) -> Result<Collected, SourceError> {
        fn key(o: &Occurrence) -> (&str, u32, u32, usize) {
            let l = &o.location;
            (l.file.as_str(), l.line, l.column, l.span.start)
        }
        let mut absolute: Vec<PathBuf> = checked.iter().map(|p| self.absolute(p)).collect();
        absolute.sort();
        absolute.dedup();
        let outermost: Vec<&PathBuf> = absolute
            .iter()
            .filter(|path| {
                !absolute
                    .iter()
                    .any(|other| other != *path && other.is_dir() && path.starts_with(other))
            })
            .collect();
        let mut all = Collected::default();
        for path in outermost {
            let collected = self.collect(path, discover, parse)?;
            if all.occurrences.is_empty() {
                // Moved, not copied: a monorepo's occurrences are megabytes.
                all.occurrences = collected.occurrences;
            } else {
                all.occurrences.extend(collected.occurrences);
            }
            all.files += collected.files;
            all.problems.extend(collected.problems);
            all.not_checked.extend(collected.not_checked);
            all.inline_comments.extend(collected.inline_comments);
        }
        all.not_checked.sort_by(|a, b| a.file.cmp(&b.file));
        crate::sort_comments(&mut all.inline_comments);
        all.inline_comments.dedup();
        // Each tree comes back sorted; sorting is needed only when there were several.
        if !all.occurrences.is_sorted_by(|a, b| key(a) <= key(b)) {
            all.occurrences.sort_by(|a, b| key(a).cmp(&key(b)));
        }
        all.occurrences.dedup();
        all.problems.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
        });
        all.problems.dedup();
        Ok(all)
    }
}

/// `path` relative to `base`, both absolute, `/`-separated, with `..` where `path` is not
/// below `base`.
#[must_use]
pub fn relative_to(path: &Path, base: &Path) -> String {
    portcullis_reference::source::relative(&slash(&lexical(base)), &slash(&lexical(path)))
}

/// `.` and `x/..` removed without touching the file system.
fn lexical(path: &Path) -> PathBuf {
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

/// `/`-separated components (no leading `/`).
fn slash(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_git_top_or_the_current_directory() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("repo");
        std::fs::create_dir_all(top.join(".git")).unwrap();
        std::fs::create_dir_all(top.join("services/web")).unwrap();
        let root = Root::find(&top.join("services"));
        assert_eq!(root.dir, top);
        assert_eq!(root.cwd, "services");
        assert_eq!(
            root.display(Path::new("web/Dockerfile")),
            "services/web/Dockerfile"
        );
        assert_eq!(root.display(Path::new("../README.md")), "README.md");
        assert_eq!(root.display(Path::new(".")), "services");
        assert_eq!(
            root.from_cwd(&top.join("services/web/x.json")),
            Path::new("web/x.json")
        );
        assert_eq!(root.from_cwd(&top.join("x.json")), Path::new("../x.json"));
        assert_eq!(
            root.from_cwd(Path::new("/dev/zero")),
            Path::new("/dev/zero")
        );
        assert_eq!(root.from_cwd(Path::new("r.json")), Path::new("r.json"));

        let outside = dir.path().join("plain/sub");
        std::fs::create_dir_all(&outside).unwrap();
        let root = Root::find(&outside);
        assert_eq!(
            (root.dir.as_path(), root.cwd.as_str()),
            (outside.as_path(), "")
        );
        assert_eq!(root.display(Path::new("../x")), "../x");
    }

    #[test]
    fn collected_files_are_named_from_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        std::fs::create_dir_all(top.join(".git")).unwrap();
        std::fs::create_dir_all(top.join("services/web")).unwrap();
        std::fs::write(top.join("services/web/Dockerfile"), "FROM alpine:3.20\n").unwrap();
        let root = Root::find(&top.join("services"));
        let options = (DiscoverOptions::default(), ParseOptions::default());
        for checked in ["web", "web/Dockerfile", "."] {
            let collected = root
                .collect(Path::new(checked), &options.0, &options.1)
                .unwrap();
            let files: Vec<&str> = collected
                .occurrences
                .iter()
                .map(|o| o.location.file.as_str())
                .collect();
            assert_eq!(files, ["services/web/Dockerfile"], "{checked}");
        }
        let nested = [PathBuf::from("web/Dockerfile"), PathBuf::from(".")];
        let all = root.collect_all(&nested, &options.0, &options.1).unwrap();
        assert_eq!((all.files, all.occurrences.len()), (1, 1));
    }
}
