//! Small artifacts against a real Distribution registry: a blob and a manifest with a
//! `subject` pushed from memory (read back by the testkit's own client), blobs read into
//! memory under a cap and checked, and referrers listed from the fallback index that
//! `add_fallback_referrer` maintains, filtered by artifact type.

mod common;

use std::collections::BTreeMap;

use common::{client_for, image};
use portcullis_reference::Digest;
use portcullis_registry::{fallback_tag, Referrer, RegistryError};
use portcullis_testkit::{sha256_hex, Auth, ImageSpec, Registry};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_are_pushed_from_memory_and_read_back_capped_and_checked() {
    let registry = Registry::start(Auth::None).unwrap();
    let client = client_for(&registry);
    let repo = image(&registry, "app", "v1").without_tag();

    // A blob from memory, read back by the testkit and by the capped read.
    let payload = b"a small signature payload".to_vec();
    let blob = client.push_blob(&repo, &payload).await.unwrap();
    assert_eq!(blob.to_string(), format!("sha256:{}", sha256_hex(&payload)));
    // Pushing it again finds it there.
    assert_eq!(client.push_blob(&repo, &payload).await.unwrap(), blob);
    let read = client
        .fetch_blob(&repo, &blob, payload.len() as u64, 1024)
        .await
        .unwrap();
    assert_eq!(read, payload);

    // A descriptor that claims fewer bytes than the blob holds: refused while reading.
    let error = client.fetch_blob(&repo, &blob, 5, 1024).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::SizeMismatch { .. }),
        "{error}"
    );
    // A descriptor over the cap: refused before reading.
    let error = client
        .fetch_blob(&repo, &blob, payload.len() as u64, 8)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::TooLarge { limit: 8, .. }),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_are_pushed_and_listed_from_the_fallback_index() {
    let registry = Registry::start(Auth::None).unwrap();
    let subject = registry
        .seed_image("app", "v1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let client = client_for(&registry);
    let repo = image(&registry, "app", "v1").without_tag();
    let payload = b"a bundle".to_vec();
    let blob = client.push_blob(&repo, &payload).await.unwrap();
    let sbom = client
        .push_blob(&repo, b"{\"spdxVersion\":\"SPDX-2.3\"}")
        .await
        .unwrap();

    // A manifest with a subject, by digest: Distribution 2 has no referrers API, so no
    // `OCI-Subject` comes back.
    let empty = client.push_blob(&repo, b"{}").await.unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE,
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2 },
        "layers": [{ "mediaType": BUNDLE, "digest": blob.to_string(), "size": payload.len() }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": 1 },
    }))
    .unwrap();
    let pushed = client
        .push_manifest(&repo, None, OCI_MANIFEST, &manifest)
        .await
        .unwrap();
    assert_eq!(pushed.digest, Digest::sha256(&manifest));
    assert!(!pushed.subject_indexed);
    let (_, stored) = registry
        .fetch_manifest("app", &pushed.digest.to_string())
        .unwrap();
    assert_eq!(stored, manifest);

    // No referrers yet; then one in the fallback index, with its annotations.
    assert!(client
        .referrers_of(&repo, &subject, None)
        .await
        .unwrap()
        .is_empty());
    let annotations = BTreeMap::from([(
        "dev.sigstore.bundle.content".to_owned(),
        "dsse-envelope".to_owned(),
    )]);
    let referrer = Referrer::new(
        pushed.digest.clone(),
        OCI_MANIFEST,
        pushed.size,
        BUNDLE,
        &annotations,
    );
    assert!(client
        .add_fallback_referrer(&repo, &subject, &referrer)
        .await
        .unwrap());
    // Listed once: adding it again changes nothing.
    assert!(!client
        .add_fallback_referrer(&repo, &subject, &referrer)
        .await
        .unwrap());
    let other_type = Referrer::new(
        sbom.clone(),
        OCI_MANIFEST,
        3,
        "application/spdx+json",
        &BTreeMap::new(),
    );
    assert!(client
        .add_fallback_referrer(&repo, &subject, &other_type)
        .await
        .unwrap());
    let (_, index) = registry
        .fetch_manifest("app", &fallback_tag(&subject))
        .unwrap();
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(
        index["manifests"][0]["annotations"]["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );

    let all = client.referrers_of(&repo, &subject, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let bundles = client
        .referrers_of(&repo, &subject, Some(BUNDLE))
        .await
        .unwrap();
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].digest, pushed.digest);
    assert_eq!(bundles[0].artifact_type(), Some(BUNDLE));
    assert_eq!(bundles[0].size(), pushed.size);
    assert_eq!(bundles[0].annotations(), annotations);
}
