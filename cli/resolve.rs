//! Registry lookups for `check --resolve` and `pin`: a client configured from the policy's
//! `[registries]`, and the registry's facts handed to the policy as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use portcullis_policy::{Config, Failure, RegistryFact};
use portcullis_reference::ImageRef;
use portcullis_registry::{
    Client, ClientOptions, Depth, ImageFacts, PinnedFact, Progress, RegistryError,
};

use crate::progress::Lookups;

/// Builds a registry client from the policy's `[registries."host"]` tables.
pub fn client(config: &Config) -> anyhow::Result<Client> {
    Ok(Client::new(client_options(config))?)
}

/// `client`, reporting its lookups to `progress` when progress is drawn.
pub fn observed(client: Client, progress: Option<&Arc<Lookups>>) -> Client {
    match progress {
        Some(progress) => client.with_progress(Arc::clone(progress) as Arc<dyn Progress>),
        None => client,
    }
}

/// `[registries."host"]` as client options: the `insecure` hosts, and each `ca-file`
/// relative to the policy file like every other path in it.
fn client_options(config: &Config) -> ClientOptions {
    let registries = config.registries();
    ClientOptions {
        insecure: registries
            .iter()
            .filter(|(_, registry)| registry.insecure.value)
            .map(|(host, _)| host.clone())
            .collect(),
        ca_files: registries
            .values()
            .filter_map(|registry| registry.ca_file.as_ref())
            .map(|ca| config.resolve_path(&ca.value))
            .collect(),
        host_timeouts: registries
            .iter()
            .filter_map(|(host, registry)| Some((host.clone(), registry.timeout.as_ref()?.value)))
            .collect(),
        ..ClientOptions::default()
    }
}

/// An error and its causes, on one line.
pub fn chain(error: &RegistryError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// A registry failure for `image`, with its causes.
pub fn failure(image: &ImageRef, error: &RegistryError) -> String {
    format!("cannot resolve `{image}`: {}", chain(error))
}

/// Facts for `check --resolve`, by image, and the lookups that failed for a reason other
/// than "not found".
pub fn facts(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    images: &BTreeSet<ImageRef>,
) -> (BTreeMap<ImageRef, RegistryFact>, Vec<Failure>) {
    let images: Vec<ImageRef> = images.iter().cloned().collect();
    let facts = rt.block_on(client.facts(&images, Depth::Pinned));
    let mut failures = Vec::new();
    let mut out = BTreeMap::new();
    for (image, fact) in facts {
        // A registry that did not answer is reported once, by its first failure.
        failures.extend(
            fact.failures()
                .filter(|error| !error.repeats_earlier_failure())
                .map(|error| Failure {
                    message: failure(&image, error),
                    image: Some(image.to_string()),
                    location: None,
                }),
        );
        out.insert(image, policy_fact(&fact));
    }
    (out, failures)
}

fn policy_fact(fact: &ImageFacts) -> RegistryFact {
    let resolved = fact.resolved();
    RegistryFact {
        tag_digest: resolved.map(|r| r.digest.clone()),
        platform_digests: resolved
            .map(|r| r.platforms.iter().map(|p| p.digest.clone()).collect())
            .unwrap_or_default(),
        pinned_exists: match fact.pinned {
            Some(PinnedFact::Exists) => Some(true),
            Some(PinnedFact::Missing) => Some(false),
            Some(PinnedFact::Failed(_)) | None => None,
        },
    }
}
