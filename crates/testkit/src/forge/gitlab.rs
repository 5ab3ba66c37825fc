//! A fake of the GitLab REST API's merge request notes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use serde_json::{json, Value};

use super::trigger::{PipelineTrigger, Triggers};
use super::{lock, page_bounds, timestamp, Account, ForgeComment, ForgeRequest, Shared};
use crate::sigstore::server::{bind, Request, Response, Server, Service};

/// GitLab's limit on a note's body, in characters.
pub const GITLAB_NOTE_LIMIT: usize = 1_000_000;

#[derive(Debug, Default)]
struct State {
    /// `PRIVATE-TOKEN` (or OAuth bearer) → who it is.
    tokens: HashMap<String, Account>,
    /// `JOB-TOKEN`s: they read but cannot write notes.
    job_tokens: Vec<String>,
    /// (merge request iid, note).
    notes: Vec<(u64, ForgeComment)>,
    next_id: u64,
    tick: u64,
    requests: Vec<ForgeRequest>,
    /// The pipeline trigger API.
    triggers: Triggers,
}

/// A stateful fake GitLab REST API for one project (by id or URL-encoded path): `GET
/// /api/v4/user`, `GET`/`POST /api/v4/projects/{id}/merge_requests/{iid}/notes` (with
/// `per_page`/`page`, `sort` and `X-Next-Page`) and `PUT`/`DELETE
/// …/notes/{note_id}`. Authenticates `PRIVATE-TOKEN`, `Authorization: Bearer` and
/// `JOB-TOKEN`; a job token gets 403 on every note write, as on gitlab.com.
#[derive(Debug)]
pub struct FakeGitlab {
    url: String,
    state: Shared<State>,
    _server: Server,
}

impl FakeGitlab {
    /// Starts the fake for project `project_id` at `project_path` (`group/name`).
    pub fn start(project_id: u64, project_path: &str) -> Result<Self> {
        let (listener, url) = bind()?;
        let state: Shared<State> = Arc::new(Mutex::new(State {
            next_id: 5_000,
            ..State::default()
        }));
        let handler = {
            let state = Arc::clone(&state);
            let ids = [project_id.to_string(), project_path.replace('/', "%2F")];
            Arc::new(move |request: &Request| {
                let response = handle(&state, &ids, project_id, request);
                lock(&state).requests.push(ForgeRequest {
                    method: request.method.clone(),
                    path: request.path.clone(),
                    query: request.query.clone(),
                    headers: request.headers.clone(),
                    body: String::from_utf8_lossy(&request.body).into_owned(),
                    status: response.status,
                });
                response
            })
        };
        let server = Server::start(
            Service::GitlabApi,
            listener,
            Arc::new(Mutex::new(Vec::new())),
            handler,
        )?;
        Ok(Self {
            url,
            state,
            _server: server,
        })
    }

    /// The API base URL (what `CI_API_V4_URL` holds): `http://127.0.0.1:PORT/api/v4`.
    #[must_use]
    pub fn api_url(&self) -> String {
        format!("{}/api/v4", self.url)
    }

    /// Accepts `token` (as `PRIVATE-TOKEN` or bearer) as the user `username`.
    pub fn add_token(&self, token: &str, username: &str) {
        let mut state = lock(&self.state);
        let user_id = 10 + state.tokens.len() as u64;
        state.tokens.insert(
            token.to_owned(),
            Account {
                login: username.to_owned(),
                user_id,
                writes: true,
            },
        );
    }

    /// Accepts `token` as a `JOB-TOKEN` (`CI_JOB_TOKEN`).
    pub fn add_job_token(&self, token: &str) {
        lock(&self.state).job_tokens.push(token.to_owned());
    }

    /// Adds a note by `username` to merge request `iid` and returns its id.
    // Tests mostly seed for the side effect; the id is there when one needs it.
    #[allow(clippy::must_use_candidate)]
    pub fn seed_note(&self, iid: u64, username: &str, body: &str) -> u64 {
        insert(&mut lock(&self.state), iid, username, body).id
    }

    /// The notes on merge request `iid`, oldest first.
    #[must_use]
    pub fn notes(&self, iid: u64) -> Vec<ForgeComment> {
        lock(&self.state)
            .notes
            .iter()
            .filter(|(i, _)| *i == iid)
            .map(|(_, note)| note.clone())
            .collect()
    }

    /// Every request received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<ForgeRequest> {
        lock(&self.state).requests.clone()
    }

    /// Accepts `token` as a pipeline trigger token (`glptt-…`) of the project.
    pub fn add_trigger_token(&self, token: &str) {
        lock(&self.state).triggers.tokens.push(token.to_owned());
    }

    /// The pipelines started through the trigger API, in order.
    #[must_use]
    pub fn triggered(&self) -> Vec<PipelineTrigger> {
        lock(&self.state).triggers.started.clone()
    }
}

fn insert<'a>(state: &'a mut State, iid: u64, username: &str, body: &str) -> &'a ForgeComment {
    state.next_id += 1;
    state.tick += 1;
    let now = timestamp(state.tick);
    state.notes.push((
        iid,
        ForgeComment {
            id: state.next_id,
            author: username.to_owned(),
            body: body.to_owned(),
            created_at: now.clone(),
            updated_at: now,
        },
    ));
    &state.notes.last().expect("just pushed").1
}

fn message(status: u16, message: &str) -> Response {
    Response::json(status, &json!({ "message": message }))
}

enum Caller {
    User(Account),
    Job,
}

/// The pipeline trigger API, which takes its token in the form, not in a header.
fn pipeline_trigger(
    state: &Mutex<State>,
    ids: &[String; 2],
    project_id: u64,
    request: &Request,
) -> Option<Response> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let ("POST", ["api", "v4", "projects", id, "trigger", "pipeline"]) =
        (request.method.as_str(), segments.as_slice())
    else {
        return None;
    };
    if !ids.iter().any(|known| known.eq_ignore_ascii_case(id)) {
        return Some(message(404, "404 Project Not Found"));
    }
    let mut state = lock(state);
    state.tick += 1;
    let (tick, jobs) = (state.tick, state.job_tokens.clone());
    Some(super::trigger::handle(
        &mut state.triggers,
        &jobs,
        tick,
        project_id,
        request,
    ))
}

fn handle(state: &Mutex<State>, ids: &[String; 2], project_id: u64, request: &Request) -> Response {
    if let Some(response) = pipeline_trigger(state, ids, project_id, request) {
        return response;
    }
    let caller = {
        let state = lock(state);
        let private = request.header("private-token").or_else(|| {
            request
                .header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
        });
        if let Some(account) = private.and_then(|token| state.tokens.get(token)) {
            Some(Caller::User(account.clone()))
        } else if request
            .header("job-token")
            .is_some_and(|token| state.job_tokens.iter().any(|t| t == token))
        {
            Some(Caller::Job)
        } else {
            None
        }
    };
    let Some(caller) = caller else {
        return message(401, "401 Unauthorized");
    };
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v4", "user"]) => match caller {
            Caller::User(account) => Response::json(200, &user(&account.login, account.user_id)),
            Caller::Job => message(401, "401 Unauthorized"),
        },
        (method, ["api", "v4", "projects", id, "merge_requests", iid, "notes", rest @ ..])
            if ids.iter().any(|known| known.eq_ignore_ascii_case(id)) =>
        {
            let Ok(iid) = iid.parse::<u64>() else {
                return message(404, "404 Not found");
            };
            let account = match (&caller, method) {
                (_, "GET") => None,
                (Caller::User(account), _) => Some(account.clone()),
                (Caller::Job, _) => return message(403, "403 Forbidden"),
            };
            match (method, rest, account) {
                ("GET", [], _) => list(state, request, project_id, iid),
                ("POST", [], Some(account)) => {
                    let body = match note_body(request) {
                        Ok(body) => body,
                        Err(response) => return response,
                    };
                    let note = insert(&mut lock(state), iid, &account.login, &body).clone();
                    Response::json(201, &note_json(&note, project_id, iid, account.user_id))
                }
                (method @ ("PUT" | "DELETE"), [note_id], Some(account)) => {
                    let body = if method == "PUT" {
                        match note_body(request) {
                            Ok(body) => body,
                            Err(response) => return response,
                        }
                    } else {
                        String::new()
                    };
                    let mut state = lock(state);
                    state.tick += 1;
                    let tick = state.tick;
                    let Some(index) = state
                        .notes
                        .iter()
                        .position(|(i, n)| *i == iid && note_id.parse() == Ok(n.id))
                    else {
                        return message(404, "404 Not found");
                    };
                    if state.notes[index].1.author != account.login {
                        return message(403, "403 Forbidden");
                    }
                    if method == "DELETE" {
                        state.notes.remove(index);
                        return Response {
                            status: 204,
                            content_type: "application/json",
                            headers: Vec::new(),
                            body: Vec::new(),
                        };
                    }
                    let note = &mut state.notes[index].1;
                    note.body = body;
                    note.updated_at = timestamp(tick);
                    Response::json(200, &note_json(note, project_id, iid, account.user_id))
                }
                _ => message(404, "404 Not found"),
            }
        }
        ("GET" | "POST" | "PUT" | "DELETE", ["api", "v4", "projects", ..]) => {
            message(404, "404 Project Not Found")
        }
        _ => Response::json(404, &json!({ "error": "404 Not Found" })),
    }
}

fn note_body(request: &Request) -> Result<String, Response> {
    let body = serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|value| value.get("body")?.as_str().map(str::to_owned));
    let Some(body) = body else {
        return Err(Response::json(400, &json!({ "error": "body is missing" })));
    };
    if body.chars().count() > GITLAB_NOTE_LIMIT {
        return Err(Response::json(
            400,
            &json!({ "message": { "note": ["is too long (maximum is 1000000 characters)"] } }),
        ));
    }
    Ok(body)
}

fn list(state: &Mutex<State>, request: &Request, project_id: u64, iid: u64) -> Response {
    let per_page = request
        .query_param("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, 100);
    let page = request
        .query_param("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let state = lock(state);
    let mut notes: Vec<&ForgeComment> = state
        .notes
        .iter()
        .filter(|(i, _)| *i == iid)
        .map(|(_, n)| n)
        .collect();
    // GitLab lists notes newest first unless `sort=asc`.
    if request.query_param("sort").as_deref() != Some("asc") {
        notes.reverse();
    }
    let users: HashMap<&str, u64> = state
        .tokens
        .values()
        .map(|a| (a.login.as_str(), a.user_id))
        .collect();
    let (start, end, last) = page_bounds(notes.len(), page, per_page);
    let items: Vec<Value> = notes[start..end]
        .iter()
        .map(|n| {
            let user_id = users.get(n.author.as_str()).copied().unwrap_or(1);
            note_json(n, project_id, iid, user_id)
        })
        .collect();
    let next = if page < last {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    Response::json(200, &Value::Array(items))
        .with_header("X-Page", page.to_string())
        .with_header("X-Per-Page", per_page.to_string())
        .with_header("X-Next-Page", next)
        .with_header("X-Prev-Page", prev)
        .with_header("X-Total", notes.len().to_string())
        .with_header("X-Total-Pages", last.to_string())
}

fn user(username: &str, id: u64) -> Value {
    json!({
        "id": id, "username": username, "name": username, "state": "active",
        "locked": false, "avatar_url": "https://gitlab.example.com/avatar.png",
        "web_url": format!("https://gitlab.example.com/{username}"),
        "bot": username.starts_with("project_") && username.contains("_bot"),
    })
}

fn note_json(note: &ForgeComment, project_id: u64, iid: u64, user_id: u64) -> Value {
    json!({
        "id": note.id, "type": null, "body": note.body, "attachment": null,
        "author": user(&note.author, user_id),
        "created_at": note.created_at, "updated_at": note.updated_at,
        "system": false, "noteable_id": 90_000 + iid, "noteable_type": "MergeRequest",
        "project_id": project_id, "resolvable": false, "confidential": false,
        "internal": false, "noteable_iid": iid, "commands_changes": {},
    })
}
