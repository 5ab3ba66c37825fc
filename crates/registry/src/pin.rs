//! The digest `pin` writes for a reference: the tag's index digest, unless the reference is
//! already pinned to that index or to one of its platform manifests, or (keeping platform
//! pins) is pinned to a platform manifest of an older index, which moves to the same
//! platform's manifest in the current one.

use std::collections::BTreeMap;
use std::sync::Arc;

use portcullis_reference::{Digest, ImageRef};

use crate::client::Client;
use crate::error::RegistryError;
use crate::facts::{Depth, ImageFacts, TagFact};
use crate::manifest::{Platform, Resolved};

/// What `pin` does with a reference pinned to one platform's manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PlatformPins {
    /// Keep it pinned to a platform manifest: to the same platform's manifest in the tag's
    /// current index.
    #[default]
    Keep,
    /// Pin the index (multi-platform) digest instead.
    Index,
}

/// What `pin` writes for one reference.
#[derive(Debug, Clone)]
pub enum PinChoice {
    /// Pin to this digest (the one already written when nothing changes).
    Digest(Digest),
    /// Left alone: pinned to a `platform` manifest, and the tag's current index has no
    /// manifest for that platform.
    PlatformGone { platform: Platform },
    /// Left alone: the registry has no such tag (or repository).
    TagNotFound,
    /// Left alone: resolving the tag failed for another reason (shared by every reference
    /// to the tag).
    TagFailed(Arc<RegistryError>),
    /// Left alone: pinned to a manifest the registry does not have, so its platform cannot
    /// be read (keeping platform pins, multi-platform tag).
    PinnedNotFound,
    /// Left alone: reading the pinned manifest's platform failed for another reason.
    PinnedFailed(Arc<RegistryError>),
}

/// The first decision, from the tag's facts alone.
#[derive(Debug)]
enum Step {
    Done(PinChoice),
    /// The pin is neither the index nor one of its platforms: read the pinned manifest's
    /// platform to find the same platform in the current index.
    ReadPlatform,
}

impl Client {
    /// The digest `pin` writes for each of `images`, keyed by the reference as given: the
    /// tag it names (`latest` when none) is resolved, and a digest written with it is the
    /// pin it is compared with.
    ///
    /// Requests: one `HEAD` per unique tag. Keeping platform pins, a reference pinned to
    /// neither its tag's index nor one of its platforms adds one `GET` of the index per tag
    /// and a `GET` of the pinned manifest and its config per pin; with
    /// [`PlatformPins::Index`] nothing is read beyond the `HEAD`s.
    pub async fn pins(
        &self,
        images: &[ImageRef],
        mode: PlatformPins,
    ) -> BTreeMap<ImageRef, PinChoice> {
        let queries: BTreeMap<&ImageRef, ImageRef> = images
            .iter()
            .map(|image| (image, with_implied_tag(image)))
            .collect();
        let depth = match mode {
            PlatformPins::Keep => Depth::Platforms,
            PlatformPins::Index => Depth::Tags,
        };
        let unique: Vec<ImageRef> = queries.values().cloned().collect();
        let facts = self.facts(&unique, depth).await;

        let mut choices = BTreeMap::new();
        let mut read = Vec::new();
        for (query, fact) in &facts {
            match first_step(query, fact, mode) {
                Step::Done(choice) => {
                    choices.insert(query.clone(), choice);
                }
                Step::ReadPlatform => read.push(query.clone()),
            }
        }
        let platforms = self
            .each(read, |client, image| async move {
                client.platform_of(&image).await
            })
            .await;
        for (query, platform) in platforms {
            let resolved = facts[&query]
                .resolved()
                .expect("platforms are read only for found tags");
            choices.insert(query, same_platform(resolved, platform));
        }

        queries
            .into_iter()
            .filter_map(|(image, query)| Some((image.clone(), choices.get(&query)?.clone())))
            .collect()
    }
}

/// The reference with `latest` when it names no tag, as Docker pulls it.
fn with_implied_tag(image: &ImageRef) -> ImageRef {
    if image.tag().is_some() {
        image.clone()
    } else {
        image.with_tag("latest")
    }
}

fn first_step(image: &ImageRef, facts: &ImageFacts, mode: PlatformPins) -> Step {
    let resolved = match &facts.tag {
        Some(TagFact::Found(resolved)) => resolved,
        Some(TagFact::Failed(error)) => {
            return Step::Done(PinChoice::TagFailed(Arc::clone(error)));
        }
        Some(TagFact::NotFound) | None => return Step::Done(PinChoice::TagNotFound),
    };
    let Some(pin) = image.digest() else {
        return Step::Done(PinChoice::Digest(resolved.digest.clone()));
    };
    let on_platform = resolved.platforms.iter().any(|p| p.digest == *pin);
    if *pin == resolved.digest || on_platform && mode == PlatformPins::Keep {
        // Already pinned to the tag's index, or to one of its platforms: nothing to do.
        return Step::Done(PinChoice::Digest(pin.clone()));
    }
    if mode == PlatformPins::Index || resolved.platforms.is_empty() {
        return Step::Done(PinChoice::Digest(resolved.digest.clone()));
    }
    Step::ReadPlatform
}

/// The choice once the pinned manifest's platform is known (`None`: it is an index).
fn same_platform(
    resolved: &Resolved,
    platform: Result<Option<Platform>, RegistryError>,
) -> PinChoice {
    match platform {
        Ok(None) => PinChoice::Digest(resolved.digest.clone()),
        Ok(Some(platform)) => resolved
            .platforms
            .iter()
            .find(|p| p.platform.as_ref() == Some(&platform))
            .map_or(PinChoice::PlatformGone { platform }, |p| {
                PinChoice::Digest(p.digest.clone())
            }),
        Err(error) if error.is_not_found() => PinChoice::PinnedNotFound,
        Err(error) => PinChoice::PinnedFailed(Arc::new(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{PlatformManifest, OCI_INDEX, OCI_MANIFEST};

    fn digest(fill: char) -> Digest {
        Digest::parse(&format!("sha256:{}", fill.to_string().repeat(64))).unwrap()
    }

    fn child(fill: char, platform: &str) -> PlatformManifest {
        PlatformManifest {
            digest: digest(fill),
            media_type: OCI_MANIFEST.to_owned(),
            size: 1,
            platform: Platform::parse(platform),
        }
    }

    /// An index `a` with amd64 `b` and arm64 `c`.
    fn index() -> Resolved {
        Resolved {
            digest: digest('a'),
            media_type: OCI_INDEX.to_owned(),
            size: 1,
            platforms: vec![child('b', "linux/amd64"), child('c', "linux/arm64/v8")],
        }
    }

    fn found(resolved: Resolved) -> ImageFacts {
        ImageFacts {
            tag: Some(TagFact::Found(resolved)),
            pinned: None,
        }
    }

    fn pinned(fill: char) -> ImageRef {
        ImageRef::parse(&format!("alpine:3.20@{}", digest(fill))).unwrap()
    }

    fn chosen(step: Step) -> Option<Digest> {
        match step {
            Step::Done(PinChoice::Digest(digest)) => Some(digest),
            _ => None,
        }
    }

    #[test]
    fn unpinned_and_index_pinned_references_get_the_index_digest() {
        let tag = ImageRef::parse("alpine:3.20").unwrap();
        for mode in [PlatformPins::Keep, PlatformPins::Index] {
            assert_eq!(
                chosen(first_step(&tag, &found(index()), mode)),
                Some(digest('a'))
            );
            let step = first_step(&pinned('a'), &found(index()), mode);
            assert_eq!(chosen(step), Some(digest('a')));
        }
    }

    #[test]
    fn a_current_platform_pin_is_kept_only_in_keep_mode() {
        let keep = first_step(&pinned('c'), &found(index()), PlatformPins::Keep);
        assert_eq!(chosen(keep), Some(digest('c')));
        let index_mode = first_step(&pinned('c'), &found(index()), PlatformPins::Index);
        assert_eq!(chosen(index_mode), Some(digest('a')));
    }

    #[test]
    fn another_pin_reads_its_platform_only_in_keep_mode_on_an_index() {
        let step = first_step(&pinned('f'), &found(index()), PlatformPins::Keep);
        assert!(matches!(step, Step::ReadPlatform), "{step:?}");
        let step = first_step(&pinned('f'), &found(index()), PlatformPins::Index);
        assert_eq!(chosen(step), Some(digest('a')));
        let single = Resolved {
            platforms: Vec::new(),
            media_type: OCI_MANIFEST.to_owned(),
            ..index()
        };
        let step = first_step(&pinned('f'), &found(single), PlatformPins::Keep);
        assert_eq!(chosen(step), Some(digest('a')));
    }

    #[test]
    fn failed_and_missing_tags_are_left_alone() {
        let missing = ImageFacts {
            tag: Some(TagFact::NotFound),
            pinned: None,
        };
        let step = first_step(&pinned('f'), &missing, PlatformPins::Keep);
        assert!(
            matches!(step, Step::Done(PinChoice::TagNotFound)),
            "{step:?}"
        );
        let failed = ImageFacts {
            tag: Some(TagFact::Failed(Arc::new(RegistryError::Denied {
                image: "alpine".into(),
            }))),
            pinned: None,
        };
        let step = first_step(&pinned('f'), &failed, PlatformPins::Index);
        assert!(
            matches!(step, Step::Done(PinChoice::TagFailed(_))),
            "{step:?}"
        );
    }

    #[test]
    fn a_platform_pin_moves_to_the_same_platform_or_says_it_is_gone() {
        let arm = Platform::parse("linux/arm64/v8");
        let choice = same_platform(&index(), Ok(arm));
        assert!(
            matches!(&choice, PinChoice::Digest(d) if *d == digest('c')),
            "{choice:?}"
        );
        let choice = same_platform(&index(), Ok(None));
        assert!(
            matches!(&choice, PinChoice::Digest(d) if *d == digest('a')),
            "{choice:?}"
        );
        let s390x = Platform::parse("linux/s390x").unwrap();
        let choice = same_platform(&index(), Ok(Some(s390x.clone())));
        assert!(
            matches!(&choice, PinChoice::PlatformGone { platform } if *platform == s390x),
            "{choice:?}"
        );
        let missing = RegistryError::NotFound { image: "x".into() };
        let choice = same_platform(&index(), Err(missing));
        assert!(matches!(choice, PinChoice::PinnedNotFound), "{choice:?}");
        let denied = RegistryError::Denied { image: "x".into() };
        let choice = same_platform(&index(), Err(denied));
        assert!(matches!(choice, PinChoice::PinnedFailed(_)), "{choice:?}");
    }

    #[test]
    fn untagged_references_resolve_latest() {
        let digest_only = ImageRef::parse(&format!("alpine@{}", digest('a'))).unwrap();
        assert_eq!(
            with_implied_tag(&digest_only),
            pinned('a').with_tag("latest")
        );
        let tagged = pinned('a');
        assert_eq!(with_implied_tag(&tagged), tagged);
    }
}
