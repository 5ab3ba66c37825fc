//! The CI around a portcullis run. Today: which environment this is (GitHub Actions,
//! GitLab CI or a local run), read from the variables the CI sets, so that the output layer
//! knows whether to write workflow-command annotations. Pull/merge request comments, job
//! summaries and rebuild triggers will live here too.

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
}
