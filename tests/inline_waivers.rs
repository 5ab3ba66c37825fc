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
