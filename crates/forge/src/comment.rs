//! Sticky pull/merge request comments: one comment per key, created once and then
//! updated in place, found again by a hidden marker `<!-- portcullis:KEY -->` on its first
//! line and by its author (the token's own user), so nobody else's comment is touched.
//!
//! Two jobs that publish at once may both create a comment. After creating, [`publish`]
//! lists again and reconciles: every job keeps the oldest marked comment by this user (the
//! lowest id; both forges hand out increasing ids), writes its body there and deletes the
//! others, so the race ends with one comment. A body over the forge's limit (GitHub 65,536
//! characters, GitLab 1,000,000) keeps its head, which is where portcullis' Markdown puts
//! the summary, cut at a paragraph, and ends with [`CUT_NOTE`] ([`GITLAB_CUT_NOTE`] on GitLab). A token that may read but
//! not write (a fork's `GITHUB_TOKEN`, GitLab's `CI_JOB_TOKEN`) gives
//! [`Outcome::Degraded`] with the reason, not an error: the report is still in the job log
//! and summary.
//!
//! GitHub is called through `octocrab` (`issues().list_comments`, `create_comment`,
//! `update_comment` — which sends `POST /repos/{o}/{r}/issues/comments/{id}`, an alias
//! GitHub accepts for `PATCH` — `delete_comment` and `current().user()`); GitLab through
//! `reqwest`, as no maintained GitLab client uses the workspace's `reqwest`.

use octocrab::Octocrab;
use portcullis_secret::Secret;
use serde::Deserialize;

use crate::env::{CiEnv, ForgeToken, Repository};

/// The line that ends a pull request comment cut to GitHub's limit: the job summary has
/// room for what the comment leaves out.
pub const CUT_NOTE: &str = "report cut; full details in the job summary";

/// The line that ends a merge request note cut to GitLab's limit: GitLab has no job
/// summary, so the rest is in the job's log and report artifacts.
pub const GITLAB_CUT_NOTE: &str =
    "report cut; full details in the job log and its report artifacts (`-f FORMAT=PATH`)";

/// GitHub's limit on a comment body, in characters.
pub const GITHUB_LIMIT: usize = 65_536;
/// GitLab's limit on a note body, in characters.
pub const GITLAB_LIMIT: usize = 1_000_000;

/// The login GitHub shows for comments made with an Actions `GITHUB_TOKEN`, which may not
/// call `GET /user`.
const ACTIONS_BOT: &str = "github-actions[bot]";

/// A forge API that holds pull/merge request comments.
#[derive(Debug)]
pub struct Forge {
    client: Client,
}

#[derive(Debug)]
enum Client {
    Github {
        crab: Octocrab,
        owner: String,
        repo: String,
    },
    Gitlab {
        http: reqwest::Client,
        api: String,
        project: u64,
        token: ForgeToken,
    },
}

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The comment is in place.
    Published(Published),
    /// The token may not write comments; nothing was changed.
    Degraded {
        /// Why, and what would let portcullis comment.
        reason: String,
    },
}

/// A comment [`publish`] wrote or found current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The comment (GitHub) or note (GitLab) id.
    pub id: u64,
    /// Whether it was created, updated or already said this.
    pub action: Action,
    /// Whether the body was cut to the forge's limit.
    pub cut: bool,
    /// How many duplicate marked comments by this user were deleted.
    pub removed_duplicates: usize,
}

/// How the comment came to say what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new comment.
    Created,
    /// An existing comment was rewritten.
    Updated,
    /// The existing comment already had this body.
    Unchanged,
}

/// A comment could not be published.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// The key would not make a marker that matches only itself.
    #[error("comment key `{0}` must be letters, digits, `.`, `_`, `-` or `/`")]
    Key(String),
    /// The CI environment does not say where to comment.
    #[error("cannot comment: {0}")]
    Unconfigured(&'static str),
    /// The API base URL is not a URL.
    #[error("forge API URL `{url}` is not a valid URL")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: octocrab::Error,
    },
    /// GitHub refused or failed a call.
    #[error("GitHub API: {action} failed: {message}")]
    Github {
        /// What portcullis was doing.
        action: &'static str,
        /// GitHub's message, with the status.
        message: String,
        /// The client's error.
        #[source]
        source: Box<octocrab::Error>,
    },
    /// GitLab answered with an error status.
    #[error("GitLab API: {action} failed: HTTP {status}: {message}")]
    GitlabStatus {
        /// What portcullis was doing.
        action: &'static str,
        /// The status.
        status: u16,
        /// GitLab's message.
        message: String,
    },
    /// GitLab could not be reached or answered something unreadable.
    #[error("GitLab API: {action} failed")]
    GitlabHttp {
        /// What portcullis was doing.
        action: &'static str,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
}

/// A call refused for lack of permission (→ [`Outcome::Degraded`]) or a real error.
enum CallError {
    Forbidden,
    Failed(ForgeError),
}

impl From<ForgeError> for CallError {
    fn from(error: ForgeError) -> Self {
        Self::Failed(error)
    }
}

/// One comment as listed.
#[derive(Debug)]
struct Remote {
    id: u64,
    author: String,
    body: String,
}

impl Forge {
    /// GitHub's REST API at `api_url` (`GITHUB_API_URL`; GitHub Enterprise Server's
    /// `https://HOST/api/v3` works too) for `owner/repo`. Call it inside a tokio runtime.
    pub fn github(
        api_url: &str,
        owner: &str,
        repo: &str,
        token: &Secret,
    ) -> Result<Self, ForgeError> {
        // octocrab's client needs a tokio runtime from the moment it is built.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ForgeError::Unconfigured(
                "the GitHub client must be made inside a tokio runtime",
            ));
        }
        portcullis_registry::install_crypto_provider();
        let url_error = |source| ForgeError::Url {
            url: api_url.to_owned(),
            source,
        };
        let crab = Octocrab::builder()
            .base_uri(api_url)
            .map_err(url_error)?
            .personal_token(token.expose().to_owned())
            .build()
            .map_err(url_error)?;
        Ok(Self {
            client: Client::Github {
                crab,
                owner: owner.to_owned(),
                repo: repo.to_owned(),
            },
        })
    }

    /// GitLab's REST API at `api_url` (`CI_API_V4_URL`) for project `project`, with a
    /// private or job token.
    #[must_use]
    pub fn gitlab(api_url: &str, project: u64, token: ForgeToken) -> Self {
        portcullis_registry::install_crypto_provider();
        Self {
            client: Client::Gitlab {
                http: reqwest::Client::new(),
                api: api_url.trim_end_matches('/').to_owned(),
                project,
                token,
            },
        }
    }

    /// The forge of a CI environment, with the change to comment on.
    pub fn from_env(env: &CiEnv) -> Result<(Self, u64), ForgeError> {
        let change = env.change.ok_or(ForgeError::Unconfigured(
            "this run is not for a pull or merge request",
        ))?;
        let api = env
            .api_url
            .as_deref()
            .ok_or(ForgeError::Unconfigured("the CI names no API URL"))?;
        let forge = match (&env.repository, &env.token) {
            (Some(Repository::Github { owner, name }), Some(ForgeToken::Github(token))) => {
                Self::github(api, owner, name, token)?
            }
            (
                Some(Repository::Gitlab { id, .. }),
                Some(token @ (ForgeToken::GitlabPrivate(_) | ForgeToken::GitlabJob(_))),
            ) => Self::gitlab(api, *id, token.clone()),
            (None, _) => return Err(ForgeError::Unconfigured("the CI names no repository")),
            _ => {
                return Err(ForgeError::Unconfigured(
                    "no token: set GITHUB_TOKEN, or PORTCULLIS_GITLAB_TOKEN on GitLab",
                ))
            }
        };
        Ok((forge, change))
    }

    fn limit(&self) -> usize {
        match self.client {
            Client::Github { .. } => GITHUB_LIMIT,
            Client::Gitlab { .. } => GITLAB_LIMIT,
        }
    }

    /// The line that ends a body cut to [`Forge::limit`].
    fn cut_note(&self) -> &'static str {
        match self.client {
            Client::Github { .. } => CUT_NOTE,
            Client::Gitlab { .. } => GITLAB_CUT_NOTE,
        }
    }

    fn degraded_reason(&self) -> String {
        match &self.client {
            Client::Github { .. } => "the GitHub token may not write pull request comments (a pull request from a fork gets a read-only GITHUB_TOKEN; otherwise give the job `permissions: pull-requests: write`)".to_owned(),
            Client::Gitlab { token: ForgeToken::GitlabJob(_), .. } => "CI_JOB_TOKEN cannot write merge request notes: a project access token with the `api` scope and at least the Reporter role is needed, in the masked CI/CD variable PORTCULLIS_GITLAB_TOKEN".to_owned(),
            Client::Gitlab { .. } => "the GitLab token may not write merge request notes: it needs the `api` scope and at least the Reporter role on the project".to_owned(),
        }
    }
}

/// Publishes `body` as the sticky comment `key` on pull/merge request `change`.
pub async fn publish(
    forge: &Forge,
    change: u64,
    key: &str,
    body: &str,
) -> Result<Outcome, ForgeError> {
    match try_publish(forge, change, key, body).await {
        Ok(published) => Ok(Outcome::Published(published)),
        Err(CallError::Forbidden) => Ok(Outcome::Degraded {
            reason: forge.degraded_reason(),
        }),
        Err(CallError::Failed(error)) => Err(error),
    }
}

async fn try_publish(
    forge: &Forge,
    change: u64,
    key: &str,
    body: &str,
) -> Result<Published, CallError> {
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
    {
        return Err(ForgeError::Key(key.to_owned()).into());
    }
    let marker = format!("<!-- portcullis:{key} -->");
    let (text, cut) = fit(
        &format!("{marker}\n{body}"),
        forge.limit(),
        forge.cut_note(),
    );
    let me = whoami(forge).await?;
    let ours = |all: Vec<Remote>| -> Vec<Remote> {
        let mut ours: Vec<Remote> = all
            .into_iter()
            .filter(|c| c.body.starts_with(&marker))
            .filter(|c| me.as_deref().is_some_and(|me| c.author == me))
            .collect();
        ours.sort_by_key(|c| c.id);
        ours
    };
    let existing = ours(list(forge, change).await?);
    let (keep, action, duplicates) = if let Some((first, rest)) = existing.split_first() {
        let action = if first.body == text {
            Action::Unchanged
        } else {
            update(forge, change, first.id, &text).await?;
            Action::Updated
        };
        (
            first.id,
            action,
            rest.iter().map(|c| c.id).collect::<Vec<_>>(),
        )
    } else {
        let created = create(forge, change, &text).await?;
        // Another job may have created one at the same time: keep the oldest.
        let now = ours(list(forge, change).await?);
        let oldest = now.first().map_or(created, |c| c.id);
        if oldest != created {
            update(forge, change, oldest, &text).await?;
        }
        let others = now.iter().map(|c| c.id).filter(|id| *id != oldest);
        let mut others: Vec<u64> = others.collect();
        if oldest != created && !others.contains(&created) {
            others.push(created);
        }
        let action = if oldest == created {
            Action::Created
        } else {
            Action::Updated
        };
        (oldest, action, others)
    };
    for id in &duplicates {
        delete(forge, change, *id).await?;
    }
    Ok(Published {
        id: keep,
        action,
        cut,
        removed_duplicates: duplicates.len(),
    })
}

/// `text` within `limit` characters (counted in UTF-16 units, which is never fewer than
/// GitHub's or GitLab's count): its head, cut at the last paragraph (else line) break in
/// the last fifth of the room, then `cut_note`.
fn fit(text: &str, limit: usize, cut_note: &str) -> (String, bool) {
    if text.encode_utf16().count() <= limit {
        return (text.to_owned(), false);
    }
    let note = format!("\n\n---\n_{cut_note}._\n");
    let room = limit - note.encode_utf16().count();
    let mut end = 0;
    let mut used = 0;
    for (index, c) in text.char_indices() {
        used += c.len_utf16();
        if used > room {
            break;
        }
        end = index + c.len_utf8();
    }
    let head = &text[..end];
    let floor = head.len() * 4 / 5;
    let at = head
        .rfind("\n\n")
        .filter(|at| *at >= floor)
        .or_else(|| head.rfind('\n').filter(|at| *at >= floor))
        .unwrap_or(end);
    (format!("{}{note}", &text[..at]), true)
}

fn github_error(action: &'static str, error: octocrab::Error) -> CallError {
    if let octocrab::Error::GitHub { source, .. } = &error {
        if source.status_code.as_u16() == 403 {
            return CallError::Forbidden;
        }
        let mut message = format!("HTTP {}: {}", source.status_code.as_u16(), source.message);
        for detail in source.errors.iter().flatten() {
            if let Some(text) = detail.get("message").and_then(|m| m.as_str()) {
                message.push_str(" (");
                message.push_str(text);
                message.push(')');
            }
        }
        return CallError::Failed(ForgeError::Github {
            action,
            message,
            source: Box::new(error),
        });
    }
    CallError::Failed(ForgeError::Github {
        action,
        message: error.to_string(),
        source: Box::new(error),
    })
}

async fn whoami(forge: &Forge) -> Result<Option<String>, CallError> {
    match &forge.client {
        Client::Github { crab, .. } => match crab.current().user().await {
            Ok(user) => Ok(Some(user.login)),
            // An Actions GITHUB_TOKEN may not read /user; its comments are the bot's.
            Err(octocrab::Error::GitHub { source, .. }) if source.status_code.as_u16() == 403 => {
                Ok(Some(ACTIONS_BOT.to_owned()))
            }
            Err(error) => Err(github_error("reading the token's user", error)),
        },
        // A job token is no user: it finds no comment of its own, and its write is refused.
        Client::Gitlab {
            token: ForgeToken::GitlabJob(_),
            ..
        } => Ok(None),
        Client::Gitlab { .. } => {
            #[derive(Deserialize)]
            struct User {
                username: String,
            }
            let user: User = gitlab_call(
                forge,
                reqwest::Method::GET,
                "/user",
                None,
                "reading the token's user",
            )
            .await?
            .json()
            .await
            .map_err(|source| ForgeError::GitlabHttp {
                action: "reading the token's user",
                source,
            })?;
            Ok(Some(user.username))
        }
    }
}

async fn list(forge: &Forge, change: u64) -> Result<Vec<Remote>, CallError> {
    const ACTION: &str = "listing comments";
    let mut all = Vec::new();
    match &forge.client {
        Client::Github { crab, owner, repo } => {
            let mut page = crab
                .issues(owner, repo)
                .list_comments(change)
                .per_page(100)
                .send()
                .await
                .map_err(|e| github_error(ACTION, e))?;
            loop {
                all.extend(page.items.drain(..).map(|c| Remote {
                    id: c.id.0,
                    author: c.user.login,
                    body: c.body.unwrap_or_default(),
                }));
                match crab
                    .get_page(&page.next)
                    .await
                    .map_err(|e| github_error(ACTION, e))?
                {
                    Some(next) => page = next,
                    None => break,
                }
            }
        }
        Client::Gitlab { project, .. } => {
            #[derive(Deserialize)]
            struct Author {
                username: String,
            }
            #[derive(Deserialize)]
            struct Note {
                id: u64,
                body: String,
                author: Author,
                #[serde(default)]
                system: bool,
            }
            let mut page = String::from("1");
            // GitLab caps pages at 100 notes; 1,000 pages is far beyond any merge request.
            for _ in 0..1_000 {
                let path = format!(
                    "/projects/{project}/merge_requests/{change}/notes?sort=asc&order_by=created_at&per_page=100&page={page}"
                );
                let response =
                    gitlab_call(forge, reqwest::Method::GET, &path, None, ACTION).await?;
                let next = response
                    .headers()
                    .get("x-next-page")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                let notes: Vec<Note> =
                    response
                        .json()
                        .await
                        .map_err(|source| ForgeError::GitlabHttp {
                            action: ACTION,
                            source,
                        })?;
                all.extend(notes.into_iter().filter(|n| !n.system).map(|n| Remote {
                    id: n.id,
                    author: n.author.username,
                    body: n.body,
                }));
                if next.is_empty() {
                    break;
                }
                page = next;
            }
        }
    }
    Ok(all)
}

async fn create(forge: &Forge, change: u64, body: &str) -> Result<u64, CallError> {
    const ACTION: &str = "creating the comment";
    match &forge.client {
        Client::Github { crab, owner, repo } => Ok(crab
            .issues(owner, repo)
            .create_comment(change, body)
            .await
            .map_err(|e| github_error(ACTION, e))?
            .id
            .0),
        Client::Gitlab { project, .. } => {
            let path = format!("/projects/{project}/merge_requests/{change}/notes");
            note_id(
                gitlab_call(forge, reqwest::Method::POST, &path, Some(body), ACTION).await?,
                ACTION,
            )
            .await
        }
    }
}

async fn update(forge: &Forge, change: u64, id: u64, body: &str) -> Result<(), CallError> {
    const ACTION: &str = "updating the comment";
    match &forge.client {
        Client::Github { crab, owner, repo } => {
            crab.issues(owner, repo)
                .update_comment(octocrab::models::CommentId(id), body)
                .await
                .map_err(|e| github_error(ACTION, e))?;
        }
        Client::Gitlab { project, .. } => {
            let path = format!("/projects/{project}/merge_requests/{change}/notes/{id}");
            note_id(
                gitlab_call(forge, reqwest::Method::PUT, &path, Some(body), ACTION).await?,
                ACTION,
            )
            .await?;
        }
    }
    Ok(())
}

/// Deletes a duplicate; one another job deleted first is gone already, which is fine.
async fn delete(forge: &Forge, change: u64, id: u64) -> Result<(), CallError> {
    const ACTION: &str = "deleting a duplicate comment";
    match &forge.client {
        Client::Github { crab, owner, repo } => {
            match crab
                .issues(owner, repo)
                .delete_comment(octocrab::models::CommentId(id))
                .await
            {
                Err(octocrab::Error::GitHub { source, .. })
                    if source.status_code.as_u16() == 404 =>
                {
                    Ok(())
                }
                other => other.map_err(|e| github_error(ACTION, e)),
            }
        }
        Client::Gitlab { project, .. } => {
            let path = format!("/projects/{project}/merge_requests/{change}/notes/{id}");
            match gitlab_call(forge, reqwest::Method::DELETE, &path, None, ACTION).await {
                Err(CallError::Failed(ForgeError::GitlabStatus { status: 404, .. })) => Ok(()),
                other => other.map(drop),
            }
        }
    }
}

async fn note_id(response: reqwest::Response, action: &'static str) -> Result<u64, CallError> {
    #[derive(Deserialize)]
    struct Note {
        id: u64,
    }
    let note: Note = response
        .json()
        .await
        .map_err(|source| ForgeError::GitlabHttp { action, source })?;
    Ok(note.id)
}

/// One GitLab call; a 403 is [`CallError::Forbidden`], any other error status an error
/// with GitLab's message.
async fn gitlab_call(
    forge: &Forge,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
    action: &'static str,
) -> Result<reqwest::Response, CallError> {
    let Client::Gitlab {
        http, api, token, ..
    } = &forge.client
    else {
        unreachable!("GitLab calls are made only for GitLab");
    };
    let mut request = http.request(method, format!("{api}{path}"));
    request = match token {
        ForgeToken::GitlabJob(token) => request.header("JOB-TOKEN", token.expose()),
        ForgeToken::GitlabPrivate(token) | ForgeToken::Github(token) => {
            request.header("PRIVATE-TOKEN", token.expose())
        }
    };
    if let Some(body) = body {
        request = request.json(&serde_json::json!({ "body": body }));
    }
    let response = request
        .send()
        .await
        .map_err(|source| ForgeError::GitlabHttp { action, source })?;
    let status = response.status().as_u16();
    // gitlab.com refuses a job token on merge request endpoints with 403, and some
    // versions answer 401 for endpoints a job token may not call at all.
    let job = matches!(token, ForgeToken::GitlabJob(_));
    if status == 403 || (status == 401 && job) {
        return Err(CallError::Forbidden);
    }
    if response.status().is_success() {
        return Ok(response);
    }
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("message").or_else(|| v.get("error")).cloned())
        .map_or(text, |m| {
            m.as_str().map_or_else(|| m.to_string(), str::to_owned)
        });
    Err(ForgeError::GitlabStatus {
        action,
        status,
        message,
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_bodies_are_kept_whole() {
        assert_eq!(fit("hello", 10, CUT_NOTE), ("hello".to_owned(), false));
    }

    #[test]
    fn long_bodies_are_cut_at_a_paragraph_with_the_note() {
        let text = format!("{}\n\n{}", "a".repeat(900), "b".repeat(500));
        let (cut, was_cut) = fit(&text, 1_000, CUT_NOTE);
        assert!(was_cut);
        assert!(cut.encode_utf16().count() <= 1_000);
        assert!(
            cut.starts_with(&"a".repeat(900)) && !cut.contains("bb"),
            "{cut}"
        );
        assert!(cut.contains(CUT_NOTE));
    }

    #[test]
    fn cutting_never_splits_a_character() {
        let text = "é🦀".repeat(1_000);
        let (cut, was_cut) = fit(&text, 500, CUT_NOTE);
        assert!(was_cut && cut.encode_utf16().count() <= 500 && cut.contains(CUT_NOTE));
    }
}
