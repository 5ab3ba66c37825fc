//! `parse` never panics, whatever the bytes and whatever the kind, and every span it returns
//! lies inside the input on character boundaries (so `pin` can always slice it).

use portcullis_sources::{parse, ParseOptions, SourceFile, SourceKind};
use proptest::prelude::*;

const KINDS: [SourceKind; 6] = [
    SourceKind::Dockerfile,
    SourceKind::Bake,
    SourceKind::Compose,
    SourceKind::Kubernetes,
    SourceKind::GithubWorkflow,
    SourceKind::GitlabCi,
];

fn check(kind: SourceKind, bytes: &[u8], options: &ParseOptions) {
    let file = SourceFile {
        path: "f".into(),
        rel: "f".into(),
        kind,
    };
    let (occurrences, _) = parse(&file, bytes, options);
    for o in occurrences {
        let text = as_text(bytes);
        let text = text.as_str();
        assert!(
            text.get(o.location.span.clone()).is_some(),
            "{kind:?} span {:?} in {text:?}",
            o.location.span
        );
        let written = &text[o.location.span.clone()];
        if kind == SourceKind::Dockerfile && !written.contains('\n') {
            assert_eq!(written, o.text, "occurrence text is the text at its span");
        }
        if let Some(literal) = &o.literal {
            assert_eq!(
                text.get(literal.span.clone()),
                Some(literal.text.as_str()),
                "{kind:?} literal in {text:?}"
            );
        }
    }
}

/// The text spans index: the bytes, or their UTF-8 transcoding when a UTF-16 mark leads.
fn as_text(bytes: &[u8]) -> String {
    let units = |big: bool| {
        bytes
            .chunks_exact(2)
            .map(move |p| {
                if big {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    u16::from_le_bytes([p[0], p[1]])
                }
            })
            .collect::<Vec<_>>()
    };
    match bytes {
        [0xff, 0xfe, ..] => String::from_utf16(&units(false)).expect("valid UTF-16"),
        [0xfe, 0xff, ..] => String::from_utf16(&units(true)).expect("valid UTF-16"),
        _ => String::from_utf8(bytes.to_vec()).expect("occurrences only come from text"),
    }
}

/// Dockerfile-ish text: keywords, flags, variables, quotes, continuations and heredocs mixed.
fn dockerfile_text() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "FROM ",
        "from ",
        "ARG ",
        "COPY ",
        "RUN ",
        "ADD ",
        " AS ",
        "--platform=",
        "--from=",
        "--mount=",
        "type=bind,from=",
        "$",
        "${",
        "}",
        ":-",
        ":+",
        "-",
        "=",
        "\"",
        "'",
        "\\",
        "`",
        "\n",
        "\r\n",
        " ",
        "\t",
        "<<",
        "<<-",
        "EOF",
        "# syntax=",
        "# escape=`",
        "#",
        "alpine:3.20",
        "@sha256:",
        "scratch",
        "0",
        "X",
        "é",
        "\u{feff}",
        ",",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for kind in KINDS {
            check(kind, &bytes, &ParseOptions::default());
        }
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        for kind in KINDS {
            check(kind, text.as_bytes(), &ParseOptions::default());
        }
    }

    #[test]
    fn dockerfile_like_text_never_panics(text in dockerfile_text(), arg in "[A-Z]{1,2}", value in "[a-z:.$]{0,8}") {
        let options = ParseOptions {
            build_args: [(arg, value)].into_iter().collect(),
            platforms: vec![portcullis_sources::Platform::parse("linux/arm/v7").unwrap()],
        };
        check(SourceKind::Dockerfile, text.as_bytes(), &options);
        check(SourceKind::Dockerfile, text.as_bytes(), &ParseOptions::default());
    }
}
