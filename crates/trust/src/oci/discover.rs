//! Finding every signature attached to an image: bundles among its referrers (the
//! referrers API, else the fallback tag), then the legacy `.sig` and `.att` tags. Bounded:
//! at most [`DiscoveryLimits::max_referrers`] referrers and
//! [`DiscoveryLimits::max_layers`] layers per manifest are read, each blob is refused over
//! [`DiscoveryLimits::max_blob_bytes`] and read size- and digest-checked, and all of it
//! stays within [`DiscoveryLimits::max_total_bytes`]. Nothing is followed further than one
//! step from the image, so a registry whose referrers point at each other cannot make it
//! loop.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{Client, RegistryError};
use serde::Deserialize;

use super::bundle::BundleView;
use super::legacy::{legacy_tag, LegacyEntry, LegacyKind};
use super::{OciError, BUNDLE_MEDIA_TYPE, BUNDLE_MEDIA_TYPES, EMPTY_MEDIA_TYPE};

/// How much discovery reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryLimits {
    /// Entries of the referrers listing, whatever their type (more is an error).
    pub max_listed: usize,
    /// Distinct referrers that may hold a bundle (more is an error).
    pub max_referrers: usize,
    /// Layers of one manifest (more is an error).
    pub max_layers: usize,
    /// Bytes of one bundle or legacy layer.
    pub max_blob_bytes: u64,
    /// Bytes of all blobs of one image.
    pub max_total_bytes: u64,
}

impl Default for DiscoveryLimits {
    fn default() -> Self {
        Self {
            max_listed: 1024,
            max_referrers: 64,
            max_layers: 64,
            max_blob_bytes: 16 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A bundle attached as a referrer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundBundle {
    /// The referrer manifest.
    pub manifest: Digest,
    /// The bundle layer.
    pub layer: Digest,
    /// The referrer manifest's annotations.
    pub annotations: BTreeMap<String, String>,
    /// The bundle's JSON, as stored.
    pub bytes: Vec<u8>,
    pub bundle: BundleView,
}

/// A layer of a legacy `.sig` or `.att` tag, in verifiable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLegacy {
    pub tag: String,
    /// The tag's manifest.
    pub manifest: Digest,
    pub layer: Digest,
    pub entry: LegacyEntry,
}

/// Something attached that is not a usable signature, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The manifest it was found in.
    pub manifest: Digest,
    pub reason: String,
}

/// Every signature attached to an image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    pub bundles: Vec<FoundBundle>,
    pub legacy: Vec<FoundLegacy>,
    pub skipped: Vec<Skipped>,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    layers: Vec<RawDescriptor>,
    subject: Option<RawDescriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// What one discovery has read so far.
struct Budget<'a> {
    client: &'a Client,
    repository: ImageRef,
    image: String,
    limits: DiscoveryLimits,
    spent: u64,
}

impl Budget<'_> {
    fn registry(&self, doing: &'static str) -> impl Fn(RegistryError) -> OciError + '_ {
        move |source| OciError::Registry {
            doing,
            image: self.image.clone(),
            source,
        }
    }

    /// A blob, within the per-blob and per-discovery budgets.
    async fn blob(&mut self, digest: &Digest, size: u64) -> Result<Vec<u8>, OciError> {
        if self.spent.saturating_add(size) > self.limits.max_total_bytes {
            return Err(OciError::TooMuchData {
                image: self.image.clone(),
                limit: self.limits.max_total_bytes,
            });
        }
        let bytes = self
            .client
            .fetch_blob(&self.repository, digest, size, self.limits.max_blob_bytes)
            .await
            .map_err(self.registry("reading a signature blob of"))?;
        self.spent += bytes.len() as u64;
        Ok(bytes)
    }

    /// A manifest by digest or tag (verified, capped by the registry client); `None` when
    /// a tag does not exist.
    async fn manifest(
        &self,
        reference: &ImageRef,
        what: &str,
    ) -> Result<Option<(Digest, RawManifest)>, OciError> {
        let manifest = match self.client.fetch_manifest(reference).await {
            Ok(manifest) => manifest,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(self.registry("reading a signature manifest of")(error)),
        };
        let raw: RawManifest =
            serde_json::from_slice(&manifest.bytes).map_err(|e| OciError::InvalidManifest {
                what: what.to_owned(),
                reason: format!("not an image manifest: {e}"),
            })?;
        if raw.layers.len() > self.limits.max_layers {
            return Err(OciError::TooManyLayers {
                tag: what.to_owned(),
                count: raw.layers.len(),
                limit: self.limits.max_layers,
            });
        }
        Ok(Some((manifest.digest, raw)))
    }
}

/// Every Sigstore bundle and legacy signature attached to the manifest `image` names by
/// digest, read within `limits`. Referrers whose `subject` is another manifest, layers of
/// other media types and bundles that do not parse are listed in
/// [`Discovered::skipped`]; a registry that lists more than the limits allow is an error.
pub async fn discover(
    client: &Client,
    image: &ImageRef,
    limits: DiscoveryLimits,
) -> Result<Discovered, OciError> {
    let digest = image.digest().ok_or_else(|| OciError::NoDigest {
        image: image.to_string(),
    })?;
    let repository = image.without_digest().without_tag();
    let mut budget = Budget {
        client,
        repository: repository.clone(),
        image: image.to_string(),
        limits,
        spent: 0,
    };
    let mut found = Discovered::default();
    referrer_bundles(&mut budget, digest, &mut found).await?;
    for kind in [LegacyKind::Signature, LegacyKind::Attestation] {
        legacy_layers(&mut budget, digest, kind, &mut found).await?;
    }
    Ok(found)
}

async fn referrer_bundles(
    budget: &mut Budget<'_>,
    digest: &Digest,
    found: &mut Discovered,
) -> Result<(), OciError> {
    let listed = budget
        .client
        .referrers_of(&budget.repository, digest, None)
        .await
        .map_err(budget.registry("listing the referrers of"))?;
    if listed.len() > budget.limits.max_listed {
        return Err(OciError::TooManyReferrers {
            image: budget.image.clone(),
            count: listed.len(),
            limit: budget.limits.max_listed,
        });
    }
    // Some registries list bundle referrers with the empty type or none: the layer media
    // type decides. Each manifest is read once, however often it is listed.
    let mut seen = BTreeSet::new();
    let candidates: Vec<_> = listed
        .into_iter()
        .filter(|r| r.digest != *digest && seen.insert(r.digest.clone()))
        .filter(|r| {
            r.artifact_type()
                .is_none_or(|t| t == BUNDLE_MEDIA_TYPE || t == EMPTY_MEDIA_TYPE || t.is_empty())
        })
        .collect();
    if candidates.len() > budget.limits.max_referrers {
        return Err(OciError::TooManyReferrers {
            image: budget.image.clone(),
            count: candidates.len(),
            limit: budget.limits.max_referrers,
        });
    }
    for referrer in candidates {
        let what = format!("{}@{}", budget.repository, referrer.digest);
        let reference = budget.repository.with_digest(referrer.digest.clone());
        let Some((manifest, raw)) = budget.manifest(&reference, &what).await? else {
            found.skipped.push(Skipped {
                manifest: referrer.digest.clone(),
                reason: "listed as a referrer, but not in the repository".to_owned(),
            });
            continue;
        };
        let subject = raw.subject.as_ref().map(|s| s.digest.as_str());
        if subject != Some(digest.to_string().as_str()) {
            found.skipped.push(Skipped {
                manifest,
                reason: format!(
                    "its subject is `{}`, not `{digest}`",
                    subject.unwrap_or("none")
                ),
            });
            continue;
        }
        for layer in &raw.layers {
            if !BUNDLE_MEDIA_TYPES.contains(&layer.media_type.as_str()) {
                continue;
            }
            let Ok(layer_digest) = Digest::parse(&layer.digest) else {
                found.skipped.push(Skipped {
                    manifest: manifest.clone(),
                    reason: format!("layer digest `{}` is not a digest", layer.digest),
                });
                continue;
            };
            let bytes = budget.blob(&layer_digest, layer.size).await?;
            match BundleView::parse(&bytes) {
                Ok(bundle) => found.bundles.push(FoundBundle {
                    manifest: manifest.clone(),
                    layer: layer_digest,
                    annotations: raw.annotations.clone(),
                    bytes,
                    bundle,
                }),
                Err(error) => found.skipped.push(Skipped {
                    manifest: manifest.clone(),
                    reason: error.to_string(),
                }),
            }
        }
    }
    Ok(())
}

async fn legacy_layers(
    budget: &mut Budget<'_>,
    digest: &Digest,
    kind: LegacyKind,
    found: &mut Discovered,
) -> Result<(), OciError> {
    let tag = legacy_tag(digest, kind);
    let tagged = budget.repository.with_tag(&tag);
    let Some((manifest, raw)) = budget.manifest(&tagged, &tagged.to_string()).await? else {
        return Ok(());
    };
    for layer in raw.layers {
        if layer.media_type != kind.media_type() {
            found.skipped.push(Skipped {
                manifest: manifest.clone(),
                reason: format!("`{tag}` layer of media type `{}`", layer.media_type),
            });
            continue;
        }
        let Ok(layer_digest) = Digest::parse(&layer.digest) else {
            found.skipped.push(Skipped {
                manifest: manifest.clone(),
                reason: format!("layer digest `{}` is not a digest", layer.digest),
            });
            continue;
        };
        let payload = budget.blob(&layer_digest, layer.size).await?;
        match LegacyEntry::from_layer(kind, payload, &layer.annotations) {
            Ok(entry) => found.legacy.push(FoundLegacy {
                tag: tag.clone(),
                manifest: manifest.clone(),
                layer: layer_digest,
                entry,
            }),
            Err(reason) => found.skipped.push(Skipped {
                manifest: manifest.clone(),
                reason: format!("`{tag}` layer `{layer_digest}`: {reason}"),
            }),
        }
    }
    Ok(())
}
