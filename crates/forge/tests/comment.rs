//! Sticky comments against the fake GitHub and GitLab APIs of the testkit.

use portcullis_forge::comment::{CUT_NOTE, GITLAB_CUT_NOTE};
use portcullis_forge::{publish, Action, Forge, ForgeToken, Outcome, Published};
use portcullis_secret::Secret;
use portcullis_testkit::forge::{FakeGithub, FakeGitlab};

const REPO: &str = "acme/app";
const PR: u64 = 7;
const TOKEN: &str = "ghp_canary_token";
const ME: &str = "portcullis-bot";
const MARKER: &str = "<!-- portcullis:check -->";

fn github() -> (FakeGithub, Forge) {
    let fake = FakeGithub::start().unwrap();
    fake.add_token(TOKEN, ME);
    let forge = Forge::github(fake.url(), "acme", "app", &Secret::new(TOKEN)).unwrap();
    (fake, forge)
}

fn published(outcome: Outcome) -> Published {
    match outcome {
        Outcome::Published(published) => published,
        Outcome::Degraded { reason } => panic!("degraded: {reason}"),
    }
}

fn marked(
    comments: &[portcullis_testkit::forge::ForgeComment],
) -> Vec<&portcullis_testkit::forge::ForgeComment> {
    comments
        .iter()
        .filter(|c| c.body.contains(MARKER))
        .collect()
}

#[tokio::test]
async fn github_first_run_creates_then_updates_in_place() {
    let (fake, forge) = github();
    fake.seed_comment(REPO, PR, "alice", "LGTM");
    let first = published(publish(&forge, PR, "check", "❌ 2 errors").await.unwrap());
    assert_eq!(first.action, Action::Created);
    // Who am I, list, create, list again to reconcile.
    assert_eq!(fake.requests().len(), 4);
    let second = published(publish(&forge, PR, "check", "❌ 1 error").await.unwrap());
    assert_eq!((second.action, second.id), (Action::Updated, first.id));
    assert_eq!(fake.requests().len(), 4 + 3);
    let third = published(publish(&forge, PR, "check", "❌ 1 error").await.unwrap());
    assert_eq!((third.action, third.id), (Action::Unchanged, first.id));
    assert_eq!(fake.requests().len(), 4 + 3 + 2);

    let comments = fake.comments(REPO, PR);
    assert_eq!(comments.len(), 2, "{comments:#?}");
    let ours = marked(&comments);
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].author, ME);
    assert!(ours[0].body.starts_with(MARKER) && ours[0].body.ends_with("❌ 1 error"));
    assert_eq!(comments[0].body, "LGTM");
    // octocrab updates with POST, an alias GitHub accepts for PATCH.
    let writes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path, r.status))
        .collect();
    assert_eq!(
        writes,
        [
            (
                "POST".into(),
                format!("/repos/{REPO}/issues/{PR}/comments"),
                201
            ),
            (
                "POST".into(),
                format!("/repos/{REPO}/issues/comments/{}", first.id),
                200
            ),
        ]
    );
}

#[tokio::test]
async fn github_all_clear_replaces_the_failing_report() {
    let (fake, forge) = github();
    publish(&forge, PR, "check", "❌ `nginx:latest` is not pinned")
        .await
        .unwrap();
    publish(&forge, PR, "check", "✅ all clear").await.unwrap();
    let comments = fake.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains("✅ all clear") && !comments[0].body.contains("nginx"));
}

#[tokio::test]
async fn github_leaves_other_users_and_other_keys_alone() {
    let (fake, forge) = github();
    // Someone quoting our marker, and our own comment for another key.
    let theirs = fake.seed_comment(REPO, PR, "mallory", &format!("{MARKER}\nfake report"));
    publish(&forge, PR, "scan", "scan report").await.unwrap();
    let ours = published(publish(&forge, PR, "check", "check report").await.unwrap());
    assert_eq!(ours.action, Action::Created);
    let comments = fake.comments(REPO, PR);
    assert_eq!(comments.len(), 3);
    let mallory = comments.iter().find(|c| c.id == theirs).unwrap();
    assert_eq!(mallory.body, format!("{MARKER}\nfake report"));
    assert!(comments
        .iter()
        .any(|c| c.body == "<!-- portcullis:scan -->\nscan report"));
}

#[tokio::test]
async fn github_duplicates_from_a_race_reconcile_to_the_oldest() {
    let (fake, forge) = github();
    let oldest = fake.seed_comment(REPO, PR, ME, &format!("{MARKER}\njob a"));
    fake.seed_comment(REPO, PR, ME, &format!("{MARKER}\njob b"));
    let result = published(publish(&forge, PR, "check", "job c").await.unwrap());
    assert_eq!((result.id, result.removed_duplicates), (oldest, 1));
    let comments = fake.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, format!("{MARKER}\njob c"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn github_concurrent_publishes_end_with_one_comment() {
    let (fake, forge) = github();
    let forge = std::sync::Arc::new(forge);
    // Rounds on fresh pull requests until two jobs both created a comment (usually the
    // first), so the create-then-reconcile path is what ends with one comment.
    let mut raced = false;
    for pr in 100..120 {
        let jobs: Vec<_> = (0..2)
            .map(|job| {
                let forge = std::sync::Arc::clone(&forge);
                tokio::spawn(
                    async move { publish(&forge, pr, "check", &format!("job {job}")).await },
                )
            })
            .collect();
        for job in jobs {
            published(job.await.unwrap().unwrap());
        }
        let comments = fake.comments(REPO, pr);
        assert_eq!(comments.len(), 1, "{comments:#?}");
        let path = format!("/repos/{REPO}/issues/{pr}/comments");
        let creates = fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == path && r.status == 201)
            .count();
        if creates >= 2 {
            raced = true;
            break;
        }
    }
    assert!(raced, "no two jobs ever created at once");
}

#[tokio::test]
async fn github_over_long_body_is_cut_with_the_note() {
    let (fake, forge) = github();
    let body = format!("## Summary\n\n{}", "| `nginx` | error |\n".repeat(5_000));
    assert!(body.chars().count() > 65_536);
    let result = published(publish(&forge, PR, "check", &body).await.unwrap());
    assert!(result.cut);
    let comments = fake.comments(REPO, PR);
    let stored = &comments[0].body;
    assert!(stored.chars().count() <= 65_536);
    assert!(stored.starts_with(&format!("{MARKER}\n## Summary")));
    assert!(stored.contains(CUT_NOTE));
}

#[tokio::test]
async fn github_read_only_token_degrades() {
    let fake = FakeGithub::start().unwrap();
    fake.add_read_only_token(TOKEN, "github-actions[bot]");
    let forge = Forge::github(fake.url(), "acme", "app", &Secret::new(TOKEN)).unwrap();
    let outcome = publish(&forge, PR, "check", "report").await.unwrap();
    let Outcome::Degraded { reason } = outcome else {
        panic!("expected degraded, got {outcome:?}");
    };
    assert!(
        reason.contains("fork") && reason.contains("pull-requests: write"),
        "{reason}"
    );
    assert!(fake.comments(REPO, PR).is_empty());
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.status == 403));
}

#[tokio::test]
async fn github_bad_token_is_an_error_without_the_token() {
    let fake = FakeGithub::start().unwrap();
    let forge = Forge::github(fake.url(), "acme", "app", &Secret::new(TOKEN)).unwrap();
    let error = publish(&forge, PR, "check", "report").await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("Bad credentials"), "{text}");
    assert!(!text.contains(TOKEN));
}

#[tokio::test]
async fn github_finds_its_comment_after_more_than_a_hundred() {
    let (fake, forge) = github();
    for n in 0..150 {
        fake.seed_comment(REPO, PR, "alice", &format!("comment {n}"));
    }
    let first = published(publish(&forge, PR, "check", "v1").await.unwrap());
    let second = published(publish(&forge, PR, "check", "v2").await.unwrap());
    assert_eq!((second.action, second.id), (Action::Updated, first.id));
    assert_eq!(marked(&fake.comments(REPO, PR)).len(), 1);
    assert!(fake.requests().iter().any(|r| r.method == "GET"
        && r.query.contains("page=2")
        && r.query.contains("per_page=100")));
}

#[tokio::test]
async fn a_key_that_could_match_another_marker_is_refused() {
    let (_fake, forge) = github();
    let error = publish(&forge, PR, "check -->", "x").await.unwrap_err();
    assert!(error.to_string().contains("`check -->`"), "{error}");
}

const PROJECT: u64 = 321;
const MR: u64 = 17;
const GL_TOKEN: &str = "glpat-canary";

fn gitlab() -> (FakeGitlab, Forge) {
    let fake = FakeGitlab::start(PROJECT, "acme/app").unwrap();
    fake.add_token(GL_TOKEN, "project_321_bot_1");
    let forge = Forge::gitlab(
        &fake.api_url(),
        PROJECT,
        ForgeToken::GitlabPrivate(Secret::new(GL_TOKEN)),
    );
    (fake, forge)
}

#[tokio::test]
async fn gitlab_first_run_creates_then_updates_and_all_clear_replaces() {
    let (fake, forge) = gitlab();
    fake.seed_note(MR, "alice", "please fix");
    let first = published(publish(&forge, MR, "check", "❌ 2 errors").await.unwrap());
    assert_eq!(first.action, Action::Created);
    let second = published(publish(&forge, MR, "check", "✅ all clear").await.unwrap());
    assert_eq!((second.action, second.id), (Action::Updated, first.id));
    let notes = fake.notes(MR);
    assert_eq!(notes.len(), 2);
    let ours = marked(&notes);
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].body, format!("{MARKER}\n✅ all clear"));
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.method == "PUT" && r.header_is("private-token", GL_TOKEN)));
}

trait HeaderIs {
    fn header_is(&self, name: &str, value: &str) -> bool;
}

impl HeaderIs for portcullis_testkit::forge::ForgeRequest {
    fn header_is(&self, name: &str, value: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case(name) && v == value)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gitlab_concurrent_publishes_end_with_one_note() {
    let (fake, forge) = gitlab();
    let forge = std::sync::Arc::new(forge);
    let mut raced = false;
    for mr in 100..120 {
        let jobs: Vec<_> = (0..2)
            .map(|job| {
                let forge = std::sync::Arc::clone(&forge);
                tokio::spawn(
                    async move { publish(&forge, mr, "check", &format!("job {job}")).await },
                )
            })
            .collect();
        for job in jobs {
            published(job.await.unwrap().unwrap());
        }
        assert_eq!(fake.notes(mr).len(), 1, "{:#?}", fake.notes(mr));
        let path = format!("/api/v4/projects/{PROJECT}/merge_requests/{mr}/notes");
        let creates = fake
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == path && r.status == 201)
            .count();
        if creates >= 2 {
            raced = true;
            break;
        }
    }
    assert!(raced, "no two jobs ever created at once");
}

#[tokio::test]
async fn gitlab_duplicates_reconcile_to_the_oldest() {
    let (fake, forge) = gitlab();
    let oldest = fake.seed_note(MR, "project_321_bot_1", &format!("{MARKER}\na"));
    fake.seed_note(MR, "project_321_bot_1", &format!("{MARKER}\nb"));
    let result = published(publish(&forge, MR, "check", "c").await.unwrap());
    assert_eq!((result.id, result.removed_duplicates), (oldest, 1));
    assert_eq!(fake.notes(MR).len(), 1);
}

#[tokio::test]
async fn gitlab_over_long_body_is_cut_with_the_note() {
    let (fake, forge) = gitlab();
    let body = format!("## Summary\n\n{}", "x".repeat(99) + "\n").repeat(10_001);
    let result = published(publish(&forge, MR, "check", &body).await.unwrap());
    assert!(result.cut);
    let stored = &fake.notes(MR)[0].body;
    assert!(stored.chars().count() <= 1_000_000 && stored.contains(GITLAB_CUT_NOTE));
    assert!(
        !stored.contains("job summary"),
        "GitLab has no job summary to point at"
    );
}

#[tokio::test]
async fn gitlab_job_token_degrades_asking_for_a_project_access_token() {
    let fake = FakeGitlab::start(PROJECT, "acme/app").unwrap();
    fake.add_job_token("job-canary");
    let forge = Forge::gitlab(
        &fake.api_url(),
        PROJECT,
        ForgeToken::GitlabJob(Secret::new("job-canary")),
    );
    let outcome = publish(&forge, MR, "check", "report").await.unwrap();
    let Outcome::Degraded { reason } = outcome else {
        panic!("expected degraded, got {outcome:?}");
    };
    assert!(
        reason.contains("project access token") && reason.contains("CI_JOB_TOKEN"),
        "{reason}"
    );
    assert!(fake.notes(MR).is_empty());
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.status == 403 && r.header_is("job-token", "job-canary")));
}

#[tokio::test]
async fn gitlab_finds_its_note_after_more_than_a_hundred() {
    let (fake, forge) = gitlab();
    for n in 0..150 {
        fake.seed_note(MR, "alice", &format!("note {n}"));
    }
    let first = published(publish(&forge, MR, "check", "v1").await.unwrap());
    let second = published(publish(&forge, MR, "check", "v2").await.unwrap());
    assert_eq!((second.action, second.id), (Action::Updated, first.id));
    assert_eq!(marked(&fake.notes(MR)).len(), 1);
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.query.contains("page=2")));
}

#[tokio::test]
async fn github_actions_token_finds_its_comment_as_the_bot() {
    // A GITHUB_TOKEN may not read /user; its comments are github-actions[bot]'s.
    let fake = FakeGithub::start().unwrap();
    fake.add_actions_token(TOKEN);
    fake.seed_comment(REPO, PR, "mallory", &format!("{MARKER}\nnot ours"));
    let forge = Forge::github(fake.url(), "acme", "app", &Secret::new(TOKEN)).unwrap();
    let first = published(publish(&forge, PR, "check", "v1").await.unwrap());
    let second = published(publish(&forge, PR, "check", "v2").await.unwrap());
    assert_eq!((second.action, second.id), (Action::Updated, first.id));
    let comments = fake.comments(REPO, PR);
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1].author, "github-actions[bot]");
    assert_eq!(comments[0].body, format!("{MARKER}\nnot ours"));
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.path == "/user" && r.status == 403));
}

#[tokio::test]
async fn github_enterprise_api_path_is_kept_across_pages() {
    let fake = FakeGithub::start().unwrap();
    fake.add_token(TOKEN, ME);
    for n in 0..120 {
        fake.seed_comment(REPO, PR, "alice", &format!("comment {n}"));
    }
    let api = format!("{}/api/v3", fake.url());
    let forge = Forge::github(&api, "acme", "app", &Secret::new(TOKEN)).unwrap();
    let first = published(publish(&forge, PR, "check", "v1").await.unwrap());
    let second = published(publish(&forge, PR, "check", "v2").await.unwrap());
    assert_eq!(second.id, first.id);
    let requests = fake.requests();
    assert!(
        requests.iter().all(|r| r.path.starts_with("/api/v3/")),
        "{requests:#?}"
    );
    assert!(requests.iter().any(|r| r.query.contains("page=2")));
}

#[tokio::test]
async fn forges_never_print_their_tokens() {
    let github = Forge::github("http://127.0.0.1:9", "acme", "app", &Secret::new(TOKEN)).unwrap();
    let gitlab = Forge::gitlab(
        "http://127.0.0.1:9/api/v4",
        PROJECT,
        ForgeToken::GitlabPrivate(Secret::new(GL_TOKEN)),
    );
    let job = Forge::gitlab(
        "http://127.0.0.1:9/api/v4",
        PROJECT,
        ForgeToken::GitlabJob(Secret::new(GL_TOKEN)),
    );
    for text in [
        format!("{github:?}"),
        format!("{gitlab:?}"),
        format!("{job:?}"),
    ] {
        assert!(!text.contains(TOKEN) && !text.contains(GL_TOKEN), "{text}");
    }
}

#[test]
fn a_github_forge_outside_a_runtime_is_an_error_not_a_panic() {
    let error = Forge::github("http://127.0.0.1:9", "acme", "app", &Secret::new(TOKEN))
        .unwrap_err()
        .to_string();
    assert!(error.contains("tokio runtime"), "{error}");
}

#[test]
fn from_env_builds_the_forge_of_a_merge_request_pipeline() {
    let env = portcullis_forge::CiEnv::from_env(|name| {
        let value = match name {
            "GITLAB_CI" => "true",
            "CI_PROJECT_ID" => "321",
            "CI_PROJECT_PATH" => "acme/app",
            "CI_MERGE_REQUEST_IID" => "17",
            "CI_API_V4_URL" => "https://gitlab.example.com/api/v4",
            "CI_JOB_TOKEN" => "job",
            _ => return None,
        };
        Some(value.to_owned())
    })
    .unwrap();
    let (_, change) = Forge::from_env(&env).unwrap();
    assert_eq!(change, 17);
    let local = portcullis_forge::CiEnv::from_env(|_| None).unwrap();
    let error = Forge::from_env(&local).unwrap_err().to_string();
    assert!(error.contains("not for a pull or merge request"), "{error}");
}

#[tokio::test]
async fn github_comment_quoting_our_marker_mid_body_is_not_ours() {
    let (fake, forge) = github();
    let quoted = fake.seed_comment(REPO, PR, ME, &format!("as the bot said:\n> {MARKER}"));
    let result = published(publish(&forge, PR, "check", "report").await.unwrap());
    assert_eq!(result.action, Action::Created);
    assert_ne!(result.id, quoted);
    assert_eq!(fake.comments(REPO, PR).len(), 2);
}
