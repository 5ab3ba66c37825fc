//! Seeds a [`Registry`] through the registry HTTP API (monolithic blob upload, manifest
//! PUT), so tests start from images whose bytes and digests they know exactly.

use anyhow::{bail, Context as _, Result};
use portcullis_reference::Digest;
use serde_json::json;

use crate::http::{self, Response};
use crate::registry::Registry;

/// The four manifest media types, in the order clients send them in `Accept`.
pub const MEDIA_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Which family of media types seeded manifests use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// OCI image manifest / OCI image index.
    #[default]
    Oci,
    /// Docker v2 schema 2 manifest / Docker manifest list.
    Docker,
}

impl Format {
    fn manifest(self) -> &'static str {
        match self {
            Self::Oci => "application/vnd.oci.image.manifest.v1+json",
            Self::Docker => "application/vnd.docker.distribution.manifest.v2+json",
        }
    }
    fn index(self) -> &'static str {
        match self {
            Self::Oci => "application/vnd.oci.image.index.v1+json",
            Self::Docker => "application/vnd.docker.distribution.manifest.list.v2+json",
        }
    }
    fn config(self) -> &'static str {
        match self {
            Self::Oci => "application/vnd.oci.image.config.v1+json",
            Self::Docker => "application/vnd.docker.container.image.v1+json",
        }
    }
    fn layer(self) -> &'static str {
        match self {
            Self::Oci => "application/vnd.oci.image.layer.v1.tar",
            Self::Docker => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        }
    }
}

/// What to put in a seeded single-platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
    /// Layer blobs, pushed as-is.
    pub layers: Vec<Vec<u8>>,
    /// RFC 3339 `created` time in the config, if any.
    pub created: Option<String>,
    pub format: Format,
}

impl ImageSpec {
    /// An image for `os`/`arch` with one small layer naming the platform.
    #[must_use]
    pub fn new(os: &str, arch: &str) -> Self {
        Self {
            os: os.to_owned(),
            arch: arch.to_owned(),
            variant: None,
            layers: vec![format!("layer for {os}/{arch}").into_bytes()],
            created: Some("2025-01-01T00:00:00Z".to_owned()),
            format: Format::Oci,
        }
    }
    /// Sets the platform variant (`v8`, `v7`, ...).
    #[must_use]
    pub fn variant(mut self, variant: &str) -> Self {
        self.variant = Some(variant.to_owned());
        self
    }
    /// Replaces the layers.
    #[must_use]
    pub fn layers(mut self, layers: Vec<Vec<u8>>) -> Self {
        self.layers = layers;
        self
    }
    /// Sets the `created` time.
    #[must_use]
    pub fn created(mut self, created: &str) -> Self {
        self.created = Some(created.to_owned());
        self
    }
    /// Sets the media-type family.
    #[must_use]
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }
}

fn digest_of(bytes: &[u8]) -> Result<Digest> {
    Digest::parse(&format!("sha256:{}", crate::sha256_hex(bytes))).map_err(anyhow::Error::from)
}

impl Registry {
    fn call(
        &self,
        method: &str,
        url: &str,
        repo: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response> {
        let mut all: Vec<(&str, String)> = headers.to_vec();
        if let Some(value) = self.admin_authorization(repo)? {
            all.push(("Authorization", value));
        }
        http::send(method, url, &all, body)
    }

    /// Uploads `bytes` as a blob of `repo` (POST then monolithic PUT); returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> Result<Digest> {
        let digest = digest_of(bytes)?;
        let start = self.call(
            "POST",
            &format!("{}/v2/{repo}/blobs/uploads/", self.url()),
            repo,
            &[],
            None,
        )?;
        if start.status != 202 {
            bail!(
                "blob upload start for `{repo}` answered {}: {}",
                start.status,
                String::from_utf8_lossy(&start.body)
            );
        }
        let location = start
            .header("Location")
            .context("upload start without `Location`")?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.url())
        } else {
            location.to_owned()
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = self.call(
            "PUT",
            &format!("{location}{separator}digest={digest}"),
            repo,
            &[("Content-Type", "application/octet-stream".to_owned())],
            Some(bytes.to_vec()),
        )?;
        if put.status != 201 {
            bail!(
                "blob upload `{digest}` to `{repo}` answered {}: {}",
                put.status,
                String::from_utf8_lossy(&put.body)
            );
        }
        Ok(digest)
    }

    /// PUTs raw manifest bytes at `reference` (tag or digest); returns their digest.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        let digest = digest_of(bytes)?;
        let response = self.call(
            "PUT",
            &format!("{}/v2/{repo}/manifests/{reference}", self.url()),
            repo,
            &[("Content-Type", media_type.to_owned())],
            Some(bytes.to_vec()),
        )?;
        if response.status != 201 {
            bail!(
                "manifest PUT `{repo}:{reference}` answered {}: {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
        }
        Ok(digest)
    }

    /// GETs a manifest with all four media types accepted: (media type, raw bytes).
    pub fn fetch_manifest(&self, repo: &str, reference: &str) -> Result<(String, Vec<u8>)> {
        let response = self.call(
            "GET",
            &format!("{}/v2/{repo}/manifests/{reference}", self.url()),
            repo,
            &[("Accept", MEDIA_TYPES.join(", "))],
            None,
        )?;
        if response.status != 200 {
            bail!(
                "manifest GET `{repo}:{reference}` answered {}",
                response.status
            );
        }
        let media_type = response
            .header("Content-Type")
            .unwrap_or_default()
            .to_owned();
        Ok((media_type, response.body))
    }

    /// Pushes the blobs and manifest of `spec`, at `reference` (a tag, or its own digest
    /// when `None`); returns (manifest bytes, digest).
    fn push_image(
        &self,
        repo: &str,
        reference: Option<&str>,
        spec: &ImageSpec,
    ) -> Result<(Vec<u8>, Digest)> {
        let format = spec.format;
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in &spec.layers {
            let digest = self.push_blob(repo, layer)?;
            diff_ids.push(digest.to_string());
            layers.push(json!({ "mediaType": format.layer(), "digest": digest.to_string(), "size": layer.len() }));
        }
        let mut config = json!({
            "architecture": spec.arch,
            "os": spec.os,
            "config": {},
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
        });
        if let Some(variant) = &spec.variant {
            config["variant"] = json!(variant);
        }
        if let Some(created) = &spec.created {
            config["created"] = json!(created);
        }
        let config = serde_json::to_vec(&config)?;
        let config_digest = self.push_blob(repo, &config)?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": format.manifest(),
            "config": { "mediaType": format.config(), "digest": config_digest.to_string(), "size": config.len() },
            "layers": layers,
        }))?;
        let digest = digest_of(&manifest)?;
        let reference = reference.map_or_else(|| digest.to_string(), str::to_owned);
        self.push_manifest(repo, &reference, format.manifest(), &manifest)?;
        Ok((manifest, digest))
    }

    /// Seeds a single-platform image at `repo:tag`; returns the manifest digest.
    pub fn seed_image(&self, repo: &str, tag: &str, spec: &ImageSpec) -> Result<Digest> {
        Ok(self.push_image(repo, Some(tag), spec)?.1)
    }

    /// Seeds an OCI index at `repo:tag` with one child image per `(os, arch, variant)`;
    /// returns (index digest, child digests in the same order).
    pub fn seed_index(
        &self,
        repo: &str,
        tag: &str,
        platforms: &[(&str, &str, Option<&str>)],
    ) -> Result<(Digest, Vec<Digest>)> {
        self.seed_index_as(repo, tag, platforms, Format::Oci)
    }

    /// [`Registry::seed_index`] with a chosen media-type family.
    pub fn seed_index_as(
        &self,
        repo: &str,
        tag: &str,
        platforms: &[(&str, &str, Option<&str>)],
        format: Format,
    ) -> Result<(Digest, Vec<Digest>)> {
        let mut children = Vec::new();
        let mut entries = Vec::new();
        for (os, arch, variant) in platforms {
            let mut spec = ImageSpec::new(os, arch)
                .layers(vec![format!(
                    "{repo}:{tag} {os}/{arch}/{}",
                    variant.unwrap_or("")
                )
                .into_bytes()])
                .format(format);
            spec.variant = variant.map(str::to_owned);
            let (manifest, digest) = self.push_image(repo, None, &spec)?;
            let mut platform = json!({ "os": os, "architecture": arch });
            if let Some(variant) = variant {
                platform["variant"] = json!(variant);
            }
            entries.push(json!({
                "mediaType": format.manifest(),
                "digest": digest.to_string(),
                "size": manifest.len(),
                "platform": platform,
            }));
            children.push(digest);
        }
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": format.index(),
            "manifests": entries,
        }))?;
        let digest = self.push_manifest(repo, tag, format.index(), &index)?;
        Ok((digest, children))
    }

    /// Points `repo:tag` at the manifest `digest` (already in `repo`).
    pub fn retag(&self, repo: &str, tag: &str, digest: &Digest) -> Result<()> {
        let (media_type, bytes) = self.fetch_manifest(repo, &digest.to_string())?;
        self.push_manifest(repo, tag, &media_type, &bytes)?;
        Ok(())
    }
}
