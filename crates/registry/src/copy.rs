//! The copy engine: an image by tag or digest from one repository to another, across
//! registries, byte for byte. Manifests are copied as the exact bytes served (so digests do
//! not change); an index with every child (or only the listed platforms, which makes a new
//! index); children before parents, blobs before the manifest that names them, referrers
//! before the tag, and the tag last — so a run killed at any point leaves no tag on an
//! incomplete image, and a re-run skips what the target already has (`HEAD`).

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use futures_util::StreamExt as _;
use portcullis_reference::{Digest, ImageRef};
use serde_json::Value;

use crate::client::{Access, Client, Manifest};
use crate::error::RegistryError;
use crate::manifest::OCI_INDEX;
use crate::push::{target_access, BlobCopy};
use crate::referrers::{fallback_tag, Referrer, LEGACY_SUFFIXES};

/// How deep referrers of referrers are followed (a signature of an attestation of an image).
const MAX_REFERRER_DEPTH: usize = 3;
/// How deep indexes may nest (an index of indexes of images is two): a hostile registry
/// could otherwise serve an endless chain of distinct indexes.
const MAX_INDEX_NESTING: usize = 4;
/// Media types of layers that are never copied (Windows foreign layers live elsewhere).
const FOREIGN_LAYERS: [&str; 2] = [
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
];

/// What to copy.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Only these platforms of an index (a new index listing them); `None`: every child.
    pub platforms: Option<Vec<portcullis_reference::Platform>>,
    /// Move a target tag that points at another digest.
    pub allow_retag: bool,
    /// Copy what refers to each copied manifest (signatures, attestations, SBOMs).
    pub referrers: bool,
    /// The source repository's tags, when the caller listed them: a fallback index or
    /// cosign tag that is not among them is not asked for.
    pub source_tags: Option<std::sync::Arc<BTreeSet<String>>>,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// The source's digest.
    pub source_digest: Option<Digest>,
    /// The digest the target tag points at (the source's, unless platforms were filtered).
    pub digest: Option<Digest>,
    /// The tag written (or found in place).
    pub tag: Option<String>,
    /// The target tag already pointed at the image: nothing but referrers was looked at.
    pub already_present: bool,
    pub manifests_copied: u32,
    pub manifests_present: u32,
    pub blobs_uploaded: u32,
    pub blobs_mounted: u32,
    pub blobs_present: u32,
    /// Blob bytes streamed into the target.
    pub bytes: u64,
    /// Referrer manifests copied (signatures, attestations, SBOMs).
    pub referrers_copied: u32,
    /// Cosign legacy tags (`.sig`, `.att`, `.sbom`) written.
    pub legacy_tags_copied: u32,
    /// Foreign layers not copied (they are fetched from their own URLs).
    pub foreign_layers_skipped: u32,
}

/// One copy in progress: the source and target repositories, the access the target is
/// written with, and what has been done.
struct Job<'a> {
    client: &'a Client,
    source: ImageRef,
    target: ImageRef,
    access: Access,
    options: &'a CopyOptions,
    report: Mutex<CopyReport>,
    /// Manifests of the target visited in this run (copied or found).
    visited: Mutex<BTreeSet<Digest>>,
    /// One lock per blob digest: a blob that two manifests share (an empty config, a
    /// common layer) is copied once, not raced into two uploads of the same digest.
    blob_locks: Mutex<std::collections::BTreeMap<Digest, std::sync::Arc<tokio::sync::Mutex<bool>>>>,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, RegistryError>> + Send + 'a>>;

impl Client {
    /// Copies `source` (a tag or a digest) into `target`'s repository (told to the client's
    /// progress observer as started and finished; the caller queues it), under `target`'s tag
    /// (the source's tag when `target` has none; no tag when neither has one).
    /// Refuses before writing anything when the target tag points at another digest and
    /// `allow_retag` is off.
    pub async fn copy(
        &self,
        source: &ImageRef,
        target: &ImageRef,
        options: &CopyOptions,
    ) -> Result<CopyReport, RegistryError> {
        self.observer.started(source);
        let result = self.copy_observed(source, target, options).await;
        self.observer.finished(source, result.as_ref().err());
        result
    }

    /// Whether `target`'s tag may be pointed at `wanted`, asked before anything is written
    /// (for a caller that copies by digest first and tags last): `Ok(true)` when it already
    /// names `wanted`, `Ok(false)` when it is free (or `allow_retag`), and
    /// [`RegistryError::Retag`] when it names another digest. A target without a tag is free.
    pub async fn tag_holds(
        &self,
        target: &ImageRef,
        wanted: &Digest,
        allow_retag: bool,
    ) -> Result<bool, RegistryError> {
        let Some(tag) = target.tag().filter(|_| target.digest().is_none()) else {
            return Ok(false);
        };
        let repo = target.without_digest();
        match self.tag_digest(&repo, &Access::Push, tag).await? {
            Some((existing, _)) if existing == *wanted => Ok(true),
            Some((existing, _)) if !allow_retag => Err(RegistryError::Retag {
                target: format!("{}:{tag}", repo.name()),
                existing: existing.to_string(),
                wanted: wanted.to_string(),
            }),
            _ => Ok(false),
        }
    }

    async fn copy_observed(
        &self,
        source: &ImageRef,
        target: &ImageRef,
        options: &CopyOptions,
    ) -> Result<CopyReport, RegistryError> {
        let access = target_access(source, target);
        let tag = target
            .tag()
            .or(source.tag())
            .map(str::to_owned)
            .filter(|_| target.digest().is_none());
        let target_repo = target.without_digest();
        let job = Job {
            client: self,
            source: source.without_digest(),
            target: target_repo.clone(),
            access: access.clone(),
            options,
            report: Mutex::new(CopyReport {
                tag: tag.clone(),
                ..CopyReport::default()
            }),
            visited: Mutex::default(),
            blob_locks: Mutex::default(),
        };
        // The source's digest by `HEAD` (or as written): a target that has it already costs
        // no manifest body.
        // Both asked at once: what the source has, and what the target tag holds.
        let source_digest = async {
            match source.digest() {
                Some(digest) => Ok(digest.clone()),
                None => self.resolve_digest(source).await.map(|r| r.digest),
            }
        };
        let target_digest = async {
            match &tag {
                Some(tag) => self.tag_digest(&target_repo, &access, tag).await,
                None => Ok(None),
            }
        };
        let (wanted, existing) = futures_util::future::join(source_digest, target_digest).await;
        let (wanted, existing) = (wanted?, existing?);
        job.update(|r| r.source_digest = Some(wanted.clone()));
        if let Some(tag) = &tag {
            if let Some((existing, _)) = existing {
                let same = existing == wanted && options.platforms.is_none();
                if same {
                    job.update(|r| {
                        r.already_present = true;
                        r.digest = Some(existing.clone());
                    });
                    if options.referrers {
                        job.copy_referrers(&wanted, 0).await?;
                    }
                    return Ok(job.finish());
                }
                if !options.allow_retag && (existing != wanted || options.platforms.is_none()) {
                    return Err(RegistryError::Retag {
                        target: format!("{}:{tag}", target_repo.name()),
                        existing: existing.to_string(),
                        wanted: wanted.to_string(),
                    });
                }
            }
        }
        let top = self
            .fetch_manifest(&source.without_digest().with_digest(wanted))
            .await?;
        let written = job.copy_manifest(top, 0, 0).await?;
        if let Some(tag) = &tag {
            self.put_manifest(
                &target_repo,
                &access,
                tag,
                &written.media_type,
                &written.bytes,
            )
            .await?;
        }
        job.update(|r| r.digest = Some(written.digest.clone()));
        Ok(job.finish())
    }
}

impl Job<'_> {
    fn update(&self, change: impl FnOnce(&mut CopyReport)) {
        change(
            &mut self
                .report
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }

    fn finish(self) -> CopyReport {
        self.report
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Copies one manifest read from the source (its blobs or children first, then its
    /// referrers), and returns what was written: the same bytes, or a new index when
    /// platforms are filtered.
    fn copy_manifest(
        &self,
        manifest: Manifest,
        depth: usize,
        nesting: usize,
    ) -> Boxed<'_, Manifest> {
        Box::pin(async move {
            if nesting > MAX_INDEX_NESTING {
                return Err(RegistryError::InvalidManifest {
                    url: format!("{}@{}", self.source.name(), manifest.digest),
                    reason: format!("indexes nested more than {MAX_INDEX_NESTING} deep"),
                });
            }
            let doc: Value = serde_json::from_slice(&manifest.bytes).map_err(|e| {
                RegistryError::InvalidManifest {
                    url: format!("{}@{}", self.source.name(), manifest.digest),
                    reason: format!("not JSON: {e}"),
                }
            })?;
            let written = if let Some(children) = doc.get("manifests").and_then(Value::as_array) {
                self.copy_index(&manifest, &doc, children, depth, nesting)
                    .await?
            } else {
                self.copy_image(&manifest, &doc).await?;
                manifest
            };
            if self.options.referrers {
                self.copy_referrers(&written.digest, depth).await?;
            }
            Ok(written)
        })
    }

    /// An index: each kept child, then the index (the original bytes, or a new index of the
    /// kept children when platforms are filtered).
    async fn copy_index(
        &self,
        manifest: &Manifest,
        doc: &Value,
        children: &[Value],
        depth: usize,
        nesting: usize,
    ) -> Result<Manifest, RegistryError> {
        let mut kept = Vec::new();
        for child in children {
            if !self.wanted(child) {
                continue;
            }
            let digest = child
                .get("digest")
                .and_then(Value::as_str)
                .and_then(|d| Digest::parse(d).ok())
                .ok_or_else(|| RegistryError::InvalidManifest {
                    url: format!("{}@{}", self.source.name(), manifest.digest),
                    reason: "an index entry has no valid `digest`".to_owned(),
                })?;
            if !self.present(&digest).await? {
                let bytes = self
                    .client
                    .fetch_manifest(&self.source.with_digest(digest.clone()))
                    .await?;
                self.copy_manifest(bytes, depth, nesting + 1).await?;
            } else if self.options.referrers {
                self.copy_referrers(&digest, depth).await?;
            }
            kept.push(child.clone());
        }
        let written = if kept.len() == children.len() {
            manifest.clone()
        } else {
            let mut filtered = doc.clone();
            filtered["manifests"] = Value::Array(kept);
            let bytes =
                serde_json::to_vec(&filtered).map_err(|e| RegistryError::InvalidManifest {
                    url: self.source.name(),
                    reason: e.to_string(),
                })?;
            let media_type = if manifest.media_type.is_empty() {
                OCI_INDEX.to_owned()
            } else {
                manifest.media_type.clone()
            };
            Manifest {
                digest: Digest::sha256(&bytes),
                media_type,
                bytes,
            }
        };
        if self.present(&written.digest).await? {
            self.update(|r| r.manifests_present += 1);
        } else {
            self.put(&written).await?;
        }
        Ok(written)
    }

    /// An image manifest: its config and layers (bounded concurrency), then the manifest.
    async fn copy_image(&self, manifest: &Manifest, doc: &Value) -> Result<(), RegistryError> {
        if self.present(&manifest.digest).await? {
            self.update(|r| r.manifests_present += 1);
            return Ok(());
        }
        let mut blobs = Vec::new();
        let descriptors = doc.get("config").into_iter().chain(
            doc.get("layers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for descriptor in descriptors {
            let media_type = descriptor.get("mediaType").and_then(Value::as_str);
            if media_type.is_some_and(|m| FOREIGN_LAYERS.contains(&m)) {
                self.update(|r| r.foreign_layers_skipped += 1);
                continue;
            }
            let digest = descriptor
                .get("digest")
                .and_then(Value::as_str)
                .and_then(|d| Digest::parse(d).ok());
            let size = descriptor.get("size").and_then(Value::as_u64);
            let (Some(digest), Some(size)) = (digest, size) else {
                return Err(RegistryError::InvalidManifest {
                    url: format!("{}@{}", self.source.name(), manifest.digest),
                    reason: "a blob descriptor has no valid `digest` or `size`".to_owned(),
                });
            };
            if !blobs.iter().any(|(d, _)| *d == digest) {
                blobs.push((digest, size));
            }
        }
        // The client's blob slots bound the transfers of every copy together.
        let limit = self.client.options().blob_concurrency.max(1);
        let mut results = futures_util::stream::iter(blobs)
            .map(|(digest, size)| async move {
                let _slot = self.client.blob_slot().await;
                self.copy_blob(&digest, size).await
            })
            .buffer_unordered(limit);
        while let Some(result) = results.next().await {
            match result? {
                BlobCopy::Present => self.update(|r| r.blobs_present += 1),
                BlobCopy::Mounted => self.update(|r| r.blobs_mounted += 1),
                BlobCopy::Uploaded(bytes) => self.update(|r| {
                    r.blobs_uploaded += 1;
                    r.bytes += bytes;
                }),
            }
        }
        self.put(manifest).await
    }

    /// One blob, tried again on failures a retry can mend (a dropped connection, a 5xx
    /// mid-upload); bytes that do not match their digest are not retried.
    async fn copy_blob(&self, digest: &Digest, size: u64) -> Result<BlobCopy, RegistryError> {
        let lock = std::sync::Arc::clone(
            self.blob_locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(digest.clone())
                .or_default(),
        );
        let mut copied = lock.lock().await;
        if *copied {
            return Ok(BlobCopy::Present);
        }
        let outcome = self.copy_blob_retrying(digest, size).await?;
        *copied = true;
        Ok(outcome)
    }

    async fn copy_blob_retrying(
        &self,
        digest: &Digest,
        size: u64,
    ) -> Result<BlobCopy, RegistryError> {
        let retries = self.client.options().max_retries;
        let mut attempt = 0;
        loop {
            match self
                .client
                .copy_blob(&self.source, &self.target, digest, size)
                .await
            {
                Err(error) if attempt < retries && retriable(&error) => {
                    attempt += 1;
                    tracing::debug!(%digest, attempt, "retrying blob copy: {error}");
                    let wait = self.client.options().backoff * (1 << attempt.min(5));
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// Writes a manifest by digest; a referrer the registry does not index itself goes
    /// into the fallback index by the caller.
    async fn put(&self, manifest: &Manifest) -> Result<(), RegistryError> {
        self.client
            .put_manifest(
                &self.target,
                &self.access,
                &manifest.digest.to_string(),
                &manifest.media_type,
                &manifest.bytes,
            )
            .await?;
        self.update(|r| r.manifests_copied += 1);
        self.visited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(manifest.digest.clone());
        Ok(())
    }

    /// Whether the source may have `tag`: listed, or the tags were not listed.
    fn tagged(&self, tag: &str) -> bool {
        self.options
            .source_tags
            .as_ref()
            .is_none_or(|tags| tags.contains(tag))
    }

    /// Whether the target has the manifest (`HEAD` by digest).
    async fn present(&self, digest: &Digest) -> Result<bool, RegistryError> {
        if self
            .visited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(digest)
        {
            return Ok(true);
        }
        Ok(self
            .client
            .tag_digest(&self.target, &self.access, &digest.to_string())
            .await?
            .is_some())
    }

    /// Whether an index entry is one of the listed platforms (every entry without a list).
    fn wanted(&self, child: &Value) -> bool {
        let Some(list) = &self.options.platforms else {
            return true;
        };
        let Some(platform) = child.get("platform") else {
            return false;
        };
        let text = |key: &str| platform.get(key).and_then(Value::as_str).unwrap_or("");
        list.iter().any(|p| {
            p.os() == text("os")
                && p.arch() == text("architecture")
                && p.variant().is_none_or(|variant| variant == text("variant"))
        })
    }

    /// What refers to `subject` in the source, copied when the target lacks it: referrer
    /// manifests (recorded in the target's fallback index when the target does not index
    /// referrers itself) and cosign's legacy tags.
    fn copy_referrers<'s>(&'s self, subject: &'s Digest, depth: usize) -> Boxed<'s, ()> {
        Box::pin(async move {
            if depth >= MAX_REFERRER_DEPTH {
                return Ok(());
            }
            // The referrers and the three legacy tags are independent: looked up at once.
            let referrers = async {
                // Without a referrers API, the referrers are in the fallback tag: a listed
                // repository without that tag has none.
                let untagged = !self.tagged(&fallback_tag(subject));
                let found = self
                    .client
                    .referrers(&self.source, &Access::Pull, subject, untagged)
                    .await?;
                for referrer in found {
                    self.copy_referrer(subject, &referrer, depth).await?;
                }
                Ok::<(), RegistryError>(())
            };
            let legacy = futures_util::future::try_join_all(
                LEGACY_SUFFIXES.map(|suffix| self.copy_legacy_tag(subject, suffix, depth)),
            );
            futures_util::future::try_join(referrers, legacy).await?;
            Ok(())
        })
    }

    async fn copy_referrer(
        &self,
        subject: &Digest,
        referrer: &Referrer,
        depth: usize,
    ) -> Result<(), RegistryError> {
        let indexed_by_target = if self.present(&referrer.digest).await? {
            // Copied before: make sure the target still lists it (its referrers API, or the
            // fallback index read below).
            self.client
                .referrers(&self.target, &self.access, subject, false)
                .await?
                .iter()
                .any(|r| r.digest == referrer.digest)
        } else {
            let manifest = self
                .client
                .fetch_manifest(&self.source.with_digest(referrer.digest.clone()))
                .await?;
            self.copy_manifest(manifest, depth + 1, 0).await?;
            self.update(|r| r.referrers_copied += 1);
            // A registry with the referrers API lists it now; ask rather than trust a header.
            self.client
                .referrers(&self.target, &self.access, subject, false)
                .await?
                .iter()
                .any(|r| r.digest == referrer.digest)
        };
        if !indexed_by_target {
            self.client
                .add_to_fallback_index(&self.target, &self.access, subject, referrer)
                .await?;
        }
        Ok(())
    }

    async fn copy_legacy_tag(
        &self,
        subject: &Digest,
        suffix: &str,
        depth: usize,
    ) -> Result<(), RegistryError> {
        let tag = format!("{}.{suffix}", fallback_tag(subject));
        if !self.tagged(&tag) {
            return Ok(());
        }
        let Some((digest, _)) = self
            .client
            .tag_digest(&self.source, &Access::Pull, &tag)
            .await?
        else {
            return Ok(());
        };
        if let Some((existing, _)) = self
            .client
            .tag_digest(&self.target, &self.access, &tag)
            .await?
        {
            if existing == digest {
                return Ok(());
            }
        }
        let manifest = self
            .client
            .fetch_manifest(&self.source.with_digest(digest))
            .await?;
        let written = self.copy_manifest(manifest, depth + 1, 0).await?;
        self.client
            .put_manifest(
                &self.target,
                &self.access,
                &tag,
                &written.media_type,
                &written.bytes,
            )
            .await?;
        self.update(|r| r.legacy_tags_copied += 1);
        Ok(())
    }
}

/// Failures a second attempt can mend.
fn retriable(error: &RegistryError) -> bool {
    match error {
        RegistryError::Network { .. } => true,
        RegistryError::Upload { status, .. } => *status == 0 || *status >= 500 || *status == 429,
        RegistryError::Http { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}
