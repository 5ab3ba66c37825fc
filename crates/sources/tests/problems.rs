//! Per-file problems say what kind they are, so the policy can report unreadable files
//! (`file-invalid`) apart from bad values in image positions (`reference-invalid`).

use std::fmt::Write as _;

use portcullis_sources::{parse, ParseOptions, ProblemKind, SourceFile, SourceKind};

fn kinds(rel: &str, kind: SourceKind, text: &str) -> Vec<ProblemKind> {
    let file = SourceFile {
        path: rel.into(),
        rel: rel.to_owned(),
        kind,
    };
    let (_, problems) = parse(&file, text.as_bytes(), &ParseOptions::default());
    problems.into_iter().map(|p| p.kind).collect()
}

#[test]
fn unparsable_files_and_invalid_references_are_told_apart() {
    assert_eq!(
        kinds("compose.yaml", SourceKind::Compose, "services: [\n"),
        [ProblemKind::FileInvalid]
    );
    assert_eq!(
        kinds(
            "compose.yaml",
            SourceKind::Compose,
            "services:\n  web:\n    image: \"UPPER/Case:1\"\n"
        ),
        [ProblemKind::ReferenceInvalid]
    );
    assert_eq!(
        kinds(
            "Dockerfile",
            SourceKind::Dockerfile,
            "FROM nginx:1.27:bad\n"
        ),
        [ProblemKind::ReferenceInvalid]
    );
    assert_eq!(
        kinds("Dockerfile", SourceKind::Dockerfile, "FROM\n"),
        [ProblemKind::FileInvalid]
    );
    assert_eq!(
        kinds("Dockerfile", SourceKind::Dockerfile, "FROM a\u{0}\n"),
        [ProblemKind::FileInvalid]
    );
}

/// A CR-only Dockerfile was edited by `pin`, which then exited 2 on it.
#[test]
fn files_that_did_not_parse_offer_nothing_to_pin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM alpine:3.20\rFROM nginx:1.27\r",
    )
    .unwrap();
    std::fs::write(dir.path().join("good.Dockerfile"), "FROM alpine:3.20\n").unwrap();
    let collected = portcullis_sources::collect(
        dir.path(),
        &portcullis_sources::DiscoverOptions::default(),
        &ParseOptions::default(),
    )
    .unwrap();
    assert!(collected
        .problems
        .iter()
        .any(|p| p.file == "Dockerfile" && p.kind == ProblemKind::FileInvalid));
    let editable: Vec<String> = collected
        .in_valid_files()
        .iter()
        .map(|o| o.location.file.clone())
        .collect();
    assert_eq!(editable, ["good.Dockerfile"]);
}

/// A Kubernetes `List` nested past the walker's bound dropped the images inside silently.
#[test]
fn lists_nested_too_deep_are_refused_not_dropped() {
    let mut text = String::new();
    let levels = 20;
    for i in 0..levels {
        let pad = "  ".repeat(i * 2);
        let _ = write!(
            text,
            "{pad}apiVersion: v1\n{pad}kind: List\n{pad}items:\n{pad}- "
        );
        text.push('\n');
    }
    let pad = "  ".repeat(levels * 2);
    let _ = write!(text, "{pad}apiVersion: v1\n{pad}kind: Pod\n{pad}spec:\n{pad}  containers:\n{pad}  - name: a\n{pad}    image: evil.example.com/x:1\n");
    let file = SourceFile {
        path: "deep.yaml".into(),
        rel: "deep.yaml".to_owned(),
        kind: SourceKind::Kubernetes,
    };
    let (_, problems) = parse(&file, text.as_bytes(), &ParseOptions::default());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, ProblemKind::FileInvalid);
    assert!(
        problems[0].message.contains("`List` nested deeper"),
        "{problems:?}"
    );
}
