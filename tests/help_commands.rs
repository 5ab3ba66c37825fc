//! The commands `help:` lines name can be pasted into a shell as they are: for files with
//! hostile names (spaces, quotes, `$`, globs, a leading `-`) the quoted path `sh` reads
//! back names exactly that file.

mod common;

use std::process::Command;

use common::{assert_exit, run_in};

#[test]
fn help_commands_name_hostile_files_so_sh_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = [
        "my app",
        "it's",
        "$HOME",
        "*",
        "-rf",
        "a;b&c|d",
        "`id`",
        "~x",
        "back\\slash",
    ];
    for name in names {
        std::fs::create_dir_all(d.join(name)).unwrap();
        std::fs::write(d.join(name).join("Dockerfile"), "FROM alpine:3.20\n").unwrap();
    }
    let out = run_in(d, &["check", "-f", "json"]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut seen = 0;
    for finding in report["findings"].as_array().unwrap() {
        if finding["rule"] != "digest-not-pinned" {
            continue;
        }
        let file = finding["file"].as_str().unwrap();
        let help = finding["help"].as_str().unwrap();
        let command = help
            .strip_prefix("run `portcullis pin ")
            .and_then(|rest| rest.strip_suffix('`'))
            .unwrap_or_else(|| panic!("{help}"));
        // What `sh` makes of the path in the help command is the file itself.
        let out = Command::new("sh")
            .current_dir(d)
            .args(["-c", &format!("printf '%s' {command}")])
            .env("HOME", "/nowhere")
            .output()
            .unwrap();
        let read = String::from_utf8(out.stdout).unwrap();
        let expected = if file.starts_with('-') {
            format!("./{file}")
        } else {
            file.to_owned()
        };
        assert_eq!(read, expected, "help `{help}` for `{file}`");
        assert!(d.join(&read).is_file(), "{read}");
        seen += 1;
    }
    assert_eq!(seen, names.len());

    // And the command itself, run through `sh`, checks that one file.
    let help = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "my app/Dockerfile")
        .and_then(|f| f["help"].as_str())
        .unwrap();
    let path = &help["run `portcullis pin ".len()..help.len() - 1];
    let out = Command::new("sh")
        .current_dir(d)
        .args(["-c", &format!("\"$PORTCULLIS\" check -f json {path}")])
        .env("PORTCULLIS", env!("CARGO_BIN_EXE_portcullis"))
        .env("PORTCULLIS_TODAY", "2026-11-27")
        .output()
        .unwrap();
    let one: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(one["summary"]["files"], 1, "{one}");
}
