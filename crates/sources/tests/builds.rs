//! Dockerfiles read with what the rest of the tree says about their builds, end to end
//! through `portcullis_sources::collect` on real trees: the platforms of `[build]`, bake
//! files and compose `build:` sections (named contexts, args), and the `.env` beside a
//! compose file.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use portcullis_sources::{
    collect, Collected, DiscoverOptions, Occurrence, ParseOptions, Platform, Resolution,
};

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn platforms(names: &[&str]) -> Vec<Platform> {
    names.iter().map(|n| Platform::parse(n).unwrap()).collect()
}

fn run(files: &[(&str, &str)], platforms: Vec<Platform>) -> Collected {
    let dir = tempfile::tempdir().unwrap();
    for (rel, content) in files {
        write(dir.path(), rel, content);
    }
    let options = ParseOptions {
        platforms,
        ..ParseOptions::default()
    };
    collect(dir.path(), &DiscoverOptions::default(), &options).unwrap()
}

/// `file:line context image [literal `x`] [platform p]` per occurrence.
fn show(collected: &Collected) -> Vec<String> {
    collected.occurrences.iter().map(describe).collect()
}

fn describe(o: &Occurrence) -> String {
    let what = match &o.resolution {
        Resolution::Image(image) => image.to_string(),
        Resolution::Unresolved { variable } => format!("unresolved {variable}"),
    };
    let mut line = format!(
        "{}:{} {} {what}",
        o.location.file, o.location.line, o.context
    );
    if let Some(literal) = &o.literal {
        let _ = write!(line, " literal `{}`", literal.text);
    }
    if let Some(platform) = &o.platform {
        let _ = write!(line, " platform {platform}");
    }
    line
}

const DEFAULT: [&str; 2] = ["linux/amd64", "linux/arm64"];

#[test]
fn platform_args_give_one_occurrence_per_distinct_reference() {
    let dockerfile = "\
FROM --platform=$BUILDPLATFORM tonistiigi/xx:1.6 AS xx
FROM golang:1.22-$TARGETARCH AS build
FROM scratch AS binaries-linux
FROM scratch AS binaries-darwin
FROM binaries-$TARGETOS AS out
FROM --platform=$TARGETPLATFORM alpine:3.20
";
    let collected = run(&[("Dockerfile", dockerfile)], platforms(&DEFAULT));
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        [
            "Dockerfile:1 dockerfile-from docker.io/tonistiigi/xx:1.6 literal `tonistiigi/xx:1.6` platform $BUILDPLATFORM",
            "Dockerfile:2 dockerfile-from docker.io/library/golang:1.22-amd64",
            "Dockerfile:2 dockerfile-from docker.io/library/golang:1.22-arm64",
            "Dockerfile:6 dockerfile-from docker.io/library/alpine:3.20 literal `alpine:3.20` platform $TARGETPLATFORM",
        ]
    );
    // One platform: the `--platform` value is known.
    let one = run(&[("Dockerfile", dockerfile)], platforms(&["linux/arm/v7"]));
    assert_eq!(
        show(&one),
        [
            "Dockerfile:1 dockerfile-from docker.io/tonistiigi/xx:1.6 literal `tonistiigi/xx:1.6` platform linux/arm/v7",
            "Dockerfile:2 dockerfile-from docker.io/library/golang:1.22-arm",
            "Dockerfile:6 dockerfile-from docker.io/library/alpine:3.20 literal `alpine:3.20` platform linux/arm/v7",
        ]
    );
    // Without platforms (no policy value) the variable is unresolved, as before.
    let none = run(&[("Dockerfile", dockerfile)], Vec::new());
    assert!(show(&none).contains(&"Dockerfile:2 dockerfile-from unresolved TARGETARCH".to_owned()));
}

#[test]
fn platform_args_follow_buildkit_scoping() {
    let dockerfile = "\
FROM alpine:3.20 AS base
COPY --from=tool-$TARGETARCH / /
ARG TARGETARCH
COPY --from=tool-$TARGETARCH / /
ARG TARGETOS=plan9
COPY --from=tool-$TARGETOS / /
";
    let collected = run(&[("Dockerfile", dockerfile)], platforms(&DEFAULT));
    assert_eq!(
        show(&collected),
        [
            "Dockerfile:1 dockerfile-from docker.io/library/alpine:3.20 literal `alpine:3.20`",
            // Inside a stage, only after `ARG TARGETARCH`.
            "Dockerfile:2 dockerfile-copy-from unresolved TARGETARCH",
            "Dockerfile:4 dockerfile-copy-from docker.io/library/tool-amd64",
            "Dockerfile:4 dockerfile-copy-from docker.io/library/tool-arm64",
            // The platform value wins over a default, as a build arg does.
            "Dockerfile:6 dockerfile-copy-from docker.io/library/tool-linux",
        ]
    );
}

const BAKE: &str = r#"
variable "GO" {
  default = "1.22"
}
variable "BASE" { default = "alpine:3.20" }

target "_common" {
  args = { GO_VERSION = "${GO}" }
}

target "app" {
  inherits = ["_common"]
  context = "app"
  contexts = {
    src = "./src"
    base = "docker-image://${BASE}"
    tools = "docker-image://busybox:1.36"
    gen = "target:generator"
  }
}

target "app-next" {
  inherits = ["app"]
  args = { GO_VERSION = "1.23" }
}
"#;

const APP_DOCKERFILE: &str = "\
ARG GO_VERSION=1.21
FROM golang:${GO_VERSION} AS build
COPY --from=src . .
COPY --from=gen /out /out
COPY --from=tools /bin/sh /bin/sh
FROM base
";

#[test]
fn bake_targets_give_args_and_named_contexts() {
    let collected = run(
        &[
            ("docker-bake.hcl", BAKE),
            ("app/Dockerfile", APP_DOCKERFILE),
        ],
        platforms(&DEFAULT),
    );
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        [
            // Each target building the Dockerfile with another value: each reference once.
            "app/Dockerfile:2 dockerfile-from docker.io/library/golang:1.22",
            "app/Dockerfile:2 dockerfile-from docker.io/library/golang:1.23",
            // `tools` and `base` are images written in the bake file: no literal here.
            "app/Dockerfile:5 dockerfile-copy-from docker.io/library/busybox:1.36",
            "app/Dockerfile:6 dockerfile-from docker.io/library/alpine:3.20",
            // Where `pin` writes: the variable's default, and the context's own text.
            "docker-bake.hcl:16 build-context docker.io/library/alpine:3.20 literal `alpine:3.20`",
            "docker-bake.hcl:17 build-context docker.io/library/busybox:1.36 literal `busybox:1.36`",
        ]
    );
    let tools = &collected.occurrences[5];
    assert_eq!(tools.location.column, 29);
    // The variable's default is where `pin` writes the image `base` names.
    let base = collected.occurrences[4].literal.as_ref().unwrap();
    assert_eq!(&BAKE[base.span.clone()], "alpine:3.20");
    assert!(BAKE[..base.span.start].ends_with("variable \"BASE\" { default = \""));
}

#[test]
fn bake_json_and_override_files_are_read_too() {
    let json = r#"{
  "variable": { "TAG": { "default": "3.20" } },
  "target": {
    "web": {
      "dockerfile": "web.Dockerfile",
      "contexts": { "base": "docker-image://alpine:${TAG}" },
      "args": { "X": "json" }
    }
  }
}"#;
    let over = "target \"web\" {\n  args = { X = \"override\" }\n}\n";
    let dockerfile = "ARG X\nFROM base\nFROM x-$X\n";
    let collected = run(
        &[
            ("docker-bake.json", json),
            ("docker-bake.override.hcl", over),
            ("web.Dockerfile", dockerfile),
        ],
        Vec::new(),
    );
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        [
            "docker-bake.json:6 build-context docker.io/library/alpine:3.20",
            "web.Dockerfile:2 dockerfile-from docker.io/library/alpine:3.20",
            "web.Dockerfile:3 dockerfile-from docker.io/library/x-override",
        ]
    );
}

#[test]
fn a_bake_file_that_does_not_parse_is_a_problem_at_its_line() {
    let collected = run(
        &[("docker-bake.hcl", "target \"a\" {\n  context = \"open\n}\n")],
        Vec::new(),
    );
    let problem = &collected.problems[0];
    assert_eq!(
        (problem.file.as_str(), problem.line, problem.column),
        ("docker-bake.hcl", Some(2), Some(13))
    );
    assert!(
        problem
            .message
            .starts_with("invalid bake file: missing closing"),
        "{problem:?}"
    );
    let bad = run(
        &[(
            "docker-bake.hcl",
            "target \"a\" {\n  contexts = { b = \"docker-image://Bad Ref\" }\n}\n",
        )],
        Vec::new(),
    );
    assert_eq!(bad.problems.len(), 1, "{:?}", bad.problems);
    assert!(
        bad.problems[0].message.contains("`b`"),
        "{:?}",
        bad.problems
    );
}

#[test]
fn compose_build_sections_give_args_contexts_and_env() {
    let compose = "\
services:
  api:
    build:
      context: ./api
      dockerfile: Dockerfile.dev
      args:
        - VERSION=${VERSION}
      additional_contexts:
        base: docker-image://${BASE:-debian:12}
        local: ../shared
  worker:
    build: ./api
    image: ${REGISTRY}/worker:${VERSION}
";
    let env = "# versions\nexport VERSION=1.2\nREGISTRY='ghcr.io/acme'\n";
    let dockerfile = "ARG VERSION=0.1\nFROM app-base:$VERSION\nFROM base\nCOPY --from=local / /\n";
    let collected = run(
        &[
            ("compose.yaml", compose),
            (".env", env),
            ("api/Dockerfile.dev", dockerfile),
            (
                "api/Dockerfile",
                "ARG VERSION\nFROM plain:${VERSION:-none}\n",
            ),
        ],
        Vec::new(),
    );
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        [
            // `worker` passes no args: the default applies.
            "api/Dockerfile:2 dockerfile-from docker.io/library/plain:none",
            "api/Dockerfile.dev:2 dockerfile-from docker.io/library/app-base:1.2",
            "api/Dockerfile.dev:3 dockerfile-from docker.io/library/debian:12",
            "compose.yaml:9 build-context docker.io/library/debian:12 literal `debian:12`",
            "compose.yaml:13 compose-image ghcr.io/acme/worker:1.2",
        ]
    );
}

#[test]
fn without_env_compose_variables_stay_unresolved_and_a_bad_env_is_named() {
    let compose = "services:\n  web:\n    image: nginx:${TAG}\n";
    let plain = run(&[("compose.yaml", compose)], Vec::new());
    assert_eq!(
        show(&plain),
        ["compose.yaml:3 compose-image unresolved TAG"]
    );
    let bad = run(
        &[("compose.yaml", compose), (".env", "TAG=1\nthis is not\n")],
        Vec::new(),
    );
    let problem = &bad.problems[0];
    assert_eq!((problem.file.as_str(), problem.line), (".env", Some(2)));
    assert!(problem.message.contains("`this is not`"), "{problem:?}");
}

#[test]
fn compose_overrides_and_stack_files_are_read_with_their_env() {
    let collected = run(
        &[
            ("deploy/.env", "TAG=1.27\n"),
            (
                "deploy/compose.prod.yaml",
                "services:\n  a:\n    image: nginx:${TAG}\n",
            ),
            (
                "deploy/docker-compose.ci.yml",
                "services:\n  b:\n    image: redis:${TAG}\n",
            ),
            (
                "deploy/docker-stack.yml",
                "services:\n  c:\n    image: caddy:${TAG}\n",
            ),
        ],
        Vec::new(),
    );
    assert_eq!(
        show(&collected),
        [
            "deploy/compose.prod.yaml:3 compose-image docker.io/library/nginx:1.27",
            "deploy/docker-compose.ci.yml:3 compose-image docker.io/library/redis:1.27",
            "deploy/docker-stack.yml:3 compose-image docker.io/library/caddy:1.27",
        ]
    );
}

#[test]
fn compose_build_args_without_a_value_take_it_from_the_env_file() {
    // `- KEY` (list) and `KEY:` (map) take the value from the project's environment, which
    // is the `.env` beside the compose file; a key the `.env` lacks stays unset.
    let compose = "\
services:
  app:
    build:
      context: ./app
      args:
        - BASE_IMAGE
        - MISSING
  tool:
    build:
      context: ./tool
      args:
        TOOL_IMAGE:
";
    let collected = run(
        &[
            ("compose.yaml", compose),
            (
                ".env",
                "BASE_IMAGE=ghcr.io/acme/base:2\nTOOL_IMAGE=alpine:3.20\n",
            ),
            ("app/Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n"),
            ("tool/Dockerfile", "ARG TOOL_IMAGE\nFROM ${TOOL_IMAGE}\n"),
        ],
        Vec::new(),
    );
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        [
            "app/Dockerfile:2 dockerfile-from ghcr.io/acme/base:2",
            "tool/Dockerfile:2 dockerfile-from docker.io/library/alpine:3.20",
        ]
    );
}
