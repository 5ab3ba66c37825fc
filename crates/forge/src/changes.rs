//! What a pull/merge request changes: the files `--changed-only` checks.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files the change under test touches against the base branch `base`, as
/// `git diff --name-only origin/BASE...HEAD` run in `dir` names them (relative to `dir`),
/// that still exist: deleted files have nothing left to check.
pub fn changed_files(dir: &Path, base: &str) -> Result<Vec<PathBuf>, String> {
    let range = format!("origin/{base}...HEAD");
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "diff",
            "--name-only",
            "--relative",
            "--diff-filter=d",
            &range,
        ])
        .output()
        .map_err(|e| format!("changed files need git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`git diff {range}` failed (the base branch must be fetched, e.g. `fetch-depth: 0`): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(PathBuf::from)
        .filter(|path| dir.join(path).exists())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn changed_files_are_those_touched_since_the_base_that_still_exist() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        for file in ["kept", "changed", "deleted"] {
            std::fs::write(d.join(file), file).unwrap();
        }
        git(d, &["add", "."]);
        git(d, &["commit", "-q", "-m", "base"]);
        git(d, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
        std::fs::write(d.join("changed"), "changed again").unwrap();
        std::fs::write(d.join("added"), "added").unwrap();
        std::fs::remove_file(d.join("deleted")).unwrap();
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "change"]);
        let changed = changed_files(d, "main").unwrap();
        assert_eq!(changed, [PathBuf::from("added"), PathBuf::from("changed")]);
        let error = changed_files(d, "nope").unwrap_err();
        assert!(error.contains("origin/nope...HEAD"), "{error}");
    }
}
