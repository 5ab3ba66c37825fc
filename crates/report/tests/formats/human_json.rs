//! The same findings as diagnostics and as the JSON contract.

use portcullis_policy::Report;
use portcullis_report::{render, Format, RenderOptions};

use crate::common::{config_text, options, repo, sample};

#[test]
fn human_snapshot() {
    let (root, config) = (repo(), config_text());
    insta::assert_snapshot!(render(&sample(), Format::Human, &options(&root, &config)));
}

#[test]
fn json_snapshot() {
    let (root, config) = (repo(), config_text());
    insta::assert_snapshot!(render(&sample(), Format::Json, &options(&root, &config)));
}

#[test]
fn human_quotes_the_line_and_puts_the_caret_under_the_reference() {
    let (root, config) = (repo(), config_text());
    let out = render(&sample(), Format::Human, &options(&root, &config));
    let lines: Vec<&str> = out.lines().collect();
    let quoted = lines
        .iter()
        .position(|l| l.ends_with("| FROM nginx:latest AS web"))
        .expect("line 3 quoted");
    let caret = lines[quoted + 1];
    let source_col = lines[quoted].find("FROM").unwrap() + "FROM ".len();
    assert_eq!(
        caret.find('^'),
        Some(source_col),
        "caret under `nginx:latest`:\n{out}"
    );
    assert_eq!(caret.matches('^').count(), "nginx:latest".len());
    // The config entry behind `tag-denied` is quoted with its label.
    assert!(out.contains("deny-tags = [\"latest\"]"), "{out}");
    assert!(out.contains("`deny-tags` set here"), "{out}");
}

#[test]
fn human_degrades_to_a_locus_when_the_file_cannot_be_read() {
    let (root, config) = (repo(), config_text());
    let out = render(&sample(), Format::Human, &options(&root, &config));
    assert!(out.contains("error[digest-not-pinned]: `docker.io/library/alpine` is not pinned by digest\n  --> missing/Dockerfile:2:6\n"), "{out}");
}

#[test]
fn human_shows_waived_findings_as_notes_with_the_reason() {
    let (root, config) = (repo(), config_text());
    let out = render(&sample(), Format::Human, &options(&root, &config));
    assert!(
        out.contains("note[digest-not-pinned]: `ghcr.io/acme/tools:1.2` is not pinned by digest"),
        "{out}"
    );
    assert!(
        out.contains("= waived: internal tool, pinned by the release job"),
        "{out}"
    );
    assert!(
        !out.contains("error[digest-not-pinned]: `ghcr.io/acme/tools:1.2`"),
        "{out}"
    );
}

#[test]
fn human_ends_with_the_summary_line() {
    let (root, config) = (repo(), config_text());
    let out = render(&sample(), Format::Human, &options(&root, &config));
    assert!(
        out.ends_with("checked 2 files, 4 images: 6 errors, 1 warning, 1 waived\n"),
        "{out}"
    );
    let empty = render(&Report::default(), Format::Human, &options(&root, &config));
    assert_eq!(
        empty,
        "checked 0 files, 0 images: 0 errors, 0 warnings, 0 waived\n"
    );
}

#[test]
fn human_colors_only_when_asked() {
    let (root, config) = (repo(), config_text());
    let plain = render(&sample(), Format::Human, &options(&root, &config));
    assert!(!plain.contains('\u{1b}'));
    let colored = render(
        &sample(),
        Format::Human,
        &RenderOptions {
            color: true,
            ..options(&root, &config)
        },
    );
    assert!(colored.contains("\u{1b}["), "{colored}");
    // Colors do not change the text.
    let stripped = regex_lite_strip(&colored);
    assert_eq!(stripped, plain);
}

/// Removes ANSI SGR sequences.
fn regex_lite_strip(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn human_without_config_text_names_the_cause() {
    let root = repo();
    let options = RenderOptions {
        configs: &[],
        ..crate::common::options(&root, "")
    };
    let out = render(&sample(), Format::Human, &options);
    assert!(
        out.contains("= `deny-tags` set here: portcullis.toml:3:1"),
        "{out}"
    );
}

#[test]
fn json_follows_the_contract() {
    let (root, config) = (repo(), config_text());
    let out = render(&sample(), Format::Json, &options(&root, &config));
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["version", "tool", "findings", "images", "scans", "summary"]
    );
    assert_eq!(value["version"], 1);
    assert_eq!(
        value["tool"],
        serde_json::json!({ "name": "portcullis", "version": "0.1.0" })
    );
    let finding = &value["findings"][4];
    let keys: Vec<&str> = finding
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "rule",
            "severity",
            "message",
            "help",
            "image",
            "file",
            "line",
            "column",
            "end_line",
            "end_column",
            "context",
            "waived"
        ]
    );
    assert_eq!(finding["rule"], "digest-not-pinned");
    assert_eq!(finding["file"], "services/web/Dockerfile");
    assert_eq!(
        (
            finding["line"].as_u64(),
            finding["column"].as_u64(),
            finding["end_column"].as_u64()
        ),
        (Some(3), Some(6), Some(18))
    );
    let vulnerability = &value["findings"][0]["vulnerability"];
    assert_eq!(vulnerability["id"], "CVE-2024-1234");
    assert_eq!(vulnerability["fix_state"], "fixed");
    assert_eq!(vulnerability["suppressed_by"], serde_json::Value::Null);
    assert_eq!(
        value["summary"],
        serde_json::json!({ "files": 2, "images": 4, "errors": 6, "warnings": 1, "waived": 1, "suppressed_by_vex": 0 })
    );
    // No scans, no `scans` key.
    let bare = Report {
        scans: vec![],
        ..sample()
    };
    let value: serde_json::Value =
        serde_json::from_str(&render(&bare, Format::Json, &options(&root, &config))).unwrap();
    assert!(value.get("scans").is_none());
}

/// Helm templates are never parsed: both outputs say how many were left unchecked.
#[test]
fn not_checked_templates_are_counted_in_human_and_json() {
    let (root, config) = (repo(), config_text());
    let mut report = sample();
    report.summary.not_checked = 3;
    let human = render(&report, Format::Human, &options(&root, &config));
    assert!(
        human.contains("1 waived; 3 templates not checked"),
        "{human}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json, &options(&root, &config))).unwrap();
    assert_eq!(json["summary"]["not_checked"], 3);
    // None left unchecked: the line and the contract stay as they were.
    let plain = render(&sample(), Format::Json, &options(&root, &config));
    assert!(!plain.contains("not_checked"), "{plain}");
}
