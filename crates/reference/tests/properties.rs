//! Property tests: printing then parsing is the identity on normalized references,
//! normalization is idempotent, and no input (random text or bytes) makes a parser panic.

use portcullis_reference::{Digest, ImageRef, Pattern};
use proptest::prelude::*;

/// A path component from Docker's grammar: alphanumerics joined by `.`, `_`, `__` or `-`s.
fn component() -> impl Strategy<Value = String> {
    let alnum = "[a-z0-9]{1,6}";
    let sep = prop_oneof![Just("."), Just("_"), Just("__"), Just("-"), Just("---")];
    (alnum, prop::collection::vec((sep, alnum), 0..3)).prop_map(|(head, rest)| {
        let mut s = head;
        for (sep, part) in rest {
            s.push_str(sep);
            s.push_str(&part);
        }
        s
    })
}

fn registry() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("docker.io".to_owned())),
        Just(Some("index.docker.io".to_owned())),
        Just(Some("registry-1.docker.io".to_owned())),
        Just(Some("localhost".to_owned())),
        (1u16..=65535).prop_map(|p| Some(format!("localhost:{p}"))),
        (0u8..=255, 1u16..=65535).prop_map(|(o, p)| Some(format!("127.0.0.{o}:{p}"))),
        (1u16..=65535).prop_map(|p| Some(format!("[::1]:{p}"))),
        "[a-zA-Z0-9]{1,8}(-[a-zA-Z0-9]{1,4})?\\.[a-z]{2,5}(:[0-9]{1,4})?".prop_map(Some),
    ]
}

fn tag() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}")
}

fn digest() -> impl Strategy<Value = Option<Digest>> {
    prop::option::of(prop_oneof![
        prop::collection::vec(any::<u8>(), 0..32).prop_map(|b| Digest::sha256(&b)),
        prop::collection::vec(any::<u8>(), 0..32).prop_map(|b| Digest::sha512(&b)),
    ])
}

/// Reference text as a user might write it (possibly un-normalized), always valid.
fn reference_text() -> impl Strategy<Value = String> {
    (
        registry(),
        prop::collection::vec(component(), 1..4),
        tag(),
        digest(),
    )
        .prop_map(|(registry, path, tag, digest)| {
            let mut s = String::new();
            // Without a registry, a first component with `.` would itself read as one.
            let implicit_hub = path.len() > 1 && path[0].contains('.');
            match registry {
                Some(r) => {
                    s.push_str(&r);
                    s.push('/');
                }
                None if implicit_hub => s.push_str("docker.io/"),
                None => {}
            }
            s.push_str(&path.join("/"));
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(d) = digest {
                s.push('@');
                s.push_str(&d.to_string());
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_parse_is_identity_on_normalized_refs(text in reference_text()) {
        let r = ImageRef::parse(&text).unwrap();
        let printed = r.to_string();
        let again = ImageRef::parse(&printed).unwrap();
        prop_assert_eq!(&again, &r);
        prop_assert_eq!(again.to_string(), printed);
    }

    #[test]
    fn normalization_is_idempotent_and_keeps_the_parts(text in reference_text()) {
        let r = ImageRef::parse(&text).unwrap();
        prop_assert!(!r.registry().is_empty());
        prop_assert!(r.repository().contains('/') || !r.is_docker_hub());
        prop_assert_eq!(r.registry(), r.registry().to_ascii_lowercase());
        prop_assert!(!["index.docker.io", "registry-1.docker.io"].contains(&r.registry()));
        // The familiar form is another spelling of the same image.
        prop_assert_eq!(ImageRef::parse(&r.familiar()).unwrap(), r.clone());
        // The exact name is a pattern that matches its own image (tags aside).
        let own = Pattern::parse(&r.name()).unwrap();
        prop_assert!(own.matches(&r));
        prop_assert!(Pattern::parse("**").unwrap().matches(&r));
    }

    #[test]
    fn parsers_never_panic_on_random_text(text in "\\PC{0,80}") {
        let _ = ImageRef::parse(&text);
        let _ = Pattern::parse(&text);
        let _ = Digest::parse(&text);
    }

    #[test]
    fn parsers_never_panic_on_reference_like_text(text in "[a-zA-Z0-9.:/@_\\-\\[\\]{},*]{0,60}") {
        if let Ok(r) = ImageRef::parse(&text) {
            prop_assert_eq!(ImageRef::parse(&r.to_string()).unwrap(), r);
        }
        if let Ok(p) = Pattern::parse(&text) {
            let _ = p.matches(&ImageRef::parse("nginx").unwrap());
        }
    }

    #[test]
    fn parsers_never_panic_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = ImageRef::parse(&text);
        let _ = Pattern::parse(&text);
        let _ = Digest::parse(&text);
        let digest = Digest::sha256(&bytes);
        prop_assert!(digest.verify(&bytes));
        prop_assert_eq!(Digest::parse(&digest.to_string()).unwrap(), digest);
    }

    #[test]
    fn pattern_of_a_name_with_a_changed_byte_does_not_match(text in reference_text(), extra in "[a-z0-9]") {
        // Anchoring: appending to the last segment or the host must break the match.
        let r = ImageRef::parse(&text).unwrap();
        let longer = ImageRef::parse(&format!("{}{extra}", r.name())).unwrap();
        let own = Pattern::parse(&r.name()).unwrap();
        prop_assert!(!own.matches(&longer));
    }
}
