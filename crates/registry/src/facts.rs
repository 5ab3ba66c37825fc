//! What the registry says about a set of references, for `check --resolve` and `pin`:
//! where each tag points now, the platform manifests under it, and whether a pinned digest
//! still exists. Each unique tag is resolved once with one `HEAD`; more is asked only for a
//! reference whose pin is not its tag's digest.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use portcullis_reference::{Digest, ImageRef};

use crate::client::Client;
use crate::error::RegistryError;
use crate::manifest::Resolved;

/// How much [`Client::facts`] asks beyond one `HEAD` per unique tag. Each level includes the
/// ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Depth {
    /// The tag's digest only.
    Tags,
    /// Also the platform manifests of a multi-platform tag when a reference to it is pinned
    /// to another digest (one `GET` of the index per such tag), so a pin to one of its
    /// platforms is recognised.
    Platforms,
    /// Also whether each pinned digest exists (one `HEAD` per pinned digest that is neither
    /// the tag's digest nor one of its platforms).
    Pinned,
}

/// Where a reference's tag points now.
#[derive(Debug, Clone)]
pub enum TagFact {
    /// The tag's digest (the index digest for a multi-platform image). `platforms` lists the
    /// index's children when they were read: at [`Depth::Platforms`] and above, for a tag
    /// that some reference pins to another digest.
    Found(Resolved),
    /// The registry has no such tag (or repository).
    NotFound,
    /// The lookup failed for another reason (credentials, network, an invalid manifest).
    Failed(Arc<RegistryError>),
}

/// Whether a pinned digest exists in the reference's repository.
#[derive(Debug, Clone)]
pub enum PinnedFact {
    Exists,
    /// The registry has no manifest with that digest in the repository.
    Missing,
    /// The check failed for another reason.
    Failed(Arc<RegistryError>),
}

/// What the registry says about one reference.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    /// Where the reference's tag points; `None` when it names no tag.
    pub tag: Option<TagFact>,
    /// Whether its pinned digest exists; `None` when it names no digest, or below
    /// [`Depth::Pinned`].
    pub pinned: Option<PinnedFact>,
}

impl ImageFacts {
    /// The tag's current state, when found.
    #[must_use]
    pub fn resolved(&self) -> Option<&Resolved> {
        match &self.tag {
            Some(TagFact::Found(resolved)) => Some(resolved),
            _ => None,
        }
    }

    /// The lookups that failed for a reason other than "not found".
    pub fn failures(&self) -> impl Iterator<Item = &Arc<RegistryError>> {
        let tag = match &self.tag {
            Some(TagFact::Failed(error)) => Some(error),
            _ => None,
        };
        let pinned = match &self.pinned {
            Some(PinnedFact::Failed(error)) => Some(error),
            _ => None,
        };
        tag.into_iter().chain(pinned)
    }
}

impl Client {
    /// What the registry says about each of `images`, keyed by the reference as given.
    ///
    /// Requests: one `HEAD` per unique tag (all references naming one tag share it); then,
    /// as `depth` asks and only for references whose pinned digest is not their tag's
    /// digest, one `GET` per multi-platform tag to list its platforms and one `HEAD` per
    /// unique pinned manifest. At most `concurrency` requests are in flight and a token is
    /// fetched once per repository. Failures stay with the references they concern.
    pub async fn facts(&self, images: &[ImageRef], depth: Depth) -> BTreeMap<ImageRef, ImageFacts> {
        let tags: BTreeSet<ImageRef> = images
            .iter()
            .filter(|image| image.tag().is_some())
            .map(ImageRef::without_digest)
            .collect();
        let mut tags: BTreeMap<ImageRef, TagFact> = self
            .each(tags, |client, tag| async move {
                client.resolve_digest(&tag).await
            })
            .await
            .into_iter()
            .map(|(tag, result)| (tag, tag_fact(result)))
            .collect();
        if depth >= Depth::Platforms {
            self.read_platforms(images, &mut tags).await;
        }
        let pinned = if depth >= Depth::Pinned {
            self.check_pins(images, &tags).await
        } else {
            BTreeMap::new()
        };

        images
            .iter()
            .map(|image| {
                let tag = image
                    .tag()
                    .and_then(|_| tags.get(&image.without_digest()).cloned());
                let pinned = match image.digest() {
                    Some(pin) if depth >= Depth::Pinned => {
                        if known(tag.as_ref(), pin) {
                            Some(PinnedFact::Exists)
                        } else {
                            pinned.get(&image.without_tag()).cloned()
                        }
                    }
                    _ => None,
                };
                (image.clone(), ImageFacts { tag, pinned })
            })
            .collect()
    }

    /// Lists the platforms of each multi-platform tag that a reference pins to another
    /// digest (one `GET` of the index per tag).
    async fn read_platforms(&self, images: &[ImageRef], tags: &mut BTreeMap<ImageRef, TagFact>) {
        let wanted: BTreeMap<ImageRef, Resolved> = images
            .iter()
            .filter_map(|image| {
                let tag = image.without_digest();
                let Some(TagFact::Found(resolved)) = tags.get(&tag) else {
                    return None;
                };
                let pinned_elsewhere = image.digest().is_some_and(|pin| *pin != resolved.digest);
                (pinned_elsewhere && resolved.is_index()).then(|| (tag, resolved.clone()))
            })
            .collect();
        let keys: Vec<ImageRef> = wanted.keys().cloned().collect();
        let read = self
            .each(keys, move |client, tag| {
                let resolved = wanted[&tag].clone();
                async move { client.index_children(&tag, &resolved, None).await }
            })
            .await;
        for (tag, children) in read {
            let Some(fact) = tags.get_mut(&tag) else {
                continue;
            };
            match children {
                Ok(children) => {
                    if let TagFact::Found(resolved) = fact {
                        resolved.platforms = children;
                    }
                }
                // Without its platforms the tag's facts are incomplete: a platform pin
                // would look stale.
                Err(error) => *fact = TagFact::Failed(Arc::new(error)),
            }
        }
    }

    /// Whether each pinned digest that is neither its tag's digest nor one of its
    /// platforms' exists, keyed by repository and digest (the tag plays no part).
    async fn check_pins(
        &self,
        images: &[ImageRef],
        tags: &BTreeMap<ImageRef, TagFact>,
    ) -> BTreeMap<ImageRef, PinnedFact> {
        let unknown: BTreeSet<ImageRef> = images
            .iter()
            .filter(|image| {
                image
                    .digest()
                    .is_some_and(|pin| !known(tags.get(&image.without_digest()), pin))
            })
            .map(ImageRef::without_tag)
            .collect();
        self.each(unknown, |client, image| async move {
            client.manifest_exists(&image).await
        })
        .await
        .into_iter()
        .map(|(image, result)| {
            let fact = match result {
                Ok(true) => PinnedFact::Exists,
                Ok(false) => PinnedFact::Missing,
                Err(error) => PinnedFact::Failed(Arc::new(error)),
            };
            (image, fact)
        })
        .collect()
    }
}

/// Whether `pin` is the tag's digest or one of its platforms' (so it exists).
fn known(tag: Option<&TagFact>, pin: &Digest) -> bool {
    match tag {
        Some(TagFact::Found(resolved)) => {
            resolved.digest == *pin || resolved.platforms.iter().any(|p| p.digest == *pin)
        }
        _ => false,
    }
}

fn tag_fact(result: Result<Resolved, RegistryError>) -> TagFact {
    match result {
        Ok(resolved) => TagFact::Found(resolved),
        Err(error) if error.is_not_found() => TagFact::NotFound,
        Err(error) => TagFact::Failed(Arc::new(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{PlatformManifest, OCI_INDEX, OCI_MANIFEST};

    fn digest(fill: char) -> Digest {
        Digest::parse(&format!("sha256:{}", fill.to_string().repeat(64))).unwrap()
    }

    #[test]
    fn a_pin_is_known_when_it_is_the_tag_or_one_of_its_platforms() {
        let index = Resolved {
            digest: digest('a'),
            media_type: OCI_INDEX.to_owned(),
            size: 1,
            platforms: vec![PlatformManifest {
                digest: digest('b'),
                media_type: OCI_MANIFEST.to_owned(),
                size: 1,
                platform: None,
            }],
        };
        let found = TagFact::Found(index);
        assert!(known(Some(&found), &digest('a')));
        assert!(known(Some(&found), &digest('b')));
        assert!(!known(Some(&found), &digest('c')));
        assert!(!known(Some(&TagFact::NotFound), &digest('a')));
        assert!(!known(None, &digest('a')));
    }

    #[test]
    fn not_found_is_not_a_failure() {
        let missing = tag_fact(Err(RegistryError::NotFound { image: "x".into() }));
        assert!(matches!(missing, TagFact::NotFound));
        let denied = tag_fact(Err(RegistryError::Denied { image: "x".into() }));
        let facts = ImageFacts {
            tag: Some(denied),
            pinned: Some(PinnedFact::Missing),
        };
        assert_eq!(facts.failures().count(), 1);
        assert!(facts.resolved().is_none());
        let facts = ImageFacts {
            tag: Some(missing),
            pinned: None,
        };
        assert_eq!(facts.failures().count(), 0);
    }
}
