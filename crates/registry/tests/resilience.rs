//! The copy engine through the testkit's fault proxy, in front of real Distribution
//! registries: transient failures are retried until every image arrives complete, bytes
//! that do not match their digest fail the image without tagging anything, and a
//! redirect to another host never carries the registry's credentials.

mod common;

use std::time::Duration;

use portcullis_reference::ImageRef;
use portcullis_registry::{
    Client, ClientOptions, CopyOptions, Credentials, Keychain, RegistryError,
};
use portcullis_testkit::{
    sha256_hex, Auth, Fault, FaultKind, FaultProxy, FaultRule, ImageSpec, PathMatch, Registry,
};

fn quick_retries() -> ClientOptions {
    ClientOptions {
        use_env: false,
        backoff: Duration::from_millis(5),
        max_retries: 8,
        ..ClientOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_images_arrive_complete_through_ten_percent_faults() {
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    let mut digests = Vec::new();
    for i in 0..20 {
        let spec = ImageSpec::new("linux", "amd64").layers(vec![
            format!("layer one of image {i}").repeat(2000).into_bytes(),
            format!("layer two of image {i}").into_bytes(),
        ]);
        digests.push(
            source
                .seed_image("team/app", &format!("1.{i}"), &spec)
                .unwrap(),
        );
    }
    let faults = || {
        vec![
            FaultRule::new(Fault::Status {
                code: 503,
                retry_after: None,
            })
            .rate(0.03),
            FaultRule::new(Fault::RateLimited {
                retry_after: Some(0),
            })
            .rate(0.03),
            FaultRule::new(Fault::Status {
                code: 502,
                retry_after: None,
            })
            .rate(0.02),
            FaultRule::new(Fault::ResetMidBody)
                .method("GET")
                .path(PathMatch::Blobs)
                .rate(0.1),
        ]
    };
    let source_proxy = FaultProxy::start(&source.url(), faults(), 1).unwrap();
    let target_proxy = FaultProxy::start(&target.url(), faults(), 2).unwrap();
    let client = Client::with_keychain(quick_retries(), Keychain::empty()).unwrap();
    for (i, digest) in digests.iter().enumerate() {
        let from = ImageRef::parse(&format!("{}/team/app:1.{i}", source_proxy.host())).unwrap();
        let to = ImageRef::parse(&format!("{}/mirror/app", target_proxy.host())).unwrap();
        let report = client
            .copy(&from, &to, &CopyOptions::default())
            .await
            .unwrap_or_else(|e| panic!("image {i}: {e}"));
        assert_eq!(report.digest.as_ref(), Some(digest));
    }
    let injected: usize = source_proxy.injected().values().sum::<usize>()
        + target_proxy.injected().values().sum::<usize>();
    assert!(injected >= 10, "faults were injected: {injected}");
    assert!(source_proxy.injected_of(FaultKind::ResetMidBody) > 0);
    assert!(client.stats().retries > 0);
    // Every manifest and blob in the target verifies by digest, read without the proxy.
    for (i, digest) in digests.iter().enumerate() {
        let (_, bytes) = target
            .fetch_manifest("mirror/app", &format!("1.{i}"))
            .unwrap();
        assert_eq!(format!("sha256:{}", sha256_hex(&bytes)), digest.to_string());
        assert_eq!(
            blobs_verify(&target, "mirror/app", &format!("1.{i}")).await,
            3
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_source_fails_the_image_and_nothing_is_tagged() {
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    source
        .seed_image(
            "team/app",
            "1.0",
            &ImageSpec::new("linux", "amd64").layers(vec![b"the real layer".repeat(100)]),
        )
        .unwrap();
    let proxy = FaultProxy::start(
        &source.url(),
        vec![FaultRule::new(Fault::Corrupt)
            .method("GET")
            .path(PathMatch::Blobs)],
        7,
    )
    .unwrap();
    let client = Client::with_keychain(quick_retries(), Keychain::empty()).unwrap();
    let from = ImageRef::parse(&format!("{}/team/app:1.0", proxy.host())).unwrap();
    let to = ImageRef::parse(&format!("{}/mirror/app", target.host())).unwrap();
    let error = client
        .copy(&from, &to, &CopyOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::DigestMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("sha256:"), "{error}");
    assert!(target.fetch_manifest("mirror/app", "1.0").is_err());
    assert!(
        !target
            .requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/manifests/")),
        "no manifest was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_host_carries_no_credentials() {
    let source = Registry::builder(Auth::Token {
        user: "reader".into(),
        password: "reader-s3cret".into(),
    })
    .anonymous_pull(true)
    .start()
    .unwrap();
    source
        .seed_image("team/app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let target = Registry::start(Auth::None).unwrap();
    let proxy = FaultProxy::start(
        &source.url(),
        vec![FaultRule::new(Fault::RedirectElsewhere)
            .method("GET")
            .path(PathMatch::Blobs)],
        3,
    )
    .unwrap();
    let mut keychain = Keychain::empty();
    keychain.insert(&proxy.host(), Credentials::new("reader", "reader-s3cret"));
    let client = Client::with_keychain(quick_retries(), keychain).unwrap();
    let from = ImageRef::parse(&format!("{}/team/app:1.0", proxy.host())).unwrap();
    let to = ImageRef::parse(&format!("{}/mirror/app", target.host())).unwrap();
    // The object store answers without credentials; whatever it answers, none reached it.
    let _ = client.copy(&from, &to, &CopyOptions::default()).await;
    let redirected = proxy.redirected();
    assert!(!redirected.is_empty(), "the blob GET was redirected");
    for request in &redirected {
        assert_eq!(request.header("authorization"), None, "{request:?}");
    }
    // The registry itself did get the bearer token.
    assert!(!source.token_requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_pull_limit_pauses_and_then_says_so() {
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    source
        .seed_image("team/app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let to = ImageRef::parse(&format!("{}/mirror/app", target.host())).unwrap();
    // Two answers of "limit used up", then the registry lets us through: the copy pauses
    // and completes.
    let brief = FaultProxy::start(
        &source.url(),
        vec![FaultRule::new(Fault::RateLimited {
            retry_after: Some(0),
        })
        .first(2)],
        5,
    )
    .unwrap();
    let client = Client::with_keychain(quick_retries(), Keychain::empty()).unwrap();
    let from = ImageRef::parse(&format!("{}/team/app:1.0", brief.host())).unwrap();
    client
        .copy(&from, &to, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(brief.injected_of(FaultKind::RateLimited), 2);
    // Used up for good: a clear error naming the limit, after the pauses.
    let spent = FaultProxy::start(
        &source.url(),
        vec![FaultRule::new(Fault::RateLimited {
            retry_after: Some(0),
        })],
        6,
    )
    .unwrap();
    let from = ImageRef::parse(&format!("{}/team/app:1.0", spent.host())).unwrap();
    let error = client
        .copy(&from, &to.with_tag("2.0"), &CopyOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::RateLimited { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("100;w=21600"), "{error}");
    assert!(
        spent.injected_of(FaultKind::RateLimited) > 1,
        "it paused and tried again"
    );
}

/// Every blob of the image at `tag`, read from `registry` without a proxy, hashes to its
/// digest; returns how many there were.
async fn blobs_verify(registry: &Registry, repository: &str, tag: &str) -> usize {
    let (_, bytes) = registry.fetch_manifest(repository, tag).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut count = 0;
    for blob in manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&manifest["config"]])
    {
        let want = blob["digest"].as_str().unwrap();
        let got = reqwest::get(format!("{}/v2/{repository}/blobs/{want}", registry.url()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(format!("sha256:{}", sha256_hex(&got)), want);
        count += 1;
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_chunk_size_uploads_each_blob_in_patches() {
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    // 300,000 bytes in chunks of 64 KiB: five PATCHes (four whole, one partial).
    let layer: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    source
        .seed_image(
            "team/app",
            "1.0",
            &ImageSpec::new("linux", "amd64").layers(vec![layer]),
        )
        .unwrap();
    let proxy = FaultProxy::start(&target.url(), Vec::new(), 3).unwrap();
    let options = ClientOptions {
        upload_chunk_bytes: Some(64 * 1024),
        ..quick_retries()
    };
    let client = Client::with_keychain(options, Keychain::empty()).unwrap();
    let from = ImageRef::parse(&format!("{}/team/app:1.0", source.host())).unwrap();
    let to = ImageRef::parse(&format!("{}/mirror/app", proxy.host())).unwrap();
    let report = client
        .copy(&from, &to, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.blobs_uploaded, 2);
    let requests = proxy.requests();
    let patches = requests.iter().filter(|r| r.method == "PATCH").count();
    // The layer in five chunks, the small config in one.
    assert_eq!(patches, 6, "{requests:#?}");
    let closing_puts = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/blobs/uploads/"))
        .count();
    assert_eq!(closing_puts, 2);
    assert_eq!(blobs_verify(&target, "mirror/app", "1.0").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_refuses_large_uploads_gets_smaller_chunks() {
    let source = Registry::start(Auth::None).unwrap();
    let target = Registry::start(Auth::None).unwrap();
    // Layers of 3 MB behind a 1 MiB body limit (nginx's default `client_max_body_size`).
    for i in 0..3u32 {
        let layer: Vec<u8> = (0..3_000_000u32)
            .map(|n| (n.wrapping_mul(7).wrapping_add(i) % 253) as u8)
            .collect();
        let spec = ImageSpec::new("linux", "amd64").layers(vec![layer]);
        source
            .seed_image("team/app", &format!("1.{i}"), &spec)
            .unwrap();
    }
    let proxy = FaultProxy::start(
        &target.url(),
        vec![FaultRule::new(Fault::Status {
            code: 413,
            retry_after: None,
        })
        .path(PathMatch::Uploads)
        .larger_than(1024 * 1024)],
        4,
    )
    .unwrap();
    let client = Client::with_keychain(quick_retries(), Keychain::empty()).unwrap();
    for i in 0..3 {
        let from = ImageRef::parse(&format!("{}/team/app:1.{i}", source.host())).unwrap();
        let to = ImageRef::parse(&format!("{}/mirror/app", proxy.host())).unwrap();
        client
            .copy(&from, &to, &CopyOptions::default())
            .await
            .unwrap_or_else(|e| panic!("image {i}: {e}"));
        assert_eq!(
            blobs_verify(&target, "mirror/app", &format!("1.{i}")).await,
            2
        );
    }
    // The whole layer, then chunks of 32 MiB and 4 MiB (each the whole 3 MB) were refused;
    // chunks of 512 KiB went through, and the later images used them from the start.
    assert_eq!(
        proxy.injected_of(FaultKind::Status),
        3,
        "{:#?}",
        proxy.requests()
    );
    let patches = proxy
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.status == Some(202))
        .count();
    // Three layers of six 512 KiB chunks each (3,000,000 / 524,288 → 6); configs are small
    // enough to go whole... in chunks too, once the registry is known to want them.
    assert!(patches >= 18, "{patches}");
}
