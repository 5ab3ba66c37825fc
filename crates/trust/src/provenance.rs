//! SLSA provenance v1 of a CI build, from the CI's environment variables given as a map
//! (the caller reads the process environment, tests give a literal one) and the base images
//! the build used, each with its digest.
//!
//! GitHub Actions follows GitHub's own workflow build type
//! (`https://actions.github.io/buildtypes/workflow/v1`: the workflow's repository, path and
//! ref as external parameters, the event and runner environment as internal ones, the
//! builder being the workflow at its ref). GitLab CI follows the GitLab runner's build type
//! (the project, job and pipeline; the builder being the project's runner).

use std::collections::BTreeMap;

use portcullis_reference::ImageRef;
use serde_json::{json, Map, Value};

use crate::statement::{
    BuildDefinition, BuildMetadata, Builder, ResourceDescriptor, RunDetails, SlsaProvenance,
    StatementError,
};

/// GitHub's build type for a workflow run.
pub const GITHUB_WORKFLOW_BUILD_TYPE: &str = "https://actions.github.io/buildtypes/workflow/v1";

/// Which CI ran the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiKind {
    GitHubActions,
    GitLabCi,
}

/// What provenance says about a CI build, read from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct CiBuild {
    pub ci: CiKind,
    /// `runDetails.builder.id`.
    pub builder_id: String,
    /// `buildDefinition.buildType`.
    pub build_type: String,
    /// `runDetails.metadata.invocationId`: this run (attempt) of the build.
    pub invocation_id: String,
    /// The source repository's URL (`https://github.com/org/repo`).
    pub repository: String,
    /// The commit built (hex).
    pub commit: String,
    /// The git ref built (`refs/heads/main`).
    pub git_ref: String,
    /// `buildDefinition.externalParameters`.
    pub external_parameters: Map<String, Value>,
    /// `buildDefinition.internalParameters`.
    pub internal_parameters: Map<String, Value>,
    /// When the build started, when the CI says (GitLab's `CI_JOB_STARTED_AT`); the caller
    /// may set it.
    pub started_on: Option<jiff::Timestamp>,
}

impl CiBuild {
    /// Reads a GitHub Actions (`GITHUB_ACTIONS=true`) or GitLab CI (`GITLAB_CI=true`)
    /// environment. Each variable provenance needs must be there, else the error names it.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, StatementError> {
        let is = |name: &str| env.get(name).is_some_and(|v| v == "true");
        if is("GITHUB_ACTIONS") {
            github(env)
        } else if is("GITLAB_CI") {
            gitlab(env)
        } else {
            Err(StatementError::NoCi)
        }
    }
}

/// A reader of required and optional variables of one CI.
struct Vars<'a> {
    env: &'a BTreeMap<String, String>,
    ci: &'static str,
}

impl Vars<'_> {
    fn need(&self, name: &str) -> Result<String, StatementError> {
        self.env
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .ok_or_else(|| StatementError::MissingVariable {
                ci: self.ci,
                variable: name.to_owned(),
            })
    }

    fn get(&self, name: &str) -> Option<String> {
        self.env.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }
}

fn github(env: &BTreeMap<String, String>) -> Result<CiBuild, StatementError> {
    let vars = Vars {
        env,
        ci: "GitHub Actions",
    };
    let server = vars
        .get("GITHUB_SERVER_URL")
        .unwrap_or_else(|| "https://github.com".to_owned());
    let server = server.trim_end_matches('/');
    let repository = vars.need("GITHUB_REPOSITORY")?;
    let workflow_ref = vars.need("GITHUB_WORKFLOW_REF")?;
    let git_ref = vars.need("GITHUB_REF")?;
    let commit = vars.need("GITHUB_SHA")?;
    let run_id = vars.need("GITHUB_RUN_ID")?;
    let attempt = vars
        .get("GITHUB_RUN_ATTEMPT")
        .unwrap_or_else(|| "1".to_owned());
    // `org/repo/.github/workflows/release.yml@refs/heads/main` → the path in the repository.
    let path = workflow_ref
        .split_once('@')
        .map_or(workflow_ref.as_str(), |(path, _)| path)
        .strip_prefix(&format!("{repository}/"))
        .unwrap_or_default()
        .to_owned();
    let repository_url = format!("{server}/{repository}");
    let external = json!({
        "workflow": { "ref": git_ref, "repository": repository_url, "path": path }
    });
    let mut github = Map::new();
    for (key, variable) in [
        ("event_name", "GITHUB_EVENT_NAME"),
        ("repository_id", "GITHUB_REPOSITORY_ID"),
        ("repository_owner_id", "GITHUB_REPOSITORY_OWNER_ID"),
        ("runner_environment", "RUNNER_ENVIRONMENT"),
    ] {
        if let Some(value) = vars.get(variable) {
            github.insert(key.to_owned(), Value::from(value));
        }
    }
    let mut internal = Map::new();
    if !github.is_empty() {
        internal.insert("github".to_owned(), Value::Object(github));
    }
    Ok(CiBuild {
        ci: CiKind::GitHubActions,
        builder_id: format!("{server}/{workflow_ref}"),
        build_type: GITHUB_WORKFLOW_BUILD_TYPE.to_owned(),
        invocation_id: format!("{repository_url}/actions/runs/{run_id}/attempts/{attempt}"),
        repository: repository_url,
        commit,
        git_ref,
        external_parameters: object(external),
        internal_parameters: internal,
        started_on: None,
    })
}

fn gitlab(env: &BTreeMap<String, String>) -> Result<CiBuild, StatementError> {
    let vars = Vars {
        env,
        ci: "GitLab CI",
    };
    let server = vars.need("CI_SERVER_URL")?;
    let server = server.trim_end_matches('/');
    let project = vars.need("CI_PROJECT_PATH")?;
    let project_url = vars
        .get("CI_PROJECT_URL")
        .unwrap_or_else(|| format!("{server}/{project}"));
    let commit = vars.need("CI_COMMIT_SHA")?;
    let ref_name = vars.need("CI_COMMIT_REF_NAME")?;
    let git_ref = if vars.get("CI_COMMIT_TAG").is_some() {
        format!("refs/tags/{ref_name}")
    } else {
        format!("refs/heads/{ref_name}")
    };
    let job_url = vars.need("CI_JOB_URL")?;
    let runner = vars.need("CI_RUNNER_ID")?;
    let runner_version = vars.get("CI_RUNNER_VERSION");
    let config_path = vars
        .get("CI_CONFIG_PATH")
        .unwrap_or_else(|| ".gitlab-ci.yml".to_owned());
    let external = json!({
        "source": project_url,
        "entryPoint": vars.need("CI_JOB_NAME")?,
        "configPath": config_path,
        "ref": git_ref,
    });
    let mut gitlab = Map::new();
    for (key, variable) in [
        ("pipeline_id", "CI_PIPELINE_ID"),
        ("pipeline_source", "CI_PIPELINE_SOURCE"),
        ("project_id", "CI_PROJECT_ID"),
        ("runner_version", "CI_RUNNER_VERSION"),
    ] {
        if let Some(value) = vars.get(variable) {
            gitlab.insert(key.to_owned(), Value::from(value));
        }
    }
    let mut internal = Map::new();
    if !gitlab.is_empty() {
        internal.insert("gitlab".to_owned(), Value::Object(gitlab));
    }
    let started_on = match vars.get("CI_JOB_STARTED_AT") {
        Some(text) => {
            Some(
                text.parse::<jiff::Timestamp>()
                    .map_err(|_| StatementError::BadVariable {
                        ci: "GitLab CI",
                        variable: "CI_JOB_STARTED_AT".to_owned(),
                        value: text.clone(),
                        expected: "an RFC 3339 time",
                    })?,
            )
        }
        None => None,
    };
    let version = runner_version.map_or_else(|| "main".to_owned(), |v| format!("v{v}"));
    Ok(CiBuild {
        ci: CiKind::GitLabCi,
        builder_id: format!("{server}/{project}/-/runners/{runner}"),
        build_type: format!(
            "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/{version}/PROVENANCE.md"
        ),
        invocation_id: job_url,
        repository: project_url,
        commit,
        git_ref,
        external_parameters: object(external),
        internal_parameters: internal,
        started_on,
    })
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The provenance of `build`: the source commit and each base image (by digest) as
/// resolved dependencies.
pub(crate) fn build(
    build: &CiBuild,
    base_images: &[ImageRef],
) -> Result<SlsaProvenance, StatementError> {
    let mut dependencies = vec![ResourceDescriptor {
        uri: Some(format!("git+{}@{}", build.repository, build.git_ref)),
        name: None,
        digest: BTreeMap::from([("gitCommit".to_owned(), build.commit.clone())]),
        annotations: Map::new(),
    }];
    for image in base_images {
        let digest = image.digest().ok_or_else(|| StatementError::UnpinnedBase {
            image: image.to_string(),
        })?;
        dependencies.push(ResourceDescriptor {
            uri: None,
            name: Some(image.without_digest().to_string()),
            digest: BTreeMap::from([(
                digest.algorithm().as_str().to_owned(),
                digest.hex().to_owned(),
            )]),
            annotations: Map::new(),
        });
    }
    Ok(SlsaProvenance {
        build_definition: BuildDefinition {
            build_type: build.build_type.clone(),
            external_parameters: build.external_parameters.clone(),
            internal_parameters: build.internal_parameters.clone(),
            resolved_dependencies: dependencies,
        },
        run_details: RunDetails {
            builder: Builder {
                id: build.builder_id.clone(),
            },
            metadata: BuildMetadata {
                invocation_id: Some(build.invocation_id.clone()),
                started_on: build
                    .started_on
                    .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                finished_on: None,
            },
        },
    })
}
