//! Rebuild triggers for `stale --trigger`: one request per stale image to the forge, with
//! the image, its digest, the reasons and the drifted base in the payload.
//!
//! - GitHub `repository_dispatch`: `POST /repos/{owner}/{repo}/dispatches` with
//!   `{event_type, client_payload}` (a workflow runs `on: repository_dispatch: types:
//!   [portcullis-stale]` and reads `github.event.client_payload`);
//! - GitHub `workflow_dispatch`: `POST /repos/{owner}/{repo}/actions/workflows/{id}/dispatches`
//!   with `ref` and string `inputs` (the workflow must declare each input it is sent);
//! - the GitLab pipeline trigger API: `POST /projects/:id/trigger/pipeline` with the form
//!   fields `token`, `ref` and `variables[NAME]` (a trigger token, or `CI_JOB_TOKEN`).
//!
//! Within one run each image is asked for once, however many reasons it has or however
//! often it is listed. Requests are spaced by a minimum interval, and a 403 or 429 that says
//! it is a rate limit (`Retry-After`, or `x-ratelimit-remaining: 0`) is waited out and
//! retried. Tokens are [`Secret`]s: never printed, and cut out of error bodies.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use portcullis_policy::{StaleDetail, StaleSettings, Trigger, TriggerOutcome, Triggered};
use portcullis_reference::{Digest, ImageRef};
use portcullis_secret::Secret;
use serde_json::{json, Map, Value};

use crate::env::{CiEnv, Repository};
use crate::Ci;

/// Where rebuilds are asked for.
#[derive(Debug, Clone)]
pub enum Target {
    /// GitHub `repository_dispatch`.
    GithubDispatch {
        /// The REST API base (`GITHUB_API_URL`).
        api: String,
        /// `owner/name`.
        repository: String,
        event_type: String,
        token: Secret,
    },
    /// GitHub `workflow_dispatch`.
    GithubWorkflow {
        api: String,
        repository: String,
        /// The workflow file name (`build.yml`) or id.
        workflow: String,
        /// The branch or tag to run it on.
        git_ref: String,
        token: Secret,
    },
    /// The GitLab pipeline trigger API.
    GitlabPipeline {
        /// The REST API base (`CI_API_V4_URL`).
        api: String,
        /// The project id or `group/name` path.
        project: String,
        git_ref: String,
        /// A pipeline trigger token or `CI_JOB_TOKEN`.
        token: Secret,
    },
}

impl Target {
    /// How reports name the target, without its token.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::GithubDispatch {
                repository,
                event_type,
                ..
            } => format!("repository_dispatch `{event_type}` to `{repository}`"),
            Self::GithubWorkflow {
                repository,
                workflow,
                git_ref,
                ..
            } => format!("workflow_dispatch of `{workflow}` on `{git_ref}` in `{repository}`"),
            Self::GitlabPipeline {
                project, git_ref, ..
            } => format!("a pipeline on `{git_ref}` of GitLab project `{project}`"),
        }
    }

    /// The report's entry for `rebuild` asked of this target: where it went, never the
    /// token.
    #[must_use]
    pub fn entry(
        &self,
        rebuild: &Rebuild,
        outcome: TriggerOutcome,
        status: Option<u16>,
        pipeline: Option<String>,
    ) -> Triggered {
        let (target, repository, event_type, workflow, git_ref) = match self {
            Self::GithubDispatch {
                repository,
                event_type,
                ..
            } => (
                Trigger::GithubDispatch,
                repository,
                Some(event_type.clone()),
                None,
                None,
            ),
            Self::GithubWorkflow {
                repository,
                workflow,
                git_ref,
                ..
            } => (
                Trigger::GithubWorkflow,
                repository,
                None,
                Some(workflow.clone()),
                Some(git_ref.clone()),
            ),
            Self::GitlabPipeline {
                project, git_ref, ..
            } => (
                Trigger::GitlabPipeline,
                project,
                None,
                None,
                Some(git_ref.clone()),
            ),
        };
        Triggered {
            image: rebuild.image.to_string(),
            digest: rebuild.digest.to_string(),
            target,
            repository: repository.clone(),
            event_type,
            workflow,
            git_ref,
            outcome,
            status,
            pipeline,
            reasons: rebuild.reasons.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    fn token(&self) -> &Secret {
        match self {
            Self::GithubDispatch { token, .. }
            | Self::GithubWorkflow { token, .. }
            | Self::GitlabPipeline { token, .. } => token,
        }
    }
}

/// Why no trigger target can be made from the policy and the CI environment.
#[derive(Debug, thiserror::Error)]
#[error("cannot trigger rebuilds: {0}")]
pub struct Unconfigured(pub String);

/// The target `[stale]` names, completed from the CI environment `env` and the variables
/// `var` (tokens: `PORTCULLIS_GITHUB_TOKEN`, else `GITHUB_TOKEN`; GitLab's
/// `PORTCULLIS_GITLAB_TRIGGER_TOKEN`, else `CI_JOB_TOKEN`). `None` for `trigger = "none"`.
pub fn target(
    stale: &StaleSettings,
    env: &CiEnv,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Target>, Unconfigured> {
    let var = |name: &str| var(name).filter(|value| !value.is_empty());
    let missing = |what: &str| Unconfigured(what.to_owned());
    let git_ref = || {
        stale
            .git_ref
            .as_ref()
            .map(|r| r.value.clone())
            .or_else(|| env.default_branch.clone())
            .ok_or_else(|| missing("no branch to run on: set `[stale] ref`"))
    };
    let github = || -> Result<(String, String, Secret), Unconfigured> {
        let repository = match (&stale.repository, &env.repository) {
            (Some(repository), _) => repository.value.clone(),
            (None, Some(Repository::Github { owner, name })) => format!("{owner}/{name}"),
            _ => {
                return Err(missing(
                    "no GitHub repository: set `[stale] repository = \"owner/name\"`",
                ))
            }
        };
        let api = env
            .api_url
            .clone()
            .filter(|_| env.ci == Ci::GithubActions)
            .or_else(|| var("GITHUB_API_URL"))
            .unwrap_or_else(|| "https://api.github.com".to_owned());
        let token = var("PORTCULLIS_GITHUB_TOKEN")
            .or_else(|| var("GITHUB_TOKEN"))
            .ok_or_else(|| {
                missing("no GitHub token: set `PORTCULLIS_GITHUB_TOKEN` or `GITHUB_TOKEN`")
            })?;
        Ok((api, repository, Secret::new(token)))
    };
    Ok(Some(match stale.trigger.value {
        Trigger::None => return Ok(None),
        Trigger::GithubDispatch => {
            let (api, repository, token) = github()?;
            Target::GithubDispatch {
                api,
                repository,
                event_type: stale.event_type().to_owned(),
                token,
            }
        }
        Trigger::GithubWorkflow => {
            let (api, repository, token) = github()?;
            let workflow = stale
                .workflow
                .as_ref()
                .map(|w| w.value.clone())
                .ok_or_else(|| missing("`[stale] workflow` is not set"))?;
            Target::GithubWorkflow {
                api,
                repository,
                workflow,
                git_ref: git_ref()?,
                token,
            }
        }
        Trigger::GitlabPipeline => {
            let project = match (&stale.project, &env.repository) {
                (Some(project), _) => project.value.clone(),
                (None, Some(Repository::Gitlab { id, .. })) => id.to_string(),
                _ => return Err(missing("no GitLab project: set `[stale] project`")),
            };
            let api = env
                .api_url
                .clone()
                .filter(|_| env.ci == Ci::GitlabCi)
                .or_else(|| var("CI_API_V4_URL"))
                .ok_or_else(|| missing("no GitLab API URL: `CI_API_V4_URL` is not set"))?;
            let token = var("PORTCULLIS_GITLAB_TRIGGER_TOKEN")
                .or_else(|| var("CI_JOB_TOKEN"))
                .ok_or_else(|| missing("no pipeline trigger token: set `PORTCULLIS_GITLAB_TRIGGER_TOKEN` (or run in GitLab CI, whose `CI_JOB_TOKEN` the trigger API accepts)"))?;
            Target::GitlabPipeline {
                api,
                project,
                git_ref: git_ref()?,
                token: Secret::new(token),
            }
        }
    }))
}

/// One rebuild to ask for: what the payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuild {
    pub image: ImageRef,
    /// The digest the image has now.
    pub digest: Digest,
    /// The reasons' codes (`base-drifted`, `too-old`, `fixable-vulnerabilities`).
    pub reasons: Vec<&'static str>,
    /// The first base that drifted: its name, the digest built on and the digest now.
    pub base: Option<(ImageRef, Digest, Digest)>,
}

impl Rebuild {
    /// The rebuild an `image-stale` finding asks for.
    #[must_use]
    pub fn from_stale(detail: &StaleDetail) -> Self {
        let mut reasons: Vec<&'static str> = Vec::new();
        for reason in &detail.reasons {
            if !reasons.contains(&reason.code()) {
                reasons.push(reason.code());
            }
        }
        Self {
            image: detail.image.clone(),
            digest: detail.digest.clone(),
            reasons,
            base: detail
                .drifted_base()
                .map(|(base, then, now)| (base.clone(), then.clone(), now.clone())),
        }
    }

    /// The payload fields, in order: `image`, `digest`, `reasons`, and `base`,
    /// `base_digest_then`, `base_digest_now` when a base drifted.
    #[must_use]
    pub fn payload(&self) -> Map<String, Value> {
        let mut payload = Map::new();
        payload.insert("image".into(), Value::from(self.image.to_string()));
        payload.insert("digest".into(), Value::from(self.digest.to_string()));
        payload.insert("reasons".into(), json!(self.reasons));
        if let Some((base, then, now)) = &self.base {
            payload.insert("base".into(), Value::from(base.to_string()));
            payload.insert("base_digest_then".into(), Value::from(then.to_string()));
            payload.insert("base_digest_now".into(), Value::from(now.to_string()));
        }
        payload
    }

    /// The payload as strings (workflow inputs and pipeline variables take only strings):
    /// the reasons joined with `,`.
    #[must_use]
    pub fn string_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("image", self.image.to_string()),
            ("digest", self.digest.to_string()),
            ("reasons", self.reasons.join(",")),
        ];
        if let Some((base, then, now)) = &self.base {
            fields.push(("base", base.to_string()));
            fields.push(("base_digest_then", then.to_string()));
            fields.push(("base_digest_now", now.to_string()));
        }
        fields
    }

    /// Identifies the image: the same repository at the same digest is one rebuild.
    fn key(&self) -> (String, Digest) {
        (
            self.image.without_digest().without_tag().to_string(),
            self.digest.clone(),
        )
    }
}

/// The rebuilds for `details`, one per image (the first of duplicates kept).
#[must_use]
pub fn rebuilds<'a>(details: impl IntoIterator<Item = &'a StaleDetail>) -> Vec<Rebuild> {
    let mut seen = BTreeSet::new();
    details
        .into_iter()
        .map(Rebuild::from_stale)
        .filter(|rebuild| seen.insert(rebuild.key()))
        .collect()
}

/// One request, as it is (or would be) sent: the token left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    /// The body: JSON for GitHub, the form fields (without `token`) for GitLab.
    pub body: String,
}

/// A rebuild asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub image: ImageRef,
    pub request: Request,
    /// The HTTP status the forge answered.
    pub status: u16,
    /// The pipeline GitLab started (its `web_url`), when it says.
    pub pipeline: Option<String>,
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The least time between two requests.
    pub min_interval: Duration,
    /// The longest `Retry-After` waited out; a longer one is an error.
    pub max_wait: Duration,
    /// Retries after a rate limit.
    pub retries: u32,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            // GitHub asks for at least a second between mutating requests.
            min_interval: Duration::from_secs(1),
            max_wait: Duration::from_mins(1),
            retries: 3,
        }
    }
}

/// A rebuild could not be asked for.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The forge answered with an error status.
    #[error("{target}: asking for a rebuild of `{image}` failed: HTTP {status}: {message}")]
    Status {
        target: String,
        image: String,
        status: u16,
        /// The forge's message, with any token cut out.
        message: String,
    },
    /// The forge could not be reached.
    #[error("{target}: asking for a rebuild of `{image}` failed")]
    Http {
        target: String,
        image: String,
        #[source]
        source: reqwest::Error,
    },
}

impl TriggerError {
    /// The HTTP status the forge answered, when it answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Http { source, .. } => source.status().map(|s| s.as_u16()),
        }
    }
}

/// The request `rebuild` makes at `target` (the token left out of it).
#[must_use]
pub fn request(target: &Target, rebuild: &Rebuild) -> Request {
    match target {
        Target::GithubDispatch {
            api,
            repository,
            event_type,
            ..
        } => Request {
            method: "POST",
            url: format!(
                "{}/repos/{repository}/dispatches",
                api.trim_end_matches('/')
            ),
            body: json!({"event_type": event_type, "client_payload": rebuild.payload()})
                .to_string(),
        },
        Target::GithubWorkflow {
            api,
            repository,
            workflow,
            git_ref,
            ..
        } => {
            let inputs: Map<String, Value> = rebuild
                .string_fields()
                .into_iter()
                .map(|(name, value)| (name.to_owned(), Value::from(value)))
                .collect();
            Request {
                method: "POST",
                url: format!(
                    "{}/repos/{repository}/actions/workflows/{}/dispatches",
                    api.trim_end_matches('/'),
                    encode(workflow)
                ),
                body: json!({"ref": git_ref, "inputs": inputs}).to_string(),
            }
        }
        Target::GitlabPipeline {
            api,
            project,
            git_ref,
            ..
        } => {
            let mut form = vec![("ref".to_owned(), git_ref.clone())];
            form.extend(gitlab_variables(rebuild));
            Request {
                method: "POST",
                url: format!(
                    "{}/projects/{}/trigger/pipeline",
                    api.trim_end_matches('/'),
                    encode(project)
                ),
                body: form
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect::<Vec<_>>()
                    .join("&"),
            }
        }
    }
}

/// The pipeline variables: `PORTCULLIS_STALE_IMAGE`, `…_DIGEST`, `…_REASONS`, `…_BASE`,
/// `…_BASE_DIGEST_THEN`, `…_BASE_DIGEST_NOW`.
fn gitlab_variables(rebuild: &Rebuild) -> Vec<(String, String)> {
    rebuild
        .string_fields()
        .into_iter()
        .map(|(name, value)| {
            (
                format!("variables[PORTCULLIS_STALE_{}]", name.to_ascii_uppercase()),
                value,
            )
        })
        .collect()
}

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Asks `target` for each rebuild once, paced by `pace`. Stops at the first error.
pub async fn trigger(
    target: &Target,
    rebuilds: &[Rebuild],
    pace: Pace,
) -> Result<Vec<Sent>, TriggerError> {
    let mut sent = Vec::new();
    send_all(target, rebuilds, pace, &mut sent).await?;
    Ok(sent)
}

/// What asking for rebuilds did, as the report carries it.
#[derive(Debug)]
pub struct Asked {
    /// One entry per rebuild asked for: those sent, then the one that failed.
    pub triggered: Vec<Triggered>,
    /// Why the run stopped early (the rebuilds after the failed one were not asked for).
    pub error: Option<TriggerError>,
}

/// [`trigger`], with the report's entry for each rebuild asked for.
pub async fn ask(target: &Target, rebuilds: &[Rebuild], pace: Pace) -> Asked {
    let mut sent = Vec::new();
    let error = send_all(target, rebuilds, pace, &mut sent).await.err();
    let mut triggered: Vec<Triggered> = rebuilds
        .iter()
        .zip(&sent)
        .map(|(rebuild, sent)| {
            target.entry(
                rebuild,
                TriggerOutcome::Sent,
                Some(sent.status),
                sent.pipeline.clone(),
            )
        })
        .collect();
    if let (Some(error), Some(rebuild)) = (&error, rebuilds.get(sent.len())) {
        triggered.push(target.entry(rebuild, TriggerOutcome::Failed, error.status(), None));
    }
    Asked { triggered, error }
}

/// The report's entries for a `--dry-run`: each rebuild that would be asked for.
#[must_use]
pub fn dry_run(target: &Target, rebuilds: &[Rebuild]) -> Vec<Triggered> {
    rebuilds
        .iter()
        .map(|rebuild| target.entry(rebuild, TriggerOutcome::DryRun, None, None))
        .collect()
}

async fn send_all(
    target: &Target,
    rebuilds: &[Rebuild],
    pace: Pace,
    sent: &mut Vec<Sent>,
) -> Result<(), TriggerError> {
    portcullis_registry::install_crypto_provider();
    let http = reqwest::Client::builder()
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|source| TriggerError::Http {
            target: target.describe(),
            image: String::new(),
            source,
        })?;
    let mut last: Option<tokio::time::Instant> = None;
    for rebuild in rebuilds {
        let request = request(target, rebuild);
        let mut attempt = 0;
        let response = loop {
            if let Some(last) = last {
                tokio::time::sleep_until(last + pace.min_interval).await;
            }
            last = Some(tokio::time::Instant::now());
            let response = send(&http, target, rebuild, &request).await?;
            let status = response.status().as_u16();
            match rate_limit_wait(&response) {
                Some(wait) if matches!(status, 403 | 429) && attempt < pace.retries => {
                    if wait > pace.max_wait {
                        break response;
                    }
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                }
                _ => break response,
            }
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(TriggerError::Status {
                target: target.describe(),
                image: rebuild.image.to_string(),
                status,
                message: scrub(&text, target.token()),
            });
        }
        let pipeline = match target {
            Target::GitlabPipeline { .. } => response
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v.get("web_url").and_then(Value::as_str).map(str::to_owned)),
            _ => None,
        };
        sent.push(Sent {
            image: rebuild.image.clone(),
            request,
            status,
            pipeline,
        });
    }
    Ok(())
}

async fn send(
    http: &reqwest::Client,
    target: &Target,
    rebuild: &Rebuild,
    request: &Request,
) -> Result<reqwest::Response, TriggerError> {
    let builder = http.post(&request.url);
    let builder = match target {
        Target::GithubDispatch { token, .. } | Target::GithubWorkflow { token, .. } => builder
            .header("Authorization", format!("Bearer {}", token.expose()))
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("Content-Type", "application/json")
            .body(request.body.clone()),
        Target::GitlabPipeline { token, git_ref, .. } => {
            let mut form = vec![
                ("token".to_owned(), token.expose().to_owned()),
                ("ref".to_owned(), git_ref.clone()),
            ];
            form.extend(gitlab_variables(rebuild));
            builder.form(&form)
        }
    };
    builder.send().await.map_err(|source| TriggerError::Http {
        target: target.describe(),
        image: rebuild.image.to_string(),
        source,
    })
}

/// How long a rate-limited answer asks to wait: `Retry-After` seconds, else until
/// `x-ratelimit-reset` when `x-ratelimit-remaining` is 0 (GitHub's primary limit); `None`
/// when the answer is no rate limit (a 403 for lack of permission).
fn rate_limit_wait(response: &reqwest::Response) -> Option<Duration> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(seconds) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    if header("x-ratelimit-remaining") == Some("0") {
        let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        return Some(Duration::from_secs(reset.saturating_sub(now).max(1)));
    }
    None
}

/// The forge's message from an error body (its JSON `message` or `error`, else the text,
/// cut to 300 characters), with the token cut out wherever the forge echoed it.
fn scrub(body: &str, token: &Secret) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").or_else(|| v.get("error")).cloned())
        .map_or_else(
            || body.to_owned(),
            |m| m.as_str().map_or_else(|| m.to_string(), str::to_owned),
        );
    let mut message: String = message.chars().take(300).collect();
    if !token.expose().is_empty() {
        message = message.replace(token.expose(), "***");
    }
    message
}

#[cfg(test)]
#[path = "trigger_tests.rs"]
mod tests;
