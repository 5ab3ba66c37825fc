//! Bake `matrix` targets, end to end through `portcullis_sources::collect`: each
//! combination is one build of the Dockerfile, so `FROM $BASE` names every image the matrix
//! spells; what the evaluator does not understand stays unresolved, and a matrix too large
//! to expand is a problem at its target's line.

use std::fmt::Write as _;
use std::fs;

use portcullis_sources::{collect, Collected, DiscoverOptions, ParseOptions, Resolution};

const DOCKERFILE: &str = "ARG BASE\nFROM $BASE\n";

fn run(bake: &str) -> Collected {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Dockerfile"), DOCKERFILE).unwrap();
    fs::write(dir.path().join("docker-bake.hcl"), bake).unwrap();
    collect(
        dir.path(),
        &DiscoverOptions::default(),
        &ParseOptions::default(),
    )
    .unwrap()
}

/// `file:line image` (or `unresolved X`) per occurrence, sorted.
fn show(collected: &Collected) -> Vec<String> {
    let mut lines: Vec<String> = collected
        .occurrences
        .iter()
        .map(|o| {
            let what = match &o.resolution {
                Resolution::Image(image) => image.to_string(),
                Resolution::Unresolved { variable } => format!("unresolved {variable}"),
            };
            format!("{}:{} {what}", o.location.file, o.location.line)
        })
        .collect();
    lines.sort();
    lines
}

fn from_lines(images: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = images.iter().map(|i| format!("Dockerfile:2 {i}")).collect();
    lines.sort();
    lines
}

#[test]
fn a_literal_list_of_strings_builds_once_per_value() {
    let collected = run(r#"
target "app" {
  matrix = { tag = ["3.19", "3.20"] }
  name = "app-${replace(tag, ".", "-")}"
  args = { BASE = "alpine:${tag}" }
}
"#);
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        from_lines(&[
            "docker.io/library/alpine:3.19",
            "docker.io/library/alpine:3.20"
        ])
    );
}

#[test]
fn several_names_build_every_combination() {
    let collected = run(r#"
target "app" {
  matrix = {
    distro = ["alpine", "debian"]
    tag = ["1", "2"]
  }
  args = { BASE = "${distro}:${tag}" }
}
"#);
    assert_eq!(
        show(&collected),
        from_lines(&[
            "docker.io/library/alpine:1",
            "docker.io/library/alpine:2",
            "docker.io/library/debian:1",
            "docker.io/library/debian:2",
        ])
    );
}

#[test]
fn a_list_of_objects_is_read_by_attribute_with_replace() {
    // gitlab-runner's helper images: `${item.version}` with `:` replaced in the tag.
    let collected = run(r#"
variable "REG" { default = "registry.example.com/helper" }
target "windows" {
  name = "windows-${replace(item.version, ":", "-")}"
  matrix = {
    item = [
      { version = "nanoserver:ltsc2019", arch = "amd64" },
      { version = "servercore:ltsc2025-arm64", arch = "arm64" }
    ]
  }
  args = { BASE = "${REG}:${replace(item.version, ":", "-")}-${item.arch}" }
}
"#);
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        from_lines(&[
            "registry.example.com/helper:nanoserver-ltsc2019-amd64",
            "registry.example.com/helper:servercore-ltsc2025-arm64-arm64",
        ])
    );
}

#[test]
fn top_level_attributes_and_keys_and_values_of_maps() {
    let collected = run(r#"
common-platforms = ["linux/amd64", "linux/arm64"]
alpine-platforms = {
  "3.21" : common-platforms,
  "edge" : ["linux/amd64"],
}
target "alpine" {
  matrix = { version = keys(alpine-platforms) }
  args = { BASE = "alpine:${version}" }
}
target "plain" {
  matrix = { platform = common-platforms }
  args = { BASE = "busybox:${split("/", platform)[1]}" }
}
"#);
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        from_lines(&[
            "docker.io/library/alpine:3.21",
            "docker.io/library/alpine:edge",
            "docker.io/library/busybox:amd64",
            "docker.io/library/busybox:arm64",
        ])
    );
}

#[test]
fn a_for_expression_with_flatten_and_split() {
    // gitlab-runner's helper `alpine` target, verbatim in form.
    let collected = run(r#"
common-platforms = ["linux/amd64", "linux/arm64"]
alpine-platforms = {
  "3.21" : common-platforms,
  "latest" : ["linux/s390x"],
}
target "alpine" {
  name = "alpine-${replace(v.version, ".", "-")}-${v.arch}"
  matrix = {
    v = flatten([
      for key, values in alpine-platforms : [
        for plat in values : { version : key, arch : split("/", plat)[1] }
      ]
    ])
  }
  args = { BASE = "runner:${v.version}-${v.arch}" }
  output = ["x${v.version == "latest" ? "-${v.version}" : v.version}-${v.arch}.tar"]
}
"#);
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        show(&collected),
        from_lines(&[
            "docker.io/library/runner:3.21-amd64",
            "docker.io/library/runner:3.21-arm64",
            "docker.io/library/runner:latest-s390x",
        ])
    );
}

#[test]
fn a_matrix_the_evaluator_does_not_understand_stays_unresolved() {
    // Never a guess: an unknown function leaves `BASE` without a value.
    let collected = run(r#"
target "app" {
  matrix = { tag = regex_all("[0-9]+", "1 2") }
  args = { BASE = "alpine:${tag}" }
}
"#);
    assert_eq!(show(&collected), ["Dockerfile:2 unresolved BASE"]);
    // A known matrix whose arg uses an expression outside the subset.
    let collected = run(r#"
target "app" {
  matrix = { tag = ["1", "2"] }
  args = { BASE = "alpine:${substr(tag, 0, 1)}" }
}
"#);
    assert_eq!(show(&collected), ["Dockerfile:2 unresolved BASE"]);
}

#[test]
fn an_empty_matrix_value_builds_nothing() {
    // As bake: no combination, no build; the Dockerfile alone has no value for `BASE`.
    let collected = run(r#"
target "app" {
  matrix = { tag = [] }
  args = { BASE = "alpine:${tag}" }
}
"#);
    assert_eq!(show(&collected), ["Dockerfile:2 unresolved BASE"]);
}

#[test]
fn a_matrix_over_the_bound_is_a_problem_at_its_target() {
    let eleven = (0..11)
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let collected = run(&format!(
        "\ntarget \"big\" {{\n  matrix = {{\n    a = [{eleven}]\n    b = [{eleven}]\n    \
         c = [{eleven}]\n  }}\n  args = {{ BASE = \"alpine:${{a}}${{b}}${{c}}\" }}\n}}\n"
    ));
    assert_eq!(collected.problems.len(), 1, "{:?}", collected.problems);
    let problem = &collected.problems[0];
    assert_eq!(problem.file, "docker-bake.hcl");
    assert_eq!(problem.line, Some(2));
    assert!(
        problem.message.contains("`big`") && problem.message.contains("1331 combinations"),
        "{problem:?}"
    );
    assert_eq!(show(&collected), ["Dockerfile:2 unresolved BASE"]);
}

#[test]
fn image_contexts_of_a_matrix_target_name_each_image_once() {
    let collected = run(r#"
target "app" {
  matrix = {
    tag = ["3.19", "3.20"]
    arch = ["amd64", "arm64"]
  }
  contexts = { base = "docker-image://alpine:${tag}" }
}
"#);
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    let bake: Vec<String> = show(&collected)
        .into_iter()
        .filter(|l| l.starts_with("docker-bake.hcl"))
        .collect();
    assert_eq!(
        bake,
        [
            "docker-bake.hcl:7 docker.io/library/alpine:3.19",
            "docker-bake.hcl:7 docker.io/library/alpine:3.20",
        ]
    );
    // Written with a matrix value, the context is no literal `pin` could rewrite.
    assert!(collected.occurrences.iter().all(|o| o.literal.is_none()));
}

#[test]
fn values_that_grow_exponentially_are_refused_not_built() {
    // Each attribute lists the previous one ten times: 10^12 strings if built.
    let mut bake = String::from("a0 = [\"x\", \"y\"]\n");
    for i in 1..=12 {
        let previous = vec![format!("a{}", i - 1); 10].join(", ");
        writeln!(bake, "a{i} = [{previous}]").unwrap();
    }
    bake.push_str(
        "target \"app\" {\n  matrix = { v = flatten(a12) }\n  args = { BASE = \"alpine:${v}\" }\n}\n",
    );
    let collected = run(&bake);
    assert_eq!(show(&collected), ["Dockerfile:2 unresolved BASE"]);
}
