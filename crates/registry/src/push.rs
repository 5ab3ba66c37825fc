//! Writing to a registry: a blob mounted from another repository of the same registry or
//! streamed from its source into an upload (one `PUT`, or `PATCH` chunks when configured or
//! when the registry refuses a whole blob), and manifests put by digest or tag.
//! Tokens ask for `pull,push` on the target (and `pull` on the mount source).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use portcullis_reference::{Digest, ImageRef};
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION,
};
use reqwest::{Method, Response, StatusCode, Url};

use crate::auth::sensitive;
use crate::blobs::verified;
use crate::client::{Access, Client};
use crate::error::RegistryError;
use crate::transport::redact_query;

/// What happened to one blob of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobCopy {
    /// The target had it.
    Present,
    /// Mounted from the source repository (same registry): no bytes moved.
    Mounted,
    /// Streamed from the source: this many bytes.
    Uploaded(u64),
}

/// The access a copy into `target` from `source` writes with: a mount source scope when
/// both are on one registry (one token covers the whole copy).
pub(crate) fn target_access(source: &ImageRef, target: &ImageRef) -> Access {
    if source.registry() == target.registry() && source.repository() != target.repository() {
        Access::Mount {
            from: source.repository().to_owned(),
        }
    } else {
        Access::Push
    }
}

/// An upload session the registry opened (`202`), or a mount it did at once (`201`).
pub(crate) enum Started {
    Mounted,
    Upload {
        location: Url,
        start: Url,
        /// `OCI-Chunk-Min-Length`: the least a chunk may be.
        min_chunk: Option<u64>,
    },
}

impl Client {
    /// Copies one blob from `source`'s repository into `target`'s: nothing when the target
    /// has it, a cross-repository mount on one registry (201 mounted, 202 means upload), else
    /// an upload streamed from the source and checked against `digest` and `size` as it
    /// passes (an upload fed bytes that do not match is abandoned, never completed). The
    /// upload is one `PUT`, or chunks when configured or when the registry refused a whole
    /// blob as too large (413): then that blob is sent again in chunks (smaller ones after
    /// each refusal), and every later one to that registry in the size that worked.
    pub(crate) async fn copy_blob(
        &self,
        source: &ImageRef,
        target: &ImageRef,
        digest: &Digest,
        size: u64,
    ) -> Result<BlobCopy, RegistryError> {
        let access = target_access(source, target);
        if self.blob_size(target, digest, &access).await?.is_some() {
            return Ok(BlobCopy::Present);
        }
        let Started::Upload {
            location,
            start,
            min_chunk,
        } = self.start_upload(target, &access, digest).await?
        else {
            return Ok(BlobCopy::Mounted);
        };
        let upload = Upload {
            source,
            target,
            access: &access,
            digest,
            size,
            start: &start,
        };
        let (mut location, mut min_chunk) = (location, min_chunk);
        let mut chunk = self.chunk_bytes(target.registry(), min_chunk);
        loop {
            let sent = match chunk {
                Some(chunk) => self.upload_chunks(&upload, location, chunk).await,
                None => self.upload_whole(&upload, location).await,
            };
            let smaller = smaller_chunk(chunk, min_chunk)
                .filter(|_| self.options().upload_chunk_bytes.is_none());
            match (sent, smaller) {
                (Err(RegistryError::Upload { status: 413, .. }), Some(smaller)) => {
                    tracing::debug!(
                        registry = target.registry(),
                        chunk = smaller,
                        "the registry refused an upload as too large; sending smaller chunks"
                    );
                    self.note_chunk_bytes(target.registry(), smaller);
                    chunk = Some(smaller);
                    // A new upload session: the refused one may hold part of the blob.
                    match self.start_upload(target, &Access::Push, digest).await? {
                        Started::Upload {
                            location: next,
                            min_chunk: least,
                            ..
                        } => (location, min_chunk) = (next, least),
                        Started::Mounted => return Ok(BlobCopy::Mounted),
                    }
                }
                (sent, _) => break sent?,
            }
        }
        self.counters()
            .bytes_written
            .fetch_add(size, Ordering::Relaxed);
        Ok(BlobCopy::Uploaded(size))
    }

    /// `POST …/blobs/uploads/` (with `mount` and `from` for a mount).
    pub(crate) async fn start_upload(
        &self,
        target: &ImageRef,
        access: &Access,
        digest: &Digest,
    ) -> Result<Started, RegistryError> {
        let counters = self.counters();
        let mut start = self.url(target, "blobs/uploads/")?;
        if let Access::Mount { from } = access {
            start
                .query_pairs_mut()
                .append_pair("mount", &digest.to_string())
                .append_pair("from", from);
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        let response = self
            .send_scoped(
                Method::POST,
                target,
                access,
                start.clone(),
                headers,
                Some(Bytes::new()),
                &counters.write_requests,
            )
            .await?;
        match response.status() {
            StatusCode::CREATED if matches!(access, Access::Mount { .. }) => Ok(Started::Mounted),
            StatusCode::ACCEPTED => Ok(Started::Upload {
                location: upload_location(&response, &start)?,
                min_chunk: response
                    .headers()
                    .get("oci-chunk-min-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok()),
                start,
            }),
            _ => Err(refused(response, &start).await),
        }
    }

    /// The chunk size for an upload to `registry`, or `None` for one whole `PUT`.
    fn chunk_bytes(&self, registry: &str, min_chunk: Option<u64>) -> Option<u64> {
        let chunk = self
            .options()
            .upload_chunk_bytes
            .or_else(|| self.preferred_chunk_bytes(registry))?;
        Some(chunk.max(min_chunk.unwrap_or(1)).max(1))
    }

    /// The headers of a write to an upload `url`: the target's credentials only while the
    /// upload stays on the registry's origin.
    async fn upload_headers(
        &self,
        upload: &Upload<'_>,
        url: &Url,
        length: u64,
    ) -> Result<HeaderMap, RegistryError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        if let Some(value) = self.authorization(upload.target, upload.access).await? {
            if url.origin() == upload.start.origin() {
                headers.insert(AUTHORIZATION, sensitive(&value)?);
            }
        }
        Ok(headers)
    }

    /// The source blob, opened and checked as it streams; `failure` holds why it stopped.
    async fn open_verified(
        &self,
        upload: &Upload<'_>,
        failure: &Arc<std::sync::Mutex<Option<crate::blobs::StreamError>>>,
    ) -> Result<
        impl futures_util::Stream<Item = Result<Bytes, crate::blobs::StreamError>>,
        RegistryError,
    > {
        let response = self.open_blob(upload.source, upload.digest).await?;
        Ok(verified(
            response,
            upload.digest.clone(),
            upload.size,
            self.counters(),
            Arc::clone(failure),
        ))
    }

    /// One write of an upload, sent once (a streamed body cannot be sent again) and counted.
    async fn send_upload(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: reqwest::Body,
    ) -> Result<Response, RegistryError> {
        self.counters()
            .write_requests
            .fetch_add(1, Ordering::Relaxed);
        self.transport().send_once(method, url, headers, body).await
    }

    /// One streamed `PUT …?digest=` with the whole blob.
    async fn upload_whole(&self, upload: &Upload<'_>, location: Url) -> Result<(), RegistryError> {
        let failure = Arc::new(std::sync::Mutex::new(None));
        let stream = self.open_verified(upload, &failure).await?;
        let mut put = location;
        put.query_pairs_mut()
            .append_pair("digest", &upload.digest.to_string());
        let headers = self.upload_headers(upload, &put, upload.size).await?;
        let sent = self
            .send_upload(
                Method::PUT,
                put.clone(),
                headers,
                reqwest::Body::wrap_stream(stream),
            )
            .await;
        if let Some(error) = take(&failure) {
            return Err(error.into_registry_error());
        }
        let response = sent?;
        if response.status() != StatusCode::CREATED {
            return Err(refused(response, &put).await);
        }
        Ok(())
    }

    /// `PATCH` after `PATCH` of `chunk` bytes each (`Content-Range`), each streamed from the
    /// one source read, then the closing `PUT …?digest=` with no body. The source's last
    /// bytes are held back until its digest checks out, so a lying source never gets its
    /// upload closed.
    async fn upload_chunks(
        &self,
        upload: &Upload<'_>,
        location: Url,
        chunk: u64,
    ) -> Result<(), RegistryError> {
        let failure = Arc::new(std::sync::Mutex::new(None));
        let stream = self.open_verified(upload, &failure).await?;
        let pieces = Arc::new(tokio::sync::Mutex::new(Pieces {
            stream: Box::pin(stream),
            held: None,
        }));
        let mut url = location;
        let mut offset = 0;
        while offset < upload.size {
            let length = chunk.min(upload.size - offset);
            let mut headers = self.upload_headers(upload, &url, length).await?;
            let range = format!("{}-{}", offset, offset + length - 1);
            headers.insert(
                CONTENT_RANGE,
                HeaderValue::from_str(&range).expect("digits and a dash"),
            );
            let sent = self
                .send_upload(
                    Method::PATCH,
                    url.clone(),
                    headers,
                    reqwest::Body::wrap_stream(take_bytes(Arc::clone(&pieces), length)),
                )
                .await;
            if let Some(error) = take(&failure) {
                return Err(error.into_registry_error());
            }
            let response = sent?;
            if response.status() != StatusCode::ACCEPTED {
                return Err(refused(response, &url).await);
            }
            url = upload_location(&response, &url)?;
            offset += length;
        }
        // Every byte was sent; the stream's end is where its digest is checked.
        if let Some(error) = take(&failure) {
            return Err(error.into_registry_error());
        }
        let mut put = url;
        put.query_pairs_mut()
            .append_pair("digest", &upload.digest.to_string());
        let headers = self.upload_headers(upload, &put, 0).await?;
        let response = self
            .send_upload(Method::PUT, put.clone(), headers, reqwest::Body::from(""))
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(refused(response, &put).await);
        }
        Ok(())
    }

    /// Puts a manifest's exact bytes under `reference` (a digest or a tag) in `target`'s
    /// repository. Returns whether the registry named the manifest's subject back
    /// (`OCI-Subject`: it keeps the referrers list itself).
    pub(crate) async fn put_manifest(
        &self,
        target: &ImageRef,
        access: &Access,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<bool, RegistryError> {
        let url = self.manifest_url(target, reference)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(media_type).map_err(|_| RegistryError::InvalidManifest {
                url: redact_query(&url),
                reason: format!("media type `{media_type}` is not a header value"),
            })?,
        );
        let counters = self.counters();
        let response = self
            .send_scoped(
                Method::PUT,
                target,
                access,
                url.clone(),
                headers,
                Some(Bytes::copy_from_slice(bytes)),
                &counters.write_requests,
            )
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(refused(response, &url).await);
        }
        Ok(response.headers().contains_key("oci-subject"))
    }

    /// The digest `target`'s `reference` (a tag, or a digest) points at now and its media
    /// type (`HEAD`, checked as a resolve checks it), when it exists.
    pub(crate) async fn tag_digest(
        &self,
        target: &ImageRef,
        access: &Access,
        reference: &str,
    ) -> Result<Option<(Digest, String)>, RegistryError> {
        let image = match Digest::parse(reference) {
            Ok(digest) => target.without_digest().with_digest(digest),
            Err(_) => target.without_digest().with_tag(reference),
        };
        match self.head_or_get_as(&image, reference, access).await {
            Ok((resolved, _)) => Ok(Some((resolved.digest, resolved.media_type))),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// The least chunk size tried after refusals: below it, a registry that refuses uploads as
/// too large is misconfigured, and the error says so.
const LEAST_CHUNK_BYTES: u64 = 256 * 1024;

/// The next chunk size to try after the registry refused an upload of `chunk` bytes (or a
/// whole blob) as too large: [`DEFAULT_CHUNK_BYTES`](crate::options::DEFAULT_CHUNK_BYTES),
/// then an eighth each time, never under the registry's minimum or [`LEAST_CHUNK_BYTES`].
fn smaller_chunk(chunk: Option<u64>, min_chunk: Option<u64>) -> Option<u64> {
    let next = match chunk {
        None => crate::options::DEFAULT_CHUNK_BYTES,
        Some(chunk) => chunk / 8,
    };
    (next >= LEAST_CHUNK_BYTES.max(min_chunk.unwrap_or(0))).then_some(next)
}

/// One blob on its way from `source` to `target`.
struct Upload<'a> {
    source: &'a ImageRef,
    target: &'a ImageRef,
    access: &'a Access,
    digest: &'a Digest,
    size: u64,
    /// Where the upload was opened: credentials go only to its origin.
    start: &'a Url,
}

type Checked = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<Bytes, crate::blobs::StreamError>> + Send>,
>;

/// The one source read a chunked upload cuts into chunks.
struct Pieces {
    stream: Checked,
    /// What was read past the end of the previous chunk.
    held: Option<Bytes>,
}

/// The next `length` bytes of `pieces`, as a request body.
fn take_bytes(
    pieces: Arc<tokio::sync::Mutex<Pieces>>,
    length: u64,
) -> impl futures_util::Stream<Item = Result<Bytes, crate::blobs::StreamError>> + Send + 'static {
    futures_util::stream::try_unfold((pieces, length), |(pieces, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let mut guard = pieces.lock().await;
        let mut piece = match guard.held.take() {
            Some(piece) => piece,
            None => match guard.stream.next().await {
                Some(piece) => piece?,
                // The checked stream fails on a short source before it ends.
                None => return Ok(None),
            },
        };
        if piece.len() as u64 > left {
            guard.held = Some(piece.split_off(left as usize));
        }
        drop(guard);
        let left = left - piece.len() as u64;
        Ok(Some((piece, (pieces, left))))
    })
}

fn take(
    failure: &std::sync::Mutex<Option<crate::blobs::StreamError>>,
) -> Option<crate::blobs::StreamError> {
    failure
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// The upload URL a `202` names, resolved against the request.
fn upload_location(response: &Response, start: &Url) -> Result<Url, RegistryError> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RegistryError::Upload {
            url: redact_query(start),
            status: 202,
            detail: ": no `Location` for the upload".to_owned(),
        })?;
    start.join(location).map_err(|_| RegistryError::Upload {
        url: redact_query(start),
        status: 202,
        detail: format!(": unusable `Location` `{location}`"),
    })
}

/// An upload the registry did not accept, with the start of its error body.
pub(crate) async fn refused(response: Response, url: &Url) -> RegistryError {
    let status = response.status().as_u16();
    if status == 401 {
        return RegistryError::Unauthorized {
            registry: url.host_str().unwrap_or_default().to_owned(),
        };
    }
    let body = crate::transport::read_capped(response, url, 4096)
        .await
        .unwrap_or_default();
    let text: String = String::from_utf8_lossy(&body)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    RegistryError::Upload {
        url: redact_query(url),
        status,
        detail: if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_uploads_step_down_to_a_floor() {
        let mib = 1024 * 1024;
        assert_eq!(smaller_chunk(None, None), Some(32 * mib));
        assert_eq!(smaller_chunk(Some(32 * mib), None), Some(4 * mib));
        assert_eq!(smaller_chunk(Some(4 * mib), None), Some(512 * 1024));
        assert_eq!(smaller_chunk(Some(512 * 1024), None), None);
        // Never under what the registry asks for.
        assert_eq!(smaller_chunk(Some(32 * mib), Some(8 * mib)), None);
    }
}
