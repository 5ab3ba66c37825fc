//! Authentication against a real registry: htpasswd (basic), Docker token auth (token
//! fetched once per repository even under concurrency), Docker `config.json`, and
//! wrong credentials.

mod common;

use common::{client_for, image, options, skopeo_digest};
use portcullis_registry::{Client, ClientOptions, Credentials, Keychain, RegistryError};
use portcullis_testkit::{Auth, ImageSpec, Registry};

fn htpasswd() -> Auth {
    Auth::Htpasswd {
        user: "alice".into(),
        password: "correct horse".into(),
    }
}

fn token() -> Auth {
    Auth::Token {
        user: "bob".into(),
        password: "battery staple".into(),
    }
}

#[tokio::test]
async fn htpasswd_basic_auth() {
    let registry = Registry::start(htpasswd()).unwrap();
    let digest = registry
        .seed_image("app", "1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let resolved = client_for(&registry)
        .resolve(&image(&registry, "app", "1"))
        .await
        .unwrap();
    assert_eq!(resolved.digest, digest);
    assert_eq!(digest.to_string(), skopeo_digest(&registry, "app", "1"));

    let anonymous = Client::with_keychain(options(), Keychain::empty()).unwrap();
    let error = anonymous
        .resolve(&image(&registry, "app", "1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error}"
    );

    let mut wrong = Keychain::empty();
    wrong.insert(&registry.host(), Credentials::new("alice", "wrong"));
    let error = Client::with_keychain(options(), wrong)
        .unwrap()
        .resolve(&image(&registry, "app", "1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RegistryError::Unauthorized { registry: r } if *r == registry.host()),
        "{error}"
    );
}

#[tokio::test]
async fn token_auth_fetches_one_token_per_repository() {
    let registry = Registry::start(token()).unwrap();
    let mut images = Vec::new();
    for n in 0..10 {
        let tag = format!("v{n}");
        registry
            .seed_image(
                "app",
                &tag,
                &ImageSpec::new("linux", "amd64")
                    .created(&format!("2025-02-{:02}T00:00:00Z", n + 1)),
            )
            .unwrap();
        images.push(image(&registry, "app", &tag));
    }
    let (index, _) = registry
        .seed_index("other", "1", &[("linux", "amd64", None)])
        .unwrap();
    images.push(image(&registry, "other", "1"));
    assert!(
        registry.token_requests().is_empty(),
        "seeding mints its own tokens"
    );

    let client = client_for(&registry);
    let results = client.resolve_all(&images).await;
    assert!(results.values().all(Result::is_ok), "{results:?}");
    assert_eq!(
        results[&image(&registry, "other", "1")]
            .as_ref()
            .unwrap()
            .digest,
        index
    );

    let tokens = registry.token_requests();
    let scopes: Vec<_> = tokens.iter().map(|t| t.scopes.join(" ")).collect();
    assert_eq!(tokens.len(), 2, "one token per repository: {scopes:?}");
    assert!(
        scopes.contains(&"repository:app:pull".to_owned())
            && scopes.contains(&"repository:other:pull".to_owned())
    );
    assert!(tokens.iter().all(|t| t.user.as_deref() == Some("bob")));
    assert_eq!(client.stats().token_requests, 2);
    // Again: cached tokens, no new token request.
    client.resolve(&images[0]).await.unwrap();
    assert_eq!(registry.token_requests().len(), 2);
}

#[tokio::test]
async fn token_auth_wrong_password_and_anonymous() {
    let registry = Registry::start(token()).unwrap();
    registry
        .seed_image("app", "1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let mut wrong = Keychain::empty();
    wrong.insert(&registry.host(), Credentials::new("bob", "nope"));
    let error = Client::with_keychain(options(), wrong)
        .unwrap()
        .resolve(&image(&registry, "app", "1"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error}"
    );
    let anonymous = Client::with_keychain(options(), Keychain::empty()).unwrap();
    let error = anonymous
        .resolve(&image(&registry, "app", "1"))
        .await
        .unwrap_err();
    assert!(error.is_auth(), "{error}");

    let open = Registry::builder(token())
        .anonymous_pull(true)
        .start()
        .unwrap();
    let digest = open
        .seed_image("pub", "1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let resolved = anonymous.resolve(&image(&open, "pub", "1")).await.unwrap();
    assert_eq!(resolved.digest, digest);
    assert!(open.token_requests().iter().all(|t| t.user.is_none()));
}

#[tokio::test]
async fn docker_config_json_auths() {
    let registry = Registry::start(htpasswd()).unwrap();
    let digest = registry
        .seed_image("app", "1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = registry.write_docker_config(dir.path()).unwrap();
    let client = Client::new(ClientOptions {
        docker_config: Some(path),
        ..options()
    })
    .unwrap();
    assert_eq!(
        client
            .resolve(&image(&registry, "app", "1"))
            .await
            .unwrap()
            .digest,
        digest
    );
    // A directory works too, like DOCKER_CONFIG.
    let client = Client::new(ClientOptions {
        docker_config: Some(dir.path().to_owned()),
        ..options()
    })
    .unwrap();
    assert_eq!(
        client
            .resolve(&image(&registry, "app", "1"))
            .await
            .unwrap()
            .digest,
        digest
    );

    std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    let error = Client::new(ClientOptions {
        docker_config: Some(dir.path().to_owned()),
        ..options()
    })
    .unwrap_err();
    assert!(error.to_string().contains("config.json`"), "{error}");
}
