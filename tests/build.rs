//! `[build] platforms` through the built binary: the platforms give Dockerfiles' automatic
//! platform args their values, and a bad platform is a configuration error.

mod common;

use common::{assert_exit, run_in, stderr};

fn images(out: &std::process::Output) -> Vec<String> {
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let mut images: Vec<String> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap().to_owned())
        .collect();
    images.sort();
    images
}

#[test]
fn build_platforms_expand_target_arch_in_from_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM golang:1.22-$TARGETARCH AS build\nFROM scratch AS bin-linux\nFROM bin-$TARGETOS\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["check", "--format", "json"]);
    assert_exit(&out, 1);
    assert_eq!(
        images(&out),
        [
            "docker.io/library/golang:1.22-amd64",
            "docker.io/library/golang:1.22-arm64"
        ]
    );
    std::fs::write(
        dir.path().join("portcullis.toml"),
        "[build]\nplatforms = [\"linux/s390x\"]\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["check", "--format", "json"]);
    assert_exit(&out, 1);
    assert_eq!(images(&out), ["docker.io/library/golang:1.22-s390x"]);
}

#[test]
fn a_bad_build_platform_is_a_configuration_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM alpine:3.20\n").unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        "[build]\nplatforms = [\"linux/amd64\", \"linux\"]\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["check"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("portcullis.toml:2:29") && err.contains("invalid platform `linux`"),
        "{err}"
    );
}
