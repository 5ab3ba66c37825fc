//! Small artifacts written and read whole: signatures, attestations and the manifests that
//! attach them to an image. A blob pushed from memory (one `POST`, one `PUT`), a manifest
//! put by digest or tag, a blob read into memory under a size cap and checked against its
//! digest, the referrers of a manifest filtered by artifact type, and an entry added to a
//! fallback tag index. Everything an image's signing and its signature discovery need
//! beyond the copy engine.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;
use portcullis_reference::{Digest, ImageRef};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use crate::blobs::verified;
use crate::client::{Access, Client};
use crate::error::RegistryError;
use crate::push::{refused, Started};
use crate::referrers::Referrer;
use crate::transport::redact_query;

/// A manifest the registry accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    /// The sha256 digest of the bytes put.
    pub digest: Digest,
    /// Their length.
    pub size: u64,
    /// The registry answered with `OCI-Subject`: it has the referrers API and lists the
    /// manifest among its subject's referrers itself (no fallback index needed).
    pub subject_indexed: bool,
}

impl Client {
    /// Pushes `bytes` as a blob into `target`'s repository (nothing when it is there
    /// already) and returns its sha256 digest. For small artifacts held in memory; layers
    /// are copied as streams by [`Client::copy`].
    pub async fn push_blob(
        &self,
        target: &ImageRef,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::sha256(bytes);
        let access = Access::Push;
        if self.blob_size(target, &digest, &access).await?.is_some() {
            return Ok(digest);
        }
        let Started::Upload {
            location, start, ..
        } = self.start_upload(target, &access, &digest).await?
        else {
            return Ok(digest);
        };
        let mut put = location;
        put.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        let counters = self.counters();
        let body = Bytes::copy_from_slice(bytes);
        // Credentials go only to the registry's own origin, never to an upload elsewhere.
        let response = if put.origin() == start.origin() {
            self.send_scoped(
                Method::PUT,
                target,
                &access,
                put.clone(),
                headers,
                Some(body),
                &counters.write_requests,
            )
            .await?
        } else {
            counters
                .write_requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.transport()
                .send_once(Method::PUT, put.clone(), headers, reqwest::Body::from(body))
                .await?
        };
        if response.status() != StatusCode::CREATED {
            return Err(refused(response, &put).await);
        }
        Ok(digest)
    }

    /// Puts a manifest's exact bytes into `target`'s repository, under `tag` when given,
    /// else by its digest.
    pub async fn push_manifest(
        &self,
        target: &ImageRef,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<PushedManifest, RegistryError> {
        let digest = Digest::sha256(bytes);
        let reference = tag.map_or_else(|| digest.to_string(), str::to_owned);
        let subject_indexed = self
            .put_manifest(target, &Access::Push, &reference, media_type, bytes)
            .await?;
        Ok(PushedManifest {
            digest,
            size: bytes.len() as u64,
            subject_indexed,
        })
    }

    /// Reads the blob `digest` of `image`'s repository into memory: refused before a byte is
    /// read when its descriptor's `size` is over `limit`, and refused while reading when
    /// the registry sends more or fewer than `size` bytes or bytes that do not hash to
    /// `digest`. A hostile registry cannot make this read more than `size` bytes.
    pub async fn fetch_blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
        size: u64,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        if size > limit {
            let url = self.url(image, &format!("blobs/{digest}"))?;
            return Err(RegistryError::TooLarge {
                url: redact_query(&url),
                limit,
            });
        }
        let response = self.open_blob(image, digest).await?;
        let failure = Arc::new(std::sync::Mutex::new(None));
        let stream = verified(
            response,
            digest.clone(),
            size,
            self.counters(),
            Arc::clone(&failure),
        );
        let mut stream = std::pin::pin!(stream);
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(piece) => bytes.extend_from_slice(&piece),
                Err(error) => {
                    let seen = failure
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take();
                    return Err(seen.unwrap_or(error).into_registry_error());
                }
            }
        }
        Ok(bytes)
    }

    /// The referrers of `subject` in `image`'s repository (the referrers API, else the
    /// fallback tag index), only those whose `artifactType` is `artifact_type` when given.
    /// Entries come as listed: a hostile index may name one manifest many times.
    pub async fn referrers_of(
        &self,
        image: &ImageRef,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>, RegistryError> {
        let listed = self.referrers(image, &Access::Pull, subject, false).await?;
        Ok(listed
            .into_iter()
            .filter(|referrer| {
                artifact_type.is_none_or(|wanted| referrer.artifact_type() == Some(wanted))
            })
            .collect())
    }

    /// Adds `referrer` to the fallback tag index of `subject` in `target`'s repository, for
    /// a registry without the referrers API: the index is read, the entry added when it is
    /// not listed yet, and written back; entries already there are kept with their
    /// annotations. Returns whether the index changed.
    pub async fn add_fallback_referrer(
        &self,
        target: &ImageRef,
        subject: &Digest,
        referrer: &Referrer,
    ) -> Result<bool, RegistryError> {
        self.add_to_fallback_index(target, &Access::Push, subject, referrer)
            .await
    }
}
