//! What refers to a manifest: the OCI 1.1 referrers API, its `sha256-<hex>` fallback tag
//! index for registries without it, and cosign's legacy `sha256-<hex>.sig`, `.att` and
//! `.sbom` tags; and keeping the fallback index of a target up to date.

use portcullis_reference::{Digest, ImageRef};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::client::{check_status, content_type, Access, Client};
use crate::error::RegistryError;
use crate::manifest::{MAX_MANIFEST_BYTES, OCI_INDEX};
use crate::transport::{read_capped, redact_query};

/// The suffixes of cosign's legacy tags next to `sha256-<hex>`.
pub const LEGACY_SUFFIXES: [&str; 3] = ["sig", "att", "sbom"];

/// One manifest that refers to another: its descriptor as a referrers index lists it
/// (media type, digest, size, artifact type, annotations).
#[derive(Debug, Clone, PartialEq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    /// The descriptor as listed, kept whole for the target's fallback index.
    pub descriptor: Map<String, Value>,
}

impl Referrer {
    /// The descriptor of a manifest that refers to another, as a referrers index lists it:
    /// its media type, digest, size, `artifactType` and annotations.
    #[must_use]
    pub fn new(
        digest: Digest,
        media_type: &str,
        size: u64,
        artifact_type: &str,
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Self {
        let mut descriptor = Map::new();
        descriptor.insert("mediaType".into(), Value::from(media_type));
        descriptor.insert("digest".into(), Value::from(digest.to_string()));
        descriptor.insert("size".into(), Value::from(size));
        descriptor.insert("artifactType".into(), Value::from(artifact_type));
        if !annotations.is_empty() {
            descriptor.insert(
                "annotations".into(),
                Value::Object(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                        .collect(),
                ),
            );
        }
        Self {
            digest,
            media_type: media_type.to_owned(),
            descriptor,
        }
    }

    /// The listed `artifactType`, when there is one.
    #[must_use]
    pub fn artifact_type(&self) -> Option<&str> {
        self.descriptor.get("artifactType").and_then(Value::as_str)
    }

    /// The listed size (0 when the entry gives none).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.descriptor
            .get("size")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// The listed annotations whose values are strings.
    #[must_use]
    pub fn annotations(&self) -> std::collections::BTreeMap<String, String> {
        self.descriptor
            .get("annotations")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The tag a registry without the referrers API lists `digest`'s referrers under.
#[must_use]
pub fn fallback_tag(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm().as_str(), digest.hex())
}

impl Client {
    /// The referrers of `digest` in `image`'s repository: from the referrers API when the
    /// registry has it, else from the fallback tag index (none when neither exists).
    /// `no_fallback_tag`: the repository's tag list shows no fallback tag, so a registry
    /// without the API has no referrers for `digest` and is not asked again.
    pub(crate) async fn referrers(
        &self,
        image: &ImageRef,
        access: &Access,
        digest: &Digest,
        no_fallback_tag: bool,
    ) -> Result<Vec<Referrer>, RegistryError> {
        let url = self.url(image, &format!("referrers/{digest}"))?;
        let slot = self.referrers_api(image.registry());
        // Held while the first copy asks a registry whose API is not known yet.
        let mut asking = Some(slot.lock().await);
        let known = asking.as_deref().copied().flatten();
        if known.is_some() {
            asking = None;
        }
        let from_api = if known == Some(false) {
            None
        } else {
            let response = self.get_index(image, access, url.clone()).await?;
            let indexed =
                response.status() == StatusCode::OK && content_type(&response) == OCI_INDEX;
            if let Some(mut state) = asking.take() {
                if indexed {
                    *state = Some(true);
                } else if response.status() == StatusCode::NOT_FOUND {
                    *state = Some(false);
                }
            }
            if indexed {
                Some(read_capped(response, &url, MAX_MANIFEST_BYTES).await?)
            } else {
                None
            }
        };
        let bytes = match from_api {
            Some(bytes) => bytes,
            None if no_fallback_tag => return Ok(Vec::new()),
            // No referrers API (404, or a page that is not an index): the fallback tag.
            None => match self.fallback_index(image, access, digest).await? {
                Some(bytes) => bytes,
                None => return Ok(Vec::new()),
            },
        };
        parse_index(&bytes).map_err(|reason| RegistryError::InvalidManifest {
            url: redact_query(&url),
            reason,
        })
    }

    /// The fallback tag index's bytes in `image`'s repository, when it exists.
    pub(crate) async fn fallback_index(
        &self,
        image: &ImageRef,
        access: &Access,
        digest: &Digest,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let tag = fallback_tag(digest);
        let url = self.manifest_url(image, &tag)?;
        let response = self.get_index(image, access, url.clone()).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check_status(response, image, &url)?;
        Ok(Some(read_capped(response, &url, MAX_MANIFEST_BYTES).await?))
    }

    /// `GET url` asking for an OCI index (a referrers list or a fallback tag index).
    async fn get_index(
        &self,
        image: &ImageRef,
        access: &Access,
        url: reqwest::Url,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(OCI_INDEX));
        let counters = self.counters();
        self.send_scoped(
            Method::GET,
            image,
            access,
            url,
            headers,
            None,
            &counters.manifest_requests,
        )
        .await
    }

    /// Adds `referrer` to the fallback tag index of `subject` in `target`'s repository
    /// (read, add when missing, write): entries already there, with their annotations, are
    /// kept.
    pub(crate) async fn add_to_fallback_index(
        &self,
        target: &ImageRef,
        access: &Access,
        subject: &Digest,
        referrer: &Referrer,
    ) -> Result<bool, RegistryError> {
        let existing = self.fallback_index(target, access, subject).await?;
        let mut index: Map<String, Value> = if let Some(bytes) = &existing {
            serde_json::from_slice(bytes).map_err(|e| RegistryError::InvalidManifest {
                url: fallback_tag(subject),
                reason: format!("the fallback index is not JSON: {e}"),
            })?
        } else {
            let mut fresh = Map::new();
            fresh.insert("schemaVersion".into(), Value::from(2));
            fresh.insert("mediaType".into(), Value::from(OCI_INDEX));
            fresh.insert("manifests".into(), Value::Array(Vec::new()));
            fresh
        };
        let manifests = index
            .entry("manifests")
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(list) = manifests else {
            return Err(RegistryError::InvalidManifest {
                url: fallback_tag(subject),
                reason: "the fallback index's `manifests` is not a list".to_owned(),
            });
        };
        let wanted = referrer.digest.to_string();
        if list
            .iter()
            .any(|entry| entry.get("digest").and_then(Value::as_str) == Some(wanted.as_str()))
        {
            return Ok(false);
        }
        list.push(Value::Object(referrer.descriptor.clone()));
        let bytes = serde_json::to_vec(&index).map_err(|e| RegistryError::InvalidManifest {
            url: fallback_tag(subject),
            reason: e.to_string(),
        })?;
        self.put_manifest(target, access, &fallback_tag(subject), OCI_INDEX, &bytes)
            .await?;
        Ok(true)
    }
}

/// The descriptors of a referrers index (or fallback index).
pub(crate) fn parse_index(bytes: &[u8]) -> Result<Vec<Referrer>, String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the referrers index is not JSON: {e}"))?;
    let Some(list) = value.get("manifests").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in list {
        let Some(object) = entry.as_object() else {
            return Err("a referrers entry is not an object".to_owned());
        };
        let digest = object
            .get("digest")
            .and_then(Value::as_str)
            .ok_or("a referrers entry has no `digest`")?;
        let digest = Digest::parse(digest).map_err(|e| format!("referrers entry: {e}"))?;
        let media_type = object
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        out.push(Referrer {
            digest,
            media_type,
            descriptor: object.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tags_name_the_algorithm_and_hex() {
        let digest = Digest::sha256(b"x");
        assert_eq!(fallback_tag(&digest), format!("sha256-{}", digest.hex()));
    }

    #[test]
    fn referrers_index_entries_are_kept_whole() {
        let digest = Digest::sha256(b"sig");
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":12,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","annotations":{{"a":"b"}}}}]}}"#
        );
        let found = parse_index(index.as_bytes()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].digest, digest);
        assert_eq!(found[0].descriptor["annotations"]["a"], "b");
        assert!(parse_index(b"{\"manifests\":[{\"size\":1}]}").is_err());
        assert!(parse_index(b"{}").unwrap().is_empty());
    }
}
