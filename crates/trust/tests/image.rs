//! Signing, attesting and verifying an image end to end: a real Distribution registry and
//! the testkit's local Sigstore stack (OIDC issuer, Fulcio, Rekor). What is signed is read
//! back and verified; what verification refuses, it refuses with its own reason.

use std::collections::BTreeMap;

use portcullis_reference::ImageRef;
use portcullis_registry::{Client, ClientOptions};
use portcullis_secret::Secret;
use portcullis_testkit::sigstore::{Claims, SigstoreStack};
use portcullis_testkit::{Auth, ImageSpec, Registry};
use portcullis_trust::image::{
    attest_image, sign_image, verify_image, Layout, SignOptions, Wanted,
};
use portcullis_trust::statement::{Predicate, PredicateKind, PredicateLimits, Statement};
use portcullis_trust::token::TokenOrigin;
use portcullis_trust::verify::{IdentityPolicy, Matcher, Signer, VerifyError};
use portcullis_trust::{IdentityToken, Mode, Services, TrustConfig, TrustRoot};

struct World {
    _registry: Registry,
    stack: SigstoreStack,
    root: TrustRoot,
    client: Client,
    image: ImageRef,
    other: ImageRef,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let registry = Registry::start(Auth::None).unwrap();
    let digest = registry
        .seed_image("acme/app", "v1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let other = registry
        .seed_image(
            "acme/app",
            "v2",
            &ImageSpec::new("linux", "arm64").layers(vec![b"another".to_vec()]),
        )
        .unwrap();
    let stack = SigstoreStack::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = stack.write_trust_files(dir.path()).unwrap();
    let root = TrustConfig::from_file(&files.trust_config).unwrap().root;
    let client = Client::new(ClientOptions {
        use_env: false,
        ..ClientOptions::default()
    })
    .unwrap();
    World {
        image: ImageRef::parse(&format!("{}/acme/app@{digest}", registry.host())).unwrap(),
        other: ImageRef::parse(&format!("{}/acme/app@{other}", registry.host())).unwrap(),
        _registry: registry,
        stack,
        root,
        client,
        _dir: dir,
    }
}

fn keyless(stack: &SigstoreStack, claims: &Claims) -> Mode {
    let token = Secret::new(stack.token(claims).unwrap());
    Mode::Keyless {
        token: IdentityToken::parse(&token, TokenOrigin::Explicit).unwrap(),
        services: Services {
            fulcio_url: stack.fulcio_url().to_owned(),
            rekor_url: stack.rekor_url().to_owned(),
        },
    }
}

const WORKFLOW: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn policy(stack: &SigstoreStack, identity: &str) -> Signer {
    Signer::Keyless(IdentityPolicy {
        issuer: Matcher::Exact(stack.issuer_url().to_owned()),
        identity: Matcher::Exact(identity.to_owned()),
        extensions: Vec::new(),
    })
}

// One scenario from signing to every refusal: each step builds on what the last pushed.
#[allow(clippy::too_many_lines)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_and_attested_images_verify_and_wrong_signers_are_refused() {
    let w = world();
    let http = portcullis_trust::http_client();
    let mode = keyless(&w.stack, &Claims::github("acme/app"));
    let options = SignOptions {
        mode: &mode,
        layout: Layout::Both,
        annotations: BTreeMap::from([("team".to_owned(), "platform".to_owned())]),
        http: &http,
        root: &w.root,
        created: jiff::Timestamp::now(),
    };
    let signed = sign_image(&w.client, &w.image, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(signed.referrer.is_some() && signed.legacy.is_some());
    assert_eq!(
        signed.verified.len(),
        2,
        "both layouts read back and verified"
    );
    assert_eq!(signed.verified[0].identity.as_deref(), Some(WORKFLOW));

    // Attest a SLSA provenance and a vuln predicate.
    let digest = w.image.digest().unwrap().clone();
    let env: BTreeMap<String, String> = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_SHA", "8f4e3c2b1a0918273645546372819aabbccddeef"),
        ("GITHUB_REF", "refs/heads/main"),
        (
            "GITHUB_WORKFLOW_REF",
            "acme/app/.github/workflows/release.yml@refs/heads/main",
        ),
        ("GITHUB_RUN_ID", "42"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("GITHUB_EVENT_NAME", "push"),
        ("RUNNER_ENVIRONMENT", "github-hosted"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let build = portcullis_trust::statement::CiBuild::from_env(&env).unwrap();
    let provenance = Predicate::slsa_provenance(&build, &[]).unwrap();
    let statement = Statement::about_image(&w.image, &digest, provenance);
    let options = SignOptions {
        layout: Layout::Bundle,
        ..options
    };
    attest_image(&w.client, &w.image, &statement, &options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let vuln = Predicate::read(
        PredicateKind::Vuln,
        "vuln.json",
        br#"{"invocation":{"uri":"","event_id":"","builder.id":""},"scanner":{"uri":"pkg:github/aquasecurity/trivy","version":"0.50.0","db":{"uri":"","version":""},"result":{}},"metadata":{"scanStartedOn":"2026-12-01T00:00:00Z","scanFinishedOn":"2026-12-01T00:00:01Z"}}"#,
        PredicateLimits::default(),
    )
    .unwrap();
    attest_image(
        &w.client,
        &w.image,
        &Statement::about_image(&w.image, &digest, vuln),
        &options,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    // The right identity: signatures (both layouts) and each attestation verify.
    let right = policy(&w.stack, WORKFLOW);
    let found = verify_image(&w.client, &w.image, &right, &w.root, &Wanted::Signatures)
        .await
        .unwrap();
    assert_eq!(found.checked.len(), 2, "{found:#?}");
    assert_eq!(found.verified().count(), 2, "{:?}", found.rejected());
    let slsa = Wanted::Attestations(Some("https://slsa.dev/provenance/v1".to_owned()));
    let found = verify_image(&w.client, &w.image, &right, &w.root, &slsa)
        .await
        .unwrap();
    assert_eq!(found.verified().count(), 1, "{:?}", found.rejected());
    let predicate = &found
        .verified()
        .next()
        .unwrap()
        .statement
        .as_ref()
        .unwrap()
        .predicate;
    assert!(predicate["buildDefinition"].is_object(), "{predicate}");
    let any = Wanted::Attestations(None);
    let found = verify_image(&w.client, &w.image, &right, &w.root, &any)
        .await
        .unwrap();
    assert_eq!(found.verified().count(), 2, "{:?}", found.rejected());

    // A wrong identity and a wrong issuer: refused, each with its own reason.
    let wrong = policy(
        &w.stack,
        "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main",
    );
    let found = verify_image(&w.client, &w.image, &wrong, &w.root, &Wanted::Signatures)
        .await
        .unwrap();
    assert_eq!(found.verified().count(), 0);
    assert!(
        found
            .checked
            .iter()
            .all(|c| matches!(c.result, Err(VerifyError::Identity { .. }))),
        "{found:#?}"
    );
    let issuer = Signer::Keyless(IdentityPolicy {
        issuer: Matcher::Exact("https://accounts.google.com".to_owned()),
        identity: Matcher::Exact(WORKFLOW.to_owned()),
        extensions: Vec::new(),
    });
    let found = verify_image(&w.client, &w.image, &issuer, &w.root, &Wanted::Signatures)
        .await
        .unwrap();
    assert!(
        found
            .checked
            .iter()
            .all(|c| matches!(c.result, Err(VerifyError::Issuer { .. }))),
        "{found:#?}"
    );

    // Another image has no signature of its own.
    let found = verify_image(&w.client, &w.other, &right, &w.root, &Wanted::Signatures)
        .await
        .unwrap();
    assert!(found.checked.is_empty(), "{found:#?}");

    // Another stack's root: neither its CA nor its log vouches for these signatures (the
    // log entry is checked first, so that is the reason given).
    let stranger = SigstoreStack::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = stranger.write_trust_files(dir.path()).unwrap();
    let other_root = TrustConfig::from_file(&files.trust_config).unwrap().root;
    let found = verify_image(
        &w.client,
        &w.image,
        &right,
        &other_root,
        &Wanted::Signatures,
    )
    .await
    .unwrap();
    assert!(
        found.checked.iter().all(|c| matches!(
            c.result,
            Err(VerifyError::Chain(_)
                | VerifyError::InclusionPromise(_)
                | VerifyError::UnknownLog(_))
        )),
        "{found:#?}"
    );
    assert_eq!(found.checked.len(), 2);
}
