//! The GitLab template's merge-request job, run by `gitlab-ci-local` with the shell
//! executor (no container engine here) in a throwaway git repository that `include:`s a
//! copy of the template: `PORTCULLIS_BIN` points the job at the built binary,
//! `PORTCULLIS_IMAGE_REF` at an image in a real local registry (scanned by a hook that reads
//! its manifest there), and `CI_API_V4_URL` at the fake GitLab API. The job posts one merge
//! request note (updated in place on the next run), leaves valid code-quality and `JUnit`
//! reports as artifacts, and fails exactly when the policy does.
//!
//! Without `gitlab-ci-local` (or `rsync`, which it copies the work tree with) the test is
//! skipped with the reason on stderr, unless `PORTCULLIS_REQUIRE_TOOLS` is set; then it
//! fails. `scripts/install-test-deps` installs both.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{skip, tool};
use portcullis_testkit::forge::FakeGitlab;
use portcullis_testkit::{Auth, ImageSpec, Registry};

const TOKEN: &str = "glpat-portcullis-gitlab-local";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn head(dir: &Path) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A repository whose `main` (also `origin/main`) holds the pipeline and the policy, and
/// whose branch `feature` adds `Dockerfile`.
fn repository(dir: &Path, hook: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    fs::copy(
        common::repo_root().join("gitlab-template/portcullis.gitlab-ci.yml"),
        dir.join("portcullis.gitlab-ci.yml"),
    )
    .unwrap();
    fs::write(
        dir.join(".gitlab-ci.yml"),
        "include:\n  - local: portcullis.gitlab-ci.yml\n",
    )
    .unwrap();
    fs::write(
        dir.join("portcullis.toml"),
        format!(
            r#"[images]
allow = ["docker.io/library/*", "127.0.0.1:*/**"]
require-digest = true

[scan]
hooks = ["from-registry"]
fail-on = "none"

[[scan.hook]]
name = "from-registry"
command = ["{}", "{{image}}", "{{digest}}"]
format = "grype-json"
"#,
            hook.display()
        ),
    )
    .unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "pipeline"]);
    git(
        dir,
        &[
            "remote",
            "add",
            "origin",
            "https://gitlab.example.com/acme/app.git",
        ],
    );
    git(dir, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    git(
        dir,
        &[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ],
    );
    git(dir, &["checkout", "-q", "-b", "feature"]);
    fs::write(dir.join("Dockerfile"), "FROM alpine:3.20\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "add a Dockerfile"]);
}

/// A scanner hook that reads the image's manifest from the registry (so a job pointed at
/// the wrong registry or image fails) and answers with a Grype report about the image.
fn hook(dir: &Path, registry: &Registry) -> PathBuf {
    let path = dir.join("scan-from-registry.sh");
    let fixture = common::repo_root().join("crates/scan/tests/data/grype-image.json");
    fs::write(
        &path,
        format!(
            "#!/bin/sh\nset -e\ncurl -fsS -o /dev/null \
             -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
             \"{}/v2/acme/app/manifests/$2\"\n\
             jq --arg image \"$1\" '.source.target.userInput = $image' '{}'\n",
            registry.url(),
            fixture.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// Runs `gitlab-ci-local` with the variables of a merge request pipeline and `last` (the
/// job to run, or `--list`).
fn merge_request_pipeline(
    gcl: &Path,
    repo: &Path,
    home: &Path,
    gitlab: &FakeGitlab,
    image: &str,
    last: &str,
) -> Output {
    let variables = [
        ("GITLAB_CI", "true".to_owned()),
        ("CI_PIPELINE_SOURCE", "merge_request_event".to_owned()),
        ("CI_PROJECT_ID", "42".to_owned()),
        ("CI_API_V4_URL", gitlab.api_url()),
        ("CI_MERGE_REQUEST_IID", "7".to_owned()),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".to_owned()),
        ("PORTCULLIS_GITLAB_TOKEN", TOKEN.to_owned()),
        (
            "PORTCULLIS_BIN",
            env!("CARGO_BIN_EXE_portcullis").to_owned(),
        ),
        ("PORTCULLIS_IMAGE_REF", image.to_owned()),
        ("PORTCULLIS_TODAY", "2026-11-27".to_owned()),
        ("DOCKER_CONFIG", home.join("docker").display().to_string()),
    ];
    let mut cmd = Command::new(gcl);
    cmd.current_dir(repo)
        .env("HOME", home)
        .env_remove("GITLAB_CI")
        .env_remove("GITHUB_ACTIONS")
        .args(["--force-shell-executor", "--no-color"])
        .arg("--home")
        .arg(home)
        .args([
            "--ignore-predefined-vars",
            "GITLAB_CI,CI_PIPELINE_SOURCE,CI_PROJECT_ID,CI_API_V4_URL",
        ]);
    for (name, value) in &variables {
        cmd.arg("--variable").arg(format!("{name}={value}"));
    }
    cmd.arg(last).output().expect("gitlab-ci-local starts")
}

/// Runs the template's merge-request job as a merge request pipeline would.
fn merge_request_job(
    gcl: &Path,
    repo: &Path,
    home: &Path,
    gitlab: &FakeGitlab,
    image: &str,
) -> Output {
    merge_request_pipeline(gcl, repo, home, gitlab, image, "portcullis-merge-request")
}

/// The code-quality report is an array of Code Climate issues naming the unpinned
/// `Dockerfile`, the `JUnit` report is valid against `junit-10.xsd`, and the container
/// scanning report is there.
fn check_artifacts(artifacts: &Path) {
    let codequality: serde_json::Value =
        serde_json::from_slice(&fs::read(artifacts.join("gl-code-quality-report.json")).unwrap())
            .expect("code quality report is JSON");
    let issues = codequality.as_array().expect("an array of issues");
    assert!(!issues.is_empty());
    for issue in issues {
        for key in ["description", "check_name", "fingerprint", "severity"] {
            assert!(issue[key].is_string(), "no `{key}` in {issue:#}");
        }
        assert!(issue["location"]["path"].is_string(), "{issue:#}");
        assert!(issue["location"]["lines"]["begin"].is_u64(), "{issue:#}");
    }
    assert!(
        issues
            .iter()
            .any(|i| i["check_name"] == "portcullis/digest-not-pinned"
                && i["location"]["path"] == "Dockerfile"),
        "{codequality:#}"
    );
    let junit = artifacts.join("portcullis-junit.xml");
    let checked = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(common::repo_root().join("crates/report/tests/data/junit-10.xsd"))
        .arg(&junit)
        .output()
        .expect("xmllint (scripts/install-test-deps)");
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(fs::read_to_string(&junit)
        .unwrap()
        .contains("digest-not-pinned"));
    assert!(artifacts
        .join("gl-container-scanning-report.json")
        .is_file());
}

#[test]
fn the_templates_merge_request_job_comments_reports_and_follows_the_gate() {
    let Some(gcl) = tool("gitlab-ci-local") else {
        return skip("gitlab-ci-local");
    };
    if tool("rsync").is_none() {
        return skip("rsync (gitlab-ci-local copies the work tree with it)");
    }
    let registry = Registry::start(Auth::None).unwrap();
    let digest = registry
        .seed_image("acme/app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let image = format!("{}/acme/app@{digest}", registry.host());
    let gitlab = FakeGitlab::start(42, "acme/app").unwrap();
    gitlab.add_token(TOKEN, "portcullis-bot");
    let tmp = tempfile::tempdir().unwrap();
    let (repo, home) = (tmp.path().join("repo"), tmp.path().join("home"));
    fs::create_dir_all(&repo).unwrap();
    fs::create_dir_all(&home).unwrap();
    let hook = hook(tmp.path(), &registry);
    repository(&repo, &hook);

    // The template's rules: a merge request pipeline has the merge-request job only.
    let list = merge_request_pipeline(&gcl, &repo, &home, &gitlab, &image, "--list");
    assert!(list.status.success(), "{}", text(&list));
    let jobs: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    assert_eq!(jobs, ["portcullis-merge-request"], "{}", text(&list));

    // An unpinned base image: the policy fails, and so does the job.
    let out = merge_request_job(&gcl, &repo, &home, &gitlab, &image);
    assert!(!out.status.success(), "the job passed:\n{}", text(&out));
    assert!(
        text(&out).contains("portcullis-merge-request"),
        "{}",
        text(&out)
    );
    let notes = gitlab.notes(7);
    assert_eq!(notes.len(), 1, "{notes:#?}\n{}", text(&out));
    let note = &notes[0].body;
    assert!(note.contains("<!-- portcullis:portcullis -->"), "{note}");
    assert!(note.contains("digest-not-pinned"), "{note}");
    // The place links to the line at the commit, on the server the remote names.
    let link = format!(
        "https://gitlab.example.com/acme/app/-/blob/{}/Dockerfile#L1",
        head(&repo)
    );
    assert!(note.contains(&link), "no `{link}` in\n{note}");
    // The scan read the image from the registry the job was pointed at.
    assert!(
        registry
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == format!("/v2/acme/app/manifests/{digest}")),
        "{:#?}",
        registry.requests()
    );

    // The reports are the job's artifacts, and valid.
    check_artifacts(&repo.join(".gitlab-ci-local/artifacts/portcullis-merge-request"));

    // Pinned: the job passes and the same note says so.
    fs::write(
        repo.join("Dockerfile"),
        format!("FROM alpine:3.20@sha256:{}\n", "a".repeat(64)),
    )
    .unwrap();
    git(&repo, &["commit", "-q", "-am", "pin the base image"]);
    let out = merge_request_job(&gcl, &repo, &home, &gitlab, &image);
    assert!(out.status.success(), "the job failed:\n{}", text(&out));
    let after = gitlab.notes(7);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].id, notes[0].id, "updated in place");
    assert!(
        !after[0].body.contains("digest-not-pinned"),
        "{}",
        after[0].body
    );
    assert!(
        !text(&out).contains(TOKEN),
        "the token never appears in the job log"
    );
}
