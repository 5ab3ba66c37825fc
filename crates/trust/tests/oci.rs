//! cosign's OCI layouts against a real Distribution registry (which has no referrers API, so
//! the fallback tag index is what lists referrers), with skopeo as the independent reader:
//! a bundle referrer and its fallback entry, legacy `.sig` layers of two signers, discovery
//! of both, and registries that try to make discovery read without end.

use std::collections::BTreeMap;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{fallback_tag, Client, ClientOptions, RegistryError};
use portcullis_testkit::{have_program, sha256_hex, Auth, ImageSpec, Registry};
use portcullis_trust::oci::{
    append_legacy, attach_bundle, discover, legacy_tag, simple_signing_payload, BundleView,
    DiscoveryLimits, IndexedBy, LegacyEntry, LegacyKind, OciError, RekorBundle, RekorPayload,
    BUNDLE_MEDIA_TYPE,
};
use portcullis_trust::statement::{Statement, INTOTO_PAYLOAD_TYPE};
use serde_json::{json, Value};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn client() -> Client {
    Client::new(ClientOptions {
        use_env: false,
        ..ClientOptions::default()
    })
    .unwrap()
}

fn skopeo_raw(registry: &Registry, reference: &str) -> Value {
    let output = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/{reference}", registry.host()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A registry with one image; the image pinned by digest.
fn seeded() -> (Registry, ImageRef) {
    let registry = Registry::start(Auth::None).unwrap();
    let digest = registry
        .seed_image("acme/app", "v1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let image = ImageRef::parse(&format!("{}/acme/app@{digest}", registry.host())).unwrap();
    (registry, image)
}

/// A bundle of the kind `cosign sign` v3 makes for `digest` (the signature itself is not
/// checked here: these are layouts).
fn signature_bundle(digest: &Digest, signer: &str) -> Vec<u8> {
    let statement = Statement::image_signature(digest, &BTreeMap::new());
    serde_json::to_vec(&json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {
            "certificate": {"rawBytes": STANDARD.encode(format!("cert of {signer}"))},
            "tlogEntries": [{
                "logIndex": "42", "logId": {"keyId": STANDARD.encode([0xc0, 0xff, 0xee])},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": "1760000000",
                "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(b"promise")},
                "canonicalizedBody": STANDARD.encode(b"{\"kind\":\"dsse\"}")
            }]
        },
        "dsseEnvelope": {
            "payload": STANDARD.encode(statement.to_bytes()),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": STANDARD.encode(format!("sig of {signer}")), "keyid": ""}]
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_referrer_is_pushed_indexed_and_discovered() {
    assert!(
        have_program("skopeo"),
        "skopeo is needed as the independent reader"
    );
    let (registry, image) = seeded();
    let digest = image.digest().unwrap().clone();
    let client = client();
    let bundle = signature_bundle(&digest, "alice");
    let created: jiff::Timestamp = "2026-03-01T10:20:30Z".parse().unwrap();
    // The tag written beside the digest names another image: the digest is what is signed.
    registry
        .seed_image(
            "acme/app",
            "v2",
            &ImageSpec::new("linux", "arm64").layers(vec![b"one".to_vec(), b"two".to_vec()]),
        )
        .unwrap();
    let tagged = image.with_tag("v2");
    let pushed = attach_bundle(&client, &tagged, &bundle, created)
        .await
        .unwrap();
    assert_eq!(pushed.indexed_by, IndexedBy::FallbackTag);
    assert_eq!(pushed.subject, digest);

    // skopeo reads the referrer by digest: subject, artifact type, empty config, the layer.
    let manifest = skopeo_raw(&registry, &format!("acme/app@{}", pushed.manifest));
    let subject_bytes = registry
        .fetch_manifest("acme/app", &digest.to_string())
        .unwrap()
        .1;
    assert_eq!(manifest["artifactType"], BUNDLE_MEDIA_TYPE);
    assert_eq!(
        manifest["subject"],
        json!({"mediaType": OCI_MANIFEST, "size": subject_bytes.len(), "digest": digest.to_string()})
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(
        manifest["config"]["digest"],
        format!("sha256:{}", sha256_hex(b"{}"))
    );
    assert_eq!(
        manifest["layers"],
        json!([{"mediaType": BUNDLE_MEDIA_TYPE, "size": bundle.len(), "digest": format!("sha256:{}", sha256_hex(&bundle))}])
    );
    let annotations = json!({
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
        "org.opencontainers.image.created": "2026-03-01T10:20:30Z",
    });
    assert_eq!(manifest["annotations"], annotations);

    // The fallback index lists it with the same annotations.
    let index = skopeo_raw(&registry, &format!("acme/app:{}", fallback_tag(&digest)));
    assert_eq!(index["mediaType"], OCI_INDEX);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["digest"], pushed.manifest.to_string());
    assert_eq!(entries[0]["artifactType"], BUNDLE_MEDIA_TYPE);
    assert_eq!(entries[0]["annotations"], annotations);

    // A second signer: the entry already there is kept.
    let second = attach_bundle(&client, &image, &signature_bundle(&digest, "bob"), created)
        .await
        .unwrap();
    let index = skopeo_raw(&registry, &format!("acme/app:{}", fallback_tag(&digest)));
    let listed: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [pushed.manifest.to_string(), second.manifest.to_string()]
    );
    assert_eq!(index["manifests"][0]["annotations"], annotations);

    let found = discover(&client, &image, DiscoveryLimits::default())
        .await
        .unwrap();
    assert_eq!(found.bundles.len(), 2, "{found:?}");
    assert!(
        found.legacy.is_empty() && found.skipped.is_empty(),
        "{found:?}"
    );
    assert_eq!(found.bundles[0].manifest, pushed.manifest);
    assert_eq!(found.bundles[0].bytes, bundle);
    assert_eq!(found.bundles[0].bundle, BundleView::parse(&bundle).unwrap());
    assert_eq!(
        found.bundles[0].annotations["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );
}

fn legacy_signature(image: &ImageRef, signer: &str) -> LegacyEntry {
    let digest = image.digest().unwrap();
    LegacyEntry {
        kind: LegacyKind::Signature,
        payload: simple_signing_payload(image, digest, &BTreeMap::new()),
        signature: format!("signature of {signer}").into_bytes(),
        certificate_pem: Some(format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode(signer)
        )),
        chain_pem: Some(
            "-----BEGIN CERTIFICATE-----\nY2hhaW4=\n-----END CERTIFICATE-----\n".into(),
        ),
        rekor_bundle: Some(RekorBundle {
            signed_entry_timestamp: STANDARD.encode(format!("set of {signer}")),
            payload: RekorPayload {
                body: STANDARD.encode(b"{\"kind\":\"hashedrekord\"}"),
                integrated_time: 1_760_000_000,
                log_index: 7,
                log_id: "c0ffee".into(),
            },
        }),
        predicate_type: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_signatures_of_two_signers_are_both_kept_and_read_back_exactly() {
    let (registry, image) = seeded();
    let digest = image.digest().unwrap().clone();
    let client = client();
    let alice = legacy_signature(&image, "alice");
    let bob = legacy_signature(&image, "bob");

    let first = append_legacy(&client, &image, &alice).await.unwrap();
    assert_eq!(first.tag, format!("sha256-{}.sig", digest.hex()));
    assert_eq!((first.layers, first.already_present), (1, false));
    let second = append_legacy(&client, &image, &bob).await.unwrap();
    assert_eq!((second.layers, second.already_present), (2, false));
    // The same signature again changes nothing.
    let again = append_legacy(&client, &image, &bob).await.unwrap();
    assert!(again.already_present);
    assert_eq!(again.manifest, second.manifest);

    let manifest = skopeo_raw(&registry, &format!("acme/app:{}", first.tag));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    // Both signers signed the same payload: one blob, two layers with their own annotations.
    assert_eq!(layers[0]["digest"], layers[1]["digest"]);
    assert_eq!(
        layers[0]["annotations"]["dev.cosignproject.cosign/signature"],
        STANDARD.encode("signature of alice")
    );
    assert_eq!(
        layers[1]["annotations"]["dev.cosignproject.cosign/signature"],
        STANDARD.encode("signature of bob")
    );
    assert_eq!(
        layers[1]["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    // The config lists both layers, as go-containerregistry writes it for cosign.
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config = Command::new("skopeo")
        .args(["inspect", "--config", "--raw", "--tls-verify=false"])
        .arg(format!(
            "docker://{}/acme/app:{}",
            registry.host(),
            first.tag
        ))
        .output()
        .unwrap();
    assert!(config.status.success());
    assert_eq!(
        format!("sha256:{}", sha256_hex(&config.stdout)),
        config_digest
    );
    let config: Value = serde_json::from_slice(&config.stdout).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"],
        json!([layers[0]["digest"], layers[1]["digest"]])
    );

    // An attestation goes to `.att`.
    let statement = Statement::image_signature(&digest, &BTreeMap::new());
    let view = BundleView::parse(&signature_bundle(&digest, "carol")).unwrap();
    let attestation = LegacyEntry::from_bundle(&view, &statement.to_bytes(), None).unwrap();
    assert_eq!(attestation.kind, LegacyKind::Attestation);
    let att = append_legacy(&client, &image, &attestation).await.unwrap();
    assert_eq!(att.tag, legacy_tag(&digest, LegacyKind::Attestation));

    let found = discover(&client, &image, DiscoveryLimits::default())
        .await
        .unwrap();
    assert!(
        found.bundles.is_empty() && found.skipped.is_empty(),
        "{found:?}"
    );
    assert_eq!(found.legacy.len(), 3);
    assert_eq!(found.legacy[0].entry, alice);
    assert_eq!(found.legacy[1].entry, bob);
    assert_eq!(found.legacy[0].tag, first.tag);
    assert_eq!(found.legacy[0].manifest, second.manifest);
    let att_found = &found.legacy[2].entry;
    assert_eq!(att_found, &attestation);
    assert_eq!(
        att_found.predicate_type.as_deref(),
        Some("https://sigstore.dev/cosign/sign/v1")
    );
    assert_eq!(
        att_found.rekor_bundle.as_ref().unwrap().payload.log_id,
        "c0ffee"
    );

    // All three layers together exceed a small per-image budget.
    let limits = DiscoveryLimits {
        max_total_bytes: 2 * alice.payload.len() as u64,
        ..DiscoveryLimits::default()
    };
    let error = discover(&client, &image, limits).await.unwrap_err();
    assert!(matches!(error, OciError::TooMuchData { .. }), "{error}");
    // And a tag with more layers than read is refused.
    let limits = DiscoveryLimits {
        max_layers: 1,
        ..DiscoveryLimits::default()
    };
    let error = discover(&client, &image, limits).await.unwrap_err();
    assert!(
        matches!(
            error,
            OciError::TooManyLayers {
                count: 2,
                limit: 1,
                ..
            }
        ),
        "{error}"
    );
}

/// Pushes a manifest with `layers` referring to `subject` by digest; returns its digest.
fn push_referrer(registry: &Registry, subject: &Digest, layer: (&Digest, usize)) -> Digest {
    let empty = registry.push_blob("acme/app", b"{}").unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [{"mediaType": BUNDLE_MEDIA_TYPE, "digest": layer.0.to_string(), "size": layer.1}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": 1},
    }))
    .unwrap();
    let digest = Digest::sha256(&manifest);
    registry
        .push_manifest("acme/app", &digest.to_string(), OCI_MANIFEST, &manifest)
        .unwrap();
    digest
}

fn push_fallback_index(registry: &Registry, subject: &Digest, entries: &[(Digest, u64)]) {
    let manifests: Vec<Value> = entries
        .iter()
        .map(|(digest, size)| {
            json!({"mediaType": OCI_MANIFEST, "digest": digest.to_string(), "size": size,
                   "artifactType": BUNDLE_MEDIA_TYPE})
        })
        .collect();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests,
    }))
    .unwrap();
    registry
        .push_manifest("acme/app", &fallback_tag(subject), OCI_INDEX, &index)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_index_of_ten_thousand_entries_is_refused() {
    let (registry, image) = seeded();
    let digest = image.digest().unwrap().clone();
    // Distribution accepts an index only of manifests it has: one referrer, listed
    // 10,000 times.
    let layer = registry.push_blob("acme/app", b"{}").unwrap();
    let referrer = push_referrer(&registry, &digest, (&layer, 2));
    let entries = vec![(referrer.clone(), 500); 10_000];
    push_fallback_index(&registry, &digest, &entries);
    let client = client();
    let before = client.stats();
    let error = discover(&client, &image, DiscoveryLimits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            OciError::TooManyReferrers {
                count: 10_000,
                limit: 1024,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("lists 10000 referrers"),
        "{error}"
    );
    // Refused from the index alone: no referrer manifest or blob was read.
    let after = client.stats();
    assert!(
        after.manifest_requests - before.manifest_requests <= 2,
        "{before:?} → {after:?}"
    );
    assert_eq!(after.blob_requests, before.blob_requests);

    // Under the listing limit, the same manifest listed 1,000 times is read once.
    push_fallback_index(&registry, &digest, &vec![(referrer.clone(), 500); 1000]);
    let before = client.stats();
    let found = discover(&client, &image, DiscoveryLimits::default())
        .await
        .unwrap();
    // Its layer `{}` is not a bundle.
    assert_eq!(found.skipped.len(), 1, "{found:?}");
    assert_eq!(found.skipped[0].manifest, referrer);
    let after = client.stats();
    assert!(
        after.manifest_requests - before.manifest_requests <= 4,
        "{before:?} → {after:?}"
    );
}

/// 65 distinct referrers: one more than discovery reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_distinct_referrers_than_the_limit_are_refused() {
    let (registry, image) = seeded();
    let digest = image.digest().unwrap().clone();
    let entries: Vec<(Digest, u64)> = (0..65u32)
        .map(|i| {
            let layer = registry.push_blob("acme/app", &i.to_be_bytes()).unwrap();
            (push_referrer(&registry, &digest, (&layer, 4)), 500)
        })
        .collect();
    push_fallback_index(&registry, &digest, &entries);
    let error = discover(&client(), &image, DiscoveryLimits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            OciError::TooManyReferrers {
                count: 65,
                limit: 64,
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_blob_claimed_small_is_not_read_past_its_claim() {
    let (registry, image) = seeded();
    let digest = image.digest().unwrap().clone();
    let huge = vec![b'x'; 8 * 1024 * 1024];
    let blob = registry.push_blob("acme/app", &huge).unwrap();
    let referrer = push_referrer(&registry, &digest, (&blob, 100));
    push_fallback_index(&registry, &digest, &[(referrer, 500)]);
    let client = client();
    let before = client.stats();
    let error = discover(&client, &image, DiscoveryLimits::default())
        .await
        .unwrap_err();
    let OciError::Registry { source, .. } = &error else {
        panic!("{error}");
    };
    assert!(
        matches!(source, RegistryError::SizeMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("100 bytes"), "{error}");
    let read = client.stats().bytes_read - before.bytes_read;
    assert!(read <= 100, "read {read} bytes");

    // Claimed honestly but over the per-blob cap: refused before reading.
    let honest = push_referrer(&registry, &digest, (&blob, huge.len()));
    push_fallback_index(&registry, &digest, &[(honest, 500)]);
    let limits = DiscoveryLimits {
        max_blob_bytes: 1024 * 1024,
        ..DiscoveryLimits::default()
    };
    let error = discover(&client, &image, limits).await.unwrap_err();
    let OciError::Registry { source, .. } = &error else {
        panic!("{error}");
    };
    assert!(matches!(source, RegistryError::TooLarge { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referrer_loop_ends_with_each_referrer_read_once() {
    let (registry, image) = seeded();
    let digest = image.digest().unwrap().clone();
    let client = client();
    let bundle = signature_bundle(&digest, "alice");
    let good = attach_bundle(&client, &image, &bundle, jiff::Timestamp::UNIX_EPOCH)
        .await
        .unwrap();
    // A referrer of the referrer (its subject is `good`), and the index listing the image
    // itself, both referrers, and each of them again.
    let layer = registry.push_blob("acme/app", &bundle).unwrap();
    let nested = push_referrer(&registry, &good.manifest, (&layer, bundle.len()));
    push_fallback_index(
        &registry,
        &good.manifest,
        &[(digest.clone(), 500), (good.manifest.clone(), 500)],
    );
    let size = 600;
    push_fallback_index(
        &registry,
        &digest,
        &[
            (good.manifest.clone(), size),
            (nested.clone(), size),
            (digest.clone(), size),
            (good.manifest.clone(), size),
            (nested.clone(), size),
        ],
    );
    let found = discover(&client, &image, DiscoveryLimits::default())
        .await
        .unwrap();
    assert_eq!(found.bundles.len(), 1, "{found:?}");
    assert_eq!(found.bundles[0].manifest, good.manifest);
    assert_eq!(found.skipped.len(), 1, "{found:?}");
    assert_eq!(found.skipped[0].manifest, nested);
    assert!(
        found.skipped[0].reason.contains(&good.manifest.to_string()),
        "{found:?}"
    );
}
