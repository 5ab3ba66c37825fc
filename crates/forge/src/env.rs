//! What the CI tells a run about itself: the repository, the pull/merge request, the
//! commit, the branch, the API to call and the token to call it with. Read from an
//! explicit variable lookup (so tests pass a map) and, on GitHub, the event payload file
//! `GITHUB_EVENT_PATH` names.

use std::path::PathBuf;

use portcullis_secret::Secret;

use crate::Ci;

/// The project a run belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repository {
    /// A GitHub repository, `owner/name`.
    Github {
        /// The owner (user or organisation).
        owner: String,
        /// The repository name.
        name: String,
    },
    /// A GitLab project.
    Gitlab {
        /// `group/subgroup/name` (`CI_PROJECT_PATH`).
        path: String,
        /// The numeric id (`CI_PROJECT_ID`), what the API takes.
        id: u64,
    },
}

/// The token portcullis calls the forge's API with.
#[derive(Debug, Clone)]
pub enum ForgeToken {
    /// `GITHUB_TOKEN` (or a personal access token in it).
    Github(Secret),
    /// A GitLab personal, project or group access token (`PORTCULLIS_GITLAB_TOKEN` or
    /// `GITLAB_TOKEN`), sent as `PRIVATE-TOKEN`.
    GitlabPrivate(Secret),
    /// `CI_JOB_TOKEN`, sent as `JOB-TOKEN`: it cannot write merge request notes, so a
    /// comment through it degrades with a message asking for a project access token.
    GitlabJob(Secret),
}

/// The CI environment of one run.
#[derive(Debug, Clone)]
pub struct CiEnv {
    /// Which CI this is.
    pub ci: Ci,
    /// The repository or project, when the CI names one.
    pub repository: Option<Repository>,
    /// The pull request number (GitHub) or merge request IID (GitLab) this run is for.
    pub change: Option<u64>,
    /// Whether the pull request comes from a fork (its `GITHUB_TOKEN` is read-only).
    pub from_fork: bool,
    /// The commit under test.
    pub sha: Option<String>,
    /// The branch a pull/merge request targets.
    pub base_branch: Option<String>,
    /// The repository's default branch.
    pub default_branch: Option<String>,
    /// The full ref (`refs/heads/main`, `refs/pull/7/merge`, `refs/tags/v1`) or, on GitLab,
    /// the branch or tag name.
    pub git_ref: Option<String>,
    /// `pull_request`, `push`, `schedule` … (GitHub) or `CI_PIPELINE_SOURCE` (GitLab).
    pub event: Option<String>,
    /// Whether this run is on the default branch.
    pub on_default_branch: bool,
    /// Whether this run is for a tag.
    pub is_tag: bool,
    /// The REST API base (`GITHUB_API_URL`, `CI_API_V4_URL`).
    pub api_url: Option<String>,
    /// The web server (`GITHUB_SERVER_URL`, `CI_SERVER_URL`).
    pub server_url: Option<String>,
    /// The token to call the API with.
    pub token: Option<ForgeToken>,
}

/// The CI environment could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// `GITHUB_EVENT_PATH` names a file that cannot be read.
    #[error("cannot read the GitHub event payload `{}`", path.display())]
    EventUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The event payload is not JSON.
    #[error("the GitHub event payload `{}` is not JSON (line {}, column {})", path.display(), source.line(), source.column())]
    EventInvalid {
        /// The file.
        path: PathBuf,
        /// Where the JSON breaks.
        #[source]
        source: serde_json::Error,
    },
    /// A variable holds a value of the wrong form.
    #[error("`{name}` is `{value}`, expected {expected}")]
    Variable {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
}

impl CiEnv {
    /// Whether this run releases what it built (signs and attests it): a run on the
    /// default branch or for a tag, never a pull/merge request.
    #[must_use]
    pub fn is_release(&self) -> bool {
        self.change.is_none() && (self.on_default_branch || self.is_tag)
    }

    /// The environment of this process.
    pub fn detect() -> Result<Self, EnvError> {
        Self::from_env(|name| std::env::var(name).ok())
    }

    /// The environment described by `var` (a lookup of environment variables); empty
    /// values count as unset.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let var = |name: &str| var(name).filter(|value| !value.is_empty());
        match Ci::from_env(var) {
            Ci::GithubActions => github(&var),
            Ci::GitlabCi => gitlab(&var),
            Ci::Local => Ok(Self::empty(Ci::Local)),
        }
    }

    fn empty(ci: Ci) -> Self {
        Self {
            ci,
            repository: None,
            change: None,
            from_fork: false,
            sha: None,
            base_branch: None,
            default_branch: None,
            git_ref: None,
            event: None,
            on_default_branch: false,
            is_tag: false,
            api_url: None,
            server_url: None,
            token: None,
        }
    }
}

fn github(var: &impl Fn(&str) -> Option<String>) -> Result<CiEnv, EnvError> {
    let mut env = CiEnv::empty(Ci::GithubActions);
    let payload = match var("GITHUB_EVENT_PATH").map(PathBuf::from) {
        Some(path) => {
            let text = std::fs::read(&path).map_err(|source| EnvError::EventUnreadable {
                path: path.clone(),
                source,
            })?;
            serde_json::from_slice::<serde_json::Value>(&text)
                .map_err(|source| EnvError::EventInvalid { path, source })?
        }
        None => serde_json::Value::Null,
    };
    let full_name = var("GITHUB_REPOSITORY");
    env.repository = full_name
        .as_deref()
        .map(|full| match full.split_once('/') {
            Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Repository::Github {
                    owner: owner.to_owned(),
                    name: name.to_owned(),
                })
            }
            _ => Err(EnvError::Variable {
                name: "GITHUB_REPOSITORY",
                value: full.to_owned(),
                expected: "`owner/name`",
            }),
        })
        .transpose()?;
    env.event = var("GITHUB_EVENT_NAME");
    env.git_ref = var("GITHUB_REF");
    env.sha = var("GITHUB_SHA");
    env.base_branch = var("GITHUB_BASE_REF");
    env.api_url = var("GITHUB_API_URL").or_else(|| Some("https://api.github.com".to_owned()));
    env.server_url = var("GITHUB_SERVER_URL").or_else(|| Some("https://github.com".to_owned()));
    env.token = var("GITHUB_TOKEN").map(|token| ForgeToken::Github(Secret::new(token)));
    env.default_branch = payload
        .pointer("/repository/default_branch")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if let Some(pull) = payload.get("pull_request") {
        env.change = payload.get("number").and_then(serde_json::Value::as_u64);
        // The head commit of the pull request, not the merge commit GITHUB_SHA names.
        if let Some(head) = pull.pointer("/head/sha").and_then(|v| v.as_str()) {
            env.sha = Some(head.to_owned());
        }
        let head_repo = pull
            .pointer("/head/repo/full_name")
            .and_then(|v| v.as_str());
        env.from_fork = head_repo.is_some_and(|head| Some(head) != full_name.as_deref());
        if env.base_branch.is_none() {
            env.base_branch = pull
                .pointer("/base/ref")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
        }
    }
    env.is_tag = env
        .git_ref
        .as_deref()
        .is_some_and(|r| r.starts_with("refs/tags/"));
    env.on_default_branch = match (&env.git_ref, &env.default_branch) {
        (Some(git_ref), Some(default)) => *git_ref == format!("refs/heads/{default}"),
        _ => false,
    };
    Ok(env)
}

fn gitlab(var: &impl Fn(&str) -> Option<String>) -> Result<CiEnv, EnvError> {
    let mut env = CiEnv::empty(Ci::GitlabCi);
    let number = |name: &'static str| -> Result<Option<u64>, EnvError> {
        var(name)
            .map(|value| {
                value.trim().parse().map_err(|_| EnvError::Variable {
                    name,
                    value: value.clone(),
                    expected: "a positive whole number",
                })
            })
            .transpose()
    };
    let id = number("CI_PROJECT_ID")?;
    env.repository = match (var("CI_PROJECT_PATH"), id) {
        (Some(path), Some(id)) => Some(Repository::Gitlab { path, id }),
        _ => None,
    };
    env.change = number("CI_MERGE_REQUEST_IID")?;
    env.from_fork = matches!(
        (number("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")?, number("CI_MERGE_REQUEST_PROJECT_ID")?),
        (Some(source), Some(target)) if source != target
    );
    env.sha = var("CI_COMMIT_SHA");
    env.base_branch = var("CI_MERGE_REQUEST_TARGET_BRANCH_NAME");
    env.default_branch = var("CI_DEFAULT_BRANCH");
    env.git_ref = var("CI_COMMIT_REF_NAME");
    env.event = var("CI_PIPELINE_SOURCE");
    env.is_tag = var("CI_COMMIT_TAG").is_some();
    env.on_default_branch = !env.is_tag
        && env.change.is_none()
        && matches!((var("CI_COMMIT_BRANCH"), &env.default_branch),
            (Some(branch), Some(default)) if branch == *default);
    env.api_url = var("CI_API_V4_URL");
    env.server_url = var("CI_SERVER_URL");
    env.token = var("PORTCULLIS_GITLAB_TOKEN")
        .or_else(|| var("GITLAB_TOKEN"))
        .map(|token| ForgeToken::GitlabPrivate(Secret::new(token)))
        .or_else(|| var("CI_JOB_TOKEN").map(|token| ForgeToken::GitlabJob(Secret::new(token))));
    Ok(env)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> CiEnv {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        CiEnv::from_env(|name| map.get(name).cloned()).unwrap()
    }

    fn event(json: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), json).unwrap();
        file
    }

    const PULL: &str = r#"{"number": 42, "repository": {"default_branch": "main"},
        "pull_request": {"head": {"sha": "aaa1", "repo": {"full_name": "acme/app"}},
                         "base": {"ref": "main"}}}"#;

    #[test]
    fn github_pull_request_names_the_pull_request_and_its_head() {
        let payload = event(PULL);
        let env = read(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", payload.path().to_str().unwrap()),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_REF", "refs/pull/42/merge"),
            ("GITHUB_SHA", "merge1"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3"),
            ("GITHUB_TOKEN", "ghs_canary"),
        ]);
        assert_eq!(env.ci, Ci::GithubActions);
        assert_eq!(
            env.repository,
            Some(Repository::Github {
                owner: "acme".into(),
                name: "app".into()
            })
        );
        assert_eq!(env.change, Some(42));
        assert_eq!(env.sha.as_deref(), Some("aaa1"));
        assert_eq!(env.base_branch.as_deref(), Some("main"));
        assert_eq!(env.event.as_deref(), Some("pull_request"));
        assert_eq!(
            env.api_url.as_deref(),
            Some("https://ghe.example.com/api/v3")
        );
        assert!(!env.from_fork && !env.on_default_branch && !env.is_tag);
        assert!(!env.is_release(), "a pull request releases nothing");
        assert!(matches!(&env.token, Some(ForgeToken::Github(t)) if t.expose() == "ghs_canary"));
        assert!(!format!("{env:?}").contains("ghs_canary"));
    }

    #[test]
    fn github_push_to_the_default_branch() {
        let payload =
            event(r#"{"ref": "refs/heads/main", "repository": {"default_branch": "main"}}"#);
        let env = read(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", payload.path().to_str().unwrap()),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", "push1"),
        ]);
        assert_eq!(env.change, None);
        assert!(env.on_default_branch && !env.is_tag);
        assert!(env.is_release());
        assert_eq!(env.default_branch.as_deref(), Some("main"));
        assert_eq!(env.sha.as_deref(), Some("push1"));
        assert_eq!(env.api_url.as_deref(), Some("https://api.github.com"));
        let tag = read(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_PATH", payload.path().to_str().unwrap()),
            ("GITHUB_REF", "refs/tags/v1.0"),
        ]);
        assert!(tag.is_tag && !tag.on_default_branch);
        assert!(tag.is_release());
    }

    #[test]
    fn github_pull_request_from_a_fork_is_marked() {
        let payload = event(&PULL.replace("acme/app", "mallory/app"));
        let env = read(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_PATH", payload.path().to_str().unwrap()),
            ("GITHUB_REPOSITORY", "acme/app"),
        ]);
        assert!(env.from_fork);
        assert_eq!(env.change, Some(42));
    }

    #[test]
    fn github_bad_event_payload_names_the_file_and_line() {
        let payload = event("{\n  \"number\": 4,\n  oops\n}");
        let path = payload.path().to_str().unwrap().to_owned();
        let error = CiEnv::from_env(|name| match name {
            "GITHUB_ACTIONS" => Some("true".into()),
            "GITHUB_EVENT_PATH" => Some(path.clone()),
            _ => None,
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains(&path) && error.contains("line 3"), "{error}");
    }

    #[test]
    fn github_repository_without_an_owner_names_the_value() {
        let error = CiEnv::from_env(|name| match name {
            "GITHUB_ACTIONS" => Some("true".into()),
            "GITHUB_REPOSITORY" => Some("app".into()),
            _ => None,
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("`GITHUB_REPOSITORY` is `app`"), "{error}");
    }

    #[test]
    fn gitlab_merge_request_pipeline() {
        let env = read(&[
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_PROJECT_PATH", "acme/platform/app"),
            ("CI_PROJECT_ID", "321"),
            ("CI_MERGE_REQUEST_IID", "17"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "321"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "321"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
            ("CI_DEFAULT_BRANCH", "main"),
            ("CI_COMMIT_SHA", "mr1"),
            ("CI_COMMIT_REF_NAME", "feature"),
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
            ("CI_SERVER_URL", "https://gitlab.example.com"),
            ("CI_JOB_TOKEN", "job-canary"),
            ("PORTCULLIS_GITLAB_TOKEN", "glpat-canary"),
        ]);
        assert_eq!(
            env.repository,
            Some(Repository::Gitlab {
                path: "acme/platform/app".into(),
                id: 321
            })
        );
        assert_eq!(env.change, Some(17));
        assert_eq!(env.base_branch.as_deref(), Some("main"));
        assert_eq!(env.event.as_deref(), Some("merge_request_event"));
        assert!(!env.on_default_branch && !env.from_fork);
        assert!(
            matches!(&env.token, Some(ForgeToken::GitlabPrivate(t)) if t.expose() == "glpat-canary")
        );
        let job_only = read(&[("GITLAB_CI", "true"), ("CI_JOB_TOKEN", "job-canary")]);
        assert!(matches!(job_only.token, Some(ForgeToken::GitlabJob(_))));
    }

    #[test]
    fn gitlab_default_branch_and_tag_pipelines() {
        let env = read(&[
            ("GITLAB_CI", "true"),
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_COMMIT_REF_NAME", "main"),
            ("CI_DEFAULT_BRANCH", "main"),
        ]);
        assert!(env.on_default_branch && !env.is_tag && env.change.is_none());
        let tag = read(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_TAG", "v1.0"),
            ("CI_DEFAULT_BRANCH", "main"),
        ]);
        assert!(tag.is_tag && !tag.on_default_branch);
        assert!(tag.is_release());
    }

    #[test]
    fn gitlab_bad_iid_names_the_variable_and_value() {
        let error = CiEnv::from_env(|name| match name {
            "GITLAB_CI" => Some("true".into()),
            "CI_MERGE_REQUEST_IID" => Some("seventeen".into()),
            _ => None,
        })
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("`CI_MERGE_REQUEST_IID`") && error.contains("`seventeen`"),
            "{error}"
        );
    }

    #[test]
    fn local_runs_have_nothing_to_report_to() {
        let env = read(&[("GITHUB_TOKEN", "ghs_canary")]);
        assert_eq!(env.ci, Ci::Local);
        assert!(env.repository.is_none() && env.change.is_none() && env.token.is_none());
    }
}
