//! The YAML test suite (github.com/yaml/yaml-test-suite, inputs in
//! `tests/data/yaml-test-suite/`): every valid input reads without a syntax error, and every
//! invalid one is refused without a panic, except the few listed that libyaml (and so
//! docker compose, kubectl and GitLab) reads too.

use std::fs;
use std::path::PathBuf;

use portcullis_sources::{parse, ParseOptions, SourceFile, SourceKind};

/// Valid cases left out, with why. None today: the reader follows the spec first.
const VALID_LEFT_OUT: &[(&str, &str)] = &[];

/// Invalid cases read anyway, with why (see `yaml/lenient.rs`).
const INVALID_READ: &[(&str, &str)] = &[
    (
        "9C9N",
        "libyaml reads a flow sequence continued left of its key",
    ),
    ("9JBA", "libyaml reads a `#` touching `]` as a comment"),
    ("CVW2", "libyaml reads a `#` touching `,` as a comment"),
    (
        "MUS6-00",
        "libyaml reads a `#` touching a directive as a comment",
    ),
    (
        "QB6E",
        "libyaml reads a quoted scalar continued at column 0",
    ),
    (
        "SU5Z",
        "libyaml reads a `#` touching a quoted scalar as a comment",
    ),
    (
        "VJP3-00",
        "the flow mapping continued at column 0 is read as its indented form, the valid \
         VJP3-01 (libyaml refuses both: it does not read multi-line flow keys)",
    ),
    (
        "X4QW",
        "libyaml reads a `#` touching a block scalar header as a comment",
    ),
];

fn cases(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/yaml-test-suite")
        .join(kind);
    let mut out: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let id = path.file_stem().unwrap().to_string_lossy().into_owned();
            (id, fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// The syntax error `parse` reports for `bytes`, if any.
fn syntax_error(id: &str, bytes: &[u8]) -> Option<String> {
    let file = SourceFile {
        path: format!("{id}.yaml").into(),
        rel: format!("{id}.yaml"),
        kind: SourceKind::Compose,
    };
    let (_, problems) = parse(&file, bytes, &ParseOptions::default());
    problems
        .into_iter()
        .find(|p| p.message.starts_with("invalid YAML"))
        .map(|p| p.message)
}

#[test]
fn every_valid_case_reads() {
    let cases = cases("valid");
    assert_eq!(
        cases.len(),
        308,
        "the committed suite changed; update the counts"
    );
    let mut failed = Vec::new();
    for (id, bytes) in &cases {
        let left_out = VALID_LEFT_OUT.iter().any(|(left, _)| left == id);
        match syntax_error(id, bytes) {
            Some(error) if !left_out => failed.push(format!("{id}: {error}")),
            None if left_out => failed.push(format!("{id}: reads now, take it off the list")),
            _ => {}
        }
    }
    assert_eq!(failed, Vec::<String>::new());
}

#[test]
fn invalid_cases_are_refused_unless_libyaml_reads_them() {
    let cases = cases("invalid");
    assert_eq!(
        cases.len(),
        94,
        "the committed suite changed; update the counts"
    );
    let read: Vec<&str> = cases
        .iter()
        .filter(|(id, bytes)| syntax_error(id, bytes).is_none())
        .map(|(id, _)| id.as_str())
        .collect();
    let expected: Vec<&str> = INVALID_READ.iter().map(|(id, _)| *id).collect();
    assert_eq!(read, expected);
}
