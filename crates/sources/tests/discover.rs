//! Discovery and scanning of real directory trees: `.gitignore` without a git repository,
//! `--exclude`, hidden directories, `.git`, symbolic links, unreadable paths, and the
//! parallel scan's ordering and problems.

use std::fs;
use std::path::Path;

use portcullis_sources::{
    collect, discover, DiscoverOptions, ParseOptions, Resolution, SourceError, SourceKind,
};

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Dockerfile", "FROM alpine:3.20\n");
    write(root, "svc/web/Containerfile", "FROM nginx:1.27\n");
    write(
        root,
        "svc/api.Dockerfile",
        "FROM golang:1.23 AS b\nCOPY --from=busybox:1.36 / /\n",
    );
    write(root, "svc/Dockerfile.prod", "FROM debian:12\n");
    write(root, ".github/workflows/ci.yml", "on: push\njobs: {}\n");
    write(root, ".gitlab-ci.yml", "image: alpine\n");
    write(root, "compose.yaml", "services: {}\n");
    write(root, "k8s/deploy.yaml", "kind: ConfigMap\n");
    write(root, "README.md", "FROM not-a-dockerfile\n");
    write(root, ".gitignore", "ignored/\n*.tmp.yaml\n");
    write(root, "ignored/Dockerfile", "FROM ignored:1\n");
    write(root, "k8s/scratch.tmp.yaml", "kind: Pod\n");
    write(root, "vendor/lib/Dockerfile", "FROM vendored:1\n");
    write(root, ".git/Dockerfile", "FROM in-git-dir:1\n");
    dir
}

fn rels(root: &Path, options: &DiscoverOptions) -> Vec<(String, SourceKind)> {
    let (files, problems) = discover(root, options).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    files.into_iter().map(|f| (f.rel, f.kind)).collect()
}

#[test]
fn finds_every_kind_sorted_honouring_gitignore_outside_git() {
    let dir = tree();
    assert_eq!(
        rels(dir.path(), &DiscoverOptions::default()),
        [
            (
                ".github/workflows/ci.yml".to_owned(),
                SourceKind::GithubWorkflow
            ),
            (".gitlab-ci.yml".to_owned(), SourceKind::GitlabCi),
            ("Dockerfile".to_owned(), SourceKind::Dockerfile),
            ("compose.yaml".to_owned(), SourceKind::Compose),
            ("k8s/deploy.yaml".to_owned(), SourceKind::Kubernetes),
            ("svc/Dockerfile.prod".to_owned(), SourceKind::Dockerfile),
            ("svc/api.Dockerfile".to_owned(), SourceKind::Dockerfile),
            ("svc/web/Containerfile".to_owned(), SourceKind::Dockerfile),
            ("vendor/lib/Dockerfile".to_owned(), SourceKind::Dockerfile),
        ]
    );
}

#[test]
fn exclude_globs_use_gitignore_syntax() {
    let dir = tree();
    let options = DiscoverOptions {
        exclude: vec!["vendor/".into(), "*.prod".into(), "/svc/web".into()],
    };
    let found: Vec<String> = rels(dir.path(), &options)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(
        found,
        [
            ".github/workflows/ci.yml",
            ".gitlab-ci.yml",
            "Dockerfile",
            "compose.yaml",
            "k8s/deploy.yaml",
            "svc/api.Dockerfile"
        ]
    );
    let err = discover(
        dir.path(),
        &DiscoverOptions {
            exclude: vec!["a[".into()],
        },
    )
    .unwrap_err();
    assert!(matches!(err, SourceError::Exclude { .. }), "{err}");
    assert!(err.to_string().contains("`a[`"), "{err}");
}

#[test]
fn single_file_root_is_relative_to_its_directory() {
    let dir = tree();
    let path = dir.path().join("svc/Dockerfile.prod");
    let (files, _) = discover(&path, &DiscoverOptions::default()).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].kind, SourceKind::Dockerfile);
    assert_eq!(files[0].rel, "Dockerfile.prod");
    assert_eq!(files[0].path, path);
    // An explicitly named file with an unusual name is still read.
    write(dir.path(), "base.df", "FROM alpine\n");
    let (files, _) = discover(&dir.path().join("base.df"), &DiscoverOptions::default()).unwrap();
    assert_eq!(files[0].kind, SourceKind::Dockerfile);
}

#[test]
fn missing_root_is_an_error_naming_it() {
    let err = discover(
        Path::new("/nonexistent/portcullis-root"),
        &DiscoverOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, SourceError::Read { .. }));
    assert!(
        err.to_string().contains("`/nonexistent/portcullis-root`"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn symlink_loops_do_not_hang_and_links_are_not_followed() {
    let dir = tree();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("svc/loop")).unwrap();
    std::os::unix::fs::symlink(
        dir.path().join("Dockerfile"),
        dir.path().join("svc/Dockerfile.link"),
    )
    .unwrap();
    let found = rels(dir.path(), &DiscoverOptions::default());
    assert_eq!(found.len(), 9, "{found:?}");
    assert!(!found
        .iter()
        .any(|(r, _)| r.contains("loop") || r.contains(".link")));
}

/// Whether this process ignores file permissions (root); then chmod-based checks are moot.
#[cfg(unix)]
fn permissions_ignored(path: &Path) -> bool {
    fs::read_dir(path).is_ok() || fs::read(path).is_ok()
}

#[cfg(unix)]
#[test]
fn unreadable_directory_is_a_problem_not_a_failure() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree();
    let locked = dir.path().join("svc/locked");
    write(dir.path(), "svc/locked/Dockerfile", "FROM x\n");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let ignored = permissions_ignored(&locked);
    let (files, problems) = discover(dir.path(), &DiscoverOptions::default()).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(files.iter().any(|f| f.rel == "Dockerfile"));
    if !ignored {
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, "svc/locked");
        assert!(
            problems[0].message.starts_with("`svc/locked`: cannot read"),
            "{}",
            problems[0].message
        );
    }
}

#[test]
fn scan_parses_in_parallel_and_sorts() {
    let dir = tree();
    write(dir.path(), "a/Dockerfile", "FROM b:1\nFROM a:1\n");
    write(dir.path(), "bin/Dockerfile", "FROM x\n\0\0\0");
    write(dir.path(), "latin1/Dockerfile", "FROM caf\u{e9}\n");
    fs::write(dir.path().join("latin1/Dockerfile"), b"FROM caf\xe9\n").unwrap();
    let scan = collect(
        dir.path(),
        &DiscoverOptions::default(),
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(scan.files, 12);
    let found: Vec<String> = scan
        .occurrences
        .iter()
        .filter(|o| {
            o.location.file.contains("ockerfile") || o.location.file.contains("Containerfile")
        })
        .map(|o| {
            let Resolution::Image(image) = &o.resolution else {
                panic!("{o:?}")
            };
            format!("{}:{} {image}", o.location.file, o.location.line)
        })
        .collect();
    assert_eq!(
        found,
        [
            "Dockerfile:1 docker.io/library/alpine:3.20",
            "a/Dockerfile:1 docker.io/library/b:1",
            "a/Dockerfile:2 docker.io/library/a:1",
            "svc/Dockerfile.prod:1 docker.io/library/debian:12",
            "svc/api.Dockerfile:1 docker.io/library/golang:1.23",
            "svc/api.Dockerfile:2 docker.io/library/busybox:1.36",
            "svc/web/Containerfile:1 docker.io/library/nginx:1.27",
            "vendor/lib/Dockerfile:1 docker.io/library/vendored:1",
        ]
    );
    let messages: Vec<&str> = scan.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`bin/Dockerfile`: binary file (NUL byte at offset 7)",
            "`latin1/Dockerfile`: not UTF-8 text (invalid byte at offset 8)"
        ]
    );
}

#[test]
fn oversized_file_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = fs::File::create(dir.path().join("Dockerfile")).unwrap();
    file.set_len(portcullis_sources::MAX_FILE_SIZE + 10)
        .unwrap();
    let scan = collect(
        dir.path(),
        &DiscoverOptions::default(),
        &ParseOptions::default(),
    )
    .unwrap();
    assert!(scan.occurrences.is_empty());
    assert_eq!(scan.problems.len(), 1);
    assert!(
        scan.problems[0]
            .message
            .contains("larger than the 67108864-byte limit"),
        "{:?}",
        scan.problems
    );
}

#[cfg(unix)]
#[test]
fn unreadable_file_is_a_problem() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree();
    let path = dir.path().join("svc/Dockerfile.prod");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    if permissions_ignored(&path) {
        return;
    }
    let scan = collect(
        dir.path(),
        &DiscoverOptions::default(),
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(scan.problems.len(), 1, "{:?}", scan.problems);
    assert!(
        scan.problems[0]
            .message
            .starts_with("`svc/Dockerfile.prod`: cannot read"),
        "{:?}",
        scan.problems
    );
    assert!(scan
        .occurrences
        .iter()
        .any(|o| o.location.file == "Dockerfile"));
}

/// A symlinked `Dockerfile` or `compose.yaml` was skipped: `check .` said "checked 0 files".
#[cfg(unix)]
#[test]
fn symlinked_sources_inside_the_tree_are_read_and_links_out_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    write(&root, "build/base.txt", "FROM evil.example.com/x:latest\n");
    write(
        &root,
        "deploy/web.yaml",
        "services:\n  web:\n    image: evil.example.com/y:1\n",
    );
    std::os::unix::fs::symlink("build/base.txt", root.join("Dockerfile")).unwrap();
    std::os::unix::fs::symlink("deploy/web.yaml", root.join("compose.yaml")).unwrap();
    write(
        dir.path(),
        "outside/Dockerfile",
        "FROM evil.example.com/z:1\n",
    );
    std::fs::create_dir_all(root.join("svc")).unwrap();
    std::os::unix::fs::symlink("../../outside/Dockerfile", root.join("svc/Dockerfile")).unwrap();
    std::os::unix::fs::symlink("../outside", root.join("vendor")).unwrap();
    std::os::unix::fs::symlink("missing", root.join("Containerfile")).unwrap();
    let (files, problems) = discover(&root, &DiscoverOptions::default()).unwrap();
    let rels: Vec<(&str, SourceKind)> = files.iter().map(|f| (f.rel.as_str(), f.kind)).collect();
    assert!(
        rels.contains(&("Dockerfile", SourceKind::Dockerfile)),
        "{rels:?}"
    );
    assert!(
        rels.contains(&("compose.yaml", SourceKind::Compose)),
        "{rels:?}"
    );
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`svc/Dockerfile`") && m.contains("`../outside/Dockerfile`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`vendor`") && m.contains("outside the checked tree")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`Containerfile`") && m.contains("cannot be followed")),
        "{messages:?}"
    );
    assert!(problems
        .iter()
        .all(|p| p.kind == portcullis_sources::ProblemKind::FileInvalid));
    // The references behind the in-tree links are found.
    let collected = portcullis_sources::collect(
        &root,
        &DiscoverOptions::default(),
        &portcullis_sources::ParseOptions::default(),
    )
    .unwrap();
    let images: Vec<String> = collected
        .occurrences
        .iter()
        .map(|o| o.text.clone())
        .collect();
    assert!(
        images.contains(&"evil.example.com/x:latest".to_owned()),
        "{images:?}"
    );
    assert!(
        images.contains(&"evil.example.com/y:1".to_owned()),
        "{images:?}"
    );
}
