//! Resolution against a real Distribution registry, checked against skopeo's digests and
//! the registry's own access log.

mod common;

use common::{client_for, image, skopeo_digest};
use portcullis_registry::{Platform, OCI_INDEX};
use portcullis_testkit::{Auth, Format, ImageSpec, Registry};

#[tokio::test]
async fn resolves_single_and_multi_platform_like_skopeo() {
    let registry = Registry::start(Auth::None).unwrap();
    let single = registry
        .seed_image("app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let platforms = [("linux", "amd64", None), ("linux", "arm64", Some("v8"))];
    let (index, children) = registry.seed_index("multi", "2", &platforms).unwrap();
    let client = client_for(&registry);

    let resolved = client
        .resolve(&image(&registry, "app", "1.0"))
        .await
        .unwrap();
    assert_eq!(resolved.digest, single);
    assert_eq!(
        resolved.digest.to_string(),
        skopeo_digest(&registry, "app", "1.0")
    );
    assert!(resolved.platforms.is_empty() && !resolved.is_index());

    let resolved = client
        .resolve(&image(&registry, "multi", "2"))
        .await
        .unwrap();
    assert_eq!(resolved.digest, index);
    assert_eq!(
        resolved.digest.to_string(),
        skopeo_digest(&registry, "multi", "2")
    );
    assert_eq!(resolved.media_type, OCI_INDEX);
    let got: Vec<_> = resolved
        .platforms
        .iter()
        .map(|p| (p.digest.clone(), p.platform.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (children[0].clone(), Platform::parse("linux/amd64")),
            (children[1].clone(), Platform::parse("linux/arm64/v8")),
        ]
    );

    // One HEAD per reference, a GET only for the index body.
    let manifest_requests: Vec<_> = registry
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/manifests/") && r.user_agent.starts_with("portcullis/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        manifest_requests,
        vec![
            "HEAD /v2/app/manifests/1.0".to_owned(),
            "HEAD /v2/multi/manifests/2".to_owned(),
            format!("GET /v2/multi/manifests/{index}"),
        ]
    );
    assert_eq!(client.stats().manifest_requests, 3);
}

#[tokio::test]
async fn resolve_digest_is_one_head_and_docker_lists_count_as_index() {
    let registry = Registry::start(Auth::None).unwrap();
    let (index, _) = registry
        .seed_index_as("dock", "1", &[("linux", "amd64", None)], Format::Docker)
        .unwrap();
    let client = client_for(&registry);
    let resolved = client
        .resolve_digest(&image(&registry, "dock", "1"))
        .await
        .unwrap();
    assert_eq!(resolved.digest, index);
    assert!(resolved.is_index() && resolved.platforms.is_empty());
    assert_eq!(
        resolved.digest.to_string(),
        skopeo_digest(&registry, "dock", "1")
    );
    assert_eq!(client.stats().manifest_requests, 1);
}

#[tokio::test]
async fn missing_tag_repo_and_digest() {
    let registry = Registry::start(Auth::None).unwrap();
    let digest = registry
        .seed_image("app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let client = client_for(&registry);
    let error = client
        .resolve(&image(&registry, "app", "nope"))
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("`{}/app:nope`", registry.host())),
        "{error}"
    );
    assert!(client
        .resolve(&image(&registry, "ghost", "1"))
        .await
        .unwrap_err()
        .is_not_found());

    let pinned = image(&registry, "app", "1.0").with_digest(digest.clone());
    assert!(client.manifest_exists(&pinned).await.unwrap());
    let other = portcullis_reference::Digest::sha256(b"not a manifest");
    assert!(!client
        .manifest_exists(&pinned.with_digest(other))
        .await
        .unwrap());
}

#[tokio::test]
async fn platform_of_reads_the_config() {
    let registry = Registry::start(Auth::None).unwrap();
    let arm = registry
        .seed_image("app", "arm", &ImageSpec::new("linux", "arm").variant("v7"))
        .unwrap();
    let (index, children) = registry
        .seed_index(
            "multi",
            "1",
            &[("linux", "s390x", None), ("windows", "amd64", None)],
        )
        .unwrap();
    let client = client_for(&registry);
    let repo = image(&registry, "app", "arm");
    assert_eq!(
        client.platform_of(&repo.with_digest(arm)).await.unwrap(),
        Platform::parse("linux/arm/v7")
    );
    let multi = image(&registry, "multi", "1");
    assert_eq!(
        client
            .platform_of(&multi.with_digest(children[1].clone()))
            .await
            .unwrap(),
        Platform::parse("windows/amd64")
    );
    assert_eq!(
        client.platform_of(&multi.with_digest(index)).await.unwrap(),
        None
    );
    assert!(registry
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path.contains("/blobs/sha256:")));
}

#[tokio::test]
async fn resolve_all_dedupes_and_bounds_concurrency() {
    let registry = Registry::start(Auth::None).unwrap();
    let mut images = Vec::new();
    for n in 0..12 {
        let tag = format!("t{n}");
        registry
            .seed_image(
                "many",
                &tag,
                &ImageSpec::new("linux", "amd64")
                    .created(&format!("2025-01-{:02}T00:00:00Z", n + 1)),
            )
            .unwrap();
        images.push(image(&registry, "many", &tag));
        images.push(image(&registry, "many", &tag)); // duplicate
    }
    images.push(image(&registry, "many", "missing"));
    let client = client_for(&registry);
    let results = client.resolve_all_digests(&images).await;
    assert_eq!(results.len(), 13);
    assert!(results[&image(&registry, "many", "missing")]
        .as_ref()
        .unwrap_err()
        .is_not_found());
    assert_eq!(results.values().filter(|r| r.is_ok()).count(), 12);
    assert_eq!(
        client.stats().manifest_requests,
        13,
        "one HEAD per unique reference"
    );
    let heads = registry
        .requests()
        .iter()
        .filter(|r| r.method == "HEAD")
        .count();
    assert_eq!(heads, 13);
}
