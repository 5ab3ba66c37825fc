//! The CI around a portcullis run: which environment this is (GitHub Actions, GitLab CI or
//! a local run), read from the variables the CI sets, so that the output layer knows whether
//! to write workflow-command annotations; what the CI says about the run ([`env::CiEnv`]:
//! repository, pull/merge request, commit, branch, API and token); and sticky pull/merge
//! request comments ([`comment::publish`]); the job summary cut to GitHub's limit
//! ([`summary`]), the step outputs ([`outputs`]) and the links from findings to the commit
//! under test ([`CiEnv::source_links`]). Rebuild triggers will live here too.

pub mod changes;
pub mod comment;
pub mod env;
mod links;
pub mod outputs;
pub mod summary;
pub mod trigger;

pub use comment::{publish, Action, Forge, ForgeError, Outcome, Published};
pub use env::{CiEnv, EnvError, ForgeToken, Repository};
pub use outputs::StepOutputs;

/// Where portcullis runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    /// `GITHUB_ACTIONS=true`.
    GithubActions,
    /// `GITLAB_CI=true`.
    GitlabCi,
    /// Anything else: a terminal, another CI.
    Local,
}

impl Ci {
    /// The environment of this process.
    #[must_use]
    pub fn detect() -> Self {
        Self::from_env(|name| std::env::var(name).ok())
    }

    /// The environment described by `var` (a lookup of environment variables).
    #[must_use]
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).is_some_and(|value| value == "true");
        if set("GITHUB_ACTIONS") {
            Self::GithubActions
        } else if set("GITLAB_CI") {
            Self::GitlabCi
        } else {
            Self::Local
        }
    }

    /// Whether this process runs under any CI (so nobody watches a terminal): the CI
    /// systems above, or any that sets `CI` (to anything but `false` or `0`), as GitHub
    /// Actions, GitLab CI, `CircleCI`, Travis, Buildkite, Woodpecker and others do.
    #[must_use]
    pub fn under_ci() -> bool {
        Self::under_ci_from_env(|name| std::env::var(name).ok())
    }

    /// [`Ci::under_ci`] for the environment described by `var`.
    #[must_use]
    pub fn under_ci_from_env(var: impl Fn(&str) -> Option<String>) -> bool {
        let ci = var("CI").is_some_and(|value| {
            let value = value.trim();
            !value.is_empty() && value != "0" && !value.eq_ignore_ascii_case("false")
        });
        // Jenkins and Azure Pipelines do not set `CI`.
        let other = ["JENKINS_URL", "TF_BUILD", "TEAMCITY_VERSION"]
            .iter()
            .any(|name| var(name).is_some_and(|value| !value.is_empty()));
        ci || other || Self::from_env(var) != Self::Local
    }

    /// Whether findings should also be written as GitHub workflow-command annotations.
    #[must_use]
    pub fn wants_annotations(self) -> bool {
        self == Self::GithubActions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_reads_the_variables_each_ci_sets() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert_eq!(
            Ci::from_env(env(&[("GITHUB_ACTIONS", "true")])),
            Ci::GithubActions
        );
        assert_eq!(Ci::from_env(env(&[("GITLAB_CI", "true")])), Ci::GitlabCi);
        assert_eq!(Ci::from_env(env(&[("GITHUB_ACTIONS", "false")])), Ci::Local);
        assert_eq!(Ci::from_env(env(&[])), Ci::Local);
        assert!(Ci::GithubActions.wants_annotations() && !Ci::GitlabCi.wants_annotations());
    }

    #[test]
    fn any_ci_counts_as_ci_for_progress() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        for ci in [
            &[("CI", "true")][..],
            &[("CI", "1")],
            &[("CI", "woodpecker")],
            &[("GITLAB_CI", "true")],
            &[("GITHUB_ACTIONS", "true")],
            &[("JENKINS_URL", "https://jenkins.example.com/")],
            &[("TF_BUILD", "True")],
        ] {
            assert!(Ci::under_ci_from_env(env(ci)), "{ci:?}");
        }
        for local in [
            &[][..],
            &[("CI", "false")],
            &[("CI", "0")],
            &[("CI", "")],
            &[("JENKINS_URL", "")],
        ] {
            assert!(!Ci::under_ci_from_env(env(local)), "{local:?}");
        }
    }
}
