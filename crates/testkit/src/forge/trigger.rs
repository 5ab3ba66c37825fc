//! GitLab's pipeline trigger API in the fake: `POST
//! /api/v4/projects/{id}/trigger/pipeline` with the form fields (or query parameters)
//! `token`, `ref` and `variables[NAME]`. A trigger token registered with
//! `FakeGitlab::add_trigger_token` or a registered `CI_JOB_TOKEN` is accepted; none answers
//! 401, an unknown one 404, as GitLab does; no `ref` answers 400. Success is 201 with the
//! pipeline's JSON.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::timestamp;
use crate::sigstore::server::{percent_decode, Request, Response};

/// A pipeline the fake started through the trigger API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineTrigger {
    /// The pipeline id.
    pub id: u64,
    pub git_ref: String,
    /// `variables[NAME]` fields, by name.
    pub variables: BTreeMap<String, String>,
    /// Whether a `CI_JOB_TOKEN` started it (else a trigger token).
    pub by_job_token: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Triggers {
    pub tokens: Vec<String>,
    pub started: Vec<PipelineTrigger>,
}

fn message(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "message": message }))
}

/// The form fields of a request: its urlencoded body and its query.
fn fields(request: &Request) -> Vec<(String, String)> {
    let body = String::from_utf8_lossy(&request.body).into_owned();
    [request.query.as_str(), body.as_str()]
        .iter()
        .flat_map(|text| text.split('&'))
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// Starts a pipeline of project `project_id`, or refuses as GitLab would.
pub(crate) fn handle(
    triggers: &mut Triggers,
    job_tokens: &[String],
    tick: u64,
    project_id: u64,
    request: &Request,
) -> Response {
    let fields = fields(request);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let Some(token) = field("token") else {
        return message(401, "401 Unauthorized");
    };
    let by_job_token = job_tokens.contains(&token);
    if !by_job_token && !triggers.tokens.contains(&token) {
        return message(404, "404 Not Found");
    }
    let Some(git_ref) = field("ref").filter(|r| !r.is_empty()) else {
        return Response::json(400, &json!({ "error": "ref is missing" }));
    };
    let variables: BTreeMap<String, String> = fields
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix("variables[")?.strip_suffix(']')?;
            Some((name.to_owned(), value.clone()))
        })
        .collect();
    let id = 9_000 + triggers.started.len() as u64 + 1;
    triggers.started.push(PipelineTrigger {
        id,
        git_ref: git_ref.clone(),
        variables,
        by_job_token,
    });
    let now = timestamp(tick);
    let pipeline: Value = json!({
        "id": id,
        "iid": triggers.started.len(),
        "project_id": project_id,
        "sha": "a91957a858320c0e17f3a0eca7cfacbff50ea29a",
        "ref": git_ref,
        "status": "created",
        "source": "trigger",
        "created_at": now,
        "updated_at": now,
        "web_url": format!("https://gitlab.example.com/project/-/pipelines/{id}"),
        "before_sha": "0000000000000000000000000000000000000000",
        "tag": false,
        "yaml_errors": null,
        "user": null,
        "started_at": null,
        "finished_at": null,
        "committed_at": null,
        "duration": null,
        "queued_duration": null,
        "coverage": null,
        "detailed_status": {
            "icon": "status_created", "text": "created", "label": "created",
            "group": "created", "tooltip": "created", "has_details": true,
            "details_path": format!("/project/-/pipelines/{id}"),
            "illustration": null, "favicon": "/assets/ci_favicons/favicon_status_created.png"
        }
    });
    Response::json(201, &pipeline)
}
