//! End-to-end: inline waivers (`# portcullis: ignore …`) in a Dockerfile and a compose
//! file waive their line's findings and show in the JSON report; a bad one exits 2.

mod common;

use common::{assert_exit, run_in, stdout};

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn findings(out: &std::process::Output) -> Vec<serde_json::Value> {
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    report["findings"].as_array().unwrap().clone()
}

#[test]
fn inline_waivers_in_a_dockerfile_and_a_compose_file_waive_their_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        "# portcullis: ignore digest-not-pinned -- vendor base, pinned by the vendor\n\
         FROM nginx:1.27\n\
         FROM redis:7\n",
    );
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: \"postgres:16\" # portcullis: ignore digest-not-pinned until 2027-01-31 -- migrating\n  cache:\n    image: memcached:1.6\n",
    );
    let out = run_in(dir.path(), &["check", "--format", "json"]);
    assert_exit(&out, 1);
    let shown: Vec<(String, u64, String, bool, serde_json::Value)> = findings(&out)
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_owned(),
                f["waived"].as_bool().unwrap(),
                f.get("waiver").cloned().unwrap_or(serde_json::Value::Null),
            )
        })
        .collect();
    let waiver = |reason: &str, expires: serde_json::Value, file: &str, line: u64| serde_json::json!({"reason": reason, "expires": expires, "file": file, "line": line});
    assert_eq!(
        shown,
        [
            (
                "Dockerfile".to_owned(),
                2,
                "digest-not-pinned".to_owned(),
                true,
                waiver(
                    "vendor base, pinned by the vendor",
                    serde_json::Value::Null,
                    "Dockerfile",
                    1
                ),
            ),
            (
                "Dockerfile".to_owned(),
                3,
                "digest-not-pinned".to_owned(),
                false,
                serde_json::Value::Null
            ),
            (
                "compose.yaml".to_owned(),
                3,
                "digest-not-pinned".to_owned(),
                true,
                waiver("migrating", "2027-01-31".into(), "compose.yaml", 3),
            ),
            (
                "compose.yaml".to_owned(),
                5,
                "digest-not-pinned".to_owned(),
                false,
                serde_json::Value::Null
            ),
        ],
        "{}",
        stdout(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["waived"], 2);
    assert_eq!(report["summary"]["errors"], 2);
}

#[test]
fn a_bad_inline_waiver_exits_2_naming_file_line_and_text() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: postgres:16 # portcullis: ignore digest-not-pined -- r\n",
    );
    let out = run_in(dir.path(), &["check", "--format", "json"]);
    assert_exit(&out, 2);
    let bad: Vec<serde_json::Value> = findings(&out)
        .into_iter()
        .filter(|f| f["rule"] == "file-invalid")
        .collect();
    assert_eq!(bad.len(), 1, "{}", stdout(&out));
    assert_eq!(bad[0]["file"], "compose.yaml");
    assert_eq!(bad[0]["line"], 3);
    let message = bad[0]["message"].as_str().unwrap();
    assert!(message.contains("`digest-not-pined`"), "{message}");
}

// Checking a directory below the current one named the waivers' files relative to that
// directory and the findings relative to the root, so no waiver matched its finding.
#[test]
fn inline_waivers_apply_when_a_subdirectory_or_a_file_in_it_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("deploy/ci");
    std::fs::create_dir_all(&sub).unwrap();
    write(
        &sub,
        "Dockerfile",
        "# portcullis: ignore digest-not-pinned -- vendor base\nFROM nginx:1.27\n",
    );
    write(
        &sub,
        "app.gitlab-ci.yml",
        "job:\n  # portcullis: ignore digest-not-pinned -- vendor image\n  image: redis:7\n  script: [\"true\"]\n",
    );
    write(
        &sub,
        "bad.gitlab-ci.yml",
        "job:\n  image: memcached:1.6 # portcullis: ignore digest-not-pined -- r\n  script: [\"true\"]\n",
    );
    for checked in ["deploy", "deploy/ci", "deploy/ci/Dockerfile"] {
        let out = run_in(dir.path(), &["check", checked, "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let waived: Vec<(&str, u64)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["waived"] == true)
            .map(|f| (f["file"].as_str().unwrap(), f["line"].as_u64().unwrap()))
            .collect();
        let unused = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "waiver-unused")
            .count();
        assert_eq!(unused, 0, "{checked}: {}", stdout(&out));
        if checked.ends_with("Dockerfile") {
            assert_exit(&out, 0);
            assert_eq!(waived, [("deploy/ci/Dockerfile", 2)], "{checked}");
            continue;
        }
        assert_exit(&out, 2);
        assert_eq!(
            waived,
            [
                ("deploy/ci/Dockerfile", 2),
                ("deploy/ci/app.gitlab-ci.yml", 3)
            ],
            "{checked}"
        );
        // A malformed waiver is reported at its own file under the same name.
        let bad: Vec<&serde_json::Value> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "file-invalid")
            .collect();
        assert_eq!(bad.len(), 1, "{checked}: {}", stdout(&out));
        assert_eq!(bad[0]["file"], "deploy/ci/bad.gitlab-ci.yml", "{checked}");
        assert_eq!(bad[0]["line"], 2, "{checked}");
    }
}
