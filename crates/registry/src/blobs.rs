//! Blobs: whether a repository has one, and its bytes as a stream that is checked against
//! the digest and size it was asked for as it arrives, so a copy never holds a layer in
//! memory and never hands on bytes that do not match.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use portcullis_reference::{Algorithm, Digest, ImageRef};
use reqwest::header::{HeaderMap, CONTENT_LENGTH};
use reqwest::{Method, StatusCode};
use sha2::Digest as _;

use crate::client::{check_status, Access, Client};
use crate::error::RegistryError;
use crate::transport::{redact_query, Counters};

/// An incremental hash with the digest's algorithm.
enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Why a blob's bytes were refused while streaming.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    #[error("`{digest}`: more than the {size} bytes its descriptor gives")]
    TooLong { digest: String, size: u64 },
    #[error("`{digest}`: {got} bytes, not the {size} its descriptor gives")]
    TooShort { digest: String, size: u64, got: u64 },
    #[error("digest mismatch: expected `{expected}`, got `{actual}`")]
    Mismatch { expected: String, actual: String },
    #[error("reading `{url}`: {reason}")]
    Read { url: String, reason: String },
}

impl StreamError {
    /// The registry error a failed copy reports: bytes that lie are a digest mismatch, a
    /// length that differs from the descriptor a size mismatch.
    pub(crate) fn into_registry_error(self) -> RegistryError {
        match self {
            StreamError::Mismatch { expected, actual } => {
                RegistryError::DigestMismatch { expected, actual }
            }
            StreamError::Read { url, reason } => RegistryError::Upload {
                url,
                status: 0,
                detail: format!(": the source stopped: {reason}"),
            },
            StreamError::TooLong { ref digest, .. } | StreamError::TooShort { ref digest, .. } => {
                RegistryError::SizeMismatch {
                    digest: digest.clone(),
                    detail: self.to_string(),
                }
            }
        }
    }
}

/// The bytes of `response`, checked as they pass: never more than `size`, and exactly
/// `size` bytes hashing to `digest`, else the stream ends in an error. The last chunk is
/// held back until the whole blob is verified, so an upload fed by this stream never
/// receives all its bytes when they do not match: it is abandoned, never completed. `seen`
/// records the first failure for the caller.
pub(crate) fn verified(
    response: reqwest::Response,
    digest: Digest,
    size: u64,
    counters: Arc<Counters>,
    seen: Arc<std::sync::Mutex<Option<StreamError>>>,
) -> impl Stream<Item = Result<Bytes, StreamError>> + Send + 'static {
    let url = redact_query(response.url());
    let state = Check {
        body: response.bytes_stream().boxed(),
        hasher: Some(Hasher::new(digest.algorithm())),
        got: 0,
        held: None,
    };
    futures_util::stream::try_unfold(state, move |mut check| {
        let (digest, url, counters, seen) = (
            digest.clone(),
            url.clone(),
            Arc::clone(&counters),
            Arc::clone(&seen),
        );
        async move {
            let fail = |error: StreamError| {
                let text = error.to_string();
                *seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
                StreamError::Read {
                    url: url.clone(),
                    reason: text,
                }
            };
            loop {
                let Some(hasher) = check.hasher.as_mut() else {
                    return Ok(None);
                };
                match check.body.next().await {
                    Some(Ok(chunk)) => {
                        check.got += chunk.len() as u64;
                        if check.got > size {
                            return Err(fail(StreamError::TooLong {
                                digest: digest.to_string(),
                                size,
                            }));
                        }
                        hasher.update(&chunk);
                        counters
                            .bytes_read
                            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        if let Some(previous) = check.held.replace(chunk) {
                            return Ok(Some((previous, check)));
                        }
                    }
                    Some(Err(error)) => {
                        return Err(fail(StreamError::Read {
                            url: url.clone(),
                            reason: error.without_url().to_string(),
                        }))
                    }
                    None => {
                        if check.got != size {
                            return Err(fail(StreamError::TooShort {
                                digest: digest.to_string(),
                                size,
                                got: check.got,
                            }));
                        }
                        let hex = check.hasher.take().map(Hasher::finish).unwrap_or_default();
                        let actual = format!("{}:{hex}", digest.algorithm().as_str());
                        if actual != digest.to_string() {
                            return Err(fail(StreamError::Mismatch {
                                expected: digest.to_string(),
                                actual,
                            }));
                        }
                        return Ok(check.held.take().map(|last| (last, check)));
                    }
                }
            }
        }
    })
}

/// The state of [`verified`]: the body, the running hash (taken at the end), the bytes
/// seen, and the chunk held back.
struct Check {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    hasher: Option<Hasher>,
    got: u64,
    held: Option<Bytes>,
}

impl Client {
    /// The blob's size when `image`'s repository has it (`HEAD`), with `access` as the
    /// token scope (a copy asks with the scope it writes with: one token per repository).
    pub(crate) async fn blob_size(
        &self,
        image: &ImageRef,
        digest: &Digest,
        access: &Access,
    ) -> Result<Option<u64>, RegistryError> {
        let url = self.url(image, &format!("blobs/{digest}"))?;
        let counters = self.counters();
        let response = self
            .send_scoped(
                Method::HEAD,
                image,
                access,
                url.clone(),
                HeaderMap::new(),
                None,
                &counters.blob_requests,
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check_status(response, image, &url)?;
        Ok(Some(
            response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ))
    }

    /// `GET`s a blob for streaming (redirects to object storage followed without
    /// credentials); the caller reads it through [`verified`].
    pub(crate) async fn open_blob(
        &self,
        image: &ImageRef,
        digest: &Digest,
    ) -> Result<reqwest::Response, RegistryError> {
        let url = self.url(image, &format!("blobs/{digest}"))?;
        let counters = self.counters();
        let response = self
            .send_streamed_authed(image, url.clone(), &counters.blob_requests)
            .await?;
        check_status(response, image, &url)
    }
}
