//! GitLab CI across files, end to end through `portcullis_sources::collect`: which files are
//! GitLab CI (by name and by `include:`, never by shape), the include forms, and the global
//! variables that included files share with the pipeline.

use std::fs;
use std::path::Path;

use portcullis_sources::{collect, Collected, DiscoverOptions, ParseOptions, Resolution};

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn run(root: &Path) -> Collected {
    collect(root, &DiscoverOptions::default(), &ParseOptions::default()).unwrap()
}

/// `file:line image [literal `text`]` per occurrence.
fn found(collected: &Collected) -> Vec<String> {
    collected
        .occurrences
        .iter()
        .map(|o| {
            let image = match &o.resolution {
                Resolution::Image(image) => image.to_string(),
                Resolution::Unresolved { variable } => format!("unresolved {variable}"),
            };
            let literal = o
                .literal
                .as_ref()
                .map_or(String::new(), |l| format!(" literal `{}`", l.text));
            format!("{}:{} {image}{literal}", o.location.file, o.location.line)
        })
        .collect()
}

fn problems(collected: &Collected) -> Vec<String> {
    collected
        .problems
        .iter()
        .map(|p| format!("{}:{} {}", p.file, p.line.unwrap_or(0), p.message))
        .collect()
}

/// Each of these gave findings while any YAML shaped like GitLab CI was read as GitLab CI.
#[test]
fn other_tools_configuration_gives_no_findings() {
    let dir = tree(&[
        ("appveyor.yml", "image: Visual Studio 2022\nbuild_script:\n  - cmd: build.cmd\n"),
        (".travis.yml", "language: python\nservices: [docker, postgresql]\nscript: pytest\n"),
        (
            "kong/kong.yml",
            "_format_version: \"3.0\"\nservices:\n  - name: auth-v1-open\n    url: http://auth:8080\n",
        ),
        ("docs/_config.yml", "title: Blog\nimage: /assets/x.png\n"),
    ]);
    let collected = run(dir.path());
    assert_eq!(collected.files, 4);
    assert_eq!(found(&collected), Vec::<String>::new());
    assert_eq!(problems(&collected), Vec::<String>::new());
}

#[test]
fn pipeline_files_by_name_and_every_local_include_form() {
    let dir = tree(&[
        (
            ".gitlab-ci.yml",
            concat!(
                "include:\n",
                "  - ci/string.yml\n",
                "  - local: /ci/rooted.yml\n",
                "  - local: ci/jobs/*.yml\n",
                "  - remote: https://example.com/x.yml\n",
                "  - project: group/project\n    file: /ci/rooted.yml\n",
                "  - template: Security/SAST.gitlab-ci.yml\n",
                "  - local: ci/$MISSING.yml\n",
                "image: alpine:3.20\n",
            ),
        ),
        (
            "ci/string.yml",
            "include: ci/nested/one.yml\nstring:\n  image: busybox:1.36\n",
        ),
        // Nested includes are relative to the root, as in GitLab; a cycle back ends.
        (
            "ci/nested/one.yml",
            "include: {local: ci/nested/two.yml}\none:\n  image: debian:12\n",
        ),
        (
            "ci/nested/two.yml",
            "include: [/.gitlab-ci.yml, ci/string.yml]\ntwo:\n  image: ubuntu:24.04\n",
        ),
        ("ci/rooted.yml", ".rooted:\n  services: [postgres:16]\n"),
        ("ci/jobs/a.yml", "a:\n  image: redis:7\n"),
        ("ci/jobs/b.yml", "b:\n  image: nginx:1.27\n"),
        ("ci/jobs/deeper/c.yml", "c:\n  image: not-included:1\n"),
        // Not included by anything: plain YAML, whatever it looks like.
        (
            "ci/unused.yml",
            "unused:\n  image: never:1\n  script: [x]\n",
        ),
        // Pipelines of their own, by name, with wildcards across directories.
        (
            "deploy/deploy.gitlab-ci.yml",
            "include: 'deploy/**/*.yml'\ndeploy:\n  image: python:3.12\n",
        ),
        ("deploy/parts/x/job.yml", "job:\n  image: golang:1.23\n"),
        ("deploy/top.yml", "top:\n  image: node:20\n"),
    ]);
    let collected = run(dir.path());
    assert_eq!(problems(&collected), Vec::<String>::new());
    assert_eq!(
        found(&collected),
        [
            ".gitlab-ci.yml:10 docker.io/library/alpine:3.20 literal `alpine:3.20`",
            "ci/jobs/a.yml:2 docker.io/library/redis:7 literal `redis:7`",
            "ci/jobs/b.yml:2 docker.io/library/nginx:1.27 literal `nginx:1.27`",
            "ci/nested/one.yml:3 docker.io/library/debian:12 literal `debian:12`",
            "ci/nested/two.yml:3 docker.io/library/ubuntu:24.04 literal `ubuntu:24.04`",
            "ci/rooted.yml:2 docker.io/library/postgres:16 literal `postgres:16`",
            "ci/string.yml:3 docker.io/library/busybox:1.36 literal `busybox:1.36`",
            "deploy/deploy.gitlab-ci.yml:3 docker.io/library/python:3.12 literal `python:3.12`",
            "deploy/parts/x/job.yml:2 docker.io/library/golang:1.23 literal `golang:1.23`",
            "deploy/top.yml:2 docker.io/library/node:20 literal `node:20`",
        ]
    );
}

#[test]
fn a_pipeline_in_a_subdirectory_includes_from_its_own_directory() {
    let dir = tree(&[
        (
            "examples/app/.gitlab-ci.yml",
            "include:\n  - local: ci/lint.yml\n  - local: /shared/common.yml\n",
        ),
        ("examples/app/ci/lint.yml", "lint:\n  image: golang:1.23\n"),
        ("shared/common.yml", "common:\n  image: alpine:3.20\n"),
        ("ci/lint.yml", "lint:\n  image: not-this-one:1\n"),
    ]);
    let collected = run(dir.path());
    assert_eq!(
        found(&collected),
        [
            "examples/app/ci/lint.yml:2 docker.io/library/golang:1.23 literal `golang:1.23`",
            "shared/common.yml:2 docker.io/library/alpine:3.20 literal `alpine:3.20`",
        ]
    );
}

#[test]
fn included_global_variables_apply_to_the_whole_pipeline_and_the_includer_wins() {
    let dir = tree(&[
        (
            ".gitlab-ci.yml",
            concat!(
                "include:\n  - local: ci/vars.yml\n  - local: ci/jobs.yml\n",
                "variables:\n  IMAGE: alpine:3.20\n",
                "root:\n  image: $BASE\n",
                "own:\n  image: $IMAGE\n",
            ),
        ),
        (
            "ci/vars.yml",
            "variables:\n  BASE: debian:12\n  IMAGE: overridden:1\n  TAG: \"1.4\"\n",
        ),
        (
            "ci/jobs.yml",
            concat!(
                "build:\n  image: $IMAGE\n",
                "test:\n  image: ghcr.io/acme/app:$TAG\n",
                "job-vars:\n  variables:\n    TAG: \"2.0\"\n  image: ghcr.io/acme/app:$TAG\n",
                "base:\n  image: $BASE\n",
            ),
        ),
    ]);
    let collected = run(dir.path());
    assert_eq!(problems(&collected), Vec::<String>::new());
    assert_eq!(
        found(&collected),
        [
            // Written in another file: no literal for `pin` here.
            ".gitlab-ci.yml:7 docker.io/library/debian:12",
            ".gitlab-ci.yml:9 docker.io/library/alpine:3.20 literal `alpine:3.20`",
            "ci/jobs.yml:2 docker.io/library/alpine:3.20",
            "ci/jobs.yml:4 ghcr.io/acme/app:1.4",
            "ci/jobs.yml:8 ghcr.io/acme/app:2.0",
            "ci/jobs.yml:10 docker.io/library/debian:12",
        ]
    );
}

#[test]
fn an_included_file_is_read_alone_without_pipeline_variables() {
    // Checking one file: only its own variables are known.
    let dir = tree(&[("ci/jobs.yml", "build:\n  image: $IMAGE\n")]);
    let collected = run(&dir.path().join("ci/jobs.yml"));
    assert_eq!(found(&collected), Vec::<String>::new());
    let dir = tree(&[("x.gitlab-ci.yml", "build:\n  image: $IMAGE\n")]);
    let collected = run(&dir.path().join("x.gitlab-ci.yml"));
    assert_eq!(found(&collected), ["x.gitlab-ci.yml:2 unresolved IMAGE"]);
}

#[test]
fn referenced_services_lists_in_another_file_and_broken_paths_there() {
    let dir = tree(&[
        (
            ".gitlab-ci.yml",
            concat!(
                "include: ci/base.yml\n",
                "variables:\n  PG: postgres:16\n",
                "test:\n  services:\n    - !reference [.base, services]\n    - !reference [.base, extra]\n",
                "lint:\n  image:\n    name: !reference [.base, nothing]\n",
            ),
        ),
        (
            "ci/base.yml",
            ".base:\n  services:\n    - $PG\n    - name: redis:7\n  extra: mysql:8\n",
        ),
    ]);
    let collected = run(dir.path());
    assert_eq!(
        found(&collected),
        [
            "ci/base.yml:3 docker.io/library/postgres:16",
            "ci/base.yml:4 docker.io/library/redis:7 literal `redis:7`",
            "ci/base.yml:5 docker.io/library/mysql:8 literal `mysql:8`",
        ]
    );
    assert_eq!(
        problems(&collected),
        ["ci/base.yml:2 referenced from `.gitlab-ci.yml`: `!reference [.base, nothing]` points to nothing: `.base` has no `nothing`"]
    );
}

#[test]
fn references_across_files_of_a_pipeline() {
    let dir = tree(&[
        (
            ".gitlab-ci.yml",
            concat!(
                "include: ci/templates.yml\n",
                "build:\n  image: !reference [.images, build]\n",
                "broken:\n  image: !reference [.nowhere, image]\n",
            ),
        ),
        (
            "ci/templates.yml",
            ".images:\n  build: golang:1.23\n.docker:\n  image: docker:27\nuse:\n  image: !reference [.docker, image]\n",
        ),
    ]);
    let collected = run(dir.path());
    assert_eq!(
        problems(&collected),
        [".gitlab-ci.yml:5 `broken.image`: `!reference [.nowhere, image]` points to nothing: `.nowhere` is not defined"]
    );
    // `.images.build` is reported in the file that writes it; `docker:27` once, at its text.
    assert_eq!(
        found(&collected),
        [
            "ci/templates.yml:2 docker.io/library/golang:1.23 literal `golang:1.23`",
            "ci/templates.yml:4 docker.io/library/docker:27 literal `docker:27`",
        ]
    );
}
