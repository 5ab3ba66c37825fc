//! Registry lookups for `check --resolve` and `pin`: one client per run, configured from the
//! policy's `[registries]`, one tokio runtime to drive the library's async calls.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;

use portcullis_policy::{Config, RegistryFact};
use portcullis_reference::ImageRef;
use portcullis_registry::{Client, ClientOptions, Depth, ImageFacts, PinnedFact, RegistryError};

/// Builds a registry client from the policy's `[registries."host"]` tables.
pub fn client(config: &Config) -> anyhow::Result<Client> {
    Ok(Client::new(client_options(config))?)
}

/// `[registries."host"]` as client options: the `insecure` hosts, and each `ca-file`
/// relative to the policy file like every other path in it.
fn client_options(config: &Config) -> ClientOptions {
    let registries = config.registries();
    let base = config
        .path
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    ClientOptions {
        insecure: registries
            .iter()
            .filter(|(_, registry)| registry.insecure.value)
            .map(|(host, _)| host.clone())
            .collect(),
        ca_files: registries
            .values()
            .filter_map(|registry| registry.ca_file.as_ref())
            .map(|ca| base.join(&ca.value))
            .collect(),
        ..ClientOptions::default()
    }
}

/// A tokio runtime for the blocking CLI.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Prints a registry failure for `image` to stderr, with its causes; `at` is the
/// `file:line:col` of the reference when known.
pub fn print_failure(at: Option<&str>, image: &ImageRef, error: &RegistryError) {
    let mut stderr = std::io::stderr().lock();
    let at = at.map(|a| format!("{a}: ")).unwrap_or_default();
    let _ = write!(stderr, "error: {at}cannot resolve `{image}`: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(stderr, ": {cause}");
        source = cause.source();
    }
    let _ = writeln!(stderr);
}

/// Facts for `check --resolve`, by the reference's normalized text as the policy reads
/// them. Prints each failed lookup; returns whether any failed for a reason other than
/// "not found".
pub fn facts(
    client: &Client,
    images: &BTreeSet<ImageRef>,
) -> anyhow::Result<(BTreeMap<String, RegistryFact>, bool)> {
    let images: Vec<ImageRef> = images.iter().cloned().collect();
    let facts = runtime()?.block_on(client.facts(&images, Depth::Pinned));
    let mut failed = false;
    let mut out = BTreeMap::new();
    for (image, fact) in &facts {
        for error in fact.failures() {
            print_failure(None, image, error);
            failed = true;
        }
        out.insert(image.to_string(), policy_fact(fact));
    }
    Ok((out, failed))
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
