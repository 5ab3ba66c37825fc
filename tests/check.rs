//! End-to-end tests of `portcullis check` on the bundled example and on bad input.

mod common;

use std::collections::BTreeSet;

use common::{assert_exit, portcullis, repo_root, run_in, stderr, stdout};

fn check_example(format: &str) -> std::process::Output {
    portcullis()
        .current_dir(repo_root())
        .args(["check", "examples/monorepo", "--format", format])
        .output()
        .unwrap()
}

#[test]
fn example_json_report_matches_snapshot() {
    let out = check_example("json");
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    insta::assert_json_snapshot!("example_monorepo_json", report, {
        ".tool.version" => "[version]",
    });
}

#[test]
fn example_shows_every_offline_rule() {
    let out = check_example("json");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: BTreeSet<&str> = common::rules(&report).into_iter().collect();
    for rule in [
        "image-not-allowed",
        "digest-not-pinned",
        "tag-missing",
        "tag-denied",
        "unresolved-variable",
        "waiver-expired",
        "waiver-unused",
    ] {
        assert!(rules.contains(rule), "missing {rule} in {rules:?}");
    }
    // Every source kind contributed images.
    let files: BTreeSet<&str> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["file"].as_str().unwrap())
        .collect();
    for file in [
        "examples/monorepo/services/api/Dockerfile",
        "examples/monorepo/services/worker/Containerfile",
        "examples/monorepo/compose.yaml",
        "examples/monorepo/deploy/k8s/api.yaml",
        "examples/monorepo/.github/workflows/ci.yml",
        "examples/monorepo/.gitlab-ci.yml",
        "examples/monorepo/ci/lint.yml",
    ] {
        assert!(files.contains(file), "no images from {file}: {files:?}");
    }
    // `help:` names the file as typed from where the command ran, so it can be pasted.
    let helps: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["help"].as_str())
        .collect();
    assert!(
        helps.contains(&"run `portcullis pin examples/monorepo/services/web/Dockerfile`"),
        "{helps:?}"
    );
    // A stage alias is never an image; the heredoc body is not an instruction.
    let images: Vec<&str> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert!(
        !images
            .iter()
            .any(|i| i.contains("/build") || i.contains("assets") || i.contains("deps")),
        "{images:?}"
    );
}

#[test]
fn example_human_report_matches_snapshot() {
    let out = check_example("human");
    assert_exit(&out, 1);
    insta::assert_snapshot!("example_monorepo_human", stdout(&out));
}

#[test]
fn sarif_and_markdown_render_the_same_findings() {
    let json: serde_json::Value = serde_json::from_slice(&check_example("json").stdout).unwrap();
    let active = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["waived"] == false)
        .count();
    let sarif: serde_json::Value = serde_json::from_slice(&check_example("sarif").stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let unsuppressed = results
        .iter()
        .filter(|r| r.get("suppressions").is_none())
        .count();
    assert_eq!(active, unsuppressed);
    let md = stdout(&check_example("markdown"));
    assert!(md.contains("<!-- portcullis:report -->"), "{md}");
    assert!(md.contains("digest-not-pinned"), "{md}");
}

#[test]
fn github_actions_gets_annotations() {
    let out = portcullis()
        .current_dir(repo_root())
        .env("GITHUB_ACTIONS", "true")
        .args(["check", "examples/monorepo"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("::error file=examples/monorepo/services/web/Dockerfile,line=2"),
        "{text}"
    );
}

#[test]
fn bad_config_is_exit_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM alpine:3.20\n").unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        "[images]\nallow = [\"ghcr.io/{a\"]\nrequire-digets = true\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["check"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("portcullis.toml:2:"), "{err}");
    assert!(err.contains("portcullis.toml:3:1"), "{err}");
    assert!(err.contains("`require-digets`"), "{err}");
}

#[test]
fn missing_path_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["check", "no/such/dir"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("`no/such/dir`"), "{}", stderr(&out));
}

#[test]
fn malformed_inputs_name_the_file_and_exit_2_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("a")).unwrap();
    std::fs::write(p.join("a/Dockerfile"), b"FROM alpine:3.20@sha256:0123\\\n").unwrap();
    std::fs::write(
        p.join("compose.yaml"),
        "services:\n  web:\n    image: [unclosed\n",
    )
    .unwrap();
    std::fs::write(p.join("Dockerfile.bin"), b"FROM \xff\xfe\x00\x01 binary").unwrap();
    std::fs::write(p.join("Containerfile"), b"FROM caf\xe9:1\n").unwrap();
    let long = format!(
        "FROM alpine:3.20\nRUN echo {}\n",
        "x".repeat(10 * 1024 * 1024)
    );
    std::fs::write(p.join("long.Dockerfile"), long).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(p.join("loop"), p.join("loop")).unwrap();
    std::fs::write(p.join("good.Dockerfile"), "FROM alpine:3.20\n").unwrap();
    let out = run_in(p, &["check", "--format", "json"]);
    assert_exit(&out, 2);
    // Problems are findings: in the report, counted, with file, line and the value.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "file-invalid" || f["rule"] == "reference-invalid")
        .map(|f| {
            format!(
                "{} {}:{} {}",
                f["rule"].as_str().unwrap(),
                f["file"].as_str().unwrap(),
                f["line"],
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    let all = problems.join("\n");
    assert!(
        all.contains("file-invalid compose.yaml:") && all.contains("invalid YAML"),
        "{all}"
    );
    assert!(
        all.contains("reference-invalid a/Dockerfile:1") && all.contains("`sha256:0123`"),
        "{all}"
    );
    assert!(
        all.contains("Dockerfile.bin") && all.contains("binary"),
        "{all}"
    );
    assert!(all.contains("Containerfile"), "{all}");
    assert!(report["summary"]["errors"].as_u64().unwrap() >= problems.len() as u64);
    let files: Vec<&str> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["file"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"good.Dockerfile"), "{files:?}");
    assert!(files.contains(&"long.Dockerfile"), "{files:?}");
}

#[test]
fn init_writes_a_policy_that_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM alpine:3.20\n").unwrap();
    let out = run_in(dir.path(), &["init"]);
    assert_exit(&out, 0);
    let text = std::fs::read_to_string(dir.path().join("portcullis.toml")).unwrap();
    assert!(text.contains("[images]"));
    // A second init refuses to overwrite.
    assert_exit(&run_in(dir.path(), &["init"]), 2);
    // check loads it (an invalid file would exit 2).
    let out = run_in(dir.path(), &["check", "--format", "json"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
}

#[test]
fn clean_repository_passes() {
    let dir = tempfile::tempdir().unwrap();
    let digest = format!("sha256:{}", "a".repeat(64));
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM alpine:3.20@{digest}\n"),
    )
    .unwrap();
    let out = run_in(dir.path(), &["check"]);
    assert_exit(&out, 0);
}

#[test]
fn build_arg_overrides_arg_default() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "ARG BASE\nFROM $BASE\n").unwrap();
    let out = run_in(dir.path(), &["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["rule"], "unresolved-variable");
    let out = run_in(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "--build-arg",
            "BASE=nginx:latest",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = common::rules(&report);
    assert!(rules.contains(&"tag-denied"), "{rules:?}");
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in ["check", "pin", "init"] {
        let out = portcullis().args([cmd, "--help"]).output().unwrap();
        assert_exit(&out, 0);
        assert!(stdout(&out).contains("Example"), "{cmd}");
    }
}
