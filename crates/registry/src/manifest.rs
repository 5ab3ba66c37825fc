//! The parts of OCI / Docker manifests the resolver reads: media types, index children
//! with their platforms, an image manifest's config descriptor, and a config's platform.

use std::fmt;

use portcullis_reference::Digest;
use serde::Deserialize;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker v2 schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The `Accept` media types sent on every manifest request (lists first).
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];
/// Manifests larger than this are refused.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// Whether a media type is a multi-platform index / manifest list.
#[must_use]
pub fn is_index_media_type(media_type: &str) -> bool {
    matches!(media_type, OCI_INDEX | DOCKER_LIST)
}

/// An OS / architecture / variant triple, printed `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`; `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let os = parts.next().filter(|s| !s.is_empty())?;
        let architecture = parts.next().filter(|s| !s.is_empty())?;
        let variant = parts.next();
        if parts.next().is_some() || variant == Some("") {
            return None;
        }
        Some(Self {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// One child of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// `None` for children without a platform (attestation manifests, artifacts).
    pub platform: Option<Platform>,
}

/// What a reference resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The manifest digest (the index digest for a multi-platform image).
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// Index children; empty for a single image (and with `resolve_digest`).
    pub platforms: Vec<PlatformManifest>,
}

impl Resolved {
    /// Whether the reference names a multi-platform index.
    #[must_use]
    pub fn is_index(&self) -> bool {
        is_index_media_type(&self.media_type)
    }
}

#[derive(Deserialize)]
struct RawDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<u64>,
    #[serde(default)]
    manifests: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    config: Option<RawDescriptor>,
}

/// A parsed manifest body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    Index(Vec<PlatformManifest>),
    Image { config: Digest, config_size: u64 },
}

/// Parses a manifest body; `Err(reason)` names what is wrong.
pub(crate) fn parse_manifest(content_type: &str, bytes: &[u8]) -> Result<(String, Parsed), String> {
    let raw: RawManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("not manifest JSON ({e})"))?;
    if raw.schema_version == Some(1)
        || content_type.starts_with("application/vnd.docker.distribution.manifest.v1+")
    {
        return Err("Docker schema 1 manifests are not supported".to_owned());
    }
    let media_type = match raw.media_type.as_deref() {
        Some(declared) if !declared.is_empty() => declared.to_owned(),
        _ if MANIFEST_MEDIA_TYPES.contains(&content_type) => content_type.to_owned(),
        _ if raw.manifests.is_some() => OCI_INDEX.to_owned(),
        _ => OCI_MANIFEST.to_owned(),
    };
    let digest = |text: &str| Digest::parse(text).map_err(|e| format!("descriptor digest: {e}"));
    if let Some(children) = raw.manifests {
        let children = children
            .into_iter()
            .map(|child| {
                Ok(PlatformManifest {
                    digest: digest(&child.digest)?,
                    media_type: child.media_type,
                    size: child.size,
                    platform: child.platform,
                })
            })
            .collect::<Result<_, String>>()?;
        return Ok((media_type, Parsed::Index(children)));
    }
    let config = raw
        .config
        .ok_or_else(|| "neither `manifests` nor `config`".to_owned())?;
    Ok((
        media_type,
        Parsed::Image {
            config: digest(&config.digest)?,
            config_size: config.size,
        },
    ))
}

/// The platform in an image config blob.
pub(crate) fn parse_config_platform(bytes: &[u8]) -> Result<Platform, String> {
    let platform: Platform = serde_json::from_slice(bytes)
        .map_err(|e| format!("config without os/architecture ({e})"))?;
    Ok(platform)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn platform_display_and_parse_round_trip() {
        for text in ["linux/amd64", "linux/arm64/v8", "windows/amd64"] {
            assert_eq!(Platform::parse(text).unwrap().to_string(), text);
        }
        for bad in ["", "linux", "linux/", "/amd64", "a/b/c/d", "a/b/"] {
            assert!(Platform::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn parses_index_and_rejects_schema1() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:{}","size":7,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#,
            "a".repeat(64)
        );
        let (media_type, parsed) = parse_manifest("", index.as_bytes()).unwrap();
        assert_eq!(media_type, OCI_INDEX);
        let Parsed::Index(children) = parsed else {
            panic!("not an index")
        };
        assert_eq!(
            children[0].platform.as_ref().unwrap().to_string(),
            "linux/arm64/v8"
        );
        let error = parse_manifest("", br#"{"schemaVersion":1,"fsLayers":[]}"#).unwrap_err();
        assert!(error.contains("schema 1"));
        let error = parse_manifest("", br#"{"manifests":[{"digest":"sha256:XYZ"}]}"#).unwrap_err();
        assert!(error.contains("`sha256:XYZ`"), "{error}");
    }

    proptest! {
        #[test]
        fn manifest_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_manifest("application/json", &bytes);
            let _ = parse_config_platform(&bytes);
        }
    }
}
