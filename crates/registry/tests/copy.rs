//! The copy engine between two real Distribution registries (the target with token auth),
//! checked with skopeo as the independent client: the same index digest, every platform,
//! the cosign legacy `.sig` tag and an OCI referrer (listed in the target's fallback index);
//! a re-run writes nothing; a tag pointing elsewhere is not moved.

mod common;

use std::process::Command;

use common::{client_for, image};
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{
    fallback_tag, Client, CopyOptions, Credentials, Keychain, RegistryError,
};
use portcullis_testkit::{have_program, sha256_hex, Auth, ImageSpec, Registry};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A client holding the credentials of both registries.
fn client_for_both(source: &Registry, target: &Registry) -> Client {
    let mut keychain = Keychain::empty();
    for registry in [source, target] {
        if let Some((user, password)) = registry.credentials() {
            keychain.insert(&registry.host(), Credentials::new(user, password));
        }
    }
    Client::with_keychain(common::options(), keychain).unwrap()
}

fn skopeo_raw(registry: &Registry, reference: &str) -> Option<Vec<u8>> {
    let mut command = Command::new("skopeo");
    command.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some((user, password)) = registry.credentials() {
        command.arg(format!("--creds={user}:{password}"));
    }
    let output = command
        .arg(format!("docker://{}/{reference}", registry.host()))
        .output()
        .unwrap();
    output.status.success().then_some(output.stdout)
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// An artifact manifest (one small blob) pushed into `repo` by digest or tag; with
/// `subject`, it refers to that manifest.
fn push_artifact(
    registry: &Registry,
    repo: &str,
    reference: Option<&str>,
    payload: &[u8],
    artifact_type: &str,
    subject: Option<(&Digest, usize)>,
) -> (Digest, Vec<u8>) {
    let blob = registry.push_blob(repo, payload).unwrap();
    let empty = registry.push_blob(repo, b"{}").unwrap();
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2 },
        "layers": [{ "mediaType": "application/octet-stream", "digest": blob.to_string(), "size": payload.len() }],
        "annotations": { "org.example.kind": artifact_type },
    });
    if let Some((digest, size)) = subject {
        manifest["subject"] =
            json!({ "mediaType": OCI_INDEX, "digest": digest.to_string(), "size": size });
    }
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = Digest::parse(&digest_of(&bytes)).unwrap();
    let reference = reference.map_or_else(|| digest.to_string(), str::to_owned);
    registry
        .push_manifest(repo, &reference, OCI_MANIFEST, &bytes)
        .unwrap();
    (digest, bytes)
}

/// Writes in the registry's log: uploads, manifest and tag writes.
fn writes(registry: &Registry) -> Vec<String> {
    registry
        .requests()
        .into_iter()
        .filter(|r| matches!(r.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_an_index_with_its_signature_tag_and_referrer_byte_for_byte() {
    assert!(
        have_program("skopeo"),
        "skopeo is needed (scripts/install-test-deps)"
    );
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::Token {
        user: "mirror".into(),
        password: "s3cret-mirror".into(),
    })
    .unwrap();
    let (index, children) = source
        .seed_index(
            "library/alpine",
            "3.20",
            &[("linux", "amd64", None), ("linux", "arm64", Some("v8"))],
        )
        .unwrap();
    let (_, index_bytes) = source.fetch_manifest("library/alpine", "3.20").unwrap();
    // cosign's legacy layout: a signature image at `sha256-<hex>.sig`.
    let sig_tag = format!("{}.sig", fallback_tag(&index));
    let (sig, _) = push_artifact(
        &source,
        "library/alpine",
        Some(&sig_tag),
        b"legacy signature",
        "application/vnd.dev.cosign.simplesigning.v1+json",
        None,
    );
    // An OCI 1.1 referrer, listed in the source's fallback index (Distribution 2 has no
    // referrers API).
    let (referrer, referrer_bytes) = push_artifact(
        &source,
        "library/alpine",
        None,
        b"bundle",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        Some((&index, index_bytes.len())),
    );
    let fallback = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": referrer.to_string(),
            "size": referrer_bytes.len(),
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "annotations": { "org.example.kind": "bundle" },
        }],
    }))
    .unwrap();
    source
        .push_manifest(
            "library/alpine",
            &fallback_tag(&index),
            OCI_INDEX,
            &fallback,
        )
        .unwrap();

    let client = client_for_both(&source, &target);
    let from = image(&source, "library/alpine", "3.20");
    let to = ImageRef::parse(&format!("{}/mirror/alpine", target.host())).unwrap();
    let options = CopyOptions {
        referrers: true,
        ..CopyOptions::default()
    };
    let report = client.copy(&from, &to, &options).await.unwrap();
    assert_eq!(report.digest.as_ref(), Some(&index), "{report:?}");
    assert!(!report.already_present);
    assert_eq!(report.legacy_tags_copied, 1, "{report:?}");
    assert_eq!(report.referrers_copied, 1, "{report:?}");

    // skopeo, the independent client, finds the same bytes in the target.
    let copied = skopeo_raw(&target, "mirror/alpine:3.20").expect("tag in the target");
    assert_eq!(digest_of(&copied), index.to_string());
    for child in &children {
        let bytes = skopeo_raw(&target, &format!("mirror/alpine@{child}")).expect("child");
        assert_eq!(digest_of(&bytes), child.to_string());
    }
    let sig_bytes = skopeo_raw(&target, &format!("mirror/alpine:{sig_tag}")).expect("sig tag");
    assert_eq!(digest_of(&sig_bytes), sig.to_string());
    let referrer_copy =
        skopeo_raw(&target, &format!("mirror/alpine@{referrer}")).expect("referrer");
    assert_eq!(referrer_copy, referrer_bytes);
    let listed = skopeo_raw(&target, &format!("mirror/alpine:{}", fallback_tag(&index)))
        .expect("fallback index in the target");
    let listed: serde_json::Value = serde_json::from_slice(&listed).unwrap();
    assert_eq!(listed["manifests"][0]["digest"], referrer.to_string());
    assert_eq!(
        listed["manifests"][0]["annotations"]["org.example.kind"],
        "bundle"
    );

    // A re-run with nothing new writes nothing to the target.
    let before = writes(&target).len();
    let again = client.copy(&from, &to, &options).await.unwrap();
    assert!(again.already_present, "{again:?}");
    assert_eq!(writes(&target)[before..], [] as [String; 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_pointing_elsewhere_is_not_moved_without_allow_retag() {
    let registry = Registry::start(Auth::None).unwrap();
    let wanted = registry
        .seed_image("app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let other = registry
        .seed_image(
            "mirror/app",
            "1.0",
            &ImageSpec::new("linux", "amd64").layers(vec![b"other".to_vec()]),
        )
        .unwrap();
    let client = client_for(&registry);
    let from = image(&registry, "app", "1.0");
    let to = image(&registry, "mirror/app", "1.0");
    let before = writes(&registry).len();
    let error = client
        .copy(&from, &to, &CopyOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::Retag { .. }), "{error}");
    assert!(error.to_string().contains(&other.to_string()), "{error}");
    assert_eq!(writes(&registry)[before..], [] as [String; 0]);
    // Asked before a copy by digest: the same refusal, and nothing written.
    let error = client.tag_holds(&to, &wanted, false).await.unwrap_err();
    assert!(matches!(error, RegistryError::Retag { .. }), "{error}");
    assert!(!client.tag_holds(&to, &wanted, true).await.unwrap());
    assert!(client.tag_holds(&to, &other, false).await.unwrap());
    assert!(!client
        .tag_holds(&image(&registry, "mirror/app", "2.0"), &wanted, false)
        .await
        .unwrap());
    assert_eq!(writes(&registry)[before..], [] as [String; 0]);
    // Allowed, it moves, and the blobs come by mount (same registry): no layer bytes sent.
    let report = client
        .copy(
            &from,
            &to,
            &CopyOptions {
                allow_retag: true,
                ..CopyOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(report.digest.as_ref(), Some(&wanted));
    assert!(report.blobs_mounted >= 1, "{report:?}");
    assert_eq!(report.bytes, 0, "{report:?}");
    let (_, bytes) = registry.fetch_manifest("mirror/app", "1.0").unwrap();
    assert_eq!(digest_of(&bytes), wanted.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_listed_platforms_make_a_new_index() {
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    let (index, children) = source
        .seed_index(
            "base",
            "1",
            &[("linux", "amd64", None), ("linux", "arm64", Some("v8"))],
        )
        .unwrap();
    let client = client_for_both(&source, &target);
    let options = CopyOptions {
        platforms: Some(vec![
            portcullis_reference::Platform::parse("linux/arm64").unwrap()
        ]),
        ..CopyOptions::default()
    };
    let to = ImageRef::parse(&format!("{}/base", target.host())).unwrap();
    let report = client
        .copy(&image(&source, "base", "1"), &to, &options)
        .await
        .unwrap();
    let digest = report.digest.clone().unwrap();
    assert_ne!(digest, index, "a filtered index is a new index");
    let (_, bytes) = target.fetch_manifest("base", "1").unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let listed: Vec<&str> = doc["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [children[1].to_string().as_str()]);
    assert!(target
        .fetch_manifest("base", &children[0].to_string())
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_chain_of_indexes_is_refused_and_nothing_is_tagged() {
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    let (mut digest, _) = source
        .seed_index("chain", "base", &[("linux", "amd64", None)])
        .unwrap();
    let (_, mut bytes) = source.fetch_manifest("chain", "base").unwrap();
    // Each index lists the one before: eight levels of indexes over one image.
    for level in 0..8 {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{ "mediaType": OCI_INDEX, "digest": digest.to_string(), "size": bytes.len() }],
            "annotations": { "level": level.to_string() },
        }))
        .unwrap();
        digest = source
            .push_manifest("chain", "top", OCI_INDEX, &index)
            .unwrap();
        bytes = index;
    }
    let client = client_for_both(&source, &target);
    let to = ImageRef::parse(&format!("{}/chain", target.host())).unwrap();
    let error = client
        .copy(
            &image(&source, "chain", "top"),
            &to,
            &CopyOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("nested more than"), "{error}");
    assert!(target.fetch_manifest("chain", "top").is_err());
}
