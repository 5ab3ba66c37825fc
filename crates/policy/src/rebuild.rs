//! The rebuilds `stale --trigger` asked for, as the report carries them: which image, where
//! the request went (never with its token) and what the forge answered.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use crate::config::settings::Trigger;

/// What became of one rebuild request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerOutcome {
    /// The forge accepted it.
    Sent,
    /// `--dry-run`: printed, not sent.
    DryRun,
    /// The forge refused it or could not be reached (see the failures).
    Failed,
}

impl TriggerOutcome {
    /// The outcome as the JSON report spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::DryRun => "dry-run",
            Self::Failed => "failed",
        }
    }
}

/// One rebuild request for a stale image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Triggered {
    /// The stale image, as watched.
    pub image: String,
    /// The digest it has now.
    pub digest: String,
    /// The trigger: `github-dispatch`, `github-workflow` or `gitlab-pipeline`.
    pub target: Trigger,
    /// The GitHub repository (`owner/name`) or the GitLab project (id or path).
    pub repository: String,
    /// The `repository_dispatch` event type (`github-dispatch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The workflow dispatched (`github-workflow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The branch or tag the run is for (`github-workflow`, `gitlab-pipeline`).
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    pub outcome: TriggerOutcome,
    /// The HTTP status the forge answered, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The pipeline the forge started (GitLab's `web_url`), when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// Why the image is stale: `base-drifted`, `too-old`, `fixable-vulnerabilities`.
    pub reasons: Vec<String>,
}

impl Triggered {
    /// Where the request went, for people: `acme/app` (dispatch `portcullis-stale`),
    /// `acme/app` workflow `build.yml` on `main`, GitLab `42` on `main`.
    #[must_use]
    pub fn place(&self) -> String {
        let mut place = match self.target {
            Trigger::GitlabPipeline => format!("GitLab project {}", self.repository),
            _ => self.repository.clone(),
        };
        if let Some(event) = &self.event_type {
            let _ = write!(place, " dispatch {event}");
        }
        if let Some(workflow) = &self.workflow {
            let _ = write!(place, " workflow {workflow}");
        }
        if let Some(git_ref) = &self.git_ref {
            let _ = write!(place, " on {git_ref}");
        }
        place
    }

    /// The outcome with the HTTP status: `sent (HTTP 204)`, `dry-run`, `failed (HTTP 404)`.
    #[must_use]
    pub fn outcome_text(&self) -> String {
        match self.status {
            Some(status) => format!("{} (HTTP {status})", self.outcome.as_str()),
            None => self.outcome.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: Trigger) -> Triggered {
        Triggered {
            image: "registry.example.com/acme/app:1".into(),
            digest: "sha256:aa".into(),
            target,
            repository: "acme/app".into(),
            event_type: None,
            workflow: Some("build.yml".into()),
            git_ref: Some("main".into()),
            outcome: TriggerOutcome::Failed,
            status: Some(404),
            pipeline: None,
            reasons: vec!["too-old".into()],
        }
    }

    #[test]
    fn place_and_outcome_read_for_people_and_serialize_in_kebab_case() {
        let workflow = entry(Trigger::GithubWorkflow);
        assert_eq!(workflow.place(), "acme/app workflow build.yml on main");
        assert_eq!(workflow.outcome_text(), "failed (HTTP 404)");
        let json = serde_json::to_value(&workflow).unwrap();
        assert_eq!(json["target"], "github-workflow");
        assert_eq!(json["ref"], "main");
        assert_eq!(json["outcome"], "failed");
        assert!(json.get("event_type").is_none());
        let mut gitlab = entry(Trigger::GitlabPipeline);
        gitlab.workflow = None;
        gitlab.outcome = TriggerOutcome::DryRun;
        gitlab.status = None;
        assert_eq!(gitlab.place(), "GitLab project acme/app on main");
        assert_eq!(gitlab.outcome_text(), "dry-run");
        assert_eq!(serde_json::to_value(&gitlab).unwrap()["outcome"], "dry-run");
    }
}
