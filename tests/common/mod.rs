//! Shared helpers for the end-to-end tests of the `portcullis` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `portcullis` command with a fixed date and no ambient CI or color settings.
pub fn portcullis() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.env("PORTCULLIS_TODAY", "2026-11-27")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

/// Runs `portcullis ARGS` in `dir`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    portcullis()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run portcullis")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the process did not panic and exited with `code`.
pub fn assert_exit(out: &Output, code: i32) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "panic:\n{err}");
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(out)
    );
}

/// The rule code of each finding of a JSON report, in report order.
pub fn rules(report: &serde_json::Value) -> Vec<&str> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().expect("rule"))
        .collect()
}

/// `sha256:` of the raw manifest skopeo (an independent OCI client) reads for `image`.
pub fn skopeo_digest(image: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{image}"),
        ])
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("sha256:{}", hex::encode(Sha256::digest(&out.stdout)))
}

/// A test tool: from the repository's `.venv/bin` or `node_modules/.bin` (where
/// `scripts/install-test-deps` puts them), else from `PATH`.
pub fn tool(name: &str) -> Option<PathBuf> {
    let root = repo_root();
    [root.join(".venv/bin"), root.join("node_modules/.bin")]
        .into_iter()
        .chain(std::env::split_paths(&std::env::var_os("PATH")?))
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// Says why a test is skipped for a missing tool; fails instead when
/// `PORTCULLIS_REQUIRE_TOOLS` is set (as `scripts/test` does).
#[allow(clippy::print_stderr)] // a skipped test says why
pub fn skip(what: &str) {
    assert!(
        std::env::var_os("PORTCULLIS_REQUIRE_TOOLS").is_none(),
        "{what} not found and PORTCULLIS_REQUIRE_TOOLS is set; scripts/install-test-deps installs it"
    );
    eprintln!("SKIPPED: {what} not found; scripts/install-test-deps installs it");
}

/// What GitHub Actions sets for a `push` to `main` of `acme/app` by its release workflow:
/// enough for `attest --predicate auto` to write SLSA provenance.
pub const GITHUB_PUSH_ENV: [(&str, &str); 10] = [
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_SERVER_URL", "https://github.com"),
    ("GITHUB_REPOSITORY", "acme/app"),
    ("GITHUB_SHA", "8f4e3c2b1a0918273645546372819aabbccddeef"),
    ("GITHUB_REF", "refs/heads/main"),
    (
        "GITHUB_WORKFLOW_REF",
        "acme/app/.github/workflows/release.yml@refs/heads/main",
    ),
    ("GITHUB_RUN_ID", "42"),
    ("GITHUB_RUN_ATTEMPT", "1"),
    ("GITHUB_EVENT_NAME", "push"),
    ("RUNNER_ENVIRONMENT", "github-hosted"),
];
