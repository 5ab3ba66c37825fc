//! Allow/deny pattern semantics, including the known allowlist bypasses of prefix and
//! unanchored matching that other tools shipped.

use portcullis_reference::{ImageRef, ParseError, Pattern};

fn matches(pattern: &str, image: &str) -> bool {
    let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    let i = ImageRef::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
    p.matches(&i)
}

/// Each row is a bypass some allowlist tool once allowed; none may match.
#[test]
fn known_bypasses_do_not_match() {
    let rows = [
        ("ghcr.io/org/*", "ghcr.io.evil.com/org/x"),
        ("ghcr.io/org/*", "ghcr.io/org-evil/x"),
        ("ghcr.io/org/*", "ghcr.io/orgx"),
        ("ghcr.io/org/*", "evil.com/ghcr.io/org/x"),
        ("ghcr.io/org/*", "ghcr.io/org/sub/x"),
        ("ghcr.io/org/**", "ghcr.io.evil.com/org/x"),
        ("ghcr.io/org/**", "ghcr.io/org-evil/x"),
        ("ghcr.io/**", "ghcrxio/foo"),
        ("ghcr.io/**", "ghcr.io.evil.com/foo"),
        ("ghcr.io/**", "ghcr.io:5000/foo"),
        ("myregistry.io/*", "myregistry.io.evil.com/x"),
        ("docker.io/mycompany/*", "docker.io/mycompanyevil/x"),
        ("docker.io/mycompany/*", "mycompanyevil/x"),
        ("mycompany/*", "mycompanyevil/x"),
        ("ubuntu", "ubuntu-evil"),
        ("ubuntu", "evil/ubuntu"),
        ("ubuntu", "ghcr.io/library/ubuntu"),
        ("library/alpine", "foo/alpine"),
        ("foo.bar/alpine", "foobar/alpine"),
        ("foobar/alpine", "foo.bar/alpine"),
        ("localhost:5000/*", "localhost:50000/x"),
        ("localhost/*", "localhost.evil.com/x"),
        ("*", "user/app"),
        ("library/*", "ghcr.io/library/x"),
        ("cgr.dev/chainguard/**", "cgr.dev/chainguard-evil/x"),
        ("gcr.io/distroless/*", "gcr.io/distroless/x/y"),
        (
            "docker.io/library/{alpine,debian}",
            "docker.io/library/alpine-evil",
        ),
        (
            "docker.io/library/{alpine,debian}",
            "docker.io/library/alpinedebian",
        ),
        ("nginx:1.27", "nginx:1.27-evil"),
        ("nginx:1.*", "nginx:11"),
        ("nginx:1.27", "nginx"),
        (
            "nginx:latest",
            "nginx@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    ];
    let hits: Vec<_> = rows.iter().filter(|(p, i)| matches(p, i)).collect();
    assert!(hits.is_empty(), "bypasses matched: {hits:?}");
}

#[test]
fn pattern_table() {
    // (pattern, image, expected)
    let rows = [
        ("ubuntu", "ubuntu", true),
        ("ubuntu", "ubuntu:22.04", true),
        ("ubuntu", "docker.io/library/ubuntu", true),
        ("ubuntu", "index.docker.io/library/ubuntu", true),
        ("library/ubuntu", "ubuntu", true),
        ("docker.io/ubuntu", "ubuntu", true),
        ("registry-1.docker.io/library/ubuntu", "ubuntu", true),
        ("library/*", "nginx", true),
        ("library/*", "user/app", false),
        ("*", "nginx", true),
        ("*/*", "user/app", true),
        ("*/*", "nginx", true),
        ("*/*", "a/b/c", false),
        ("docker.io/mycompany/*", "mycompany/app", true),
        ("docker.io/**", "nginx", true),
        ("docker.io/**", "a/b/c", true),
        ("docker.io/**", "ghcr.io/a", false),
        ("**", "nginx", true),
        ("**", "ghcr.io/a/b/c", true),
        ("**", "localhost:5000/x", true),
        ("**/nginx", "nginx", true),
        ("**/nginx", "quay.io/x/nginx", true),
        ("**/nginx", "quay.io/x/nginx-evil", false),
        ("ghcr.io/**", "ghcr.io/foo", true),
        ("ghcr.io/**", "ghcr.io/foo/bar/baz", true),
        ("ghcr.io/*/*", "ghcr.io/foo", false),
        ("ghcr.io/*/*", "ghcr.io/foo/bar", true),
        ("ghcr.io/org/*", "ghcr.io/org/app", true),
        ("ghcr.io/org/**/app", "ghcr.io/org/app", true),
        ("ghcr.io/org/**/app", "ghcr.io/org/a/b/app", true),
        ("ghcr.io/org/**/app", "ghcr.io/org/a/b/app2", false),
        ("ghcr.io/org/app-*", "ghcr.io/org/app-web", true),
        ("ghcr.io/org/*-web", "ghcr.io/org/app-web", true),
        ("ghcr.io/org/*-web", "ghcr.io/org/a/b-web", false),
        ("GHCR.IO/org/*", "ghcr.io/org/x", true),
        ("*.gcr.io/proj/*", "us.gcr.io/proj/x", true),
        ("*.gcr.io/proj/*", "gcr.io/proj/x", false),
        ("localhost:5000/**", "localhost:5000/a/b", true),
        ("[::1]:5000/*", "[::1]:5000/x", true),
        ("docker.io/library/{alpine,debian}", "alpine:3", true),
        ("docker.io/library/{alpine,debian}", "debian", true),
        ("docker.io/library/{alpine,debian}", "ubuntu", false),
        ("{alpine,ghcr.io/org/*}", "alpine", true),
        ("{alpine,ghcr.io/org/*}", "ghcr.io/org/x", true),
        ("{alpine,ghcr.io/org/*}", "ghcr.io/alpine", false),
        ("{ghcr.io,quay.io}/org/*", "quay.io/org/x", true),
        ("nginx{,-unprivileged}", "nginx", true),
        ("nginx{,-unprivileged}", "nginx-unprivileged", true),
        ("{a,{b,c}d}", "cd", true),
        ("{a,{b,c}d}", "c", false),
        ("nginx:1.27", "nginx:1.27", true),
        (
            "nginx:1.27",
            "nginx:1.27@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            true,
        ),
        ("nginx:1.27", "nginx:1.28", false),
        ("nginx:1.*", "nginx:1.27.3", true),
        ("nginx:latest", "nginx", true),
        ("nginx:latest", "nginx:latest", true),
        ("**:latest", "ghcr.io/a/b", true),
        ("**:latest", "ghcr.io/a/b:v1", false),
        ("localhost:5000/app:v*", "localhost:5000/app:v2", true),
        (
            "nginx",
            "nginx@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            true,
        ),
    ];
    let wrong: Vec<_> = rows
        .iter()
        .filter(|(p, i, want)| matches(p, i) != *want)
        .collect();
    assert!(
        wrong.is_empty(),
        "wrong results (pattern, image, expected): {wrong:#?}"
    );
}

#[test]
fn patterns_are_normalized_like_references() {
    let cases: [(&str, &[&str]); 9] = [
        ("ubuntu", &["docker.io/library/ubuntu"]),
        ("library/*", &["docker.io/library/*"]),
        ("docker.io/mycompany/*", &["docker.io/mycompany/*"]),
        ("index.docker.io/x", &["docker.io/library/x"]),
        ("**", &["**"]),
        ("docker.io/**", &["docker.io/**"]),
        ("GHCR.io/a/*:v*", &["ghcr.io/a/*:v*"]),
        (
            "{alpine,ghcr.io/x/*}",
            &["docker.io/library/alpine", "ghcr.io/x/*"],
        ),
        ("{alpine,library/alpine}", &["docker.io/library/alpine"]),
    ];
    for (text, want) in cases {
        let p = Pattern::parse(text).unwrap();
        assert_eq!(p.normalized().collect::<Vec<_>>(), want, "{text}");
        assert_eq!(p.as_str(), text);
        assert_eq!(p.to_string(), text);
    }
    assert!(Pattern::parse("nginx:1.*").unwrap().has_tag());
    assert!(!Pattern::parse("localhost:5000/x").unwrap().has_tag());
}

#[test]
fn invalid_patterns_name_the_text() {
    let rows = [
        "",
        "{alpine,debian",
        "alpine,debian}",
        "alpine}",
        "{}",
        "{,}",
        "ghcr.io//x",
        "ghcr.io/x/",
        "/x",
        "ghcr.io/Org/*",
        "ghcr.io/a**/x",
        "ghcr.io/x:**",
        "nginx:",
        "nginx@sha256:*",
        "ngi nx",
        "nginx?",
        "ghcr.io/x/a+b",
        "my_reg.io/x",
        "alpine,debian",
    ];
    for text in rows {
        let err = Pattern::parse(text).unwrap_err();
        assert!(
            matches!(&err, ParseError::InvalidPattern { text: t, .. } if t == text),
            "{text:?}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("`{text}`")), "{err}");
    }
}

#[test]
fn brace_explosion_is_refused_not_expanded() {
    let text = "{a,b}".repeat(20);
    let err = Pattern::parse(&text).unwrap_err();
    assert!(err.to_string().contains("alternatives"), "{err}");
}

#[test]
fn matching_long_star_patterns_stays_fast() {
    // A backtracking matcher takes exponential time on this; the position-set one does not.
    let pattern = format!("ghcr.io/{}b", "*a".repeat(60));
    let p = Pattern::parse(&pattern).unwrap();
    let image = ImageRef::parse(&format!("ghcr.io/{}", "a".repeat(200))).unwrap();
    let start = std::time::Instant::now();
    assert!(!p.matches(&image));
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn serde_round_trips_the_pattern_text() {
    let p: Pattern = serde_json::from_str("\"ghcr.io/org/**\"").unwrap();
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"ghcr.io/org/**\"");
    let err = serde_json::from_str::<Pattern>("\"{a\"").unwrap_err();
    assert!(err.to_string().contains("`{a`"), "{err}");
}

/// Patterns match the name put together on the stack: the longest name the grammar allows
/// (255 characters) matches like a short one, and not a character of it is lost.
#[test]
fn the_longest_names_match_whole() {
    for total in [20, 254, 255] {
        let name = format!("ghcr.io/acme/{}", "a".repeat(total - "ghcr.io/acme/".len()));
        assert!(matches("ghcr.io/acme/*", &name), "{total}");
        assert!(matches("ghcr.io/**", &name), "{total}");
        assert!(matches(&name, &name), "{total}");
        assert!(
            matches(&format!("{name}:1"), &format!("{name}:1")),
            "{total}"
        );
        assert!(
            !matches(&format!("{}b", &name[..name.len() - 1]), &name),
            "{total}"
        );
        assert!(!matches("ghcr.io/acme/b*", &name), "{total}");
    }
}
