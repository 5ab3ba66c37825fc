//! The fake forge APIs answer in the real APIs' shapes: statuses, error bodies, pagination
//! headers and limits, checked here with a plain HTTP client.

use portcullis_testkit::forge::{FakeGithub, FakeGitlab};
use serde_json::{json, Value};

fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::new()
}

#[test]
fn github_refuses_unknown_tokens_and_over_long_bodies() {
    let fake = FakeGithub::start().unwrap();
    fake.add_token("good", "me");
    let url = format!("{}/repos/acme/app/issues/1/comments", fake.url());
    let anonymous = client().get(&url).send().unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().unwrap()["message"],
        "Bad credentials"
    );

    let long = client()
        .post(&url)
        .bearer_auth("good")
        .json(&json!({ "body": "x".repeat(65_537) }))
        .send()
        .unwrap();
    assert_eq!(long.status(), 422);
    let error: Value = long.json().unwrap();
    assert_eq!(error["message"], "Validation Failed");
    assert_eq!(error["errors"][0]["field"], "body");
    assert_eq!(error["errors"][0]["code"], "custom");
    let exact = client()
        .post(&url)
        .header("Authorization", "token good")
        .json(&json!({ "body": "x".repeat(65_536) }))
        .send()
        .unwrap();
    assert_eq!(exact.status(), 201);
    let comment: Value = exact.json().unwrap();
    assert_eq!(comment["user"]["login"], "me");
    assert!(comment["created_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn github_pages_with_link_headers() {
    let fake = FakeGithub::start().unwrap();
    fake.add_token("good", "me");
    for n in 0..150 {
        fake.seed_comment("acme/app", 1, "alice", &format!("c{n}"));
    }
    let url = format!("{}/repos/acme/app/issues/1/comments", fake.url());
    let first = client()
        .get(format!("{url}?per_page=100"))
        .bearer_auth("good")
        .send()
        .unwrap();
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains(&format!("<{url}?per_page=100&page=2>; rel=\"next\"")),
        "{link}"
    );
    assert!(link.contains("rel=\"last\""));
    assert_eq!(first.json::<Vec<Value>>().unwrap().len(), 100);
    let second = client()
        .get(format!("{url}?per_page=100&page=2"))
        .bearer_auth("good")
        .send()
        .unwrap();
    let link = second.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        !link.contains("rel=\"next\"") && link.contains("rel=\"prev\""),
        "{link}"
    );
    let items = second.json::<Vec<Value>>().unwrap();
    assert_eq!(
        (items.len(), items[49]["body"].as_str()),
        (50, Some("c149"))
    );
    // Without `per_page`, GitHub sends 30.
    let default = client().get(&url).bearer_auth("good").send().unwrap();
    assert_eq!(default.json::<Vec<Value>>().unwrap().len(), 30);
}

#[test]
fn github_read_only_tokens_and_other_users_comments_are_refused() {
    let fake = FakeGithub::start().unwrap();
    fake.add_token("writer", "me");
    fake.add_read_only_token("reader", "github-actions[bot]");
    let theirs = fake.seed_comment("acme/app", 1, "alice", "hi");
    let url = format!("{}/repos/acme/app/issues/1/comments", fake.url());
    let write = client()
        .post(&url)
        .bearer_auth("reader")
        .json(&json!({ "body": "x" }))
        .send()
        .unwrap();
    assert_eq!(write.status(), 403);
    assert_eq!(
        write.json::<Value>().unwrap()["message"],
        "Resource not accessible by integration"
    );
    let read = client().get(&url).bearer_auth("reader").send().unwrap();
    assert_eq!(read.status(), 200);
    let edit = client()
        .patch(format!(
            "{}/repos/acme/app/issues/comments/{theirs}",
            fake.url()
        ))
        .bearer_auth("writer")
        .json(&json!({ "body": "mine now" }))
        .send()
        .unwrap();
    assert_eq!(edit.status(), 403);
    assert_eq!(fake.comments("acme/app", 1)[0].body, "hi");
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn gitlab_pages_newest_first_with_next_page_headers() {
    let fake = FakeGitlab::start(7, "acme/app").unwrap();
    fake.add_token("pat", "me");
    for n in 0..150 {
        fake.seed_note(3, "alice", &format!("n{n}"));
    }
    let url = format!(
        "{}/projects/acme%2Fapp/merge_requests/3/notes",
        fake.api_url()
    );
    let first = client()
        .get(format!("{url}?per_page=100"))
        .header("PRIVATE-TOKEN", "pat")
        .send()
        .unwrap();
    assert_eq!(first.headers()["x-next-page"], "2");
    assert_eq!(first.headers()["x-total"], "150");
    let notes = first.json::<Vec<Value>>().unwrap();
    assert_eq!(notes[0]["body"], "n149");
    assert_eq!(notes[0]["author"]["username"], "alice");
    assert_eq!(notes[0]["system"], false);
    let last = client()
        .get(format!("{url}?per_page=100&page=2&sort=asc"))
        .header("PRIVATE-TOKEN", "pat")
        .send()
        .unwrap();
    assert_eq!(last.headers()["x-next-page"], "");
    assert_eq!(last.json::<Vec<Value>>().unwrap()[0]["body"], "n100");
}

#[test]
fn gitlab_job_tokens_read_but_cannot_write_and_long_notes_are_refused() {
    let fake = FakeGitlab::start(7, "acme/app").unwrap();
    fake.add_token("pat", "me");
    fake.add_job_token("job");
    let url = format!("{}/projects/7/merge_requests/3/notes", fake.api_url());
    assert_eq!(client().get(&url).send().unwrap().status(), 401);
    let read = client()
        .get(&url)
        .header("JOB-TOKEN", "job")
        .send()
        .unwrap();
    assert_eq!(read.status(), 200);
    let write = client()
        .post(&url)
        .header("JOB-TOKEN", "job")
        .json(&json!({ "body": "x" }))
        .send()
        .unwrap();
    assert_eq!(write.status(), 403);
    assert_eq!(write.json::<Value>().unwrap()["message"], "403 Forbidden");
    let long = client()
        .post(&url)
        .header("PRIVATE-TOKEN", "pat")
        .json(&json!({ "body": "x".repeat(1_000_001) }))
        .send()
        .unwrap();
    assert_eq!(long.status(), 400);
    assert_eq!(
        long.json::<Value>().unwrap()["message"]["note"][0],
        "is too long (maximum is 1000000 characters)"
    );
    let ok = client()
        .post(&url)
        .header("PRIVATE-TOKEN", "pat")
        .json(&json!({ "body": "hello" }))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 201);
    let note: Value = ok.json().unwrap();
    assert_eq!(
        (
            note["author"]["username"].as_str(),
            note["noteable_iid"].as_u64()
        ),
        (Some("me"), Some(3))
    );
    let user = client()
        .get(format!("{}/user", fake.api_url()))
        .header("PRIVATE-TOKEN", "pat")
        .send()
        .unwrap();
    assert_eq!(user.json::<Value>().unwrap()["username"], "me");
}
