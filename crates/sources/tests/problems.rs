//! Per-file problems say what kind they are, so the policy can report unreadable files
//! (`file-invalid`) apart from bad values in image positions (`reference-invalid`).

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
