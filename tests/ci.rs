//! `portcullis ci` in simulated GitHub Actions runs: a `pull_request` against the fake
//! GitHub API (one sticky comment, updated in place; the job summary; the step outputs;
//! the gate's exit code), and a `push` to the default branch against a real registry and
//! the local Sigstore stack (the image signed and attested, and `verify` accepts it).

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Output;

use common::{assert_exit, portcullis, stderr};
use portcullis_testkit::forge::FakeGithub;
use portcullis_testkit::sigstore::{Claims, SigstoreStack};
use portcullis_testkit::{Auth, ImageSpec, Registry};

const TOKEN: &str = "ghs_portcullis_ci_test_token";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A GitHub Actions environment for `event` with the event payload written to a file.
fn run_ci(dir: &Path, github: &FakeGithub, event: &str, payload: &str, args: &[&str]) -> Output {
    write(dir, "event.json", payload);
    for file in ["summary.md", "outputs.txt"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    let git_ref = if event == "pull_request" {
        "refs/pull/7/merge"
    } else {
        "refs/heads/main"
    };
    portcullis()
        .current_dir(dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", dir.join("event.json"))
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_SHA", "8f4e3c2b1a0918273645546372819aabbccddeef")
        .env("GITHUB_REF", git_ref)
        .env("GITHUB_API_URL", github.url())
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env(
            "GITHUB_WORKFLOW_REF",
            "acme/app/.github/workflows/release.yml@refs/heads/main",
        )
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("RUNNER_ENVIRONMENT", "github-hosted")
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .env("GITHUB_OUTPUT", dir.join("outputs.txt"))
        .env("DOCKER_CONFIG", dir.join("docker"))
        .env_remove("SIGSTORE_ID_TOKEN")
        .arg("ci")
        .args(args)
        .output()
        .expect("run portcullis ci")
}

fn pull_request_payload() -> String {
    serde_json::json!({
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"sha": "8f4e3c2b1a0918273645546372819aabbccddeef", "repo": {"full_name": "acme/app"}},
            "base": {"ref": "main", "repo": {"full_name": "acme/app"}},
        },
        "repository": {"full_name": "acme/app", "default_branch": "main"},
    })
    .to_string()
}

#[test]
fn a_pull_request_gets_one_sticky_comment_a_summary_and_outputs() {
    let github = FakeGithub::start().unwrap();
    github.add_token(TOKEN, "portcullis-bot");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "portcullis.toml",
        "[images]\nallow = [\"docker.io/library/*\"]\nrequire-digest = true\n",
    );
    write(dir.path(), "Dockerfile", "FROM alpine:3.20\n");
    let out = run_ci(
        dir.path(),
        &github,
        "pull_request",
        &pull_request_payload(),
        &[],
    );
    assert_exit(&out, 1);
    let comments = github.comments("acme/app", 7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(
        comments[0].body.contains("digest-not-pinned"),
        "{}",
        comments[0].body
    );
    assert!(comments[0].body.contains("<!-- portcullis:portcullis -->"));
    // The finding's line links to the file at the pull request's head commit.
    let link =
        "(https://github.com/acme/app/blob/8f4e3c2b1a0918273645546372819aabbccddeef/Dockerfile#L1)";
    assert!(comments[0].body.contains(link), "{}", comments[0].body);
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("digest-not-pinned"), "{summary}");
    assert!(summary.contains(link), "{summary}");
    let outputs = std::fs::read_to_string(dir.path().join("outputs.txt")).unwrap();
    assert!(outputs.contains("result=failed\n"), "{outputs}");
    assert!(outputs.contains("errors=1\n"), "{outputs}");
    assert!(!stderr(&out).contains(TOKEN), "the token never appears");
    // Annotations for the finding, as workflow commands.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("::error"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Fixed: the same comment now says all clear, and no second comment appears.
    let digest = format!("sha256:{}", "a".repeat(64));
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM alpine:3.20@{digest}\n"),
    );
    let out = run_ci(
        dir.path(),
        &github,
        "pull_request",
        &pull_request_payload(),
        &[],
    );
    assert_exit(&out, 0);
    let after = github.comments("acme/app", 7);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].id, comments[0].id, "updated in place");
    assert!(
        !after[0].body.contains("digest-not-pinned"),
        "{}",
        after[0].body
    );
    let outputs = std::fs::read_to_string(dir.path().join("outputs.txt")).unwrap();
    assert!(outputs.contains("result=passed\n"), "{outputs}");

    // A read-only token (a fork's) degrades to the summary with a notice, not a failure.
    let fork = FakeGithub::start().unwrap();
    fork.add_read_only_token(TOKEN, "github-actions[bot]");
    let out = run_ci(
        dir.path(),
        &fork,
        "pull_request",
        &pull_request_payload(),
        &[],
    );
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("no pull request comment"),
        "{}",
        stderr(&out)
    );
    assert!(fork.comments("acme/app", 7).is_empty());
    assert!(dir.path().join("summary.md").is_file());
}

#[test]
fn a_push_to_the_default_branch_signs_and_attests_what_verify_accepts() {
    let github = FakeGithub::start().unwrap();
    github.add_token(TOKEN, "portcullis-bot");
    let registry = Registry::start(Auth::None).unwrap();
    let digest = registry
        .seed_image("acme/app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let image = format!("{}/acme/app@{digest}", registry.host());
    let stack = SigstoreStack::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trust = stack.write_trust_files(dir.path()).unwrap().trust_config;
    let token = stack.token(&Claims::github("acme/app")).unwrap();
    write(
        dir.path(),
        "portcullis.toml",
        "[images]\nallow = [\"**\"]\nrequire-digest = false\n",
    );
    let payload = serde_json::json!({
        "ref": "refs/heads/main",
        "repository": {"full_name": "acme/app", "default_branch": "main"},
    })
    .to_string();
    let mut args = vec![
        "--image",
        &image,
        "--no-scan",
        "--identity-token",
        &token,
        "--trust-config",
    ];
    let trust_text = trust.to_str().unwrap().to_owned();
    args.push(&trust_text);
    let out = portcullis_ci_push(dir.path(), &github, &payload, &args);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("signed `"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("attested SLSA provenance"),
        "{}",
        stderr(&out)
    );
    let outputs = std::fs::read_to_string(dir.path().join("outputs.txt")).unwrap();
    assert!(
        outputs.contains(&format!("signed-digest={digest}\n")),
        "{outputs}"
    );
    assert!(
        github.comments("acme/app", 7).is_empty(),
        "a push has no comment"
    );

    let verify = |extra: &[&str]| {
        let mut cmd = portcullis();
        cmd.current_dir(dir.path())
            .env("DOCKER_CONFIG", dir.path().join("docker"))
            .args(["verify", &image, "--trusted-root", &trust_text])
            .args([
                "--certificate-identity",
                "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
                "--certificate-oidc-issuer",
                stack.issuer_url(),
            ])
            .args(extra);
        cmd.output().unwrap()
    };
    assert_exit(&verify(&[]), 0);
    assert_exit(&verify(&["--type", "slsaprovenance"]), 0);
}

fn portcullis_ci_push(dir: &Path, github: &FakeGithub, payload: &str, args: &[&str]) -> Output {
    run_ci(dir, github, "push", payload, args)
}

#[test]
fn a_gitlab_merge_request_gets_one_note_and_the_gitlab_reports() {
    let gitlab = portcullis_testkit::forge::FakeGitlab::start(42, "acme/app").unwrap();
    gitlab.add_token("glpat-portcullis-test", "portcullis-bot");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "portcullis.toml",
        "[images]\nallow = [\"docker.io/library/*\"]\nrequire-digest = true\n",
    );
    write(dir.path(), "Dockerfile", "FROM alpine:3.20\n");
    let run = |token: &str| {
        let mut cmd = portcullis();
        cmd.env_remove("PORTCULLIS_GITLAB_TOKEN")
            .env_remove("GITLAB_TOKEN")
            .env_remove("CI_JOB_TOKEN");
        if token.starts_with("glpat-") {
            cmd.env("PORTCULLIS_GITLAB_TOKEN", token);
        } else {
            cmd.env("CI_JOB_TOKEN", token);
        }
        cmd.current_dir(dir.path())
            .env("GITLAB_CI", "true")
            .env("CI_PROJECT_ID", "42")
            .env("CI_PROJECT_PATH", "acme/app")
            .env("CI_MERGE_REQUEST_IID", "7")
            .env("CI_PIPELINE_SOURCE", "merge_request_event")
            .env("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main")
            .env("CI_DEFAULT_BRANCH", "main")
            .env("CI_COMMIT_REF_NAME", "feature")
            .env("CI_COMMIT_SHA", "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d")
            .env("CI_API_V4_URL", gitlab.api_url())
            .env("CI_SERVER_URL", "https://gitlab.example.com")
            .env("DOCKER_CONFIG", dir.path().join("docker"))
            .args([
                "ci",
                "-f",
                "human",
                "-f",
                "gitlab-codequality=codequality.json",
                "-f",
                "junit=junit.xml",
                "-f",
                "markdown=report.md",
            ])
            .output()
            .unwrap()
    };
    let out = run("glpat-portcullis-test");
    assert_exit(&out, 1);
    let notes = gitlab.notes(7);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert!(
        notes[0].body.contains("digest-not-pinned"),
        "{}",
        notes[0].body
    );
    let codequality: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("codequality.json")).unwrap())
            .unwrap();
    assert_eq!(codequality.as_array().unwrap().len(), 1, "{codequality:#}");
    assert!(dir.path().join("junit.xml").is_file());
    // The note and a Markdown report link the finding to its line at the commit.
    let link = "(https://gitlab.example.com/acme/app/-/blob/1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d/Dockerfile#L1)";
    assert!(notes[0].body.contains(link), "{}", notes[0].body);
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(markdown.contains(link), "{markdown}");
    // A second run updates the same note.
    let out = run("glpat-portcullis-test");
    assert_exit(&out, 1);
    assert_eq!(gitlab.notes(7).len(), 1);
    assert!(!stderr(&out).contains("glpat-portcullis-test"));

    // Only `CI_JOB_TOKEN`: GitLab refuses it on merge request notes, so the run says which
    // token it needs instead of failing, and the gate's exit code stands.
    gitlab.add_job_token("job-portcullis-test");
    let out = run("job-portcullis-test");
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("CI_JOB_TOKEN cannot write merge request notes")
            && err.contains("project access token")
            && err.contains("PORTCULLIS_GITLAB_TOKEN"),
        "{err}"
    );
    assert_eq!(gitlab.notes(7).len(), 1, "the job token changed nothing");
    assert!(!err.contains("job-portcullis-test"));
}

#[test]
fn a_large_report_keeps_every_finding_in_the_summary_and_ten_annotations_per_kind() {
    let github = FakeGithub::start().unwrap();
    github.add_token(TOKEN, "portcullis-bot");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "portcullis.toml",
        "[images]\nallow = [\"docker.io/library/*\"]\nrequire-digest = true\n",
    );
    // 1,200 unpinned stages: far more than a comment holds.
    let mut dockerfile = String::new();
    for i in 0..1_200 {
        let _ = writeln!(dockerfile, "FROM alpine:3.{i} AS s{i}");
    }
    write(dir.path(), "Dockerfile", &dockerfile);
    let out = run_ci(
        dir.path(),
        &github,
        "pull_request",
        &pull_request_payload(),
        &[],
    );
    assert_exit(&out, 1);
    let comments = github.comments("acme/app", 7);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.encode_utf16().count() <= 65_536);
    assert!(
        comments[0].body.contains("left out"),
        "{}",
        comments[0].body
    );
    // The summary has the room for all of them, each linked to its line.
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.len() <= 1024 * 1024);
    assert!(!summary.contains("left out"), "the summary lost findings");
    for line in [1, 600, 1_200] {
        assert!(
            summary.contains(&format!("/Dockerfile#L{line})")),
            "no link to line {line}"
        );
    }
    // GitHub shows ten annotations of a kind per step: ten, then a plain line.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("::error ")).count(),
        10,
        "{stdout}"
    );
    assert!(stdout.contains(",line=1,") && !stdout.contains(",line=11,"));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("portcullis: 1190 errors not annotated")),
        "{stdout}"
    );
}
