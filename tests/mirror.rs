//! End-to-end tests of `[[mirror]]` in a repository: `check` flags references to a mirrored
//! source (`not-from-mirror`), and `pin --mirror` moves them to the mirror with the digest
//! the source has, against a real Distribution registry holding both repositories.

mod common;

use std::path::Path;

use common::{assert_exit, run_in, skopeo_digest, stderr, stdout};
use portcullis_testkit::{Auth, ImageSpec, Registry};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

fn spec(layer: &str) -> ImageSpec {
    ImageSpec::new("linux", "amd64").layers(vec![layer.as_bytes().to_vec()])
}

struct Fixture {
    registry: Registry,
    dir: tempfile::TempDir,
    host: String,
}

/// A registry with `library/alpine:3.20` (the source) and `mirror/alpine:3.20` (the mirror,
/// holding `mirror_layer`'s image), `library/alpine:3.19` which is not mirrored, and a
/// repository whose Dockerfile and compose file name the source.
fn fixture(mirror_layer: &str) -> Fixture {
    let registry = Registry::start(Auth::None).expect("registry starts");
    registry
        .seed_image("library/alpine", "3.20", &spec("alpine 3.20"))
        .unwrap();
    registry
        .seed_image("mirror/alpine", "3.20", &spec(mirror_layer))
        .unwrap();
    registry
        .seed_image("library/alpine", "3.19", &spec("alpine 3.19"))
        .unwrap();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "portcullis.toml",
        &format!(
            "[[mirror]]\nfrom = \"{host}/library/alpine\"\nto = \"{host}/mirror/alpine\"\ntags = [\"3.20\"]\n"
        ),
    );
    write(
        d,
        "Dockerfile",
        &format!(
            "ARG BASE={host}/library/alpine:3.20\n\
             FROM $BASE AS build\n\
             FROM {host}/library/alpine:3.19   AS old\n\
             COPY --from=build /out /out\n"
        ),
    );
    write(
        d,
        "compose.yaml",
        &format!("services:\n  web:\n    image: \"{host}/library/alpine:3.20\"  # keep\n"),
    );
    Fixture {
        registry,
        dir,
        host,
    }
}

/// portcullis's requests for the mirror's manifests, in order.
fn mirror_lookups(registry: &Registry) -> Vec<String> {
    registry
        .requests()
        .into_iter()
        .filter(|r| r.user_agent.contains("portcullis") && r.path.starts_with("/v2/mirror/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn check_json(d: &Path) -> (std::process::Output, serde_json::Value) {
    let out = run_in(d, &["check", "--format", "json"]);
    let report = serde_json::from_slice(&out.stdout).expect("JSON report");
    (out, report)
}

fn mirror_findings(report: &serde_json::Value) -> Vec<&serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "not-from-mirror")
        .collect()
}

#[test]
fn check_flags_mirrored_sources_and_pin_mirror_moves_them_once() {
    let f = fixture("alpine 3.20");
    let (d, host) = (f.dir.path(), f.host.as_str());
    let digest = skopeo_digest(&format!("{host}/library/alpine:3.20"));
    assert_eq!(
        digest,
        skopeo_digest(&format!("{host}/mirror/alpine:3.20")),
        "the mirror holds the source's image"
    );
    let old = skopeo_digest(&format!("{host}/library/alpine:3.19"));

    // `check` names the reference, the mirror and the fix; 3.19 is not mirrored.
    let (out, report) = check_json(d);
    assert_exit(&out, 1);
    let flagged = mirror_findings(&report);
    let places: Vec<(&str, u64)> = flagged
        .iter()
        .map(|f| (f["file"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(places.len(), 2, "{flagged:#?}");
    assert!(places.iter().any(|(file, _)| *file == "compose.yaml"));
    assert!(places.iter().any(|(file, _)| *file == "Dockerfile"));
    for finding in &flagged {
        assert_eq!(finding["severity"], "error");
        let message = finding["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("`{host}/mirror/alpine`"))
                && message.contains(&format!("`{host}/library/alpine`")),
            "{message}"
        );
        let help = finding["help"].as_str().unwrap();
        assert!(help.starts_with("run `portcullis pin --mirror "), "{help}");
    }

    // `--check` shows the move without writing it.
    let (dockerfile, compose) = (read(d, "Dockerfile"), read(d, "compose.yaml"));
    let out = run_in(d, &["pin", "--mirror", "--check"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains(&format!("+ARG BASE={host}/mirror/alpine:3.20@{digest}")),
        "{}",
        stdout(&out)
    );
    assert_eq!(read(d, "Dockerfile"), dockerfile);
    assert_eq!(read(d, "compose.yaml"), compose);

    let asked = mirror_lookups(&f.registry);
    let out = run_in(d, &["pin", "--mirror"]);
    assert_exit(&out, 0);
    // Two references, one mirror reference: asked once, by digest.
    let asked = &mirror_lookups(&f.registry)[asked.len()..];
    assert_eq!(
        asked,
        [format!("HEAD /v2/mirror/alpine/manifests/{digest}")]
    );
    assert_eq!(
        read(d, "Dockerfile"),
        format!(
            "ARG BASE={host}/mirror/alpine:3.20@{digest}\n\
             FROM $BASE AS build\n\
             FROM {host}/library/alpine:3.19@{old}   AS old\n\
             COPY --from=build /out /out\n"
        )
    );
    assert_eq!(
        read(d, "compose.yaml"),
        format!("services:\n  web:\n    image: \"{host}/mirror/alpine:3.20@{digest}\"  # keep\n")
    );

    // Nothing left to move or pin, and `check` is satisfied.
    let (dockerfile, compose) = (read(d, "Dockerfile"), read(d, "compose.yaml"));
    let out = run_in(d, &["pin", "--mirror"]);
    assert_exit(&out, 0);
    assert_eq!(read(d, "Dockerfile"), dockerfile);
    assert_eq!(read(d, "compose.yaml"), compose);
    assert_exit(&run_in(d, &["pin", "--mirror", "--check"]), 0);
    let (out, report) = check_json(d);
    assert_exit(&out, 0);
    assert!(mirror_findings(&report).is_empty());
}

#[test]
fn pin_without_mirror_pins_the_source_where_it_is() {
    let f = fixture("alpine 3.20");
    let (d, host) = (f.dir.path(), f.host.as_str());
    let digest = skopeo_digest(&format!("{host}/library/alpine:3.20"));
    assert_exit(&run_in(d, &["pin"]), 0);
    assert!(
        read(d, "compose.yaml").contains(&format!("\"{host}/library/alpine:3.20@{digest}\"")),
        "{}",
        read(d, "compose.yaml")
    );
}

#[test]
fn a_mirror_without_the_digest_fails_and_leaves_the_reference_alone() {
    // The mirror's 3.20 is another image: it lacks the source's digest.
    let f = fixture("something else");
    let (d, host) = (f.dir.path(), f.host.as_str());
    let digest = skopeo_digest(&format!("{host}/library/alpine:3.20"));
    let old = skopeo_digest(&format!("{host}/library/alpine:3.19"));
    let compose = read(d, "compose.yaml");

    let out = run_in(d, &["pin", "--mirror"]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("does not hold `{digest}`"))
            && err.contains(&format!("`{host}/mirror/alpine:3.20@{digest}` not found"))
            && err.contains("`portcullis mirror`"),
        "{err}"
    );
    // Neither moved nor pinned at the source; the reference that is not mirrored is pinned.
    assert_eq!(read(d, "compose.yaml"), compose);
    let dockerfile = read(d, "Dockerfile");
    assert!(
        dockerfile.starts_with(&format!("ARG BASE={host}/library/alpine:3.20\n")),
        "{dockerfile}"
    );
    assert!(
        dockerfile.contains(&format!("{host}/library/alpine:3.19@{old}")),
        "{dockerfile}"
    );
}
