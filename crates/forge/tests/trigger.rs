//! Rebuild triggers against the fake GitHub and GitLab APIs of the testkit.

use std::time::{Duration, Instant};

use portcullis_forge::trigger::{ask, dry_run, rebuilds, trigger, Pace, Target, TriggerError};
use portcullis_policy::{StaleDetail, StaleReason, Trigger, TriggerOutcome};
use portcullis_reference::{Digest, ImageRef};
use portcullis_secret::Secret;
use portcullis_testkit::forge::{FakeGithub, FakeGitlab};

const TOKEN: &str = "ghp_canary_token";
const THEN: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const NOW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const IMAGE: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

fn detail(image: &str) -> StaleDetail {
    StaleDetail {
        image: ImageRef::parse(image).unwrap(),
        digest: Digest::parse(IMAGE).unwrap(),
        reasons: vec![StaleReason::BaseDrifted {
            base: ImageRef::parse("alpine:3.20").unwrap(),
            then: Digest::parse(THEN).unwrap(),
            now: Digest::parse(NOW).unwrap(),
        }],
    }
}

fn fast() -> Pace {
    Pace {
        min_interval: Duration::from_millis(50),
        ..Pace::default()
    }
}

fn dispatch_target(fake: &FakeGithub, token: &str) -> Target {
    Target::GithubDispatch {
        api: fake.url().to_owned(),
        repository: "acme/app".into(),
        event_type: "portcullis-stale".into(),
        token: Secret::new(token),
    }
}

#[tokio::test]
async fn repository_dispatch_once_per_image_spaced_by_the_interval() {
    let fake = FakeGithub::start().unwrap();
    fake.add_actions_token(TOKEN);
    let app = detail("registry.example.com/acme/app:latest");
    let api = detail("registry.example.com/acme/api:latest");
    let wanted = rebuilds([&app, &app, &api]);
    let pace = Pace {
        min_interval: Duration::from_millis(300),
        ..Pace::default()
    };
    let started = Instant::now();
    let sent = trigger(&dispatch_target(&fake, TOKEN), &wanted, pace)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.status == 204));
    let dispatches = fake.dispatches();
    assert_eq!(dispatches.len(), 2);
    assert_eq!(
        dispatches[0].event_type.as_deref(),
        Some("portcullis-stale")
    );
    assert_eq!(
        dispatches[0].payload["image"],
        "registry.example.com/acme/app:latest"
    );
    assert_eq!(dispatches[0].payload["base_digest_now"], NOW);
}

#[tokio::test]
async fn a_read_only_token_is_refused_and_the_error_names_no_token() {
    let fake = FakeGithub::start().unwrap();
    fake.add_read_only_token(TOKEN, "reader");
    let wanted = rebuilds([&detail("registry.example.com/acme/app:latest")]);
    let error = trigger(&dispatch_target(&fake, TOKEN), &wanted, fast())
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(
        matches!(error, TriggerError::Status { status: 403, .. }),
        "{text}"
    );
    assert!(
        text.contains("Resource not accessible by integration"),
        "{text}"
    );
    assert!(!text.contains("canary"), "{text}");
    assert!(fake.dispatches().is_empty());
}

#[tokio::test]
async fn a_secondary_rate_limit_is_waited_out() {
    let fake = FakeGithub::start().unwrap();
    fake.add_token(TOKEN, "bot");
    fake.limit_dispatches(1, 1);
    let wanted = rebuilds([&detail("registry.example.com/acme/app:latest")]);
    let started = Instant::now();
    let sent = trigger(&dispatch_target(&fake, TOKEN), &wanted, fast())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(sent.len(), 1);
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 204]);
}

#[tokio::test]
async fn workflow_dispatch_sends_declared_string_inputs() {
    let fake = FakeGithub::start().unwrap();
    fake.add_token(TOKEN, "bot");
    fake.add_workflow(
        "acme/app",
        "build.yml",
        &[
            "image",
            "digest",
            "reasons",
            "base",
            "base_digest_then",
            "base_digest_now",
        ],
    );
    let target = Target::GithubWorkflow {
        api: fake.url().to_owned(),
        repository: "acme/app".into(),
        workflow: "build.yml".into(),
        git_ref: "main".into(),
        token: Secret::new(TOKEN),
    };
    let wanted = rebuilds([&detail("registry.example.com/acme/app:latest")]);
    trigger(&target, &wanted, fast()).await.unwrap();
    let dispatch = &fake.dispatches()[0];
    assert_eq!(dispatch.workflow.as_deref(), Some("build.yml"));
    assert_eq!(dispatch.git_ref.as_deref(), Some("main"));
    assert_eq!(dispatch.payload["reasons"], "base-drifted");
}

/// The fake's `workflow_dispatch` endpoint is the one octocrab's actions API calls.
#[tokio::test]
async fn octocrab_dispatches_a_workflow_on_the_fake() {
    let fake = FakeGithub::start().unwrap();
    fake.add_token(TOKEN, "bot");
    fake.add_workflow("acme/app", "build.yml", &["image"]);
    portcullis_registry::install_crypto_provider();
    let crab = octocrab::Octocrab::builder()
        .base_uri(fake.url())
        .unwrap()
        .personal_token(TOKEN.to_owned())
        .build()
        .unwrap();
    crab.actions()
        .create_workflow_dispatch("acme", "app", "build.yml", "main")
        .inputs(serde_json::json!({"image": "registry.example.com/acme/app:latest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        fake.dispatches()[0].payload["image"],
        "registry.example.com/acme/app:latest"
    );
}

#[tokio::test]
async fn gitlab_pipeline_trigger_once_per_image_with_variables() {
    let fake = FakeGitlab::start(42, "acme/app").unwrap();
    fake.add_trigger_token("glptt-canary");
    let target = |token: &str| Target::GitlabPipeline {
        api: fake.api_url(),
        project: "acme/app".into(),
        git_ref: "main".into(),
        token: Secret::new(token),
    };
    let app = detail("registry.example.com/acme/app:latest");
    let wanted = rebuilds([&app, &app]);
    let sent = trigger(&target("glptt-canary"), &wanted, fast())
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, 201);
    assert!(sent[0].pipeline.as_deref().unwrap().contains("/pipelines/"));
    let started = fake.triggered();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].git_ref, "main");
    assert_eq!(
        started[0].variables["PORTCULLIS_STALE_IMAGE"],
        "registry.example.com/acme/app:latest"
    );
    assert_eq!(
        started[0].variables["PORTCULLIS_STALE_BASE_DIGEST_THEN"],
        THEN
    );
    let error = trigger(&target("glptt-wrong"), &wanted, fast())
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("HTTP 404") && !text.contains("glptt"),
        "{text}"
    );
}

#[tokio::test]
async fn ask_reports_each_rebuild_with_its_target_and_outcome_and_no_token() {
    let fake = FakeGitlab::start(42, "acme/app").unwrap();
    fake.add_trigger_token("glptt-canary");
    let target = |token: &str| Target::GitlabPipeline {
        api: fake.api_url(),
        project: "acme/app".into(),
        git_ref: "main".into(),
        token: Secret::new(token),
    };
    let wanted = rebuilds([
        &detail("registry.example.com/acme/app:latest"),
        &detail("registry.example.com/acme/api:latest"),
    ]);
    let asked = ask(&target("glptt-canary"), &wanted, fast()).await;
    assert!(asked.error.is_none());
    assert_eq!(asked.triggered.len(), 2);
    let first = &asked.triggered[0];
    assert_eq!(first.image, "registry.example.com/acme/app:latest");
    assert_eq!(first.target, Trigger::GitlabPipeline);
    assert_eq!(first.repository, "acme/app");
    assert_eq!(first.git_ref.as_deref(), Some("main"));
    assert_eq!(first.outcome, TriggerOutcome::Sent);
    assert_eq!(first.status, Some(201));
    assert!(first.pipeline.as_deref().unwrap().contains("/pipelines/"));
    assert_eq!(first.reasons, ["base-drifted"]);

    // A refusal: the first rebuild is the failed entry with the status; the rest are not asked.
    let asked = ask(&target("glptt-wrong"), &wanted, fast()).await;
    assert!(asked.error.is_some());
    assert_eq!(asked.triggered.len(), 1);
    assert_eq!(asked.triggered[0].outcome, TriggerOutcome::Failed);
    assert_eq!(asked.triggered[0].status, Some(404));

    let planned = dry_run(&target("glptt-canary"), &wanted);
    assert_eq!(planned.len(), 2);
    assert!(planned
        .iter()
        .all(|t| t.outcome == TriggerOutcome::DryRun && t.status.is_none()));
    let text = format!(
        "{planned:?} {}",
        serde_json::to_string(&asked.triggered).unwrap()
    );
    assert!(!text.contains("glptt"), "{text}");
}
