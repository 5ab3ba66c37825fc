//! Dockerfile parsing end to end through `portcullis_sources::parse`: every construct that
//! names an image, with exact spans (the text at each span is asserted), stage and `ARG`
//! semantics, and malformed input.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use portcullis_sources::{
    parse, Occurrence, ParseOptions, Problem, Resolution, SourceFile, SourceKind,
};

fn run_with(text: &str, build_args: &[(&str, &str)]) -> (Vec<Occurrence>, Vec<Problem>) {
    let file = SourceFile {
        path: "Dockerfile".into(),
        rel: "svc/Dockerfile".to_owned(),
        kind: SourceKind::Dockerfile,
    };
    let options = ParseOptions {
        build_args: build_args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..ParseOptions::default()
    };
    parse(&file, text.as_bytes(), &options)
}

/// One line per occurrence, `line:col context `text` => resolution [literal `x` [at l:c]]
/// [platform p]`, asserting that spans hold exactly the reported text.
fn show_with(text: &str, build_args: &[(&str, &str)]) -> Vec<String> {
    let (occurrences, problems) = run_with(text, build_args);
    assert!(problems.is_empty(), "unexpected problems: {problems:?}");
    occurrences.iter().map(|o| describe(text, o)).collect()
}

fn show(text: &str) -> Vec<String> {
    show_with(text, &[])
}

fn describe(text: &str, o: &Occurrence) -> String {
    assert_eq!(&text[o.location.span.clone()], o.text, "span of {o:?}");
    assert_eq!(o.location.file, "svc/Dockerfile");
    let resolution = match &o.resolution {
        Resolution::Image(image) => image.to_string(),
        Resolution::Unresolved { variable } => format!("unresolved {variable}"),
    };
    let mut line = format!(
        "{}:{} {} `{}` => {resolution}",
        o.location.line,
        o.location.column,
        o.context.as_str(),
        o.text
    );
    if let Some(literal) = &o.literal {
        assert_eq!(
            &text[literal.span.clone()],
            literal.text,
            "literal of {o:?}"
        );
        let _ = write!(line, " literal `{}`", literal.text);
        if literal.span != o.location.span {
            let before = &text[..literal.span.start];
            let l = before.matches('\n').count() + 1;
            let c = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            let _ = write!(line, " at {l}:{c}");
        }
    }
    if let Some(platform) = &o.platform {
        let _ = write!(line, " platform {platform}");
    }
    line
}

#[test]
fn from_with_platform_alias_and_end_position() {
    let text = "FROM --platform=linux/arm64 nginx:1.27 AS web\nfrom ghcr.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    assert_eq!(
        show(text),
        [
            "1:29 dockerfile-from `nginx:1.27` => docker.io/library/nginx:1.27 literal `nginx:1.27` platform linux/arm64",
            "2:6 dockerfile-from `ghcr.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef` => ghcr.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef literal `ghcr.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`",
        ]
    );
    let (occ, _) = run_with(text, &[]);
    assert_eq!(
        (occ[0].location.end_line, occ[0].location.end_column),
        (1, 39)
    );
}

#[test]
fn platform_variables_are_kept_as_written() {
    let text = "ARG PLAT=linux/amd64\nFROM --platform=$BUILDPLATFORM golang:1.23 AS build\nFROM --platform=${PLAT} alpine:3.20\nFROM --platform=$TARGETPLATFORM debian:12\n";
    assert_eq!(
        show(text),
        [
            "2:32 dockerfile-from `golang:1.23` => docker.io/library/golang:1.23 literal `golang:1.23` platform $BUILDPLATFORM",
            "3:25 dockerfile-from `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20` platform linux/amd64",
            "4:33 dockerfile-from `debian:12` => docker.io/library/debian:12 literal `debian:12` platform $TARGETPLATFORM",
        ]
    );
}

#[test]
fn syntax_directive_is_an_image_reference() {
    let text = "# syntax=docker/dockerfile:1.7\nFROM alpine\n";
    assert_eq!(
        show(text),
        [
            "1:10 dockerfile-syntax `docker/dockerfile:1.7` => docker.io/docker/dockerfile:1.7 literal `docker/dockerfile:1.7`",
            "2:6 dockerfile-from `alpine` => docker.io/library/alpine literal `alpine`",
        ]
    );
    // Not a directive once an instruction, comment or blank line came first.
    assert_eq!(show("FROM alpine\n# syntax=docker/dockerfile:1\n").len(), 1);
    assert_eq!(
        show("\n# syntax=docker/dockerfile:1\nFROM alpine\n").len(),
        1
    );
    assert_eq!(
        show("# hello\n# syntax=docker/dockerfile:1\nFROM alpine\n").len(),
        1
    );
    // Case-insensitive name, blanks around `=`.
    assert_eq!(show("#  SYNTAX = docker/dockerfile:1  \nFROM alpine\n")[0], "1:13 dockerfile-syntax `docker/dockerfile:1` => docker.io/docker/dockerfile:1 literal `docker/dockerfile:1`");
}

#[test]
fn stages_aliases_indexes_and_scratch_are_not_images() {
    let text = "\
FROM golang:1.23 AS Build
FROM scratch AS empty
FROM build AS test
COPY --from=BUILD /out /out
COPY --from=0 /a /a
COPY --from=later /b /b
COPY --from=busybox:1.36 /bin/sh /sh
RUN --mount=type=bind,from=build,target=/x true
FROM debian:12 AS later
";
    assert_eq!(
        show(text),
        [
            "1:6 dockerfile-from `golang:1.23` => docker.io/library/golang:1.23 literal `golang:1.23`",
            "7:13 dockerfile-copy-from `busybox:1.36` => docker.io/library/busybox:1.36 literal `busybox:1.36`",
            "9:6 dockerfile-from `debian:12` => docker.io/library/debian:12 literal `debian:12`",
        ]
    );
}

#[test]
fn from_a_later_stage_name_is_an_image() {
    // `FROM` can only build on an earlier stage, so `alpine` here is the image.
    let text = "FROM alpine AS base\nFROM base\nFROM node AS alpine\n";
    let lines = show(text);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("1:6 dockerfile-from `alpine`"));
    assert!(lines[1].starts_with("3:6 dockerfile-from `node`"));
}

#[test]
fn copy_and_add_from_and_run_mounts() {
    let text = "\
FROM alpine:3.20
COPY --chown=1:1 --from=ghcr.io/acme/tools:2 /t /t
ADD --from=quay.io/x/y:1 /a /a
RUN --mount=type=cache,target=/root/.cache --mount=type=bind,from=docker.io/library/rust:1,source=/usr,target=/r cargo build
RUN --mount=from=\"gcr.io/distroless/static:nonroot\",target=/d true
RUN --network=none --mount=type=secret,id=x echo --from=not-a-flag-here
";
    assert_eq!(
        show(text),
        [
            "1:6 dockerfile-from `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20`",
            "2:25 dockerfile-copy-from `ghcr.io/acme/tools:2` => ghcr.io/acme/tools:2 literal `ghcr.io/acme/tools:2`",
            "3:12 dockerfile-copy-from `quay.io/x/y:1` => quay.io/x/y:1 literal `quay.io/x/y:1`",
            "4:67 dockerfile-run-mount `docker.io/library/rust:1` => docker.io/library/rust:1 literal `docker.io/library/rust:1`",
            "5:19 dockerfile-run-mount `gcr.io/distroless/static:nonroot` => gcr.io/distroless/static:nonroot literal `gcr.io/distroless/static:nonroot`",
        ]
    );
}

#[test]
fn instructions_are_case_insensitive() {
    let text = "from alpine AS a\ncOpY --from=busybox /x /x\nfRoM A\n";
    let lines = show(text);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("2:13 dockerfile-copy-from `busybox`"));
}

#[test]
fn global_args_feed_from_and_literal_points_at_the_default() {
    let text = "\
ARG BASE=alpine:3.20
ARG REG=\"ghcr.io\" NODEF
ARG TAG='1.2'
FROM $BASE
FROM ${BASE}
FROM ${REG}/acme/app:${TAG}
FROM $NODEF
FROM $UNDECLARED
FROM ${UNDECLARED:-debian:12}
FROM ${NODEF:-busybox}
FROM ${BASE:+redis:7}
FROM node-$TARGETARCH
";
    assert_eq!(
        show(text),
        [
            "4:6 dockerfile-from `$BASE` => docker.io/library/alpine:3.20 literal `alpine:3.20` at 1:10",
            "5:6 dockerfile-from `${BASE}` => docker.io/library/alpine:3.20 literal `alpine:3.20` at 1:10",
            "6:6 dockerfile-from `${REG}/acme/app:${TAG}` => ghcr.io/acme/app:1.2",
            "7:6 dockerfile-from `$NODEF` => unresolved NODEF",
            "8:6 dockerfile-from `$UNDECLARED` => unresolved UNDECLARED",
            "9:6 dockerfile-from `${UNDECLARED:-debian:12}` => docker.io/library/debian:12",
            "10:6 dockerfile-from `${NODEF:-busybox}` => docker.io/library/busybox",
            "11:6 dockerfile-from `${BASE:+redis:7}` => docker.io/library/redis:7",
            "12:6 dockerfile-from `node-$TARGETARCH` => unresolved TARGETARCH",
        ]
    );
}

#[test]
fn quoted_arg_default_literal_is_inside_the_quotes() {
    let text = "ARG BASE=\"nginx:1.27\"\nFROM $BASE\n";
    assert_eq!(show(text), ["2:6 dockerfile-from `$BASE` => docker.io/library/nginx:1.27 literal `nginx:1.27` at 1:11"]);
}

#[test]
fn stage_args_are_scoped_to_their_stage() {
    let text = "\
ARG TOOLS=busybox:1.36
FROM alpine AS one
COPY --from=$TOOLS /a /a
ARG TOOLS
COPY --from=$TOOLS /b /b
ARG LOCAL=ghcr.io/x/local:1
RUN --mount=from=${LOCAL},target=/l true
FROM alpine AS two
COPY --from=$LOCAL /c /c
";
    assert_eq!(
        show(text),
        [
            "2:6 dockerfile-from `alpine` => docker.io/library/alpine literal `alpine`",
            // A global ARG is not visible in a stage until it is declared there.
            "3:13 dockerfile-copy-from `$TOOLS` => unresolved TOOLS",
            "5:13 dockerfile-copy-from `$TOOLS` => docker.io/library/busybox:1.36 literal `busybox:1.36` at 1:11",
            "7:18 dockerfile-run-mount `${LOCAL}` => ghcr.io/x/local:1 literal `ghcr.io/x/local:1` at 6:11",
            "8:6 dockerfile-from `alpine` => docker.io/library/alpine literal `alpine`",
            "9:13 dockerfile-copy-from `$LOCAL` => unresolved LOCAL",
        ]
    );
}

#[test]
fn stage_local_args_are_not_visible_in_later_from() {
    let text = "FROM alpine\nARG NEXT=debian:12\nFROM $NEXT\n";
    assert_eq!(
        show(text)[1],
        "3:6 dockerfile-from `$NEXT` => unresolved NEXT"
    );
}

#[test]
fn arg_defaults_can_use_earlier_args() {
    let text = "ARG VERSION=3.20\nARG BASE=alpine:${VERSION}\nFROM $BASE\n";
    // The default is not a literal: pinning must not edit `alpine:${VERSION}`.
    assert_eq!(
        show(text),
        ["3:6 dockerfile-from `$BASE` => docker.io/library/alpine:3.20"]
    );
}

#[test]
fn build_args_override_defaults_and_drop_the_literal() {
    let text = "ARG BASE=alpine:3.20\nARG NODEF\nFROM $BASE\nFROM $NODEF\nFROM alpine AS s\nARG IN=busybox\nCOPY --from=$IN / /\n";
    assert_eq!(
        show_with(
            text,
            &[
                ("BASE", "debian:12"),
                ("NODEF", "redis:7"),
                ("IN", "ghcr.io/x/y:1"),
                ("UNUSED", "x")
            ]
        ),
        [
            "3:6 dockerfile-from `$BASE` => docker.io/library/debian:12",
            "4:6 dockerfile-from `$NODEF` => docker.io/library/redis:7",
            "5:6 dockerfile-from `alpine` => docker.io/library/alpine literal `alpine`",
            "7:13 dockerfile-copy-from `$IN` => ghcr.io/x/y:1",
        ]
    );
    // A build arg for an undeclared variable is ignored, as BuildKit does.
    assert_eq!(
        show_with("FROM $X\n", &[("X", "alpine")]),
        ["1:6 dockerfile-from `$X` => unresolved X"]
    );
}

#[test]
fn variable_resolving_to_a_stage_name_is_a_stage() {
    let text = "ARG STAGE=builder\nFROM alpine AS builder\nFROM $STAGE\n";
    assert_eq!(show(text).len(), 1);
}

#[test]
fn continuation_lines_comments_and_escape_directive() {
    let text = "FROM \\\n  # a comment inside\n\n  --platform=linux/amd64 \\\n  alpine:3.20 \\\n  AS base\n";
    assert_eq!(show(text), ["5:3 dockerfile-from `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20` platform linux/amd64"]);

    let windows = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022 `\n  AS base\nRUN dir c:\\ `\n  && echo hi\nCOPY --from=base c:\\x c:\\y\n";
    assert_eq!(
        show(windows),
        ["2:6 dockerfile-from `mcr.microsoft.com/windows/servercore:ltsc2022` => mcr.microsoft.com/windows/servercore:ltsc2022 literal `mcr.microsoft.com/windows/servercore:ltsc2022`"]
    );
    // With the default escape a trailing backtick is just text: `AS base` is a new line,
    // so `FROM` has two arguments and BuildKit would reject it.
    let (_, problems) = run_with("FROM alpine `\nAS base\n", &[]);
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn invalid_escape_directive_is_a_problem() {
    let (occ, problems) = run_with("# escape=x\nFROM alpine\n", &[]);
    assert_eq!(occ.len(), 1);
    assert_eq!((problems[0].line, problems[0].column), (Some(1), Some(10)));
    assert!(problems[0].message.contains("`x`"), "{problems:?}");
}

#[test]
fn heredoc_bodies_are_ignored() {
    let text = "\
FROM alpine:3.20
RUN <<EOF
FROM evil:1
COPY --from=evil:2 / /
EOF
COPY <<-\"ONE\" <<TWO /dst/
\tFROM evil:3
\tONE
FROM evil:4
TWO
RUN cat <<'X' > /f && echo done
FROM evil:5
X
FROM debian:12
";
    assert_eq!(
        show(text),
        [
            "1:6 dockerfile-from `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20`",
            "14:6 dockerfile-from `debian:12` => docker.io/library/debian:12 literal `debian:12`",
        ]
    );
}

#[test]
fn crlf_line_endings() {
    let text = "# syntax=docker/dockerfile:1\r\nARG B=alpine:3.20\r\nFROM $B \\\r\n  AS x\r\nCOPY --from=busybox:1 / /\r\n";
    assert_eq!(
        show(text),
        [
            "1:10 dockerfile-syntax `docker/dockerfile:1` => docker.io/docker/dockerfile:1 literal `docker/dockerfile:1`",
            "3:6 dockerfile-from `$B` => docker.io/library/alpine:3.20 literal `alpine:3.20` at 2:7",
            "5:13 dockerfile-copy-from `busybox:1` => docker.io/library/busybox:1 literal `busybox:1`",
        ]
    );
}

#[test]
fn byte_order_mark_is_skipped_but_counted_in_spans() {
    let text = "\u{feff}FROM alpine:3.20\n";
    let (occ, problems) = run_with(text, &[]);
    assert!(problems.is_empty());
    assert_eq!(&text[occ[0].location.span.clone()], "alpine:3.20");
    assert_eq!(
        &text[occ[0].literal.as_ref().unwrap().span.clone()],
        "alpine:3.20"
    );
    assert_eq!((occ[0].location.line, occ[0].location.column), (1, 6));
    let text = "\u{feff}# syntax=docker/dockerfile:1\nFROM a\n";
    assert_eq!(run_with(text, &[]).0.len(), 2, "directive after a BOM");
}

#[test]
fn invalid_reference_is_a_problem_quoting_the_text() {
    let (occ, problems) = run_with("FROM alpine\nFROM Not/Valid:tag\n", &[]);
    assert_eq!(occ.len(), 1);
    assert_eq!(problems.len(), 1);
    let p = &problems[0];
    assert_eq!(
        (p.file.as_str(), p.line, p.column),
        ("svc/Dockerfile", Some(2), Some(6))
    );
    assert!(p.message.contains("`Not/Valid:tag`"), "{}", p.message);

    let (_, problems) = run_with("ARG B=UPPER\nFROM $B\n", &[]);
    assert!(
        problems[0].message.contains("`$B` expands to `UPPER`"),
        "{}",
        problems[0].message
    );

    let (_, problems) = run_with("FROM ${BAD\n", &[]);
    assert!(
        problems[0].message.contains("`${BAD`"),
        "{}",
        problems[0].message
    );
}

#[test]
fn truncated_files_do_not_panic() {
    for text in [
        "FROM alpine \\",
        "FROM \\\n",
        "RUN <<EOF\nFROM x",
        "FROM",
        "ARG",
        "ARG =x\n",
        "COPY --from=",
        "RUN --mount=from=",
        "FROM --platform=",
        "\\",
        "# syntax=",
        "FROM ${",
        "FROM \"unterminated",
    ] {
        let _ = run_with(text, &[]);
    }
    let (_, problems) = run_with("FROM alpine\nRUN <<EOF\nFROM x\n", &[]);
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("unterminated heredoc `EOF`")),
        "{problems:?}"
    );
}

#[test]
fn binary_and_non_utf8_input_are_problems() {
    let file = SourceFile {
        path: "Dockerfile".into(),
        rel: "Dockerfile".to_owned(),
        kind: SourceKind::Dockerfile,
    };
    let (occ, problems) = parse(&file, b"FROM alpine\n\xff\xfe", &ParseOptions::default());
    assert!(occ.is_empty());
    assert_eq!(
        problems[0].message,
        "`Dockerfile`: not UTF-8 text (invalid byte at offset 12)"
    );
    let (_, problems) = parse(&file, b"FROM alpine\n\0\0", &ParseOptions::default());
    assert_eq!(
        problems[0].message,
        "`Dockerfile`: binary file (NUL byte at offset 12)"
    );
}

#[test]
fn ten_megabyte_single_line() {
    let mut text = String::from("RUN echo ");
    text.push_str(&"a".repeat(10 * 1024 * 1024));
    text.push_str("\nFROM alpine\n");
    assert_eq!(show(&text).len(), 1);
    let long = format!("FROM {}\nFROM alpine\n", "a".repeat(10 * 1024 * 1024));
    let (occ, problems) = run_with(&long, &[]);
    assert_eq!(occ.len(), 1);
    assert!(
        problems[0]
            .message
            .ends_with("image reference is 10485760 bytes long"),
        "{problems:?}"
    );
}

#[test]
fn onbuild_and_other_instructions_are_not_references() {
    let text = "FROM alpine\nONBUILD COPY --from=evil:1 / /\nLABEL from=evil:2\nENV X=evil:3\n";
    assert_eq!(show(text).len(), 1);
}

#[test]
fn reference_split_by_a_continuation_is_found_but_not_editable() {
    let text = "FROM alp\\\nine:3.20\n";
    let (occ, problems) = run_with(text, &[]);
    assert!(problems.is_empty(), "{problems:?}");
    let o = &occ[0];
    assert_eq!(o.text, "alpine:3.20");
    assert_eq!(&text[o.location.span.clone()], "alp\\\nine:3.20");
    assert_eq!(
        (
            o.location.line,
            o.location.column,
            o.location.end_line,
            o.location.end_column
        ),
        (1, 6, 2, 9)
    );
    assert_eq!(
        o.literal, None,
        "a pin must not write across the line break"
    );
}

#[test]
fn pinned_base_images_are_the_digest_pinned_from_images_once_each() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let text = format!(
        "FROM golang:1.22@{digest} AS build\n\
         FROM build AS test\n\
         COPY --from=alpine:3.20@{digest} /x /x\n\
         FROM debian:12\n\
         FROM golang:1.22@{digest}\n"
    );
    let (occurrences, problems) = run_with(&text, &[]);
    assert!(problems.is_empty(), "{problems:?}");
    let bases: Vec<String> = portcullis_sources::pinned_base_images(&occurrences)
        .iter()
        .map(ToString::to_string)
        .collect();
    // The stage is no image, COPY --from is no base, the unpinned one states no digest,
    // and the repeated one counts once.
    assert_eq!(bases, [format!("docker.io/library/golang:1.22@{digest}")]);
}
