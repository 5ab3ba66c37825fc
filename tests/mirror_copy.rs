//! End-to-end tests of `portcullis mirror` between two real Distribution registries (the
//! target with token auth), with skopeo as the independent client: what the policy admits
//! arrives byte for byte with its signature tag, what it refuses never reaches the target,
//! a re-run writes nothing, and runs killed with SIGKILL leave no tag on an incomplete
//! image.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use common::{assert_exit, portcullis, stderr, stdout};
use portcullis_testkit::{have_program, sha256_hex, Auth, ImageSpec, Registry};

/// A Docker config directory with the credentials of `registries`.
fn docker_config(dir: &Path, registries: &[&Registry]) -> std::path::PathBuf {
    let mut auths = serde_json::Map::new();
    for registry in registries {
        if let Some((user, password)) = registry.credentials() {
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            auths.insert(registry.host(), serde_json::json!({ "auth": auth }));
        }
    }
    let config = dir.join("docker");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.json"),
        serde_json::to_vec(&serde_json::json!({ "auths": auths })).unwrap(),
    )
    .unwrap();
    config
}

fn mirror(dir: &Path, docker: &Path, args: &[&str]) -> std::process::Output {
    portcullis()
        .current_dir(dir)
        .env("DOCKER_CONFIG", docker)
        .arg("mirror")
        .args(args)
        .output()
        .unwrap()
}

fn skopeo(registry: &Registry, args: &[&str]) -> std::process::Output {
    let mut command = Command::new("skopeo");
    command.args(args);
    if let Some((user, password)) = registry.credentials() {
        command.arg(format!("--creds={user}:{password}"));
    }
    command.output().unwrap()
}

/// `sha256:` of the raw manifest skopeo reads, or `None` when it cannot.
fn skopeo_digest(registry: &Registry, reference: &str) -> Option<String> {
    let out = skopeo(
        registry,
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{}/{reference}", registry.host()),
        ],
    );
    out.status
        .success()
        .then(|| format!("sha256:{}", sha256_hex(&out.stdout)))
}

/// Whether skopeo can copy the whole image out of `registry` (every blob present and
/// matching its digest).
fn complete(registry: &Registry, reference: &str, scratch: &Path) -> bool {
    let dest = scratch.join(reference.replace(['/', ':'], "_"));
    let _ = std::fs::remove_dir_all(&dest);
    let mut command = Command::new("skopeo");
    command.args(["copy", "--all", "--src-tls-verify=false"]);
    if let Some((user, password)) = registry.credentials() {
        command.arg(format!("--src-creds={user}:{password}"));
    }
    let out = command
        .arg(format!("docker://{}/{reference}", registry.host()))
        .arg(format!("dir:{}", dest.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success() || !String::from_utf8_lossy(&out.stderr).contains("flag"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success()
}

/// Uploads, manifest and tag writes in the registry's log.
fn writes(registry: &Registry) -> usize {
    registry
        .requests()
        .iter()
        .filter(|r| matches!(r.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE"))
        .count()
}

#[test]
fn mirrors_what_the_policy_admits_and_a_rerun_writes_nothing() {
    assert!(
        have_program("skopeo"),
        "skopeo is needed (scripts/install-test-deps)"
    );
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::Token {
        user: "mirror".into(),
        password: "mirror-s3cret".into(),
    })
    .unwrap();
    let platforms = [("linux", "amd64", None), ("linux", "arm64", Some("v8"))];
    let (index_20, _) = source
        .seed_index("library/alpine", "3.20", &platforms)
        .unwrap();
    let (index_21, _) = source
        .seed_index("library/alpine", "3.21", &platforms)
        .unwrap();
    source
        .seed_index("library/alpine", "3.19", &platforms)
        .unwrap();
    // cosign's legacy signature tag for 3.20.
    let sig_tag = format!("sha256-{}.sig", index_20.hex());
    source
        .seed_image(
            "library/alpine",
            &sig_tag,
            &ImageSpec::new("linux", "amd64").layers(vec![b"signature".to_vec()]),
        )
        .unwrap();
    source
        .seed_image("evil/tool", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let (src, dst) = (source.host(), target.host());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        format!(
            r#"[images]
allow = ["{src}/library/*"]

[[mirror]]
from = "{src}/library/alpine"
to = "{dst}/mirror/alpine"
tag-regex = '3\.2\d'

[[mirror]]
from = "{src}/evil/tool"
to = "{dst}/mirror/tool"
tags = ["1.0"]
"#
        ),
    )
    .unwrap();
    let docker = docker_config(dir.path(), &[&source, &target]);

    // A dry run writes nothing and says what it would do.
    let out = mirror(dir.path(), &docker, &["--dry-run", "--format", "json"]);
    assert_exit(&out, 1);
    assert_eq!(writes(&target), 0, "a dry run writes nothing");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<&str> = report["mirrored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["refused", "planned", "planned"], "{report:#}");

    let out = mirror(dir.path(), &docker, &["--format", "json"]);
    assert_exit(&out, 1);
    // The report passes the committed JSON schema, checked by an independent validator.
    let file = dir.path().join("mirror.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let validator = common::repo_root().join(".venv/bin/check-jsonschema");
    let checked = Command::new(&validator)
        .arg("--schemafile")
        .arg(common::repo_root().join("schemas/report-v1.schema.json"))
        .arg(&file)
        .output()
        .expect("check-jsonschema (scripts/install-test-deps)");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<&str> = common::rules(&report);
    assert_eq!(rules, ["image-not-allowed"], "{report:#}");
    assert!(
        report["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("evil/tool"),
        "{report:#}"
    );
    let by_source = |tag: &str| {
        report["mirrored"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["source"].as_str().unwrap().ends_with(tag))
            .cloned()
            .unwrap()
    };
    assert_eq!(by_source("alpine:3.20")["outcome"], "copied");
    assert_eq!(by_source("alpine:3.20")["digest"], index_20.to_string());
    assert_eq!(by_source("alpine:3.20")["referrers"], 1);
    assert_eq!(by_source("tool:1.0")["outcome"], "refused");

    // skopeo finds the same index digests, every platform, and the signature tag.
    assert_eq!(
        skopeo_digest(&target, "mirror/alpine:3.20"),
        Some(index_20.to_string())
    );
    assert_eq!(
        skopeo_digest(&target, "mirror/alpine:3.21"),
        Some(index_21.to_string())
    );
    assert_eq!(
        skopeo_digest(&target, &format!("mirror/alpine:{sig_tag}")),
        skopeo_digest(&source, &format!("library/alpine:{sig_tag}"))
    );
    let scratch = tempfile::tempdir().unwrap();
    assert!(complete(&target, "mirror/alpine:3.20", scratch.path()));
    assert_eq!(
        skopeo_digest(&target, "mirror/alpine:3.19"),
        None,
        "not matched"
    );
    // Nothing of the refused source reached the target.
    assert!(
        !target
            .requests()
            .iter()
            .any(|r| r.path.contains("/mirror/tool/")),
        "{:?}",
        target.requests()
    );

    // A re-run with nothing new writes nothing.
    let before = writes(&target);
    let out = mirror(dir.path(), &docker, &["--format", "json"]);
    assert_exit(&out, 1);
    assert_eq!(writes(&target), before, "a re-run writes nothing");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mirrored"][1]["outcome"], "present", "{report:#}");
    assert!(!stderr(&out).contains("mirror-s3cret"));
    // The run's registry traffic: requests made, nothing moved on a re-run.
    let traffic = &report["summary"]["traffic"];
    assert!(traffic["requests"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(traffic["bytes_written"], 0, "{report:#}");
    // JUnit: one `portcullis mirror` suite, valid against junit-10.xsd, the images in place
    // passing and the refused one failing.
    let junit = dir.path().join("mirror.xml");
    let out = mirror(
        dir.path(),
        &docker,
        &["-f", "human", "-f", &format!("junit={}", junit.display())],
    );
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("registries: "), "{}", stdout(&out));
    let checked = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(common::repo_root().join("crates/report/tests/data/junit-10.xsd"))
        .arg(&junit)
        .output()
        .expect("xmllint (scripts/install-test-deps)");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"portcullis mirror\""),
        "{xml}"
    );
    assert_eq!(xml.matches("classname=\"mirror\"").count(), 2, "{xml}");
    assert!(xml.contains("image-not-allowed"), "{xml}");
    // The pull-request comment format lists each image.
    let out = mirror(dir.path(), &docker, &["--format", "markdown"]);
    assert_exit(&out, 1);
    let markdown = String::from_utf8_lossy(&out.stdout);
    assert!(markdown.contains("#### Mirrored"), "{markdown}");
    assert!(
        markdown.contains("/evil/tool:1.0` | `") && markdown.contains("| **refused** |"),
        "{markdown}"
    );
    assert!(markdown.contains("| already mirrored |"), "{markdown}");
}

/// A small deterministic sequence for the kill delays.
fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    *state >> 33
}

#[test]
fn runs_killed_at_random_points_leave_no_tag_on_an_incomplete_image() {
    assert!(
        have_program("skopeo"),
        "skopeo is needed (scripts/install-test-deps)"
    );
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    let tags: Vec<String> = (0..6).map(|i| format!("1.{i}")).collect();
    for (i, tag) in tags.iter().enumerate() {
        // A few megabytes each, so a run takes long enough to be cut short.
        let layer: Vec<u8> = (0..3_000_000u32)
            .map(|k| (k.wrapping_mul(2_654_435_761).wrapping_add(i as u32) >> 13) as u8)
            .collect();
        source
            .seed_image(
                "team/app",
                tag,
                &ImageSpec::new("linux", "amd64").layers(vec![layer, tag.as_bytes().to_vec()]),
            )
            .unwrap();
    }
    let (src, dst) = (source.host(), target.host());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        format!(
            "[[mirror]]\nfrom = \"{src}/team/app\"\nto = \"{dst}/mirror/app\"\ntag-regex = '1\\.\\d'\n"
        ),
    )
    .unwrap();
    let docker = docker_config(dir.path(), &[]);
    let scratch = tempfile::tempdir().unwrap();
    let mut seed = 7;
    for round in 0..4 {
        let mut child = portcullis()
            .current_dir(dir.path())
            .env("DOCKER_CONFIG", &docker)
            .args(["mirror", "--format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(40 + next(&mut seed) % 400));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        for tag in &tags {
            if skopeo_digest(&target, &format!("mirror/app:{tag}")).is_some() {
                assert!(
                    complete(&target, &format!("mirror/app:{tag}"), scratch.path()),
                    "round {round}: `mirror/app:{tag}` is tagged but incomplete"
                );
            }
        }
    }
    let out = mirror(dir.path(), &docker, &[]);
    assert_exit(&out, 0);
    for tag in &tags {
        assert_eq!(
            skopeo_digest(&target, &format!("mirror/app:{tag}")),
            skopeo_digest(&source, &format!("team/app:{tag}")),
            "{tag}"
        );
        assert!(complete(
            &target,
            &format!("mirror/app:{tag}"),
            scratch.path()
        ));
    }
}

#[test]
fn the_scan_gate_keeps_a_vulnerable_source_out_and_copies_a_clean_one() {
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    source
        .seed_image("team/app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let clean = source
        .seed_image(
            "team/clean",
            "1.0",
            &ImageSpec::new("linux", "amd64").layers(vec![b"clean".to_vec()]),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = common::repo_root().join("crates/scan/tests/data");
    // A scanner that finds the fixture's vulnerabilities in `team/app` and none elsewhere,
    // and names the image it was given.
    let script = d.join("scanner.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in */team/app*) keep=true;; *) keep=false;; esac\njq --arg image \"$1\" --argjson keep $keep '.source.target.userInput = $image | if $keep then . else .matches = [] end' '{}'\n",
            data.join("grype-image.json").display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (src, dst) = (source.host(), target.host());
    std::fs::write(
        d.join("portcullis.toml"),
        format!(
            r#"[scan]
hooks = ["mine"]
fail-on = "medium"

[[scan.hook]]
name = "mine"
command = ["{}", "{{image}}"]
format = "grype-json"

[[mirror]]
from = "{src}/team/app"
to = "{dst}/mirror/app"
tags = ["1.0"]
scan = true

[[mirror]]
from = "{src}/team/clean"
to = "{dst}/mirror/clean"
tags = ["1.0"]
scan = true
"#,
            script.display()
        ),
    )
    .unwrap();
    let docker = docker_config(d, &[]);
    let out = mirror(d, &docker, &["--format", "json"]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = common::rules(&report);
    assert!(
        !rules.is_empty() && rules.iter().all(|r| *r == "vulnerability"),
        "{report:#}"
    );
    assert_eq!(report["mirrored"][0]["outcome"], "refused", "{report:#}");
    assert_eq!(report["mirrored"][1]["outcome"], "copied", "{report:#}");
    assert!(
        !target
            .requests()
            .iter()
            .any(|r| r.path.contains("/mirror/app/")),
        "nothing of the vulnerable source reached the target"
    );
    let (_, bytes) = target.fetch_manifest("mirror/clean", "1.0").unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&bytes)), clean.to_string());
}
