//! Writing to a registry: a blob mounted from another repository of the same registry or
//! streamed from its source into a monolithic upload, and manifests put by digest or tag.
//! Tokens ask for `pull,push` on the target (and `pull` on the mount source).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use portcullis_reference::{Digest, ImageRef};
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
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

impl Client {
    /// Copies one blob from `source`'s repository into `target`'s: nothing when the target
    /// has it, a cross-repository mount on one registry (201 mounted, 202 means upload), else
    /// a monolithic upload streamed from the source and checked against `digest` and `size`
    /// as it passes (an upload fed bytes that do not match is abandoned, never completed).
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
        let counters = self.counters();
        let mut start = self.url(target, "blobs/uploads/")?;
        if let Access::Mount { from } = &access {
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
                &access,
                start.clone(),
                headers,
                Some(Bytes::new()),
                &counters.write_requests,
            )
            .await?;
        let location = match response.status() {
            StatusCode::CREATED if matches!(access, Access::Mount { .. }) => {
                return Ok(BlobCopy::Mounted)
            }
            StatusCode::ACCEPTED => upload_location(&response, &start)?,
            _ => return Err(refused(response, &start).await),
        };
        let source_response = self.open_blob(source, digest).await?;
        let failure = Arc::new(std::sync::Mutex::new(None));
        let stream = verified(
            source_response,
            digest.clone(),
            size,
            Arc::clone(&counters),
            Arc::clone(&failure),
        );
        let mut put = location;
        put.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
        if let Some(value) = self.authorization(target, &access).await? {
            // Upload locations stay on the registry's origin; anything else gets no
            // credentials.
            if put.origin() == start.origin() {
                headers.insert(AUTHORIZATION, sensitive(&value)?);
            }
        }
        counters.write_requests.fetch_add(1, Ordering::Relaxed);
        let sent = self
            .transport()
            .send_once(
                Method::PUT,
                put.clone(),
                headers,
                reqwest::Body::wrap_stream(stream),
            )
            .await;
        if let Some(error) = failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            return Err(error.into_registry_error());
        }
        let response = sent?;
        if response.status() != StatusCode::CREATED {
            return Err(refused(response, &put).await);
        }
        counters.bytes_written.fetch_add(size, Ordering::Relaxed);
        Ok(BlobCopy::Uploaded(size))
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
async fn refused(response: Response, url: &Url) -> RegistryError {
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
