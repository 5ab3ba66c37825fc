//! Credentials from the environment: `DOCKER_AUTH_CONFIG`, and a `credHelpers` entry that
//! runs a `docker-credential-*` script found on `PATH`. One test per process: it changes
//! the environment.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use portcullis_registry::{Client, ClientOptions};
use portcullis_testkit::{Auth, ImageSpec, Registry};

#[tokio::test]
async fn docker_auth_config_and_credential_helper() {
    let registry = Registry::start(Auth::Htpasswd {
        user: "carol".into(),
        password: "env pw".into(),
    })
    .unwrap();
    let digest = registry
        .seed_image("app", "1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let image = common::image(&registry, "app", "1");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();

    // DOCKER_AUTH_CONFIG, the GitLab runner way.
    let config =
        std::fs::read_to_string(registry.write_docker_config(dir.path()).unwrap()).unwrap();
    std::env::set_var("DOCKER_AUTH_CONFIG", &config);
    let options = ClientOptions {
        docker_config: Some(empty.clone()),
        ..ClientOptions::default()
    };
    let client = Client::new(options.clone()).unwrap();
    assert_eq!(client.resolve(&image).await.unwrap().digest, digest);
    std::env::remove_var("DOCKER_AUTH_CONFIG");
    let error = Client::new(options)
        .unwrap()
        .resolve(&image)
        .await
        .unwrap_err();
    assert!(
        error.is_auth(),
        "without DOCKER_AUTH_CONFIG there are no credentials: {error}"
    );

    // credHelpers → docker-credential-testkit on PATH; it checks the server URL it gets.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("helper.log");
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\necho \"$server\" >> '{}'\n\
         [ \"$server\" = '{}' ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\n\
         printf '{{\"ServerURL\":\"%s\",\"Username\":\"carol\",\"Secret\":\"env pw\"}}' \"$server\"\n",
        log.display(),
        registry.host()
    );
    let helper = bin.join("docker-credential-testkit");
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", bin.display()));
    let config_path = dir.path().join("helpers.json");
    std::fs::write(
        &config_path,
        format!(r#"{{"credHelpers":{{"{}":"testkit"}}}}"#, registry.host()),
    )
    .unwrap();
    let client = Client::new(ClientOptions {
        docker_config: Some(config_path),
        use_env: false,
        ..ClientOptions::default()
    })
    .unwrap();
    assert_eq!(client.resolve(&image).await.unwrap().digest, digest);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().trim(),
        registry.host(),
        "asked once, with the host"
    );
}
