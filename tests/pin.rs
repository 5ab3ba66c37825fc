//! End-to-end tests of `portcullis pin` against a real Distribution registry, with skopeo as
//! the independent client that says what each tag's digest is.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_exit, run_in, skopeo_digest, stderr, stdout};
use portcullis_testkit::{Auth, ImageSpec, Registry};
use regex::Regex;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

struct Fixture {
    registry: Registry,
    dir: tempfile::TempDir,
    host: String,
}

fn fixture() -> Fixture {
    let registry = Registry::start(Auth::None).expect("registry starts");
    registry
        .seed_image("team/app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    registry
        .seed_index(
            "library/base",
            "3.20",
            &[("linux", "amd64", None), ("linux", "arm64", Some("v8"))],
        )
        .unwrap();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "services/app/Dockerfile",
        &format!(
            "# syntax is not pinned here\n\
             ARG BASE={host}/library/base:3.20\n\
             ARG UNSET\n\
             FROM --platform=linux/amd64   {host}/team/app:1.0   AS build\n\
             RUN make \\\n    all\n\
             FROM $BASE\n\
             COPY --from={host}/team/app:1.0 /out /out\n\
             FROM $UNSET AS other\n"
        ),
    );
    write(
        d,
        "compose.yaml",
        &format!("services:\n  web:\n    image: \"{host}/library/base:3.20\"   # quoted\n    ports: [\"80:80\"]\n"),
    );
    write(
        d,
        "deploy/pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: a\n      image: {host}/team/app:1.0\n"
        ),
    );
    git(d, &["init", "-q"]);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-qm", "init"]);
    Fixture {
        registry,
        dir,
        host,
    }
}

/// Every `ref@sha256:…` in `text` with its digest.
fn pins(text: &str) -> Vec<(String, String)> {
    let re = Regex::new(r"([0-9a-z.:/_-]+:[0-9a-z._-]+)@(sha256:[0-9a-f]{64})").unwrap();
    re.captures_iter(text)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect()
}

#[test]
fn pin_writes_the_digest_skopeo_sees_and_only_the_reference_changes() {
    let f = fixture();
    let d = f.dir.path();

    // --check changes nothing, prints a diff and exits 1.
    let before = read(d, "services/app/Dockerfile");
    let out = run_in(d, &["pin", "--check"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("+FROM --platform=linux/amd64   "),
        "{}",
        stdout(&out)
    );
    assert_eq!(read(d, "services/app/Dockerfile"), before);

    let out = run_in(d, &["pin"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("`$UNSET`"),
        "the unresolvable reference is named: {}",
        stderr(&out)
    );

    let mut seen = 0;
    for file in ["services/app/Dockerfile", "compose.yaml", "deploy/pod.yaml"] {
        for (image, digest) in pins(&read(d, file)) {
            assert_eq!(digest, skopeo_digest(&image), "{file}: {image}");
            seen += 1;
        }
    }
    // ARG default, FROM, COPY --from, compose, pod.
    assert_eq!(seen, 5, "{}", git(d, &["diff"]));
    assert!(read(d, "services/app/Dockerfile").contains("FROM $UNSET AS other"));
    assert!(
        read(d, "services/app/Dockerfile").contains("ARG BASE=")
            && read(d, "services/app/Dockerfile").contains("FROM $BASE\n")
    );

    // git diff: each changed line differs from the old one only by the inserted digest.
    let diff = git(d, &["diff", "-U0"]);
    let removed: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .collect();
    let added: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert_eq!(removed.len(), added.len(), "{diff}");
    assert_eq!(added.len(), 5, "{diff}");
    let strip = Regex::new(r"@sha256:[0-9a-f]{64}").unwrap();
    for (old, new) in removed.iter().zip(&added) {
        assert_eq!(&old[1..], strip.replace_all(&new[1..], ""), "{diff}");
    }

    // A second pin changes nothing, and --check agrees.
    let snapshot: Vec<String> = ["services/app/Dockerfile", "compose.yaml", "deploy/pod.yaml"]
        .iter()
        .map(|f| read(d, f))
        .collect();
    assert_exit(&run_in(d, &["pin"]), 0);
    let again: Vec<String> = ["services/app/Dockerfile", "compose.yaml", "deploy/pod.yaml"]
        .iter()
        .map(|f| read(d, f))
        .collect();
    assert_eq!(snapshot, again);
    let out = run_in(d, &["pin", "--check"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).is_empty());
}

#[test]
fn pin_moves_a_platform_pin_to_the_same_platform_and_updates_stale_pins() {
    let f = fixture();
    let d = f.dir.path();
    let host = &f.host;
    let (_, children) = f
        .registry
        .seed_index(
            "library/base",
            "3.20-old",
            &[("linux", "amd64", None), ("linux", "arm64", Some("v8"))],
        )
        .unwrap();
    // Pinned to the old index's arm64 manifest, by hand.
    write(
        d,
        "Dockerfile",
        &format!("FROM {host}/library/base:3.20@{}\n", children[1]),
    );
    let out = run_in(d, &["pin", "Dockerfile"]);
    assert_exit(&out, 0);
    let (new_index, new_children) = (skopeo_digest(&format!("{host}/library/base:3.20")), {
        let raw = Command::new("skopeo")
            .args([
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{host}/library/base:3.20"),
            ])
            .output()
            .unwrap()
            .stdout;
        let index: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["digest"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    });
    let text = read(d, "Dockerfile");
    // Same platform (arm64) in the tag's current index, not the index itself.
    assert_eq!(
        text,
        format!("FROM {host}/library/base:3.20@{}\n", new_children[1]),
        "index {new_index}"
    );

    // With --platform-pins index the index digest is written.
    let out = run_in(d, &["pin", "Dockerfile", "--platform-pins", "index"]);
    assert_exit(&out, 0);
    assert_eq!(
        read(d, "Dockerfile"),
        format!("FROM {host}/library/base:3.20@{new_index}\n")
    );
}

#[test]
fn pin_reports_a_missing_tag_and_leaves_the_file_alone() {
    let f = fixture();
    let d = f.dir.path();
    write(d, "Dockerfile", &format!("FROM {}/team/app:9.9\n", f.host));
    let out = run_in(d, &["pin", "Dockerfile"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("team/app:9.9"), "{}", stderr(&out));
    assert_eq!(
        read(d, "Dockerfile"),
        format!("FROM {}/team/app:9.9\n", f.host)
    );
}

#[test]
fn check_resolve_reports_stale_and_missing_digests() {
    let f = fixture();
    let d = f.dir.path();
    let host = &f.host;
    let (old_index, _) = f
        .registry
        .seed_index("library/base", "3.20-old", &[("linux", "amd64", None)])
        .unwrap();
    let missing = format!("sha256:{}", "0".repeat(64));
    write(
        d,
        "Dockerfile",
        &format!("FROM {host}/library/base:3.20@{old_index}\nFROM {host}/team/app:1.0@{missing}\n"),
    );
    let out = run_in(d, &["check", "Dockerfile", "--resolve", "--format", "json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    let rules: Vec<(&str, u64)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert!(rules.contains(&("digest-stale", 1)), "{rules:?}");
    assert!(rules.contains(&("digest-not-found", 2)), "{rules:?}");
    assert_exit(&out, 1);
}

/// Credentials never show in output, logs or errors, with verbose logging on, whether the
/// login works or is refused. Also a regression test: `pin -vv` deadlocked while the main
/// thread held the stderr lock and the resolver threads tried to log.
#[test]
fn credentials_never_appear_in_output_or_logs() {
    let canary = "canary-Secret-7f3a9c";
    let registry = Registry::start(Auth::Htpasswd {
        user: "ci".into(),
        password: canary.into(),
    })
    .unwrap();
    registry
        .seed_image("team/app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "Dockerfile",
        &format!("FROM {}/team/app:1.0\n", registry.host()),
    );
    let config_dir = d.join("docker");
    std::fs::create_dir_all(&config_dir).unwrap();
    registry.write_docker_config(&config_dir).unwrap();

    let out = common::portcullis()
        .current_dir(d)
        .env("DOCKER_CONFIG", &config_dir)
        .env("RUST_LOG", "trace")
        .args(["-vv", "pin", "--check", "Dockerfile"])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("@sha256:"), "{}", stderr(&out));
    for text in [stdout(&out), stderr(&out)] {
        assert!(!text.contains(canary), "secret leaked:\n{text}");
    }

    // A refused login: the wrong password (also a canary) is not echoed either.
    let wrong = "canary-Wrong-0b1d2e";
    let auth = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("ci:{wrong}"),
    );
    let out = common::portcullis()
        .current_dir(d)
        .env("DOCKER_CONFIG", d.join("nowhere"))
        .env(
            "DOCKER_AUTH_CONFIG",
            format!(
                "{{\"auths\":{{\"{}\":{{\"auth\":\"{auth}\"}}}}}}",
                registry.host()
            ),
        )
        .env("RUST_LOG", "trace")
        .args(["-vv", "check", "Dockerfile", "--resolve"])
        .output()
        .unwrap();
    assert_exit(&out, 3);
    for text in [stdout(&out), stderr(&out)] {
        assert!(
            !text.contains(wrong) && !text.contains(&auth),
            "secret leaked:\n{text}"
        );
    }
    assert!(stderr(&out).contains("team/app"), "{}", stderr(&out));
}

/// `pin` wrote through a symlink named on the command line to a file outside the
/// repository, and replaced read-only files.
#[cfg(unix)]
#[test]
fn pin_writes_only_writable_files_inside_the_repository() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = fixture();
    let d = f.dir.path();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("Dockerfile");
    let text = format!("FROM {}/team/app:1.0\n", f.host);
    std::fs::write(&target, &text).unwrap();
    std::os::unix::fs::symlink(&target, d.join("linked.Dockerfile")).unwrap();
    write(d, "locked/Dockerfile", &text);
    std::fs::set_permissions(
        d.join("locked/Dockerfile"),
        std::fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    let out = run_in(d, &["pin", "linked.Dockerfile", "locked", "services"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("linked.Dockerfile") && err.contains("outside the repository"),
        "{err}"
    );
    assert!(
        err.contains("locked/Dockerfile") && err.contains("read-only"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), text);
    assert_eq!(read(d, "locked/Dockerfile"), text);
    // The rest was still pinned.
    assert!(!pins(&read(d, "services/app/Dockerfile")).is_empty());
}
