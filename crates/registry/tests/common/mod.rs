//! Shared setup for the registry integration tests (included with `mod common;`).
#![allow(dead_code, clippy::must_use_candidate)]

use std::process::Command;

use portcullis_reference::ImageRef;
use portcullis_registry::{Client, ClientOptions, Credentials, Keychain};
use portcullis_testkit::{sha256_hex, Registry};

/// Options that ignore the environment and the user's Docker config.
pub fn options() -> ClientOptions {
    ClientOptions {
        use_env: false,
        ..ClientOptions::default()
    }
}

/// A client with the registry's credentials (if any) in its keychain.
pub fn client_for(registry: &Registry) -> Client {
    let mut keychain = Keychain::empty();
    if let Some((user, password)) = registry.credentials() {
        keychain.insert(&registry.host(), Credentials::new(user, password));
    }
    Client::with_keychain(options(), keychain).unwrap()
}

pub fn image(registry: &Registry, repo: &str, tag: &str) -> ImageRef {
    ImageRef::parse(&registry.image(repo, tag)).unwrap()
}

/// `sha256:` of what `skopeo inspect --raw` returns: the independent client's digest.
pub fn skopeo_digest(registry: &Registry, repo: &str, tag: &str) -> String {
    let mut command = Command::new("skopeo");
    command.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some((user, password)) = registry.credentials() {
        command.arg(format!("--creds={user}:{password}"));
    }
    let output = command
        .arg(format!("docker://{}", registry.image(repo, tag)))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    format!("sha256:{}", sha256_hex(&output.stdout))
}

/// The manifest requests portcullis made, as `METHOD path`, sorted.
pub fn manifest_requests(registry: &Registry) -> Vec<String> {
    let mut requests: Vec<String> = registry
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/manifests/") && r.user_agent.starts_with("portcullis/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    requests.sort();
    requests
}
