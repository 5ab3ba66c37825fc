//! Registry lookups for `check --resolve` and `pin`: one client per run, configured from the
//! policy's `[registries]`, every unique reference resolved once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use portcullis_policy::{Config, Failure, RegistryFact};
use portcullis_reference::ImageRef;
use portcullis_registry::{Client, ClientOptions, RegistryError, Resolved};

/// Builds a registry client from the policy's `[registries."host"]` tables.
pub fn client(config: &Config) -> anyhow::Result<Client> {
    let mut options = ClientOptions {
        user_agent: format!("portcullis/{}", env!("CARGO_PKG_VERSION")),
        ..ClientOptions::default()
    };
    for (host, registry) in config.registries() {
        if registry.insecure.value {
            options.insecure.push(host.clone());
        }
        if let Some(ca) = &registry.ca_file {
            options.ca_files.push(config.resolve_path(&ca.value));
        }
    }
    options.timeout = Duration::from_secs(30);
    Ok(Client::new(options)?)
}

/// A registry failure for `image`, with its causes.
pub fn failure(image: &ImageRef, error: &RegistryError) -> String {
    let mut text = format!("cannot resolve `{image}`: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Facts for `check --resolve`: for every tagged image, where its tag points now; for every
/// pinned image, whether the pinned digest exists. Returns the facts and whether any lookup
/// failed for a reason other than "not found".
pub fn facts(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    images: &BTreeSet<ImageRef>,
) -> (BTreeMap<ImageRef, RegistryFact>, Vec<Failure>) {
    let tags: Vec<ImageRef> = images
        .iter()
        .filter(|i| i.tag().is_some())
        .map(ImageRef::without_digest)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let resolved: BTreeMap<ImageRef, Result<Resolved, RegistryError>> =
        rt.block_on(client.resolve_all(&tags));
    let mut failed = Vec::new();
    let mut fail = |image: &ImageRef, error: &RegistryError| {
        failed.push(Failure {
            message: failure(image, error),
            image: Some(image.to_string()),
            location: None,
        });
    };
    let mut out = BTreeMap::new();
    for image in images {
        let mut fact = RegistryFact {
            tag_digest: None,
            platform_digests: Vec::new(),
            pinned_exists: None,
        };
        if image.tag().is_some() {
            match resolved.get(&image.without_digest()) {
                Some(Ok(r)) => {
                    fact.tag_digest = Some(r.digest.clone());
                    fact.platform_digests = r.platforms.iter().map(|p| p.digest.clone()).collect();
                }
                Some(Err(e)) if e.is_not_found() => {}
                Some(Err(e)) => fail(image, e),
                None => {}
            }
        }
        if let Some(digest) = image.digest() {
            let known =
                fact.tag_digest.as_ref() == Some(digest) || fact.platform_digests.contains(digest);
            if known {
                fact.pinned_exists = Some(true);
            } else {
                match rt.block_on(client.manifest_exists(image)) {
                    Ok(exists) => fact.pinned_exists = Some(exists),
                    Err(e) => fail(image, &e),
                }
            }
        }
        out.insert(image.clone(), fact);
    }
    (out, failed)
}
