//! Normalization table: every spelling Docker accepts maps to one canonical form, and every
//! spelling it rejects is an error that quotes the text.

use portcullis_reference::{Algorithm, Digest, ImageRef, ParseError};

const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// (input, expected normalized display; `None` = must be an error).
#[allow(clippy::too_many_lines, reason = "one table reads best in one place")]
fn table() -> Vec<(String, Option<String>)> {
    let d = format!("sha256:{HEX}");
    let d512 = format!("sha512:{HEX}{HEX}");
    let rows: Vec<(String, Option<String>)> = vec![
        ("nginx".into(), Some("docker.io/library/nginx".into())),
        (
            "nginx:1.27".into(),
            Some("docker.io/library/nginx:1.27".into()),
        ),
        (
            "nginx:latest".into(),
            Some("docker.io/library/nginx:latest".into()),
        ),
        (
            "library/nginx".into(),
            Some("docker.io/library/nginx".into()),
        ),
        (
            "docker.io/nginx".into(),
            Some("docker.io/library/nginx".into()),
        ),
        (
            "docker.io/library/nginx".into(),
            Some("docker.io/library/nginx".into()),
        ),
        (
            "index.docker.io/nginx".into(),
            Some("docker.io/library/nginx".into()),
        ),
        (
            "index.docker.io/library/nginx:1".into(),
            Some("docker.io/library/nginx:1".into()),
        ),
        (
            "registry-1.docker.io/library/nginx".into(),
            Some("docker.io/library/nginx".into()),
        ),
        (
            "Docker.IO/nginx".into(),
            Some("docker.io/library/nginx".into()),
        ),
        ("user/app".into(), Some("docker.io/user/app".into())),
        (
            "docker.io/user/app:v2".into(),
            Some("docker.io/user/app:v2".into()),
        ),
        (
            "user/team/app".into(),
            Some("docker.io/user/team/app".into()),
        ),
        ("ghcr.io/org/app".into(), Some("ghcr.io/org/app".into())),
        ("GHCR.io/org/app".into(), Some("ghcr.io/org/app".into())),
        ("my.registry/a/b/c".into(), Some("my.registry/a/b/c".into())),
        (
            "my.registry/a/b/c:tag".into(),
            Some("my.registry/a/b/c:tag".into()),
        ),
        ("localhost/app".into(), Some("localhost/app".into())),
        (
            "localhost:5000/app".into(),
            Some("localhost:5000/app".into()),
        ),
        (
            "localhost:5000/app:1.0".into(),
            Some("localhost:5000/app:1.0".into()),
        ),
        ("127.0.0.1:5000/x".into(), Some("127.0.0.1:5000/x".into())),
        ("[::1]:5000/x".into(), Some("[::1]:5000/x".into())),
        ("[::1]/x".into(), Some("[::1]/x".into())),
        ("[FE80::1]:443/x".into(), Some("[fe80::1]:443/x".into())),
        ("docker.io:5000/x".into(), Some("docker.io:5000/x".into())),
        (
            "localhost:5000".into(),
            Some("docker.io/library/localhost:5000".into()),
        ),
        (
            "a.b-c.d/e__f/g-h/i.j/k---l:Tag_1.0-rc".into(),
            Some("a.b-c.d/e__f/g-h/i.j/k---l:Tag_1.0-rc".into()),
        ),
        (
            format!("nginx@{d}"),
            Some(format!("docker.io/library/nginx@{d}")),
        ),
        (
            format!("nginx:1.27@{d}"),
            Some(format!("docker.io/library/nginx:1.27@{d}")),
        ),
        (
            format!("ghcr.io/o/a:v1@{d512}"),
            Some(format!("ghcr.io/o/a:v1@{d512}")),
        ),
        (
            format!("localhost:5000/a@{d}"),
            Some(format!("localhost:5000/a@{d}")),
        ),
        (
            format!("nginx:{}", "t".repeat(128)),
            Some(format!("docker.io/library/nginx:{}", "t".repeat(128))),
        ),
        // Errors.
        (String::new(), None),
        ("Nginx".into(), None),
        ("docker.io/User/app".into(), None),
        ("ghcr.io/Org/app".into(), None),
        ("nginx:".into(), None),
        ("nginx:.tag".into(), None),
        ("nginx:-tag".into(), None),
        ("nginx:ta/g".into(), None),
        (format!("nginx:{}", "t".repeat(129)), None),
        ("nginx@".into(), None),
        ("nginx@sha256:abc".into(), None),
        (format!("nginx@sha256:{}", HEX.to_uppercase()), None),
        (format!("nginx@md5:{HEX}"), None),
        (format!("nginx@sha256:{HEX}@sha256:{HEX}"), None),
        ("ghcr.io/".into(), None),
        ("ghcr.io//app".into(), None),
        ("ghcr.io/app/".into(), None),
        ("/app".into(), None),
        (":tag".into(), None),
        ("app..x".into(), None),
        ("app___x".into(), None),
        ("app._x".into(), None),
        ("-app".into(), None),
        ("app-".into(), None),
        ("ngi nx".into(), None),
        (" nginx".into(), None),
        ("nginx\n".into(), None),
        ("ngïnx".into(), None),
        ("my_registry.io/app".into(), None),
        ("-bad.io/app".into(), None),
        ("localhost:port/app".into(), None),
        ("localhost:70000/app".into(), None),
        ("localhost:/app".into(), None),
        ("[::1/app".into(), None),
        ("[zz::1]:5000/app".into(), None),
        (HEX.into(), None),
        (format!("ghcr.io/{}", "a".repeat(250)), None),
    ];
    rows
}

#[test]
fn normalization_table() {
    let rows = table();
    assert!(rows.len() >= 60, "table shrank to {}", rows.len());
    let mut failures = Vec::new();
    for (input, want) in &rows {
        let got = ImageRef::parse(input);
        match (want, &got) {
            (Some(want), Ok(image)) if image.to_string() == *want => {
                // Normalization is idempotent and Display round-trips.
                let again = ImageRef::parse(want).expect("normalized form parses");
                assert_eq!(&again, image, "{input}");
            }
            (None, Err(err)) => {
                let msg = err.to_string();
                let quoted: String = input.chars().flat_map(char::escape_default).collect();
                if !input.is_empty() && !msg.contains(&format!("`{quoted}`")) {
                    failures.push(format!("{input:?}: error does not quote the input: {msg}"));
                }
            }
            _ => failures.push(format!("{input:?}: want {want:?}, got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parts_are_split_as_docker_does() {
    let r = ImageRef::parse(&format!("localhost:5000/team/app:1.2@sha256:{HEX}")).unwrap();
    assert_eq!(r.registry(), "localhost:5000");
    assert_eq!(r.repository(), "team/app");
    assert_eq!(r.tag(), Some("1.2"));
    assert_eq!(r.digest().map(Digest::algorithm), Some(Algorithm::Sha256));
    assert_eq!(r.digest().unwrap().hex(), HEX);
    assert_eq!(r.name(), "localhost:5000/team/app");
    assert_eq!(r.api_host(), "localhost:5000");

    let hub = ImageRef::parse("nginx").unwrap();
    assert_eq!(hub.registry(), "docker.io");
    assert_eq!(hub.repository(), "library/nginx");
    assert_eq!(hub.tag(), None, "no implicit latest");
    assert_eq!(hub.implied_tag(), Some("latest"));
    assert_eq!(hub.api_host(), "registry-1.docker.io");
    assert!(hub.is_docker_hub());

    let pinned = ImageRef::parse(&format!("nginx@sha256:{HEX}")).unwrap();
    assert_eq!(pinned.implied_tag(), None);
}

#[test]
fn errors_have_the_right_variant_and_name_the_offending_part() {
    assert_eq!(ImageRef::parse(""), Err(ParseError::Empty));
    let cases = [
        ("Nginx", "`Nginx`"),
        ("ghcr.io/Org/app", "`Org/app`"),
        ("nginx:-x", "`-x`"),
        ("nginx@sha256:abc", "`sha256:abc`"),
        ("my_registry.io/app", "`my_registry`"),
        ("localhost:70000/app", "`70000`"),
        ("app..x", "`app..x`"),
        ("ghcr.io//a", "empty path component"),
        ("ghcr.io/a/b:c:d", "`:`"),
        ("ngi nx", "` `"),
    ];
    for (input, part) in cases {
        let err = ImageRef::parse(input).unwrap_err();
        assert!(
            matches!(err, ParseError::Invalid { .. }),
            "{input}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(part), "{input}: `{msg}` should name {part}");
    }
}

#[test]
fn familiar_form_drops_the_hub_defaults_only() {
    let cases = [
        ("docker.io/library/nginx:1.27", "nginx:1.27"),
        ("nginx", "nginx"),
        ("user/app", "user/app"),
        ("docker.io/library/a/b", "library/a/b"),
        ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1"),
        ("localhost:5000/app", "localhost:5000/app"),
        // Regression: `a.b/c` alone would name registry `a.b`, another image.
        ("docker.io/a.b/c", "docker.io/a.b/c"),
    ];
    for (input, want) in cases {
        let r = ImageRef::parse(input).unwrap();
        assert_eq!(r.familiar(), want, "{input}");
        assert_eq!(ImageRef::parse(want).unwrap(), r, "familiar form reparses");
    }
    let d = format!("sha256:{HEX}");
    let r = ImageRef::parse(&format!("nginx:1@{d}")).unwrap();
    assert_eq!(r.familiar(), format!("nginx:1@{d}"));
}

#[test]
fn copies_change_only_what_they_say() {
    let r = ImageRef::parse("ghcr.io/o/a:v1").unwrap();
    let d = Digest::sha256(b"manifest");
    let pinned = r.with_digest(d.clone());
    assert_eq!(pinned.to_string(), format!("ghcr.io/o/a:v1@{d}"));
    assert_eq!(pinned.without_digest(), r);
    assert_eq!(r.with_tag("v2").to_string(), "ghcr.io/o/a:v2");
    assert_eq!(pinned.without_tag().to_string(), format!("ghcr.io/o/a@{d}"));
    assert!(r.try_with_tag("v2").is_ok());
    let err = r.try_with_tag("bad tag").unwrap_err();
    assert!(err.to_string().contains("`bad tag`"), "{err}");
}

#[test]
fn from_str_and_serde_use_the_normalized_string() {
    let r: ImageRef = "nginx:1.27".parse().unwrap();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(json, "\"docker.io/library/nginx:1.27\"");
    let back: ImageRef = serde_json::from_str("\"nginx:1.27\"").unwrap();
    assert_eq!(back, r);
    let err = serde_json::from_str::<ImageRef>("\"Nginx\"").unwrap_err();
    assert!(err.to_string().contains("`Nginx`"), "{err}");

    let d = Digest::sha512(b"x");
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(json, format!("\"{d}\""));
    assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
    assert!(serde_json::from_str::<Digest>("\"sha256:00\"").is_err());
}
