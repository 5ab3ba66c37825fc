//! Differential test of the glob matcher: the position-set matcher in `Pattern` must agree
//! with an independent translation of the normalized pattern into an anchored regex
//! (`*` → `[^/]*`, a `**` segment → any number of segments) on random names.

use portcullis_reference::{ImageRef, Pattern};
use proptest::prelude::*;

/// Translates a normalized, brace-free pattern name (no tag) to an anchored regex.
fn to_regex(normalized: &str) -> regex::Regex {
    let segments: Vec<&str> = normalized.split('/').collect();
    let last = segments.len() - 1;
    let mut re = String::from("^");
    for (i, segment) in segments.iter().enumerate() {
        if *segment == "**" {
            // `**` alone or last: anything; elsewhere: zero or more whole segments.
            re.push_str(if i == last { ".*" } else { "(?:.*/)?" });
            continue;
        }
        for c in segment.chars() {
            if c == '*' {
                re.push_str("[^/]*");
            } else {
                re.push_str(&regex::escape(&c.to_string()));
            }
        }
        if i != last {
            re.push('/');
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap()
}

fn pattern_text() -> impl Strategy<Value = String> {
    let registry = prop_oneof![
        Just(""),
        Just("ghcr.io/"),
        Just("docker.io/"),
        Just("*.io/"),
        Just("gh*.io/"),
        Just("localhost:5000/"),
        Just("**/"),
    ];
    let segment = prop_oneof![
        Just("a"),
        Just("b"),
        Just("ab"),
        Just("*"),
        Just("a*"),
        Just("*b"),
        Just("a*b"),
        Just("**"),
    ];
    (registry, prop::collection::vec(segment, 1..5))
        .prop_map(|(r, segs)| format!("{r}{}", segs.join("/")))
}

fn name_text() -> impl Strategy<Value = String> {
    let registry = prop_oneof![
        Just("ghcr.io"),
        Just("ghcr.io.evil.io"),
        Just("docker.io"),
        Just("gh.io"),
        Just("localhost:5000"),
        Just("localhost:50001"),
    ];
    let segment = prop_oneof![
        Just("a"),
        Just("b"),
        Just("ab"),
        Just("aab"),
        Just("ba"),
        Just("library")
    ];
    (registry, prop::collection::vec(segment, 1..6))
        .prop_map(|(r, segs)| format!("{r}/{}", segs.join("/")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn matcher_agrees_with_regex_translation(pattern in pattern_text(), name in name_text()) {
        let p = Pattern::parse(&pattern).unwrap();
        let image = ImageRef::parse(&name).unwrap();
        let normalized: Vec<&str> = p.normalized().collect();
        prop_assert_eq!(normalized.len(), 1);
        let re = to_regex(normalized[0]);
        prop_assert_eq!(
            p.matches(&image),
            re.is_match(&image.name()),
            "pattern `{}` (normalized `{}`, regex `{}`) vs `{}`",
            pattern, normalized[0], re.as_str(), image.name()
        );
    }
}
