//! What `check` and `pin` share: the repository root, the checked paths grouped by the
//! policy that judges them, and each group's parsed sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use portcullis_policy::{Config, Subject};
use portcullis_sources::{Collected, DiscoverOptions, Occurrence, ParseOptions, Root};

use crate::args::SourceArgs;
use crate::exit::UsageError;

/// The checked paths under one policy, with their sources.
#[derive(Debug)]
pub struct Group {
    pub config: Config,
    /// The checked paths, absolute.
    pub paths: Vec<PathBuf>,
    pub collected: Collected,
}

/// Every checked path, read and grouped by policy.
#[derive(Debug)]
pub struct Workspace {
    pub root: Root,
    pub groups: Vec<Group>,
}

impl Workspace {
    /// Discovers and parses the sources under `args.paths` (default `.`), each path under
    /// `--config` or its nearest policy file.
    pub fn load(explicit: Option<&Path>, args: &SourceArgs) -> anyhow::Result<Self> {
        let root = Root::current().context("cannot read the current directory")?;
        let discover = DiscoverOptions {
            exclude: args.exclude.clone(),
        };
        let build_args = build_args(&args.build_args)?;
        let paths: Vec<PathBuf> = if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        for path in &paths {
            if let Err(source) = std::fs::metadata(path) {
                return Err(anyhow::Error::new(source))
                    .context(UsageError(format!("cannot read `{}`", path.display())));
            }
        }
        let absolute: Vec<PathBuf> = paths.iter().map(|p| root.absolute(p)).collect();
        let explicit = explicit.map(|p| root.absolute(p));
        let mut groups = Vec::new();
        for (policy, paths) in
            portcullis_policy::config::group_by_policy(&absolute, explicit.as_deref())?
        {
            let config = load_policy(&root, policy.as_deref())?;
            let parse = ParseOptions {
                build_args: build_args.clone(),
                platforms: config.build().platforms.value.clone(),
            };
            let collected = root.collect_all(&paths, &discover, &parse)?;
            groups.push(Group {
                config,
                paths,
                collected,
            });
        }
        Ok(Self { root, groups })
    }

    /// The policy files' names and texts, for the renderers.
    pub fn configs(&self) -> Vec<(String, String)> {
        self.groups
            .iter()
            .map(|g| (g.config.name().to_owned(), g.config.source.clone()))
            .collect()
    }
}

/// The policy for a command about no checked path (`scan`): `--config`, else the nearest
/// policy file above the current directory, else the embedded default.
pub fn policy_here(root: &Root, explicit: Option<&Path>) -> anyhow::Result<Config> {
    let here = root.absolute(Path::new("."));
    let explicit = explicit.map(|p| root.absolute(p));
    let groups = portcullis_policy::config::group_by_policy(&[here], explicit.as_deref())?;
    load_policy(
        root,
        groups
            .into_iter()
            .next()
            .and_then(|(policy, _)| policy)
            .as_deref(),
    )
}

/// A policy file named as reports name it (from the repository root), or the embedded
/// default when there is none.
fn load_policy(root: &Root, policy: Option<&Path>) -> anyhow::Result<Config> {
    Ok(match policy {
        Some(path) => {
            tracing::info!("using policy `{}`", path.display());
            Config::load_named(path, &root.display(path))?
        }
        None => Config::embedded_default(),
    })
}

/// The references found in files, as the subjects the policy judges.
pub fn subjects(occurrences: Vec<Occurrence>) -> Vec<Subject> {
    occurrences
        .into_iter()
        .map(|o| Subject::written(o.resolution, o.text, o.location, o.context))
        .collect()
}

/// Parses `--build-arg NAME=VALUE` values.
fn build_args(values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for value in values {
        let Some((name, val)) = value.split_once('=') else {
            return Err(UsageError(format!("`--build-arg {value}` must be `NAME=VALUE`")).into());
        };
        if name.is_empty() {
            return Err(UsageError(format!("`--build-arg {value}` has an empty name")).into());
        }
        out.insert(name.to_owned(), val.to_owned());
    }
    Ok(out)
}

/// Today's date (UTC), or `PORTCULLIS_TODAY=YYYY-MM-DD` for reproducible runs.
pub fn today() -> anyhow::Result<jiff::civil::Date> {
    if let Ok(text) = std::env::var("PORTCULLIS_TODAY") {
        return text.parse().map_err(|_| {
            UsageError(format!(
                "`PORTCULLIS_TODAY={text}` is not a YYYY-MM-DD date"
            ))
            .into()
        });
    }
    Ok(jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date())
}

/// The one async runtime of the process, for registry calls.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
