use super::*;
use portcullis_policy::StaleReason;

const THEN: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const NOW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const IMAGE: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

fn detail(image: &str) -> StaleDetail {
    StaleDetail {
        image: ImageRef::parse(image).unwrap(),
        digest: Digest::parse(IMAGE).unwrap(),
        reasons: vec![
            StaleReason::BaseDrifted {
                base: ImageRef::parse("alpine:3.20").unwrap(),
                then: Digest::parse(THEN).unwrap(),
                now: Digest::parse(NOW).unwrap(),
            },
            StaleReason::TooOld {
                created: "2026-01-01T00:00:00Z".parse().unwrap(),
                max_age: Duration::from_hours(24),
            },
        ],
    }
}

fn github_dispatch() -> Target {
    Target::GithubDispatch {
        api: "https://api.github.com/".into(),
        repository: "acme/app".into(),
        event_type: "portcullis-stale".into(),
        token: Secret::new("ghp_canary".to_owned()),
    }
}

#[test]
fn a_repository_dispatch_carries_the_image_digests_and_reasons() {
    let rebuild = Rebuild::from_stale(&detail("registry.example.com/acme/app:latest"));
    let request = request(&github_dispatch(), &rebuild);
    assert_eq!(
        request.url,
        "https://api.github.com/repos/acme/app/dispatches"
    );
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["event_type"], "portcullis-stale");
    let payload = &body["client_payload"];
    assert_eq!(payload["image"], "registry.example.com/acme/app:latest");
    assert_eq!(payload["digest"], IMAGE);
    assert_eq!(payload["reasons"], json!(["base-drifted", "too-old"]));
    assert_eq!(payload["base"], "docker.io/library/alpine:3.20");
    assert_eq!(payload["base_digest_then"], THEN);
    assert_eq!(payload["base_digest_now"], NOW);
    assert!(!request.body.contains("canary"));
}

#[test]
fn a_workflow_dispatch_sends_string_inputs_and_the_ref() {
    let target = Target::GithubWorkflow {
        api: "https://ghe.example.com/api/v3".into(),
        repository: "acme/app".into(),
        workflow: "build image.yml".into(),
        git_ref: "main".into(),
        token: Secret::new("ghp_canary".to_owned()),
    };
    let rebuild = Rebuild::from_stale(&detail("registry.example.com/acme/app:latest"));
    let request = request(&target, &rebuild);
    assert_eq!(
        request.url,
        "https://ghe.example.com/api/v3/repos/acme/app/actions/workflows/build%20image.yml/dispatches"
    );
    let body: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["ref"], "main");
    assert_eq!(body["inputs"]["reasons"], "base-drifted,too-old");
    assert!(body["inputs"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string));
}

#[test]
fn a_gitlab_trigger_sends_variables_as_form_fields_without_the_token() {
    let target = Target::GitlabPipeline {
        api: "https://gitlab.example.com/api/v4".into(),
        project: "acme/app".into(),
        git_ref: "main".into(),
        token: Secret::new("glptt-canary".to_owned()),
    };
    let mut detail = detail("registry.example.com/acme/app:latest");
    detail.reasons.remove(0);
    let request = request(&target, &Rebuild::from_stale(&detail));
    assert_eq!(
        request.url,
        "https://gitlab.example.com/api/v4/projects/acme%2Fapp/trigger/pipeline"
    );
    assert_eq!(
        request.body,
        format!(
            "ref=main&variables%5BPORTCULLIS_STALE_IMAGE%5D=registry.example.com%2Facme%2Fapp%3Alatest&variables%5BPORTCULLIS_STALE_DIGEST%5D={}&variables%5BPORTCULLIS_STALE_REASONS%5D=too-old",
            IMAGE.replace(':', "%3A")
        )
    );
    assert!(!request.body.contains("canary"));
}

#[test]
fn one_rebuild_per_image_however_often_it_is_listed() {
    let one = detail("registry.example.com/acme/app:latest");
    let same_digest_other_tag = detail("registry.example.com/acme/app:1.0");
    let other = detail("registry.example.com/acme/api:latest");
    let all = rebuilds([&one, &one, &same_digest_other_tag, &other]);
    let images: Vec<String> = all.iter().map(|r| r.image.to_string()).collect();
    assert_eq!(
        images,
        [
            "registry.example.com/acme/app:latest",
            "registry.example.com/acme/api:latest"
        ]
    );
}

#[test]
fn error_bodies_lose_the_token() {
    let token = Secret::new("glptt-canary".to_owned());
    let message = scrub(r#"{"message":"token glptt-canary is invalid"}"#, &token);
    assert_eq!(message, "token *** is invalid");
    let long = "x".repeat(1_000);
    assert_eq!(scrub(&long, &token).len(), 300);
}

#[test]
fn targets_describe_themselves_without_the_token() {
    let text = format!("{} {:?}", github_dispatch().describe(), github_dispatch());
    assert!(
        text.contains("acme/app") && !text.contains("canary"),
        "{text}"
    );
}

fn policy(text: &str) -> portcullis_policy::Config {
    portcullis_policy::Config::parse("portcullis.toml", text).unwrap()
}

#[test]
fn the_target_comes_from_the_policy_and_the_ci_environment() {
    let gitlab_ci = [
        ("GITLAB_CI", "true"),
        ("CI_PROJECT_ID", "42"),
        ("CI_PROJECT_PATH", "acme/app"),
        ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_JOB_TOKEN", "job-canary"),
    ];
    let var = |name: &str| {
        gitlab_ci
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    let env = CiEnv::from_env(var).unwrap();
    let config = policy("[stale]\ntrigger = \"gitlab-pipeline\"\n");
    let Some(Target::GitlabPipeline {
        project,
        git_ref,
        token,
        ..
    }) = target(config.stale(), &env, var).unwrap()
    else {
        panic!("a GitLab target");
    };
    assert_eq!((project.as_str(), git_ref.as_str()), ("42", "main"));
    assert_eq!(token.expose(), "job-canary", "CI_JOB_TOKEN is accepted");

    // GitHub without a token is refused, naming the variables to set.
    let local = CiEnv::from_env(|_| None).unwrap();
    let github = policy("[stale]\ntrigger = \"github-dispatch\"\nrepository = \"acme/app\"\n");
    let error = target(github.stale(), &local, |_| None).unwrap_err();
    assert!(error.to_string().contains("GITHUB_TOKEN"), "{error}");
    let none = policy("[stale]\n");
    assert!(target(none.stale(), &local, |_| None).unwrap().is_none());
}
