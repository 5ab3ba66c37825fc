//! YAML sources end to end through `portcullis_sources::parse`: every kind, exact
//! line/column and span text, variables, anchors, and the problems users see.

use std::fmt::Write as _;

use portcullis_sources::{
    parse, Occurrence, ParseOptions, Problem, Resolution, SourceFile, SourceKind,
};

fn run(kind: SourceKind, rel: &str, text: &str) -> (Vec<Occurrence>, Vec<Problem>) {
    let file = SourceFile {
        path: rel.into(),
        rel: rel.to_owned(),
        kind,
    };
    parse(&file, text.as_bytes(), &ParseOptions::default())
}

/// One line per occurrence: `line:col context `span text` => resolution [literal `text`]`,
/// checking on the way that the span and literal really hold that text.
fn show(text: &str, occurrences: &[Occurrence]) -> Vec<String> {
    occurrences
        .iter()
        .map(|o| {
            assert_eq!(&text[o.location.span.clone()], o.text, "span text of {o:?}");
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
                    "literal text of {o:?}"
                );
                let _ = write!(line, " literal `{}`", literal.text);
                if literal.span != o.location.span {
                    let (l, c) = line_col(text, literal.span.start);
                    let _ = write!(line, " at {l}:{c}");
                }
            }
            if let Some(platform) = &o.platform {
                let _ = write!(line, " platform {platform}");
            }
            line
        })
        .collect()
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

fn messages(problems: &[Problem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{} {}",
                p.file,
                p.line.unwrap_or(0),
                p.column.unwrap_or(0),
                p.message
            )
        })
        .collect()
}

fn clean(kind: SourceKind, rel: &str, text: &str) -> Vec<String> {
    let (occurrences, problems) = run(kind, rel, text);
    assert_eq!(problems, [], "unexpected problems");
    show(text, &occurrences)
}

#[test]
fn compose_images_platforms_and_quotes() {
    let text = "services:\n  web:\n    image: nginx:1.27\n    platform: linux/arm64\n  db:\n    image: \"postgres:16\" # pinned later\n  cache:\n    image: 'redis:7'\n  built:\n    build: .\n";
    assert_eq!(
        clean(SourceKind::Compose, "compose.yaml", text),
        [
            "3:12 compose-image `nginx:1.27` => docker.io/library/nginx:1.27 literal `nginx:1.27` platform linux/arm64",
            "6:13 compose-image `postgres:16` => docker.io/library/postgres:16 literal `postgres:16`",
            "8:13 compose-image `redis:7` => docker.io/library/redis:7 literal `redis:7`",
        ]
    );
}

#[test]
fn compose_interpolation() {
    let text = concat!(
        "services:\n",
        "  a:\n    image: ${IMAGE}\n",
        "  b:\n    image: \"${WEB_IMAGE:-ghcr.io/acme/web:2}\"\n",
        "  c:\n    image: registry.example.com/app:${TAG:-1.0}\n",
        "  d:\n    image: $$weird\n",
        "  e:\n    image: ${BROKEN\n",
    );
    let (occurrences, problems) = run(SourceKind::Compose, "docker-compose.yml", text);
    assert_eq!(
        show(text, &occurrences),
        [
            "3:12 compose-image `${IMAGE}` => unresolved IMAGE",
            // The default's text is what `pin` edits.
            "5:13 compose-image `${WEB_IMAGE:-ghcr.io/acme/web:2}` => ghcr.io/acme/web:2 literal `ghcr.io/acme/web:2` at 5:26",
            "7:12 compose-image `registry.example.com/app:${TAG:-1.0}` => registry.example.com/app:1.0",
        ]
    );
    let messages = messages(&problems);
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("docker-compose.yml:9:12 `services.d.image`: "),
        "{messages:?}"
    );
    assert!(messages[0].contains("`$weird`"), "{messages:?}");
    assert_eq!(
        messages[1],
        "docker-compose.yml:11:12 `services.e.image`: unterminated `${BROKEN` in `${BROKEN`"
    );
}

#[test]
fn anchors_aliases_and_merge_keys_report_each_span_once() {
    let text = concat!(
        "x-base: &base\n  image: &img alpine:3.20\n  restart: always\n",
        "services:\n",
        "  one:\n    <<: *base\n",
        "  two:\n    <<: *base\n",
        "  three:\n    image: *img\n",
        "  four:\n    <<: *base\n    image: busybox:1.36\n",
    );
    assert_eq!(
        clean(SourceKind::Compose, "compose.yaml", text),
        [
            "2:15 compose-image `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20`",
            "13:12 compose-image `busybox:1.36` => docker.io/library/busybox:1.36 literal `busybox:1.36`",
        ]
    );
}

#[test]
fn kubernetes_workloads_multi_document() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/yaml/workloads.yaml"
    ))
    .unwrap();
    assert_eq!(
        clean(SourceKind::Kubernetes, "deploy/workloads.yaml", &text),
        [
            "10:18 kubernetes-init-container `busybox:1.36` => docker.io/library/busybox:1.36 literal `busybox:1.36`",
            "13:19 kubernetes-container `ghcr.io/acme/api:1.4.2` => ghcr.io/acme/api:1.4.2 literal `ghcr.io/acme/api:1.4.2`",
            "26:16 kubernetes-container `registry.k8s.io/pause:3.9` => registry.k8s.io/pause:3.9 literal `registry.k8s.io/pause:3.9`",
            "34:12 kubernetes-ephemeral-container `busybox:1.36-debug` => docker.io/library/busybox:1.36-debug literal `busybox:1.36-debug`",
            "36:12 kubernetes-container `nginx:1.27` => docker.io/library/nginx:1.27 literal `nginx:1.27`",
            "44:19 kubernetes-container `quay.io/prometheus/node-exporter:v1.8.0` => quay.io/prometheus/node-exporter:v1.8.0 literal `quay.io/prometheus/node-exporter:v1.8.0`",
            "53:16 kubernetes-container `redis:7` => docker.io/library/redis:7 literal `redis:7`",
        ]
    );
}

#[test]
fn kubernetes_list_and_cronjob_and_pod_template() {
    let text = concat!(
        "apiVersion: v1\nkind: List\nitems:\n",
        "- apiVersion: batch/v1\n  kind: CronJob\n  spec:\n    jobTemplate:\n      spec:\n        template:\n          spec:\n            containers:\n            - name: backup\n              image: \"alpine:3.20\"\n",
        "- apiVersion: v1\n  kind: PodTemplate\n  template:\n    spec:\n      containers:\n      - image: debian:12\n",
        "- apiVersion: v1\n  kind: PodList\n  items:\n  - apiVersion: v1\n    kind: Pod\n    spec:\n      containers:\n      - image: ubuntu:24.04\n",
    );
    assert_eq!(
        clean(SourceKind::Kubernetes, "all.yaml", text),
        [
            "13:23 kubernetes-container `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20`",
            "19:16 kubernetes-container `debian:12` => docker.io/library/debian:12 literal `debian:12`",
            "27:16 kubernetes-container `ubuntu:24.04` => docker.io/library/ubuntu:24.04 literal `ubuntu:24.04`",
        ]
    );
}

#[test]
fn other_workload_kinds_with_a_pod_template() {
    let text = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nspec:\n  template:\n    spec:\n      containers:\n      - image: ghcr.io/acme/web:3\n";
    assert_eq!(
        clean(SourceKind::Kubernetes, "rollout.yaml", text),
        ["7:16 kubernetes-container `ghcr.io/acme/web:3` => ghcr.io/acme/web:3 literal `ghcr.io/acme/web:3`"]
    );
}

#[test]
fn helm_placeholders_and_other_yaml() {
    // A template that still parses: the placeholder is unresolved, not an error.
    let text = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n";
    assert_eq!(
        clean(SourceKind::Kubernetes, "chart/templates/pod.yaml", text),
        ["5:13 kubernetes-container `{{ .Values.image.repository }}:{{ .Values.image.tag }}` => unresolved {{ .Values.image.repository }}"]
    );
    // A template that is not YAML at all is skipped quietly.
    let text = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      {{- include \"c\" . | nindent 6 }}\n";
    assert_eq!(
        run(SourceKind::Kubernetes, "chart/templates/d.yaml", text),
        (vec![], vec![])
    );
    // Helm values, random configuration: not manifests, nothing to report.
    let text = "image:\n  repository: nginx\n  tag: 1.27\nreplicaCount: 2\nservice:\n  port: 80\n";
    assert_eq!(
        run(SourceKind::Kubernetes, "chart/values.yaml", text),
        (vec![], vec![])
    );
    let text = "kind: Config\nclusters: []\n";
    assert_eq!(
        run(SourceKind::Kubernetes, "kubeconfig.yaml", text),
        (vec![], vec![])
    );
}

#[test]
fn github_workflow_containers_services_and_docker_steps() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/yaml/workflow.yml"
    ))
    .unwrap();
    assert_eq!(
        clean(SourceKind::GithubWorkflow, ".github/workflows/ci.yml", &text),
        [
            "8:14 github-container `node:20-bookworm` => docker.io/library/node:20-bookworm literal `node:20-bookworm`",
            "11:16 github-service `postgres:16` => docker.io/library/postgres:16 literal `postgres:16`",
            "16:16 github-service `redis:7-alpine` => docker.io/library/redis:7-alpine literal `redis:7-alpine`",
            "19:24 github-step `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20`",
            // Expanded per matrix value, each at its own text; none alone is the reference.
            "24:26 github-container `a` => ghcr.io/acme/builder:a",
            "24:29 github-container `b` => ghcr.io/acme/builder:b",
            "27:25 github-step `ghcr.io/acme/lint:1` => ghcr.io/acme/lint:1 literal `ghcr.io/acme/lint:1`",
        ]
    );
}

#[test]
fn github_action_docker_image() {
    // Discovery calls `action.yml` plain YAML; `runs.using` makes it an action.
    let text = "name: x\nruns:\n  using: docker\n  image: 'docker://ghcr.io/acme/action:1.2'\n";
    assert_eq!(
        clean(SourceKind::Kubernetes, "action.yml", text),
        ["4:20 github-step `ghcr.io/acme/action:1.2` => ghcr.io/acme/action:1.2 literal `ghcr.io/acme/action:1.2`"]
    );
    let text =
        "runs:\n  using: composite\n  steps:\n    - uses: docker://alpine:3.20\n    - run: echo\n";
    assert_eq!(
        clean(SourceKind::Kubernetes, "action.yml", text),
        ["4:22 github-step `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20`"]
    );
    assert_eq!(
        clean(SourceKind::GithubWorkflow, "action.yml", text),
        ["4:22 github-step `alpine:3.20` => docker.io/library/alpine:3.20 literal `alpine:3.20`"]
    );
}

#[test]
fn gitlab_ci_images_services_and_variables() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/yaml/gitlab-ci.yml"
    ))
    .unwrap();
    assert_eq!(
        clean(SourceKind::GitlabCi, ".gitlab-ci.yml", &text),
        [
            "8:10 gitlab-image `python:3.12` => docker.io/library/python:3.12 literal `python:3.12`",
            "10:7 gitlab-service `postgres:16` => docker.io/library/postgres:16 literal `postgres:16`",
            "11:13 gitlab-service `redis:7` => docker.io/library/redis:7 literal `redis:7`",
            "15:10 gitlab-image `docker:27` => docker.io/library/docker:27 literal `docker:27`",
            "17:13 gitlab-service `docker:27-dind` => docker.io/library/docker:27-dind literal `docker:27-dind`",
            "21:10 gitlab-image `$BUILD_IMAGE` => docker.io/library/golang:1.23 literal `golang:1.23` at 4:16",
            "25:10 gitlab-image `$CI_REGISTRY_IMAGE/tester:latest` => unresolved CI_REGISTRY_IMAGE",
            "30:11 gitlab-image `${SCANNER}` => registry.gitlab.com/security/scanner:5 literal `registry.gitlab.com/security/scanner:5` at 34:14 platform arm64/v8",
        ]
    );
}

/// Other tools' configuration with `image:` and `services:` keys once gave findings because
/// any YAML shaped like GitLab CI was read as GitLab CI.
#[test]
fn yaml_that_only_looks_like_gitlab_ci_is_not_read_as_gitlab_ci() {
    let files = [
        ("appveyor.yml", "image: Visual Studio 2022\nbuild_script:\n  - cmd: build.cmd\n"),
        (".travis.yml", "language: python\nservices: [docker, postgresql]\nscript: pytest\n"),
        ("kong.yml", "_format_version: \"3.0\"\nservices:\n  - name: auth-v1-open\n    url: http://auth:8080\n"),
        ("_config.yml", "title: Blog\nimage: /assets/x.png\ndefault:\n  image: /assets/y.png\n"),
        ("ci/templates.yml", ".docker:\n  image: docker:27\nbuild:\n  extends: .docker\n  script: [make]\n"),
    ];
    for (rel, text) in files {
        assert_eq!(
            run(SourceKind::Kubernetes, rel, text),
            (vec![], vec![]),
            "{rel}"
        );
    }
}

#[test]
fn gitlab_references_report_the_scalar_they_point_to_once() {
    let text = concat!(
        ".base:\n  image:\n    name: python:3.12\n  services:\n    - postgres:16\n    - name: redis:7\n",
        ".images:\n  tool: ghcr.io/acme/tool:2\n",
        "a:\n  image: !reference [.base, image]\n",
        "b:\n  image:\n    name: !reference [.base, image, name]\n",
        "c:\n  services: !reference [.base, services]\n",
        "d:\n  services:\n    - !reference [.base, services]\n    - !reference [.images, tool]\n    - mysql:8\n",
        "e:\n  image: !reference [.e2, image]\n.e2:\n  image: !reference [.images, tool]\n",
    );
    assert_eq!(
        clean(SourceKind::GitlabCi, ".gitlab-ci.yml", text),
        [
            "3:11 gitlab-image `python:3.12` => docker.io/library/python:3.12 literal `python:3.12`",
            "5:7 gitlab-service `postgres:16` => docker.io/library/postgres:16 literal `postgres:16`",
            "6:13 gitlab-service `redis:7` => docker.io/library/redis:7 literal `redis:7`",
            "8:9 gitlab-service `ghcr.io/acme/tool:2` => ghcr.io/acme/tool:2 literal `ghcr.io/acme/tool:2`",
            "20:7 gitlab-service `mysql:8` => docker.io/library/mysql:8 literal `mysql:8`",
        ]
    );
}

#[test]
fn gitlab_references_to_nothing_name_the_path() {
    let text = concat!(
        ".base:\n  image: python:3.12\n",
        "a:\n  image: !reference [.missing, image]\n",
        "b:\n  image: !reference [.base, services]\n",
        "c:\n  services:\n    - !reference [.base, image, name]\n",
        "d:\n  image: !reference .base\n",
        "e:\n  image: !reference [e, image]\n",
    );
    let (occurrences, problems) = run(SourceKind::GitlabCi, ".gitlab-ci.yml", text);
    assert_eq!(occurrences.len(), 1, "{occurrences:?}");
    assert!(problems
        .iter()
        .all(|p| p.kind == portcullis_sources::ProblemKind::ReferenceInvalid));
    assert_eq!(
        messages(&problems),
        [
            ".gitlab-ci.yml:4:10 `a.image`: `!reference [.missing, image]` points to nothing: `.missing` is not defined",
            ".gitlab-ci.yml:6:10 `b.image`: `!reference [.base, services]` points to nothing: `.base` has no `services`",
            ".gitlab-ci.yml:9:7 `c.services[0]`: `!reference [.base, image, name]` points to nothing: `.base.image` has no `name`",
            ".gitlab-ci.yml:11:10 `d.image`: `!reference` must be a list of keys such as `[.job, image]`",
            ".gitlab-ci.yml:13:10 `e.image`: `!reference`s chain deeper than 10 levels",
        ]
    );
}

#[test]
fn gitlab_references_re_entering_their_chain_stop_at_gitlab_depth() {
    // Each key of this reference re-enters the chain: the first chain too deep ends it.
    let text = ".m:\n  k: !reference [.m, k, k, k, k, k, k, k, k, k, k]\njob:\n  image: !reference [.m, k]\n";
    let started = std::time::Instant::now();
    let (occurrences, problems) = run(SourceKind::GitlabCi, ".gitlab-ci.yml", text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(occurrences.is_empty());
    assert_eq!(
        messages(&problems),
        [".gitlab-ci.yml:4:10 `job.image`: `!reference`s chain deeper than 10 levels"]
    );
}

#[test]
fn gitlab_component_with_spec_header_and_inputs() {
    let text = "spec:\n  inputs:\n    image:\n      default: alpine:3.20\n---\nportcullis:\n  image: $[[ inputs.image ]]\n  script: [portcullis ci]\n";
    assert_eq!(
        clean(SourceKind::GitlabCi, "templates/portcullis.yml", text),
        ["7:10 gitlab-image `$[[ inputs.image ]]` => unresolved $[[ inputs.image ]]"]
    );
}

#[test]
fn configuration_that_only_resembles_gitlab_is_left_alone() {
    // A `default:` key and an `image:` mapping without `name` are common in app configs.
    let text = "default:\n  timeout: 5\nworker:\n  image:\n    repository: nginx\n";
    assert_eq!(
        run(SourceKind::Kubernetes, "config/app.yml", text),
        (vec![], vec![])
    );
}

#[test]
fn block_and_escaped_scalars_have_no_literal() {
    let text =
        "services:\n  a:\n    image: >-\n      nginx:1.27\n  b:\n    image: \"redis\\x3a7\"\n";
    assert_eq!(
        clean(SourceKind::Compose, "compose.yaml", text),
        [
            "4:7 compose-image `nginx:1.27` => docker.io/library/nginx:1.27",
            "6:12 compose-image `\"redis\\x3a7\"` => docker.io/library/redis:7",
        ]
    );
}

#[test]
fn invalid_yaml_names_file_line_and_column() {
    let text = "services:\n  web:\n    image: \"nginx\n  db: [\n";
    let (occurrences, problems) = run(SourceKind::Compose, "compose.yaml", text);
    assert!(occurrences.is_empty());
    let messages = messages(&problems);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("compose.yaml:") && messages[0].contains(" invalid YAML: "),
        "{messages:?}"
    );
    assert_ne!(problems[0].line, None);
    // The parser's own words, at the offending character.
    let (_, problems) = run(
        SourceKind::Kubernetes,
        "k8s/pod.yaml",
        "apiVersion: v1\nkind: Pod\nspec: a: b\n",
    );
    assert_eq!(
        self::messages(&problems),
        ["k8s/pod.yaml:3:8 invalid YAML: mapping values are not allowed in this context"]
    );
}

#[test]
fn invalid_references_and_non_strings_are_problems() {
    let text = "jobs:\n  a:\n    container:\n      image: 3.11\n  b:\n    container: 'UPPER/Case:1'\n  c:\n    container:\n      image: ''\n";
    let (occurrences, problems) = run(SourceKind::GithubWorkflow, ".github/workflows/x.yml", text);
    assert!(occurrences.is_empty(), "{occurrences:?}");
    let messages = messages(&problems);
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0], ".github/workflows/x.yml:4:14 `jobs.a.container.image` must be an image reference string, found `3.11`");
    assert!(
        messages[1].starts_with(".github/workflows/x.yml:6:17 `jobs.b.container`: "),
        "{messages:?}"
    );
    assert!(messages[1].contains("`UPPER/Case:1`"), "{messages:?}");
}

#[test]
fn byte_order_mark_and_non_ascii_keep_spans_right() {
    let text = "\u{feff}# café\nservices:\n  wéb:\n    image: nginx:1.27\n";
    let (occurrences, problems) = run(SourceKind::Compose, "compose.yaml", text);
    assert_eq!(problems, []);
    assert_eq!(
        show(text, &occurrences),
        ["4:12 compose-image `nginx:1.27` => docker.io/library/nginx:1.27 literal `nginx:1.27`"]
    );
}

// compose and kubectl read UTF-16 files with a byte-order mark; portcullis refused them as
// binary (NUL bytes) and their images vanished. Spans index the UTF-8 transcoding.
#[test]
fn utf16_files_with_a_byte_order_mark_are_read() {
    let text = "\u{feff}# café\nservices:\n  wéb:\n    image: \"nginx:1.27\"\n";
    for big_endian in [false, true] {
        let bytes: Vec<u8> = text
            .encode_utf16()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect();
        let file = SourceFile {
            path: "compose.yaml".into(),
            rel: "compose.yaml".to_owned(),
            kind: SourceKind::Compose,
        };
        let (occurrences, problems) = parse(&file, &bytes, &ParseOptions::default());
        assert_eq!(problems, []);
        assert_eq!(
            show(text, &occurrences),
            ["4:13 compose-image `nginx:1.27` => docker.io/library/nginx:1.27 literal `nginx:1.27`"]
        );
    }
}

#[test]
fn broken_utf16_is_one_problem() {
    let file = SourceFile {
        path: "compose.yaml".into(),
        rel: "compose.yaml".to_owned(),
        kind: SourceKind::Compose,
    };
    let (_, problems) = parse(&file, &[0xfe, 0xff, 0, b'a', 0], &ParseOptions::default());
    assert_eq!(
        messages(&problems),
        ["compose.yaml:0:0 `compose.yaml`: not UTF-16 text (a UTF-16 byte-order mark, then an odd number of bytes)"]
    );
}

/// Ten aliases per level, eight levels: 10^8 paths if every alias were walked again.
fn fan_out(level: &str) -> String {
    let mut text = String::new();
    for n in 1..=8 {
        let refs = vec![format!("*l{}", n - 1); 10].join(", ");
        let _ = writeln!(text, "l{n}: &l{n} {}", level.replace("REFS", &refs));
    }
    text
}

#[test]
fn aliased_list_items_fanning_out_are_walked_once() {
    // Regression guard: a "billion laughs" List must not walk every alias path.
    let mut text =
        "l0: &l0 {apiVersion: v1, kind: Pod, spec: {containers: [{image: nginx:1}]}}\n".to_owned();
    text.push_str(&fan_out("{apiVersion: v1, kind: List, items: [REFS]}"));
    text.push_str("apiVersion: v1\nkind: List\nitems: [*l8, *l8]\n");
    let started = std::time::Instant::now();
    let lines = clean(SourceKind::Kubernetes, "bomb.yaml", &text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(
        lines,
        ["1:65 kubernetes-container `nginx:1` => docker.io/library/nginx:1 literal `nginx:1`"]
    );
}

#[test]
fn merge_keys_fanning_out_are_searched_once() {
    // Regression guard: a missing key looked up through repeated merges must stay cheap.
    let mut text = "l0: &l0 {restart: always}\n".to_owned();
    text.push_str(&fan_out("{<<: [REFS]}"));
    text.push_str("services:\n  web:\n    <<: [*l8, *l8]\n    build: .\n");
    let started = std::time::Instant::now();
    assert_eq!(
        clean(SourceKind::Compose, "compose.yaml", &text),
        Vec::<String>::new()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

// docker compose (go-yaml) reads a flow sequence whose `]` sits under its key; the strict
// reader refused the file and its image vanished.
#[test]
fn flow_sequence_closed_at_the_key_indentation_is_read() {
    let text = "services:\n  app:\n    image: nginx:1.27\n    command: [\n      \"nginx\", \"-g\", \"daemon off;\"\n    ]\n  db:\n    image: \"postgres:16\"\n    entrypoint: [\"a\",\n    \"b\"]\n";
    assert_eq!(
        clean(SourceKind::Compose, "compose.yaml", text),
        [
            "3:12 compose-image `nginx:1.27` => docker.io/library/nginx:1.27 literal `nginx:1.27`",
            "8:13 compose-image `postgres:16` => docker.io/library/postgres:16 literal `postgres:16`",
        ]
    );
}

// kubectl (go-yaml) reads a quoted scalar continued at its key's column; the strict reader
// refused the manifest and every image in it vanished.
#[test]
fn quoted_scalar_continued_at_the_key_column_is_read() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    metadata:\n      annotations:\n        note: \"first part\n        continued\"\n        other: 'one\n        two'\n    spec:\n      containers:\n        - name: app\n          image: \"ghcr.io/acme/app:2\"\n";
    assert_eq!(
        clean(SourceKind::Kubernetes, "deploy.yaml", text),
        ["14:19 kubernetes-container `ghcr.io/acme/app:2` => ghcr.io/acme/app:2 literal `ghcr.io/acme/app:2`"]
    );
}

// libyaml reads a `#` that touches the token before it as a comment.
#[test]
fn comment_touching_a_quoted_value_is_read() {
    let text = "services:\n  app:\n    image: \"nginx:1.27\"# pinned later\n";
    assert_eq!(
        clean(SourceKind::Compose, "compose.yaml", text),
        ["3:13 compose-image `nginx:1.27` => docker.io/library/nginx:1.27 literal `nginx:1.27`"]
    );
}

// What libyaml refuses too stays an error, with the strict reader's position.
#[test]
fn block_indentation_errors_are_not_repaired() {
    let text = "services:\n  app:\n    image: nginx:1.27\n   bad: 1\n";
    let (occurrences, problems) = run(SourceKind::Compose, "compose.yaml", text);
    assert_eq!(occurrences, []);
    let messages = messages(&problems);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].starts_with("compose.yaml:4:"), "{messages:?}");
}
