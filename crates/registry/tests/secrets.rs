//! A canary password and token must never appear in any formatted secret-bearing value,
//! error, client state or the registry's own log after a run.

mod common;

use portcullis_registry::{Client, Credentials, Keychain, RegistryError, Secret};
use portcullis_testkit::{Auth, ImageSpec, Registry};

const CANARY: &str = "canary-7f3a9c-secret";

#[tokio::test]
async fn canary_never_printed() {
    let secret = Secret::new(CANARY);
    let credentials = Credentials::new("user", CANARY);
    let mut printed = vec![
        format!("{secret} {secret:?} {secret:#?}"),
        format!("{credentials:?} {credentials:#?}"),
        format!("{:?}", credentials.basic_header()),
    ];
    assert_eq!(secret.expose(), CANARY, "the value itself is kept");

    // A real run with the canary as the password: token auth, then a wrong password.
    let registry = Registry::start(Auth::Token {
        user: "user".into(),
        password: CANARY.into(),
    })
    .unwrap();
    registry
        .seed_image("app", "1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let mut keychain = Keychain::empty();
    keychain.insert(&registry.host(), credentials.clone());
    printed.push(format!("{keychain:?}"));
    let client = Client::with_keychain(common::options(), keychain).unwrap();
    let resolved = client
        .resolve(&common::image(&registry, "app", "1"))
        .await
        .unwrap();
    printed.push(format!("{resolved:?} {client:?} {:?}", client.stats()));
    let error = client
        .resolve(&common::image(&registry, "app", "missing"))
        .await
        .unwrap_err();
    printed.push(format!("{error} {error:?}"));

    let mut wrong = Keychain::empty();
    wrong.insert(
        &registry.host(),
        Credentials::new("user", format!("{CANARY}-wrong")),
    );
    let client = Client::with_keychain(common::options(), wrong).unwrap();
    let error: RegistryError = client
        .resolve(&common::image(&registry, "app", "1"))
        .await
        .unwrap_err();
    printed.push(format!("{error} {error:?} {client:?}"));
    printed.push(registry.log());

    for text in &printed {
        assert!(!text.contains(CANARY), "canary leaked in: {text}");
    }
}
