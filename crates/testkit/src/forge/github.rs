//! A fake of the GitHub REST API's issue comments (a pull request's conversation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use serde_json::{json, Value};

use super::dispatch::{Dispatch, Dispatches};
use super::{lock, page_bounds, timestamp, Account, ForgeComment, ForgeRequest, Shared};
use crate::sigstore::server::{bind, Request, Response, Server, Service};

/// GitHub's limit on an issue comment's body, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

#[derive(Debug, Default)]
struct State {
    /// Token → who it is.
    tokens: HashMap<String, Account>,
    /// Tokens of an app installation (`GITHUB_TOKEN`), which may not read `/user`.
    installations: Vec<String>,
    /// (`owner/repo`, issue number, comment).
    comments: Vec<(String, u64, ForgeComment)>,
    next_id: u64,
    tick: u64,
    requests: Vec<ForgeRequest>,
    /// `repository_dispatch` and `workflow_dispatch`.
    dispatches: Dispatches,
}

/// A stateful fake GitHub REST API: `GET /user`, `GET`/`POST
/// /repos/{o}/{r}/issues/{n}/comments` (with `per_page`/`page` and a `Link` header), and
/// `PATCH` (or octocrab's `POST`)/`DELETE /repos/{o}/{r}/issues/comments/{id}`. Tokens
/// are registered with [`FakeGithub::add_token`]; anything else gets 401 "Bad credentials".
#[derive(Debug)]
pub struct FakeGithub {
    url: String,
    state: Shared<State>,
    _server: Server,
}

impl FakeGithub {
    /// Starts the fake on a free loopback port.
    pub fn start() -> Result<Self> {
        let (listener, url) = bind()?;
        let state: Shared<State> = Arc::new(Mutex::new(State {
            next_id: 1_000,
            ..State::default()
        }));
        let handler = {
            let (state, url) = (Arc::clone(&state), url.clone());
            Arc::new(move |request: &Request| {
                let response = handle(&state, &url, request);
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
            Service::GithubApi,
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

    /// The API base URL (what `GITHUB_API_URL` holds), without a trailing `/`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Accepts `token` as the user `login`, able to write comments.
    pub fn add_token(&self, token: &str, login: &str) {
        self.insert_token(token, login, true);
    }

    /// Accepts `token` as `login` for reads only: writes answer 403 "Resource not
    /// accessible by integration", as a `GITHUB_TOKEN` of a pull request from a fork does.
    pub fn add_read_only_token(&self, token: &str, login: &str) {
        self.insert_token(token, login, false);
    }

    /// Accepts `token` as a GitHub Actions `GITHUB_TOKEN`: it writes comments as
    /// `github-actions[bot]`, but `GET /user` answers 403 "Resource not accessible by
    /// integration", as for every GitHub App installation token.
    pub fn add_actions_token(&self, token: &str) {
        self.insert_token(token, "github-actions[bot]", true);
        lock(&self.state).installations.push(token.to_owned());
    }

    fn insert_token(&self, token: &str, login: &str, writes: bool) {
        let mut state = lock(&self.state);
        let user_id = 100 + state.tokens.len() as u64;
        state.tokens.insert(
            token.to_owned(),
            Account {
                login: login.to_owned(),
                user_id,
                writes,
            },
        );
    }

    /// Adds a comment by `login` to issue or pull request `number` of `repo` (`owner/name`)
    /// and returns its id.
    // Tests mostly seed for the side effect; the id is there when one needs it.
    #[allow(clippy::must_use_candidate)]
    pub fn seed_comment(&self, repo: &str, number: u64, login: &str, body: &str) -> u64 {
        let mut state = lock(&self.state);
        insert(&mut state, repo, number, login, body).id
    }

    /// The comments on `number` of `repo`, oldest first.
    #[must_use]
    pub fn comments(&self, repo: &str, number: u64) -> Vec<ForgeComment> {
        lock(&self.state)
            .comments
            .iter()
            .filter(|(r, n, _)| r == repo && *n == number)
            .map(|(_, _, comment)| comment.clone())
            .collect()
    }

    /// Every request received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<ForgeRequest> {
        lock(&self.state).requests.clone()
    }

    /// Gives `repo` (`owner/name`) the workflow file `workflow` with `workflow_dispatch`
    /// inputs `inputs`: dispatching it with other inputs answers 422, as GitHub does.
    pub fn add_workflow(&self, repo: &str, workflow: &str, inputs: &[&str]) {
        lock(&self.state).dispatches.workflows.insert(
            (repo.to_owned(), workflow.to_owned()),
            inputs.iter().map(|&input| input.to_owned()).collect(),
        );
    }

    /// The next `count` dispatches answer 403 "You have exceeded a secondary rate limit"
    /// with `Retry-After: retry_after` (seconds).
    pub fn limit_dispatches(&self, count: u32, retry_after: u64) {
        lock(&self.state).dispatches.limited = (count, retry_after);
    }

    /// The dispatches accepted so far, in order.
    #[must_use]
    pub fn dispatches(&self) -> Vec<Dispatch> {
        lock(&self.state).dispatches.accepted.clone()
    }
}

fn insert<'a>(
    state: &'a mut State,
    repo: &str,
    number: u64,
    login: &str,
    body: &str,
) -> &'a ForgeComment {
    state.next_id += 1;
    state.tick += 1;
    let now = timestamp(state.tick);
    let comment = ForgeComment {
        id: state.next_id,
        author: login.to_owned(),
        body: body.to_owned(),
        created_at: now.clone(),
        updated_at: now,
    };
    state.comments.push((repo.to_owned(), number, comment));
    &state.comments.last().expect("just pushed").2
}

fn error(status: u16, message: &str, doc: &str) -> Response {
    Response::json(
        status,
        &json!({
            "message": message,
            "documentation_url": format!("https://docs.github.com/rest/{doc}"),
            "status": status.to_string(),
        }),
    )
}

// A router: one arm per endpoint reads best in one place.
#[allow(clippy::too_many_lines)]
fn handle(state: &Mutex<State>, base: &str, request: &Request) -> Response {
    let token = request.header("authorization").and_then(|value| {
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("token "))
    });
    let Some(account) = token.and_then(|token| lock(state).tokens.get(token).cloned()) else {
        return error(
            401,
            "Bad credentials",
            "overview/troubleshooting-the-rest-api",
        );
    };
    let installation =
        token.is_some_and(|token| lock(state).installations.iter().any(|t| t == token));
    // GitHub Enterprise Server serves the same API under `/api/v3`.
    let (path, base) = match request.path.strip_prefix("/api/v3/") {
        Some(rest) => (rest, format!("{base}/api/v3")),
        None => (request.path.as_str(), base.to_owned()),
    };
    let base = base.as_str();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let Some(response) =
        super::dispatch::handle(&mut lock(state).dispatches, &account, request, &segments)
    {
        return response;
    }
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["user"]) if installation => error(
            403,
            "Resource not accessible by integration",
            "users/users#get-the-authenticated-user",
        ),
        ("GET", ["user"]) => Response::json(200, &user(base, &account.login, account.user_id)),
        ("GET", ["repos", owner, name, "issues", number, "comments"]) => {
            let Ok(number) = number.parse() else {
                return error(404, "Not Found", "issues/comments");
            };
            list(state, base, request, &format!("{owner}/{name}"), number)
        }
        ("POST", ["repos", owner, name, "issues", number, "comments"]) => {
            let Ok(number) = number.parse::<u64>() else {
                return error(404, "Not Found", "issues/comments");
            };
            let repo = format!("{owner}/{name}");
            let body = match write_allowed(&account, request, "create-an-issue-comment") {
                Ok(body) => body,
                Err(response) => return response,
            };
            let mut state = lock(state);
            let comment = insert(&mut state, &repo, number, &account.login, &body).clone();
            Response::json(
                201,
                &comment_json(base, &repo, number, &comment, account.user_id),
            )
        }
        ("PATCH" | "POST" | "DELETE", ["repos", owner, name, "issues", "comments", id]) => {
            let repo = format!("{owner}/{name}");
            let doc = if request.method == "DELETE" {
                "delete-an-issue-comment"
            } else {
                "update-an-issue-comment"
            };
            let body = if request.method == "DELETE" {
                if !account.writes {
                    return error(403, "Resource not accessible by integration", doc);
                }
                String::new()
            } else {
                match write_allowed(&account, request, doc) {
                    Ok(body) => body,
                    Err(response) => return response,
                }
            };
            let mut state = lock(state);
            state.tick += 1;
            let tick = state.tick;
            let Some(index) = state
                .comments
                .iter()
                .position(|(r, _, c)| *r == repo && id.parse() == Ok(c.id))
            else {
                return error(404, "Not Found", doc);
            };
            if state.comments[index].2.author != account.login {
                return error(403, "Resource not accessible by integration", doc);
            }
            if request.method == "DELETE" {
                state.comments.remove(index);
                return Response {
                    status: 204,
                    content_type: "application/json",
                    headers: Vec::new(),
                    body: Vec::new(),
                };
            }
            let (_, number, comment) = &mut state.comments[index];
            comment.body = body;
            comment.updated_at = timestamp(tick);
            Response::json(
                200,
                &comment_json(base, &repo, *number, comment, account.user_id),
            )
        }
        _ => error(404, "Not Found", "overview/resources-in-the-rest-api"),
    }
}

/// The `body` of a write by `account`, or GitHub's refusal.
fn write_allowed(account: &Account, request: &Request, doc: &str) -> Result<String, Response> {
    let doc = format!("issues/comments#{doc}");
    if !account.writes {
        return Err(error(403, "Resource not accessible by integration", &doc));
    }
    let body = serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|value| value.get("body")?.as_str().map(str::to_owned));
    let Some(body) = body else {
        return Err(error(400, "Problems parsing JSON", &doc));
    };
    if body.chars().count() > super::github::GITHUB_COMMENT_LIMIT {
        return Err(Response::json(
            422,
            &json!({
                "message": "Validation Failed",
                "errors": [{
                    "resource": "IssueComment",
                    "code": "custom",
                    "field": "body",
                    "message": "body is too long (maximum is 65536 characters)",
                }],
                "documentation_url": format!("https://docs.github.com/rest/{doc}"),
                "status": "422",
            }),
        ));
    }
    Ok(body)
}

fn list(state: &Mutex<State>, base: &str, request: &Request, repo: &str, number: u64) -> Response {
    let per_page = request
        .query_param("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = request
        .query_param("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let state = lock(state);
    let all: Vec<&ForgeComment> = state
        .comments
        .iter()
        .filter(|(r, n, _)| r == repo && *n == number)
        .map(|(_, _, c)| c)
        .collect();
    let (start, end, last) = page_bounds(all.len(), page, per_page);
    let users: HashMap<&str, u64> = state
        .tokens
        .values()
        .map(|a| (a.login.as_str(), a.user_id))
        .collect();
    let items: Vec<Value> = all[start..end]
        .iter()
        .map(|c| {
            let user_id = users.get(c.author.as_str()).copied().unwrap_or(41_898_282);
            comment_json(base, repo, number, c, user_id)
        })
        .collect();
    let link = |page: usize| {
        format!("{base}/repos/{repo}/issues/{number}/comments?per_page={per_page}&page={page}")
    };
    let mut links = Vec::new();
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", link(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", link(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link(page - 1)));
        links.push(format!("<{}>; rel=\"first\"", link(1)));
    }
    let response = Response::json(200, &Value::Array(items));
    if links.is_empty() {
        response
    } else {
        response.with_header("Link", links.join(", "))
    }
}

fn user(base: &str, login: &str, id: u64) -> Value {
    let html = format!("https://github.com/{login}");
    let api = format!("{base}/users/{login}");
    json!({
        "login": login, "id": id, "node_id": format!("U_{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "", "url": api, "html_url": html,
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": if login.ends_with("[bot]") { "Bot" } else { "User" },
        "site_admin": false,
    })
}

fn comment_json(
    base: &str,
    repo: &str,
    number: u64,
    comment: &ForgeComment,
    user_id: u64,
) -> Value {
    json!({
        "id": comment.id,
        "node_id": format!("IC_{}", comment.id),
        "url": format!("{base}/repos/{repo}/issues/comments/{}", comment.id),
        "html_url": format!("https://github.com/{repo}/pull/{number}#issuecomment-{}", comment.id),
        "issue_url": format!("{base}/repos/{repo}/issues/{number}"),
        "body": comment.body,
        "user": user(base, &comment.author, user_id),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "author_association": "NONE",
    })
}
