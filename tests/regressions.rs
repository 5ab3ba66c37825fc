//! One end-to-end test for each defect that the command-per-file shape caused; each would
//! fail on the code before commands returned reports.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{assert_exit, portcullis, run_in, stderr, stdout};

const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn rules(report: &serde_json::Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["waived"] == false)
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["file"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A repository whose root holds `.git`, so paths are relative to it.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    dir
}

/// `check a b` applied a's policy to both: `check a b` gave 0 errors, `check b a` gave 2.
#[test]
fn each_checked_path_is_judged_by_its_own_policy_whatever_the_order() {
    let dir = repo();
    let d = dir.path();
    write(
        &d.join("a/portcullis.toml"),
        "[images]\nrequire-digest = false\n",
    );
    write(&d.join("a/Dockerfile"), "FROM alpine:3.20\n");
    write(
        &d.join("b/portcullis.toml"),
        "[images]\nallow = [\"ghcr.io/acme/**\"]\n",
    );
    write(&d.join("b/Dockerfile"), "FROM alpine:3.20\n");
    let ab = json(&run_in(d, &["check", "a", "b", "--format", "json"]));
    let ba = json(&run_in(d, &["check", "b", "a", "--format", "json"]));
    assert_eq!(ab["findings"], ba["findings"]);
    assert_eq!(ab["summary"], ba["summary"]);
    assert_eq!(
        rules(&ab),
        [
            ("digest-not-pinned".to_owned(), "b/Dockerfile".to_owned()),
            ("image-not-allowed".to_owned(), "b/Dockerfile".to_owned()),
        ]
    );
    // The human summary says which policies applied.
    let text = stdout(&run_in(d, &["check", "b", "a"]));
    assert!(
        text.contains("policies: `a/portcullis.toml`, `b/portcullis.toml`"),
        "{text}"
    );
}

/// `set -o pipefail; portcullis check | head -1` exited 0 on a failing tree.
#[test]
fn a_closed_stdout_does_not_pass_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let body = "FROM nginx:1.27\n".repeat(400);
    write(&dir.path().join("Dockerfile"), &body);
    let mut child = portcullis()
        .current_dir(dir.path())
        .arg("check")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end at once, like `head` after its first line.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 1);
}

/// `check services/web --format sarif` wrote `"uri": "Dockerfile"`; run from inside
/// `services/`, the SARIF held the policy file's absolute path.
#[test]
fn every_format_names_files_from_the_repository_root() {
    let dir = repo();
    let d = dir.path();
    write(
        &d.join("portcullis.toml"),
        "[images]\nrequire-digest = true\n",
    );
    write(&d.join("services/web/Dockerfile"), "FROM nginx:1.27\n");
    let root = d.to_str().unwrap();
    for (cwd, path) in [
        (d.to_path_buf(), "services/web"),
        (d.join("services"), "web"),
    ] {
        let out = run_in(&cwd, &["check", path, "--format", "sarif"]);
        assert_exit(&out, 1);
        let sarif = stdout(&out);
        assert!(
            sarif.contains("\"uri\": \"services/web/Dockerfile\""),
            "{sarif}"
        );
        assert!(!sarif.contains(root), "absolute path in {sarif}");
        let annotations = portcullis()
            .current_dir(&cwd)
            .env("GITHUB_ACTIONS", "true")
            .args(["check", path])
            .output()
            .unwrap();
        let text = stdout(&annotations);
        assert!(
            text.contains("::error file=services/web/Dockerfile,line=1"),
            "{text}"
        );
        assert!(!text.contains(root), "absolute path in {text}");
    }
    // `help:` names the file as typed from where the user stands.
    let out = run_in(&d.join("services"), &["check", "web", "--format", "json"]);
    let report = json(&out);
    assert_eq!(
        report["findings"][0]["help"],
        "run `portcullis pin web/Dockerfile`"
    );
    assert_eq!(report["policies"][0], "portcullis.toml");
}

/// An unreadable file was reported only on stderr: `--format json` said `errors: 0` with
/// exit code 2, and SARIF, Markdown and `JUnit` showed nothing.
#[test]
fn unreadable_files_are_findings_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("compose.yaml"),
        "services:\n  web:\n    image: [unclosed\n",
    );
    write(
        &d.join("Dockerfile"),
        &format!("FROM alpine:3.20@{DIGEST}\n"),
    );
    let out = run_in(d, &["check", "--format", "json"]);
    assert_exit(&out, 2);
    let report = json(&out);
    assert_eq!(report["summary"]["errors"], 1);
    assert_eq!(report["findings"][0]["rule"], "file-invalid");
    assert_eq!(report["findings"][0]["file"], "compose.yaml");
    for format in ["sarif", "markdown", "junit", "human", "gitlab"] {
        let out = run_in(d, &["check", "--format", format]);
        assert_exit(&out, 2);
        let text = stdout(&out);
        assert!(
            text.contains("file-invalid") && text.contains("compose.yaml"),
            "{format}: {text}"
        );
    }
}

/// `check services/web` warned `waiver-unused` for a waiver that matched elsewhere.
#[test]
fn a_path_filtered_run_does_not_call_waivers_unused() {
    let dir = repo();
    let d = dir.path();
    write(
        &d.join("portcullis.toml"),
        "[[waiver]]\nrules = [\"digest-not-pinned\"]\nimages = [\"docker.io/library/postgres\"]\nreason = \"vendor\"\nexpires = 2099-01-01\n",
    );
    write(&d.join("db/Dockerfile"), "FROM postgres:16\n");
    write(
        &d.join("services/web/Dockerfile"),
        &format!("FROM nginx:1.27@{DIGEST}\n"),
    );
    let part = json(&run_in(d, &["check", "services/web", "--format", "json"]));
    assert!(rules(&part).is_empty(), "{part}");
    // The whole tree: the waiver is used, so still no warning.
    let whole = json(&run_in(d, &["check", "--format", "json"]));
    assert!(rules(&whole).is_empty(), "{whole}");
    // Without the file it matches, the whole-tree run does warn.
    std::fs::remove_file(d.join("db/Dockerfile")).unwrap();
    let whole = json(&run_in(d, &["check", "--format", "json"]));
    assert_eq!(
        rules(&whole),
        [("waiver-unused".to_owned(), "portcullis.toml".to_owned())]
    );
}

/// `-q` changed nothing on `check`; files written with `-o` and by `init` got mode 0600.
#[cfg(unix)]
#[test]
fn quiet_prints_errors_only_and_written_files_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("Dockerfile"),
        &format!("FROM nginx:latest@{DIGEST}\nFROM alpine:3.20\n"),
    );
    let loud = stdout(&run_in(d, &["check"]));
    assert!(
        loud.contains("warning[tag-denied]") && loud.contains("checked 1 file"),
        "{loud}"
    );
    let out = run_in(d, &["check", "-q"]);
    assert_exit(&out, 1);
    let quiet = stdout(&out);
    assert!(quiet.contains("error[digest-not-pinned]"), "{quiet}");
    assert!(
        !quiet.contains("warning") && !quiet.contains("checked"),
        "{quiet}"
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    let out = run_in(d, &["check", "-f", "json", "-o", "report.json"]);
    assert_exit(&out, 1);
    assert_exit(&run_in(d, &["init"]), 0);
    for file in ["report.json", "portcullis.toml"] {
        let mode = std::fs::metadata(d.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode & 0o044, 0o044, "{file}: {mode:o}");
    }
}

/// No policy file (or one named `.portcullis.toml`) silently meant the embedded default.
#[test]
fn which_policy_applied_is_said_and_the_hidden_name_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("Dockerfile"),
        &format!("FROM nginx:1.27@{DIGEST}\n"),
    );
    let text = stdout(&run_in(d, &["check"]));
    assert!(
        text.contains("no portcullis.toml found; the embedded default applied"),
        "{text}"
    );
    write(
        &d.join(".portcullis.toml"),
        "[images]\nallow = [\"ghcr.io/**\"]\n",
    );
    let out = run_in(d, &["check", "--format", "json"]);
    assert_exit(&out, 1);
    let report = json(&out);
    assert_eq!(
        rules(&report),
        [("image-not-allowed".to_owned(), "Dockerfile".to_owned())]
    );
    assert_eq!(report["policies"][0], ".portcullis.toml");
    let text = stdout(&run_in(d, &["check"]));
    assert!(text.contains("policy: `.portcullis.toml`"), "{text}");
}

/// `[[scan.hook]] format = "cyclonedx-vex"` was ignored, and an argv hook whose program
/// path has a space ran through `sh -c`.
#[test]
fn hooks_keep_their_format_and_argv_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tools = d.join("my tools");
    std::fs::create_dir(&tools).unwrap();
    let report = common::repo_root().join("crates/scan/tests/data/npm-with-suppressed.json");
    let script = tools.join("scan");
    write(&script, &format!("#!/bin/sh\ncat '{}'\n", report.display()));
    let vex = tools.join("vex");
    // A CycloneDX VEX that says every finding of the report does not affect the image.
    let report_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let mut ids: Vec<String> = Vec::new();
    for result in report_json["Results"].as_array().into_iter().flatten() {
        for v in result["Vulnerabilities"].as_array().into_iter().flatten() {
            ids.push(v["VulnerabilityID"].as_str().unwrap().to_owned());
        }
    }
    let vulns: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "analysis": {"state": "not_affected", "justification": "code_not_reachable"}, "affects": [{"ref": "pkg:oci/app"}]}))
        .collect();
    let document = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "vulnerabilities": vulns});
    write(&tools.join("vex.json"), &document.to_string());
    write(
        &vex,
        &format!("#!/bin/sh\ncat '{}'\n", tools.join("vex.json").display()),
    );
    for file in [&script, &vex] {
        std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    write(
        &d.join("portcullis.toml"),
        &format!(
            "[scan]\nfail-on = \"low\"\n[[scan.hook]]\nname = \"mine\"\ncommand = [\"{}\", \"{{image}}\"]\nformat = \"trivy-json\"\n[[scan.hook]]\nname = \"vex\"\ncommand = [\"{}\"]\nformat = \"cyclonedx-vex\"\n",
            script.display(),
            vex.display()
        ),
    );
    // The report is of a filesystem (`package-lock.json`), so it names no image.
    let image = "app:1";
    let only_report = run_in(d, &["scan", image, "--hook", "mine", "--format", "json"]);
    assert_exit(&only_report, 1);
    let with_vex = run_in(
        d,
        &[
            "scan", image, "--hook", "mine", "--hook", "vex", "--format", "json",
        ],
    );
    assert_exit(&with_vex, 0);
    let r = json(&with_vex);
    assert!(r["scans"][0]["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["suppressed_by"] == "vex"));
}
