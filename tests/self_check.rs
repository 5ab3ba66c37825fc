//! portcullis holds its own repository to its default policy: the image's `Containerfile`,
//! the GitLab template, the GitHub examples, workflows and Action pass `portcullis check`
//! (the deliberately bad fixtures under `tests/` and `examples/monorepo/` are left out).
//! The release workflow reads the image's base from the same `FROM` line the check sees.

mod common;

use std::fs;
use std::process::Command;

use common::{assert_exit, repo_root, run_in, stdout};

/// What portcullis's own CI checks (`.github/workflows/ci.yml`).
const CHECKED: &[&str] = &[
    "Containerfile",
    "gitlab-template",
    "examples/github",
    ".github",
    "action",
];

const RUST: &str = "docker.io/library/rust:1.94-slim-bookworm@sha256:cf9dd0ec73e75f827fe59123fff9dc65af1a1c8363c3c31ee8d7f8ad0b6a5fb2";
const DEBIAN: &str = "docker.io/library/debian:bookworm-slim@sha256:7c7b2c966bc9ee8cedfeef67e0e279108992c77681fa595db4a9d65c06ccc587";

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn the_repository_passes_its_own_default_policy() {
    let mut args = vec!["check", "--format", "json"];
    args.extend(CHECKED);
    let out = run_in(&repo_root(), &args);
    assert_exit(&out, 0);
    let report = json(&out);
    assert_eq!(
        report["policies"],
        serde_json::json!(["<embedded default>"])
    );

    // Both stages of the image, each pinned by digest.
    let from_containerfile: Vec<(&str, u64, &str)> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["file"] == "Containerfile")
        .map(|i| {
            (
                i["image"].as_str().unwrap(),
                i["line"].as_u64().unwrap(),
                i["context"].as_str().unwrap(),
            )
        })
        .collect();
    let containerfile = fs::read_to_string(repo_root().join("Containerfile")).unwrap();
    let line_of = |needle: &str| {
        1 + containerfile
            .lines()
            .position(|l| l.starts_with("FROM ") && l.contains(needle))
            .unwrap_or_else(|| panic!("no FROM with `{needle}`")) as u64
    };
    assert_eq!(
        from_containerfile,
        [
            (RUST, line_of("rust:"), "dockerfile-from"),
            (DEBIAN, line_of("debian:"), "dockerfile-from"),
        ],
        "{}",
        stdout(&out)
    );

    // The template's default image floats with the newest release, and says so in a
    // waiver; nothing else is excepted.
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().all(|f| f["waived"] == true),
        "{}",
        stdout(&out)
    );
    let waived: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f["file"].as_str().unwrap(), f["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        waived,
        [
            (
                "gitlab-template/portcullis.gitlab-ci.yml",
                "digest-not-pinned"
            ),
            ("gitlab-template/portcullis.gitlab-ci.yml", "tag-denied"),
        ]
    );
}

#[test]
fn an_unpinned_stage_in_the_containerfile_fails_the_same_check() {
    let dir = tempfile::tempdir().unwrap();
    let containerfile = fs::read_to_string(repo_root().join("Containerfile")).unwrap();
    let (name, _) = RUST.split_once('@').unwrap();
    let unpinned = containerfile.replace(RUST, name);
    assert_ne!(unpinned, containerfile);
    fs::write(dir.path().join("Containerfile"), unpinned).unwrap();
    let out = run_in(dir.path(), &["check", "Containerfile", "--format", "json"]);
    assert_exit(&out, 1);
    assert_eq!(common::rules(&json(&out)), ["digest-not-pinned"]);
}

#[test]
fn the_release_workflow_records_the_runtime_base_the_containerfile_pins() {
    let workflow = fs::read_to_string(repo_root().join(".github/workflows/release.yml")).unwrap();
    let line = workflow
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("base=$(awk"))
        .expect("the image job reads the base from the Containerfile");
    let out = Command::new("bash")
        .args(["-c", &format!("set -eu; {line}; printf '%s' \"$base\"")])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let base = String::from_utf8(out.stdout).unwrap();
    assert_eq!(base, DEBIAN);
    for needle in [
        "BASE_NAME=$base_name",
        "BASE_DIGEST=$base_digest",
        "index,manifest:org.opencontainers.image.base.name=$base_name",
        "index,manifest:org.opencontainers.image.base.digest=$base_digest",
        "--platform linux/amd64,linux/arm64",
        "signer/portcullis sign \"$IMAGE\"",
        "signer/portcullis attest \"$IMAGE\" --type slsaprovenance",
    ] {
        assert!(workflow.contains(needle), "release.yml lacks `{needle}`");
    }
}

#[test]
fn the_image_runs_as_a_non_root_user_and_keeps_local_trees_out_of_its_context() {
    let containerfile = fs::read_to_string(repo_root().join("Containerfile")).unwrap();
    for needle in [
        "cargo build --release --locked",
        "COPY --from=builder /out/portcullis /usr/local/bin/portcullis",
        "USER 10001:10001",
        "ca-certificates git",
        "org.opencontainers.image.source=",
        "org.opencontainers.image.licenses=\"Apache-2.0\"",
        "org.opencontainers.image.base.name=\"${BASE_NAME}\"",
        "org.opencontainers.image.base.digest=\"${BASE_DIGEST}\"",
    ] {
        assert!(
            containerfile.contains(needle),
            "Containerfile lacks `{needle}`"
        );
    }
    assert!(
        !containerfile.lines().any(|l| l.starts_with("ENTRYPOINT")),
        "GitLab runs job scripts through the image's shell"
    );
    let ignored = fs::read_to_string(repo_root().join(".dockerignore")).unwrap();
    for dir in ["target/", "node_modules/", ".venv/"] {
        assert!(
            ignored.lines().any(|l| l == dir),
            ".dockerignore lacks `{dir}`"
        );
    }
}

#[test]
fn hadolint_passes_the_containerfile() {
    let Some(hadolint) = common::tool("hadolint") else {
        return common::skip("hadolint");
    };
    let out = Command::new(&hadolint)
        .args(["--no-color", "Containerfile"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint: {}{}",
        stdout(&out),
        common::stderr(&out)
    );
}
