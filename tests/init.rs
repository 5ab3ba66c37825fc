//! `portcullis init` through the built binary: the file it writes loads in the commands
//! that read it, and an existing file is kept unless `--force`.

mod common;

use common::{assert_exit, run_in, stderr};

#[test]
fn init_writes_a_policy_that_check_pin_and_scan_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run_in(d, &["init"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("wrote `portcullis.toml`"),
        "{}",
        stderr(&out)
    );
    let written = std::fs::read_to_string(d.join("portcullis.toml")).unwrap();
    assert_eq!(written, portcullis_policy::Config::starter());

    // The starter allows alpine and requires digests: an unpinned alpine is one finding
    // (digest-not-pinned), judged under the written policy.
    std::fs::write(d.join("Dockerfile"), "FROM alpine:3.20\n").unwrap();
    let out = run_in(d, &["check", "-f", "json"]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = common::rules(&report);
    assert_eq!(rules, ["digest-not-pinned"]);
    // An image outside its allowlist is refused by it.
    std::fs::write(d.join("Dockerfile"), "FROM nginx:1.27\n").unwrap();
    let out = run_in(d, &["check", "-f", "json"]);
    assert!(common::stdout(&out).contains("image-not-allowed"));

    // pin reads it (nothing to pin in a directory without references).
    std::fs::remove_file(d.join("Dockerfile")).unwrap();
    assert_exit(&run_in(d, &["pin", "--check"]), 0);

    // scan reads its `[scan]`: a report made earlier (four medium findings), gated at
    // `fail-on = "high"`.
    let report = common::repo_root().join("crates/scan/tests/data/alpine-310.json");
    let out = run_in(
        d,
        &[
            "scan",
            "ghcr.io/aquasecurity/trivy-test-images:alpine-310",
            "--report",
            report.to_str().unwrap(),
            "-f",
            "json",
        ],
    );
    assert_exit(&out, 0);
    let scanned: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(scanned["scans"][0]["gate"]["fail_on"], "high");
    assert_eq!(scanned["policies"][0], "portcullis.toml", "{scanned}");

    // The later commands' sections are commented out: `stale` has nothing to watch (a
    // usage error naming the keys), `mirror` nothing to copy.
    let out = run_in(d, &["stale"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("[stale] images"), "{}", stderr(&out));
    let out = run_in(d, &["mirror", "--dry-run", "-f", "json"]);
    assert_exit(&out, 0);
    let mirrored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(mirrored.get("mirrored").is_none(), "{mirrored}");
}

#[test]
fn init_keeps_an_existing_file_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("portcullis.toml"), "[images]\n").unwrap();
    let out = run_in(d, &["init"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("`--force`"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(d.join("portcullis.toml")).unwrap(),
        "[images]\n"
    );
    assert_exit(&run_in(d, &["init", "--force"]), 0);
    assert_eq!(
        std::fs::read_to_string(d.join("portcullis.toml")).unwrap(),
        portcullis_policy::Config::starter()
    );
}
