//! Where the files of the commit under test can be read on the forge's web pages: the
//! [`SourceLinks`] the report's Markdown links every `file:line` through.

use portcullis_report::{encode_segment, SourceLinks};

use crate::env::{CiEnv, Repository};

impl CiEnv {
    /// Links into the commit under test: on GitHub
    /// `{server}/{owner}/{repo}/blob/{sha}/`, on GitLab `{server}/{project}/-/blob/{sha}/`.
    /// `None` when the CI names no web server, repository or commit (a local run).
    #[must_use]
    pub fn source_links(&self) -> Option<SourceLinks> {
        let server = self.server_url.as_deref()?.trim_end_matches('/');
        let sha = encode_segment(self.sha.as_deref()?);
        let project = match self.repository.as_ref()? {
            Repository::Github { owner, name } => {
                format!("{}/{}/blob", encode_segment(owner), encode_segment(name))
            }
            Repository::Gitlab { path, .. } => {
                let path: Vec<String> = path.split('/').map(encode_segment).collect();
                format!("{}/-/blob", path.join("/"))
            }
        };
        Some(SourceLinks::new(format!("{server}/{project}/{sha}/")))
    }
}

#[cfg(test)]
mod tests {
    use crate::Ci;

    use super::*;

    fn env(ci: Ci, repository: Repository) -> CiEnv {
        let mut env = CiEnv::from_env(|_| None).unwrap();
        env.ci = ci;
        env.repository = Some(repository);
        env.sha = Some("8f4e3c2b".to_owned());
        env
    }

    #[test]
    fn github_links_go_to_the_blob_at_the_commit() {
        let mut env = env(
            Ci::GithubActions,
            Repository::Github {
                owner: "acme".into(),
                name: "app".into(),
            },
        );
        env.server_url = Some("https://github.com/".into());
        let links = env.source_links().unwrap();
        assert_eq!(
            links.line("services/web app/Dockerfile", 7),
            "https://github.com/acme/app/blob/8f4e3c2b/services/web%20app/Dockerfile#L7"
        );
    }

    #[test]
    fn gitlab_links_go_through_the_project_path() {
        let mut env = env(
            Ci::GitlabCi,
            Repository::Gitlab {
                path: "acme/platform/app".into(),
                id: 42,
            },
        );
        env.server_url = Some("https://gitlab.example.com".into());
        let links = env.source_links().unwrap();
        assert_eq!(
            links.line("compose.yaml", 2),
            "https://gitlab.example.com/acme/platform/app/-/blob/8f4e3c2b/compose.yaml#L2"
        );
    }

    #[test]
    fn no_links_without_a_server_repository_or_commit() {
        let full = || {
            let mut env = env(
                Ci::GithubActions,
                Repository::Github {
                    owner: "acme".into(),
                    name: "app".into(),
                },
            );
            env.server_url = Some("https://github.com".into());
            env
        };
        assert!(full().source_links().is_some());
        let mut no_server = full();
        no_server.server_url = None;
        assert!(no_server.source_links().is_none());
        let mut no_sha = full();
        no_sha.sha = None;
        assert!(no_sha.source_links().is_none());
        let mut no_repository = full();
        no_repository.repository = None;
        assert!(no_repository.source_links().is_none());
    }
}
