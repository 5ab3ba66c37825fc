//! Inline waiver comments found where each format has comments: which comments are read,
//! which lines each one concerns, and that a `#` in quoted text, a block scalar, a heredoc
//! or a `RUN` line is not a comment.

use std::ops::RangeInclusive;

use portcullis_sources::{inline_comments, InlineComment, SourceFile, SourceKind};

fn comments(kind: SourceKind, text: &str) -> Vec<InlineComment> {
    let file = SourceFile {
        path: "f".into(),
        rel: "dir/f".to_owned(),
        kind,
    };
    inline_comments(&file, text.as_bytes())
}

/// `(comment line, lines concerned, reason or error)` of each comment, checking that the
/// comment's span holds its text.
fn show(kind: SourceKind, text: &str) -> Vec<(u32, RangeInclusive<u32>, String)> {
    comments(kind, text)
        .into_iter()
        .map(|c| {
            assert!(
                text[c.location.span.clone()].starts_with("portcullis"),
                "{c:?}"
            );
            assert_eq!(c.location.file, "dir/f");
            let what = match c.parsed {
                Ok(parts) => {
                    assert_eq!(text[parts.reason.location.span.clone()], parts.reason.text);
                    parts.reason.text
                }
                Err(error) => format!("error: {}", error.message),
            };
            (c.location.line, c.lines, what)
        })
        .collect()
}

#[allow(clippy::reversed_empty_ranges)]
const EMPTY: RangeInclusive<u32> = 1..=0;

#[test]
fn dockerfile_waivers_stand_above_the_instruction_and_cover_all_its_lines() {
    let text = "\
# portcullis: ignore digest-not-pinned -- a
FROM nginx:1.27 AS base
# portcullis: ignore tag-denied -- b
# hadolint ignore=DL3006
# portcullis: ignore image-not-allowed -- c
COPY \\
  --from=busybox:1.36 /a /b

# portcullis: ignore tag-denied -- d

FROM alpine
RUN --mount=type=cache,target=/x \\
# portcullis: ignore tag-denied -- e
    --mount=from=debian:12,target=/y true
";
    assert_eq!(
        show(SourceKind::Dockerfile, text),
        [
            (1, 2..=2, "a".to_owned()),
            (3, 6..=7, "b".to_owned()),
            (5, 6..=7, "c".to_owned()),
            (9, EMPTY, "d".to_owned()),
            (13, EMPTY, "e".to_owned()),
        ]
    );
}

#[test]
fn dockerfile_hash_outside_comment_lines_is_not_a_waiver() {
    let text = "\
FROM alpine:3.20
RUN echo '# portcullis: ignore tag-denied -- shell text' # portcullis: ignore tag-denied -- shell comment
RUN <<EOF
# portcullis: ignore tag-denied -- heredoc body
EOF
COPY <<-EOT /x
\t# portcullis: ignore tag-denied -- heredoc body
\tEOT
";
    assert!(show(SourceKind::Dockerfile, text).is_empty());
}

#[test]
fn yaml_waivers_trail_their_line_or_stand_above_it() {
    let text = "\
services:
  web:
    image: nginx:1.27 # portcullis: ignore digest-not-pinned -- a
  db:
    # portcullis: ignore digest-not-pinned -- b
    # another comment
    image: \"postgres:16\"
  cache:
    image: 'redis # portcullis: ignore tag-denied -- quoted' #portcullis: ignore tag-denied -- c
# portcullis: ignore tag-denied -- d
";
    assert_eq!(
        show(SourceKind::Compose, text),
        [
            (3, 3..=3, "a".to_owned()),
            (5, 7..=7, "b".to_owned()),
            (9, 9..=9, "c".to_owned()),
            (10, EMPTY, "d".to_owned()),
        ]
    );
}

#[test]
fn yaml_hash_inside_scalars_is_text() {
    let text = "\
jobs:
  build:
    container: \"node:20 # portcullis: ignore tag-denied -- in double quotes\"
    steps:
      - run: |
          echo hi
          # portcullis: ignore tag-denied -- in a block scalar
      - run: >-
          # portcullis: ignore tag-denied -- folded
      - name: x#portcullis:ignore-no-blank-before-the-hash
# portcullis: ignore tag-denied -- after the block scalar
    services:
      db: { image: 'a#b', ports: [1] } # portcullis: ignore tag-missing -- flow
";
    assert_eq!(
        show(SourceKind::GithubWorkflow, text),
        [
            (11, 12..=12, "after the block scalar".to_owned()),
            (13, 13..=13, "flow".to_owned()),
        ]
    );
}

#[test]
fn every_yaml_kind_and_a_bom_keep_exact_spans() {
    for kind in [
        SourceKind::GitlabCi,
        SourceKind::Kubernetes,
        SourceKind::Compose,
    ] {
        let text = "\u{feff}a: 1 # portcullis: ignore tag-denied -- r\n";
        let found = comments(kind, text);
        assert_eq!(found.len(), 1, "{kind:?}");
        let parts = found[0].parsed.as_ref().unwrap();
        assert_eq!(&text[parts.rules[0].location.span.clone()], "tag-denied");
        assert_eq!(found[0].location.column, 8);
    }
}

#[test]
fn bad_grammar_is_handed_over_with_its_location() {
    let found = comments(
        SourceKind::Dockerfile,
        "# portcullis: ignore tag-denied\nFROM a\n",
    );
    let error = found[0].parsed.as_ref().unwrap_err();
    assert!(error.message.contains("reason"), "{}", error.message);
    assert_eq!((error.location.line, error.location.column), (1, 3));
    assert_eq!(found[0].lines, 2..=2);
}

#[test]
fn invalid_yaml_and_files_without_the_marker_have_none() {
    assert!(comments(
        SourceKind::Compose,
        "a: [\n# portcullis: ignore tag-denied -- r\n"
    )
    .is_empty());
    assert!(comments(SourceKind::Compose, "a: 1 # hadolint ignore=DL3006\n").is_empty());
}

#[test]
fn yaml_comments_after_empty_values_and_in_sequences_are_read() {
    let text = "\
a: # portcullis: ignore tag-denied -- after a null
spec:
  containers:
    - image: nginx:1.27 # portcullis: ignore digest-not-pinned -- in a sequence
    - name: x\r
      # portcullis: ignore digest-not-pinned -- crlf\r
      image: redis:7\r
";
    assert_eq!(
        show(SourceKind::Kubernetes, text),
        [
            (1, 1..=1, "after a null".to_owned()),
            (4, 4..=4, "in a sequence".to_owned()),
            (6, 7..=7, "crlf".to_owned()),
        ]
    );
}

/// A long run of stacked waiver comments is read in one pass: walking the run once per
/// comment would be quadratic in hostile input.
#[test]
fn a_long_run_of_stacked_comments_stays_linear() {
    let n = 100_000;
    let run = "# portcullis: ignore tag-denied -- r\n".repeat(n);
    let started = std::time::Instant::now();
    let docker = comments(SourceKind::Dockerfile, &format!("{run}FROM a\n"));
    let yaml = comments(SourceKind::Compose, &format!("{run}image: a\n"));
    assert_eq!((docker.len(), yaml.len()), (n, n));
    let last = u32::try_from(n + 1).unwrap();
    assert!(docker.iter().chain(&yaml).all(|c| c.lines == (last..=last)));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
