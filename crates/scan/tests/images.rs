//! Which image real Trivy and Grype reports (tests/data, see its README) say they are
//! about, and how that compares with the image being scanned.

use portcullis_reference::{Digest, ImageRef};
use portcullis_scan::{check_image, parse_document, Document, InputSource, ReportedImage};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn image_of(name: &str) -> Option<ReportedImage> {
    match parse_document(name, &data(name), None).unwrap() {
        Document::Report { image, .. } => image,
        other => panic!("{name}: not a report: {other:?}"),
    }
}

fn digest(text: &str) -> Digest {
    Digest::parse(text).unwrap()
}

#[test]
fn each_fixture_names_its_image() {
    // Trivy scanned archives (`ArtifactName` is the `.tar.gz`): the image's tag names it.
    // `ImageID` is the config digest, not a manifest digest, so it is not listed.
    for name in ["alpine-310.json", "alpine-310.sarif"] {
        assert_eq!(
            image_of(name),
            Some(ReportedImage {
                name: "ghcr.io/aquasecurity/trivy-test-images:alpine-310".into(),
                digests: vec![],
            }),
            "{name}"
        );
    }
    assert_eq!(
        image_of("debian-buster.json").unwrap().name,
        "ghcr.io/aquasecurity/trivy-test-images:debian-buster"
    );
    // Grype: `source.target.userInput` and the manifest digest.
    assert_eq!(
        image_of("grype-image.json"),
        Some(ReportedImage {
            name: "user-input".into(),
            digests: vec![digest(
                "sha256:ca738abb87a8d58f112d3400ebb079b61ceae7dc290beb34bda735be4b1941d5"
            )],
        })
    );
    // Grype SARIF: `user-input@:/somefile-1.txt` logical locations, no digests.
    assert_eq!(
        image_of("grype-image.sarif"),
        Some(ReportedImage {
            name: "user-input".into(),
            digests: vec![],
        })
    );
    // A filesystem scan and a scan of an unknown source name no image.
    assert_eq!(image_of("npm-with-suppressed.json"), None);
    assert_eq!(image_of("grype-empty.json"), None);
}

/// Trivy's own report for `alpine:3.10` pulled from a registry, as `trivy image` writes it:
/// the real alpine-310 report with the fields of a registry scan.
fn trivy_registry_report(name: &str, repo_digest: &str) -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(&data("alpine-310.json")).unwrap();
    doc["ArtifactName"] = name.into();
    doc["Metadata"]["RepoTags"] = serde_json::json!([name]);
    doc["Metadata"]["RepoDigests"] = serde_json::json!([repo_digest]);
    serde_json::to_vec(&doc).unwrap()
}

const ALPINE_DIGEST: &str =
    "sha256:72c42ed48c3a2db31b7dafe17d275b634664a708d901ec9fd57b1529280f01fb";

#[test]
fn a_registry_scan_names_what_was_pulled_and_its_repo_digest() {
    let bytes = trivy_registry_report("alpine:3.10", &format!("alpine@{ALPINE_DIGEST}"));
    let Document::Report { image, .. } = parse_document("r.json", &bytes, None).unwrap() else {
        panic!("not a report")
    };
    let image = image.unwrap();
    assert_eq!(
        (image.name.as_str(), image.digests.as_slice()),
        ("alpine:3.10", &[digest(ALPINE_DIGEST)][..])
    );
    let source = InputSource::File("r.json".into());
    let scanned = |text: &str| ImageRef::parse(text).unwrap();
    for (scanned_as, agrees) in [
        ("docker.io/library/alpine:3.10", true),
        (&format!("alpine@{ALPINE_DIGEST}") as &str, true),
        (
            "alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            false,
        ),
        ("nginx:1.27", false),
    ] {
        let mismatch = check_image(&source, &scanned(scanned_as), Some(&image));
        assert_eq!(mismatch.is_none(), agrees, "{scanned_as}: {mismatch:?}");
    }
}
