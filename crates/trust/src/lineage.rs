//! What an image was built from and when, as `stale` needs it: the image resolved now, its
//! build time (the `org.opencontainers.image.created` annotation, else the config's
//! `created`), and its base images — from the manifest's
//! `org.opencontainers.image.base.name`/`.digest` annotations (an index's own, else its
//! first platform child's), else from a SLSA provenance attestation attached to it
//! (`resolvedDependencies` of v1, `materials` of v0.2, in a bundle referrer or the legacy
//! `.att` tag), else unknown. Then each base's tag is resolved now with one `HEAD`.
//!
//! Provenance is read, not verified: it only says where to look for a newer base, and a
//! forged one can at worst ask for a rebuild that is not needed.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{Client, RegistryError};
use serde::Deserialize;
use serde_json::Value;

use crate::oci::{discover, BundleContent, DiscoveryLimits, OciError};
use crate::statement::SLSA_PROVENANCE_V1;

/// Annotation: when the image was built (RFC 3339).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Annotation: the base image's reference.
pub const ANNOTATION_BASE_NAME: &str = "org.opencontainers.image.base.name";
/// Annotation: the base image's digest.
pub const ANNOTATION_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
/// SLSA provenance v0.2, as `BuildKit` and older builders write it.
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";

/// Image configs read for their `created` time are refused above this.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// A base image as the image records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedBase {
    /// The base's name, with its tag when recorded.
    pub name: ImageRef,
    /// The digest the image was built on.
    pub digest: Digest,
}

/// Where the bases were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseSource {
    /// The manifest's (or index's) `org.opencontainers.image.base.*` annotations.
    Annotations,
    /// A SLSA provenance attestation attached to the image.
    Provenance,
    /// Neither says.
    Unknown,
}

/// What one image was built from and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The digest the reference resolves to now (the index's, for a multi-platform image).
    pub digest: Digest,
    /// When it was built.
    pub created: Option<jiff::Timestamp>,
    pub bases: Vec<RecordedBase>,
    pub source: BaseSource,
}

/// An image's lineage could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// The registry failed or refused.
    #[error("cannot read {what} of `{image}`")]
    Registry {
        what: &'static str,
        image: String,
        #[source]
        source: RegistryError,
    },
    /// The manifest or config is not what an image has.
    #[error("`{image}`: {reason}")]
    Invalid { image: String, reason: String },
    /// Its attestations could not be listed or read.
    #[error("cannot read the attestations of `{image}`")]
    Attestations {
        image: String,
        #[source]
        source: OciError,
    },
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    manifests: Vec<RawDescriptor>,
    config: Option<RawDescriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    created: Option<String>,
}

/// Reads `image`'s digest now, its build time and its bases.
pub async fn read(client: &Client, image: &ImageRef) -> Result<Lineage, LineageError> {
    let name = image.to_string();
    let registry = |what: &'static str| {
        let name = name.clone();
        move |source| LineageError::Registry {
            what,
            image: name,
            source,
        }
    };
    let invalid = |reason: String| LineageError::Invalid {
        image: name.clone(),
        reason,
    };
    let top = client
        .fetch_manifest(image)
        .await
        .map_err(registry("the manifest"))?;
    let digest = top.digest.clone();
    let raw: RawManifest = serde_json::from_slice(&top.bytes)
        .map_err(|e| invalid(format!("the manifest is not JSON: {e}")))?;
    let repository = image.without_digest().without_tag();
    // An index: its own annotations, else its first platform child's; the config of that
    // child gives the build time.
    let (annotations, config) = if raw.manifests.is_empty() {
        (raw.annotations, raw.config)
    } else {
        let child = raw
            .manifests
            .iter()
            .find(|child| {
                child
                    .platform
                    .as_ref()
                    .is_some_and(|p| p.os != "unknown" && p.architecture != "unknown")
            })
            .or_else(|| raw.manifests.first())
            .ok_or_else(|| invalid("an index without manifests".to_owned()))?;
        let child_digest = Digest::parse(&child.digest)
            .map_err(|e| invalid(format!("index child `{}`: {e}", child.digest)))?;
        let manifest = client
            .fetch_manifest(&repository.with_digest(child_digest))
            .await
            .map_err(registry("a platform manifest"))?;
        let child_raw: RawManifest = serde_json::from_slice(&manifest.bytes)
            .map_err(|e| invalid(format!("a platform manifest is not JSON: {e}")))?;
        let mut annotations = child_raw.annotations;
        // The index's own annotations win over the child's.
        annotations.extend(raw.annotations);
        (annotations, child_raw.config)
    };
    let mut created = annotations
        .get(ANNOTATION_CREATED)
        .and_then(|text| text.parse::<jiff::Timestamp>().ok());
    if created.is_none() {
        if let Some(config) = config {
            let config_digest = Digest::parse(&config.digest)
                .map_err(|e| invalid(format!("config `{}`: {e}", config.digest)))?;
            let bytes = client
                .fetch_blob(&repository, &config_digest, config.size, MAX_CONFIG_BYTES)
                .await
                .map_err(registry("the image config"))?;
            let config: RawConfig = serde_json::from_slice(&bytes)
                .map_err(|e| invalid(format!("the image config is not JSON: {e}")))?;
            created = config.created.and_then(|text| text.parse().ok());
        }
    }
    if let Some(base) = annotated_base(&annotations) {
        return Ok(Lineage {
            digest,
            created,
            bases: vec![base],
            source: BaseSource::Annotations,
        });
    }
    let bases = provenance(client, &repository.with_digest(digest.clone()), &digest).await?;
    let source = if bases.is_empty() {
        BaseSource::Unknown
    } else {
        BaseSource::Provenance
    };
    Ok(Lineage {
        digest,
        created,
        bases,
        source,
    })
}

/// The bases the first SLSA provenance attached to `image` (by digest) names.
async fn provenance(
    client: &Client,
    image: &ImageRef,
    digest: &Digest,
) -> Result<Vec<RecordedBase>, LineageError> {
    let found = discover(client, image, DiscoveryLimits::default())
        .await
        .map_err(|source| LineageError::Attestations {
            image: image.to_string(),
            source,
        })?;
    let mut statements: Vec<Vec<u8>> = found
        .bundles
        .iter()
        .filter_map(|bundle| match &bundle.bundle.content {
            BundleContent::Dsse { payload, .. } => Some(payload.clone()),
            BundleContent::MessageSignature { .. } => None,
        })
        .collect();
    statements.extend(
        found
            .legacy
            .iter()
            .filter_map(|legacy| envelope_payload(&legacy.entry.payload)),
    );
    Ok(statements
        .iter()
        .find_map(|statement| provenance_bases(statement, digest))
        .unwrap_or_default())
}

/// Where `base`'s tag points now: `None` when it names no tag (a digest cannot move).
pub async fn base_now(client: &Client, base: &ImageRef) -> Result<Option<Digest>, RegistryError> {
    if base.tag().is_none() {
        return Ok(None);
    }
    let resolved = client.resolve_digest(&base.without_digest()).await?;
    Ok(Some(resolved.digest))
}

/// The base the annotations name, when they name both its reference and digest.
fn annotated_base(annotations: &BTreeMap<String, String>) -> Option<RecordedBase> {
    let name = ImageRef::parse(annotations.get(ANNOTATION_BASE_NAME)?).ok()?;
    let digest = Digest::parse(annotations.get(ANNOTATION_BASE_DIGEST)?).ok()?;
    Some(RecordedBase {
        name: name.without_digest(),
        digest,
    })
}

/// The decoded payload of a DSSE envelope's JSON.
fn envelope_payload(envelope: &[u8]) -> Option<Vec<u8>> {
    let envelope: Value = serde_json::from_slice(envelope).ok()?;
    STANDARD.decode(envelope.get("payload")?.as_str()?).ok()
}

/// The container images a SLSA provenance statement about `subject` lists as resolved
/// dependencies (v1) or materials (v0.2); `None` when `statement` is not such a statement.
#[must_use]
pub fn provenance_bases(statement: &[u8], subject: &Digest) -> Option<Vec<RecordedBase>> {
    let statement: Value = serde_json::from_slice(statement).ok()?;
    let names_subject = statement.get("subject")?.as_array()?.iter().any(|s| {
        s.get("digest")
            .and_then(|d| d.get(subject.algorithm().as_str()))
            .and_then(Value::as_str)
            == Some(subject.hex())
    });
    if !names_subject {
        return None;
    }
    let predicate = statement.get("predicate")?;
    let dependencies = match statement.get("predicateType")?.as_str()? {
        SLSA_PROVENANCE_V1 => predicate
            .get("buildDefinition")?
            .get("resolvedDependencies")?,
        SLSA_PROVENANCE_V02 => predicate.get("materials")?,
        _ => return None,
    };
    let bases: Vec<RecordedBase> = dependencies
        .as_array()?
        .iter()
        .filter_map(dependency_image)
        .collect();
    Some(bases)
}

/// A dependency that is a container image: a `name` or `uri` naming one (`pkg:docker/…`
/// package URLs, `docker-image://…`, or a plain reference) and a `sha256` digest.
fn dependency_image(dependency: &Value) -> Option<RecordedBase> {
    let hex = dependency.get("digest")?.get("sha256")?.as_str()?;
    let digest = Digest::parse(&format!("sha256:{hex}")).ok()?;
    let text = dependency
        .get("uri")
        .and_then(Value::as_str)
        .or_else(|| dependency.get("name").and_then(Value::as_str))?;
    let reference = if let Some(purl) = text.strip_prefix("pkg:docker/") {
        docker_purl(purl)
    } else if let Some(rest) = text.strip_prefix("docker-image://") {
        rest.to_owned()
    } else if text.contains("://") || text.starts_with("git+") || text.starts_with("pkg:") {
        return None;
    } else {
        text.to_owned()
    };
    let name = ImageRef::parse(&reference).ok()?.without_digest();
    Some(RecordedBase { name, digest })
}

/// `alpine@3.20?platform=linux%2Famd64` (a `pkg:docker/` package URL's rest) → `alpine:3.20`.
fn docker_purl(purl: &str) -> String {
    let (path, query) = purl.split_once('?').unwrap_or((purl, ""));
    let (name, version) = path.rsplit_once('@').unwrap_or((path, ""));
    let name = name.replace("%2F", "/").replace("%2f", "/");
    let registry = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("repository_url="))
        .map(|url| url.replace("%2F", "/").replace("%2f", "/"));
    let name = match registry {
        Some(url) if !name.starts_with(url.as_str()) => format!("{url}/{name}"),
        _ => name,
    };
    if version.is_empty() || version.starts_with("sha256:") || version.starts_with("sha256%3A") {
        return name;
    }
    format!("{name}:{version}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const SUBJECT: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn hex(digest: &str) -> &str {
        digest.strip_prefix("sha256:").unwrap()
    }

    #[test]
    fn annotations_name_the_base_only_with_both_keys() {
        let mut annotations = BTreeMap::from([(
            ANNOTATION_BASE_NAME.to_owned(),
            "docker.io/library/alpine:3.20".to_owned(),
        )]);
        assert_eq!(annotated_base(&annotations), None);
        annotations.insert(ANNOTATION_BASE_DIGEST.to_owned(), BASE.to_owned());
        let base = annotated_base(&annotations).unwrap();
        assert_eq!(base.name.to_string(), "docker.io/library/alpine:3.20");
        assert_eq!(base.digest.to_string(), BASE);
    }

    #[test]
    fn provenance_v1_lists_image_dependencies_and_skips_the_source() {
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "registry.example.com/acme/app", "digest": {"sha256": hex(SUBJECT)}}],
            "predicateType": SLSA_PROVENANCE_V1,
            "predicate": {"buildDefinition": {"buildType": "x", "externalParameters": {},
                "resolvedDependencies": [
                    {"uri": "git+https://github.com/acme/app@refs/heads/main", "digest": {"gitCommit": "abc"}},
                    {"name": "docker.io/library/alpine:3.20", "digest": {"sha256": hex(BASE)}},
                    {"uri": "pkg:docker/debian@12?platform=linux%2Famd64", "digest": {"sha256": hex(BASE)}}
                ]}, "runDetails": {"builder": {"id": "b"}}}
        });
        let bytes = serde_json::to_vec(&statement).unwrap();
        let bases = provenance_bases(&bytes, &Digest::parse(SUBJECT).unwrap()).unwrap();
        let names: Vec<String> = bases.iter().map(|b| b.name.to_string()).collect();
        assert_eq!(
            names,
            [
                "docker.io/library/alpine:3.20",
                "docker.io/library/debian:12"
            ]
        );
        // A statement about another image says nothing about this one.
        assert_eq!(
            provenance_bases(&bytes, &Digest::parse(BASE).unwrap()),
            None
        );
    }

    #[test]
    fn provenance_v02_materials_are_read_too() {
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "subject": [{"name": "app", "digest": {"sha256": hex(SUBJECT)}}],
            "predicateType": SLSA_PROVENANCE_V02,
            "predicate": {"materials": [
                {"uri": "pkg:docker/ghcr.io%2Facme%2Fbase@1.2", "digest": {"sha256": hex(BASE)}}
            ]}
        });
        let bytes = serde_json::to_vec(&statement).unwrap();
        let bases = provenance_bases(&bytes, &Digest::parse(SUBJECT).unwrap()).unwrap();
        assert_eq!(bases[0].name.to_string(), "ghcr.io/acme/base:1.2");
        // Another predicate type is no provenance.
        let other = serde_json::to_vec(&json!({
            "subject": [{"digest": {"sha256": hex(SUBJECT)}}],
            "predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1",
            "predicate": {}
        }))
        .unwrap();
        assert_eq!(
            provenance_bases(&other, &Digest::parse(SUBJECT).unwrap()),
            None
        );
    }

    #[test]
    fn a_legacy_envelope_yields_its_payload() {
        let envelope = json!({"payloadType": "application/vnd.in-toto+json", "payload": STANDARD.encode(b"{\"a\":1}"), "signatures": []});
        assert_eq!(
            envelope_payload(&serde_json::to_vec(&envelope).unwrap()).unwrap(),
            b"{\"a\":1}"
        );
    }
}
