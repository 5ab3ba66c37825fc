//! Property tests for YAML sources: no input makes the parser panic, spans always point at
//! the text they claim, and any image written in any quoting style round-trips to a span
//! holding exactly that image.

use portcullis_sources::{parse, Occurrence, ParseOptions, Problem, SourceFile, SourceKind};
use proptest::prelude::*;

const KINDS: [SourceKind; 4] = [
    SourceKind::Compose,
    SourceKind::Kubernetes,
    SourceKind::GithubWorkflow,
    SourceKind::GitlabCi,
];

fn run(kind: SourceKind, bytes: &[u8]) -> (Vec<Occurrence>, Vec<Problem>) {
    let file = SourceFile {
        path: "f.yaml".into(),
        rel: "f.yaml".to_owned(),
        kind,
    };
    parse(&file, bytes, &ParseOptions::default())
}

/// Spans and literals are inside the text, on character boundaries, and hold what they say.
fn check_spans(text: &str, occurrences: &[Occurrence]) {
    for o in occurrences {
        assert_eq!(
            text.get(o.location.span.clone()),
            Some(o.text.as_str()),
            "{o:?}"
        );
        if let Some(literal) = &o.literal {
            assert_eq!(
                text.get(literal.span.clone()),
                Some(literal.text.as_str()),
                "{o:?}"
            );
        }
        assert!(o.location.line >= 1 && o.location.column >= 1);
    }
}

const TOKENS: &[&str] = &[
    "services:",
    "image:",
    "platform: linux/arm64",
    "  ",
    "    ",
    "\n",
    "- ",
    "&a ",
    "*a",
    "<<: ",
    "\"",
    "'",
    "${",
    "}",
    "{{",
    "}}",
    "$",
    "$$",
    "${{ matrix.x }}",
    "docker://",
    "apiVersion: v1\n",
    "kind: Pod\n",
    "kind: List\n",
    "kind: CronJob\n",
    "items:",
    "containers:",
    "initContainers:",
    "spec:",
    "template:",
    "jobTemplate:",
    "jobs:",
    "container:",
    "services:",
    "steps:",
    "uses: ",
    "é",
    "\t",
    "# c",
    "---\n",
    "...\n",
    "|",
    ">-",
    "!!str ",
    "!t ",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "nginx:1",
    "ghcr.io/a/b:2",
    "name:",
    "variables:",
    "X: y",
    "$X",
    "default:",
    "script: [x]",
    "include: x",
    ".hidden:",
    "<<",
    "\\",
    "\\\"",
    "~",
    "null",
    "42",
    "\r\n",
    "\u{feff}",
    "?",
    "%YAML 1.2\n",
];

fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), kind in 0..4usize) {
        let (occurrences, _) = run(KINDS[kind], &bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            check_spans(text, &occurrences);
        }
    }

    #[test]
    fn yaml_like_text_never_panics(text in yamlish(), kind in 0..4usize) {
        let (occurrences, _) = run(KINDS[kind], text.as_bytes());
        check_spans(&text, &occurrences);
    }

    #[test]
    fn any_written_image_round_trips_to_its_span(
        image in "([a-z]{1,8}\\.[a-z]{2,3}(:[0-9]{2,4})?/)?[a-z]{1,8}(/[a-z0-9]{1,6}){0,2}:[a-z0-9][a-z0-9.-]{0,6}",
        style in 0..3usize,
        comment in any::<bool>(),
        anchor in any::<bool>(),
        preamble in "(# [a-zé ]{0,10}\n)?",
        kind in 0..4usize,
    ) {
        let quoted = match style {
            0 => image.clone(),
            1 => format!("'{image}'"),
            _ => format!("\"{image}\""),
        };
        let value = format!("{}{quoted}{}", if anchor { "&x " } else { "" }, if comment { "  # note" } else { "" });
        let body = match KINDS[kind] {
            SourceKind::Compose => format!("services:\n  web:\n    image: {value}\n"),
            SourceKind::Kubernetes => format!("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: {value}\n"),
            SourceKind::GithubWorkflow => format!("jobs:\n  j:\n    container:\n      image: {value}\n"),
            _ => format!("job:\n  script: [x]\n  image: {value}\n"),
        };
        let text = format!("{preamble}{body}");
        let (occurrences, problems) = run(KINDS[kind], text.as_bytes());
        prop_assert_eq!(problems, vec![]);
        prop_assert_eq!(occurrences.len(), 1);
        let o = &occurrences[0];
        prop_assert_eq!(&text[o.location.span.clone()], image.as_str());
        prop_assert_eq!(o.literal.as_ref().map(|l| l.text.as_str()), Some(image.as_str()));
        let last_line = text.lines().count() as u32;
        prop_assert_eq!(o.location.line, last_line);
        let line = text.lines().last().unwrap_or_default();
        let col = line[..line.find(image.as_str()).unwrap_or_default()].chars().count() as u32 + 1;
        prop_assert_eq!(o.location.column, col);
    }
}
