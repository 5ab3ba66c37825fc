//! The testkit registry is real: skopeo (an independent OCI client) reads back exactly the
//! bytes the testkit seeded, in every auth mode.

use std::process::Command;

use portcullis_testkit::{sha256_hex, Auth, Format, ImageSpec, Registry};

fn skopeo_raw(registry: &Registry, image: &str, creds: Option<(String, String)>) -> Vec<u8> {
    let mut command = Command::new("skopeo");
    command.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some((user, password)) = creds {
        command.arg(format!("--creds={user}:{password}"));
    }
    let output = command
        .arg(format!("docker://{image}"))
        .output()
        .expect("run skopeo");
    assert!(
        output.status.success(),
        "skopeo failed: {}\nregistry log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        registry.log()
    );
    output.stdout
}

fn skopeo_status(image: &str, creds: Option<&str>) -> bool {
    let mut command = Command::new("skopeo");
    command.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(creds) = creds {
        command.arg(format!("--creds={creds}"));
    }
    command
        .arg(format!("docker://{image}"))
        .output()
        .expect("run skopeo")
        .status
        .success()
}

fn seed_and_check(registry: &Registry) {
    let digest = registry
        .seed_image("app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let raw = skopeo_raw(
        registry,
        &registry.image("app", "1.0"),
        registry.credentials(),
    );
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest.to_string());

    let (index, children) = registry
        .seed_index(
            "multi",
            "2",
            &[("linux", "amd64", None), ("linux", "arm64", Some("v8"))],
        )
        .unwrap();
    assert_eq!(children.len(), 2);
    let raw = skopeo_raw(
        registry,
        &registry.image("multi", "2"),
        registry.credentials(),
    );
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), index.to_string());
    let text = String::from_utf8(raw).unwrap();
    assert!(text.contains(&children[1].to_string()) && text.contains("\"variant\":\"v8\""));

    let logged = registry.requests();
    assert!(
        logged
            .iter()
            .any(|r| r.method == "PUT" && r.path == "/v2/multi/manifests/2" && r.status == 201),
        "{logged:?}"
    );
    assert!(logged
        .iter()
        .any(|r| r.method == "GET" && r.path == "/v2/app/manifests/1.0" && r.status == 200));
}

#[test]
fn anonymous_registry_serves_seeded_images() {
    let registry = Registry::start(Auth::None).unwrap();
    assert!(registry.credentials().is_none());
    seed_and_check(&registry);
    assert!(registry.token_requests().is_empty());
}

#[test]
fn htpasswd_registry_requires_credentials() {
    let registry = Registry::start(Auth::Htpasswd {
        user: "alice".into(),
        password: "s3cret-pw".into(),
    })
    .unwrap();
    seed_and_check(&registry);
    let image = registry.image("app", "1.0");
    assert!(!skopeo_status(&image, None), "anonymous read must fail");
    assert!(
        !skopeo_status(&image, Some("alice:wrong")),
        "wrong password must fail"
    );
    assert!(registry.requests().iter().any(|r| r.status == 401));
}

#[test]
fn token_registry_issues_tokens_and_counts_them() {
    let registry = Registry::start(Auth::Token {
        user: "bob".into(),
        password: "t0ken-pw".into(),
    })
    .unwrap();
    seed_and_check(&registry);
    let tokens = registry.token_requests();
    assert!(!tokens.is_empty());
    assert!(
        tokens
            .iter()
            .all(|t| t.user.as_deref() == Some("bob") && t.status == 200),
        "{tokens:?}"
    );
    assert!(
        tokens
            .iter()
            .any(|t| t.scopes.iter().any(|s| s == "repository:multi:pull")),
        "{tokens:?}"
    );
    assert_eq!(tokens[0].service.as_deref(), Some("portcullis-testkit"));

    let image = registry.image("app", "1.0");
    assert!(
        !skopeo_status(&image, None),
        "anonymous pull is off by default"
    );
    assert!(
        !skopeo_status(&image, Some("bob:wrong")),
        "wrong password must fail"
    );
    assert!(registry.token_requests().iter().any(|t| t.status == 401));
}

#[test]
fn token_registry_can_allow_anonymous_pull() {
    let registry = Registry::builder(Auth::Token {
        user: "bob".into(),
        password: "pw".into(),
    })
    .anonymous_pull(true)
    .start()
    .unwrap();
    let digest = registry
        .seed_image("pub", "1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let raw = skopeo_raw(&registry, &registry.image("pub", "1"), None);
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest.to_string());
    assert!(registry.token_requests().iter().any(|t| t.user.is_none()));
}

#[test]
fn docker_media_types_and_retag() {
    let registry = Registry::start(Auth::None).unwrap();
    let (index, _) = registry
        .seed_index_as("dock", "list", &[("linux", "amd64", None)], Format::Docker)
        .unwrap();
    let (media_type, _) = registry.fetch_manifest("dock", "list").unwrap();
    assert_eq!(
        media_type,
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let single = registry
        .seed_image(
            "dock",
            "one",
            &ImageSpec::new("linux", "s390x").format(Format::Docker),
        )
        .unwrap();
    registry.retag("dock", "list", &single).unwrap();
    let raw = skopeo_raw(&registry, &registry.image("dock", "list"), None);
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), single.to_string());
    assert_ne!(index, single);
}
