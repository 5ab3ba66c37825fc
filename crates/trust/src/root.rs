//! Trusted roots: which Fulcio CAs, Rekor logs, CT logs and timestamp authorities a
//! verification trusts, and (from a client trust config) which services signing uses.
//!
//! The public-good instance's `trusted_root.json` is embedded, so verification needs no
//! network at all: nothing here ever fetches TUF metadata. `--trusted-root FILE` replaces
//! it; a client trust config (`application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`)
//! brings a trusted root and a signing config in one file, as sigstore-python's
//! `--trust-config` reads.

use std::path::{Path, PathBuf};

use sigstore_verify::trust_root::{SigningConfig, TrustedRoot};

/// The Sigstore public-good instance's trusted root, as its TUF repository distributes it.
pub const PRODUCTION_TRUSTED_ROOT: &str = include_str!("../data/production-trusted_root.json");

/// Media type of a client trust config.
pub const CLIENT_TRUST_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json";

/// A trusted root that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// The file could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a trusted root, a signing config or a client trust config.
    #[error("`{}` is not a {what}: {detail}", path.display())]
    Invalid {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
}

/// Where a trusted root came from, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootOrigin {
    /// The embedded public-good root.
    Embedded,
    /// A `trusted_root.json` or client trust config file.
    File(PathBuf),
}

impl std::fmt::Display for RootOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded => f.write_str("the embedded Sigstore public-good trusted root"),
            Self::File(path) => write!(f, "`{}`", path.display()),
        }
    }
}

/// A trusted root ready for verification.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    pub(crate) root: TrustedRoot,
    origin: RootOrigin,
}

impl TrustRoot {
    /// The embedded public-good trusted root.
    #[must_use]
    pub fn production() -> Self {
        Self {
            root: TrustedRoot::from_json(PRODUCTION_TRUSTED_ROOT)
                .expect("the embedded trusted root parses"),
            origin: RootOrigin::Embedded,
        }
    }

    /// A `trusted_root.json`, or the trusted root of a client trust config.
    pub fn from_file(path: &Path) -> Result<Self, RootError> {
        let value = read_json(path)?;
        if media_type(&value).is_some_and(|m| m.starts_with(CLIENT_TRUST_CONFIG_PREFIX)) {
            return Ok(TrustConfig::from_value(path, &value)?.root);
        }
        Self::from_value(path, &value)
    }

    fn from_value(path: &Path, value: &serde_json::Value) -> Result<Self, RootError> {
        let root = TrustedRoot::from_json(&value.to_string()).map_err(|e| RootError::Invalid {
            path: path.to_owned(),
            what: "Sigstore trusted root",
            detail: e.to_string(),
        })?;
        Ok(Self {
            root,
            origin: RootOrigin::File(path.to_owned()),
        })
    }

    /// Where it came from.
    #[must_use]
    pub fn origin(&self) -> &RootOrigin {
        &self.origin
    }
}

const CLIENT_TRUST_CONFIG_PREFIX: &str = "application/vnd.dev.sigstore.clienttrustconfig.";

/// A client trust config: a trusted root and the signing config of the same instance.
#[derive(Debug, Clone)]
pub struct TrustConfig {
    /// What verification trusts.
    pub root: TrustRoot,
    /// Where signing sends certificates requests and log entries.
    pub signing: SigningConfig,
}

impl TrustConfig {
    /// Reads a client trust config file.
    pub fn from_file(path: &Path) -> Result<Self, RootError> {
        Self::from_value(path, &read_json(path)?)
    }

    fn from_value(path: &Path, value: &serde_json::Value) -> Result<Self, RootError> {
        let invalid = |detail: String| RootError::Invalid {
            path: path.to_owned(),
            what: "Sigstore client trust config",
            detail,
        };
        match media_type(value) {
            Some(CLIENT_TRUST_CONFIG_MEDIA_TYPE) => {}
            Some(other) => {
                return Err(invalid(format!(
                    "its mediaType is `{other}`, expected `{CLIENT_TRUST_CONFIG_MEDIA_TYPE}`"
                )))
            }
            None => return Err(invalid("it has no `mediaType`".into())),
        }
        let root = value
            .get("trustedRoot")
            .ok_or_else(|| invalid("it has no `trustedRoot`".into()))?;
        let signing = value
            .get("signingConfig")
            .ok_or_else(|| invalid("it has no `signingConfig`".into()))?;
        let root = TrustRoot::from_value(path, root).map_err(|e| match e {
            RootError::Invalid { detail, .. } => invalid(format!("`trustedRoot`: {detail}")),
            other @ RootError::Read { .. } => other,
        })?;
        let signing = SigningConfig::from_json(&signing.to_string())
            .map_err(|e| invalid(format!("`signingConfig`: {e}")))?;
        Ok(Self { root, signing })
    }
}

/// Reads a signing config file (`application/vnd.dev.sigstore.signingconfig.v0.2+json`).
/// The public-good instance's signing config (Fulcio, Rekor, timestamp authorities), embedded:
/// where keyless signing goes when nothing else is named.
#[must_use]
pub fn production_signing_config() -> SigningConfig {
    SigningConfig::from_json(include_str!("../data/production-signing_config.v0.2.json"))
        .expect("the embedded signing config parses")
}

/// Reads a signing config file.
pub fn signing_config_from_file(path: &Path) -> Result<SigningConfig, RootError> {
    let text = std::fs::read_to_string(path).map_err(|source| RootError::Read {
        path: path.to_owned(),
        source,
    })?;
    SigningConfig::from_json(&text).map_err(|e| RootError::Invalid {
        path: path.to_owned(),
        what: "Sigstore signing config",
        detail: e.to_string(),
    })
}

fn read_json(path: &Path) -> Result<serde_json::Value, RootError> {
    let text = std::fs::read_to_string(path).map_err(|source| RootError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| RootError::Invalid {
        path: path.to_owned(),
        what: "JSON document",
        detail: format!("line {}, column {}: {e}", e.line(), e.column()),
    })
}

fn media_type(value: &serde_json::Value) -> Option<&str> {
    value.get("mediaType").and_then(serde_json::Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_embedded_signing_config_names_the_public_good_services() {
        let services =
            crate::sign::Services::from_signing_config(&production_signing_config()).unwrap();
        assert_eq!(services.fulcio_url, "https://fulcio.sigstore.dev");
        assert!(
            services.rekor_url.starts_with("https://rekor.sigstore.dev"),
            "{services:?}"
        );
    }

    #[test]
    fn the_embedded_root_is_the_public_good_one() {
        let root = TrustRoot::production();
        assert_eq!(root.origin(), &RootOrigin::Embedded);
        assert!(!root.root.certificate_authorities.is_empty());
        assert!(!root.root.tlogs.is_empty());
    }

    #[test]
    fn a_client_trust_config_gives_a_root_and_services() {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"{{"mediaType":"{CLIENT_TRUST_CONFIG_MEDIA_TYPE}","trustedRoot":{PRODUCTION_TRUSTED_ROOT},"signingConfig":{}}}"#,
            include_str!("../tests/data/production-signing_config.v0.2.json")
        );
        let path = write(&dir, "trust.json", &config);
        let config = TrustConfig::from_file(&path).unwrap();
        assert_eq!(
            config.signing.fulcio_url().unwrap().url,
            "https://fulcio.sigstore.dev"
        );
        // `--trusted-root` also takes a client trust config.
        let root = TrustRoot::from_file(&path).unwrap();
        assert_eq!(root.origin(), &RootOrigin::File(path));
    }

    #[test]
    fn bad_files_are_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "root.json", "{\n  \"mediaType\": 3,,\n}");
        let error = TrustRoot::from_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("root.json") && error.contains("line 2"),
            "{error}"
        );

        let path = write(&dir, "other.json", r#"{"mediaType":"application/x-other"}"#);
        let error = TrustConfig::from_file(&path).unwrap_err().to_string();
        assert!(
            error.contains("other.json") && error.contains("`application/x-other`"),
            "{error}"
        );

        let missing = dir.path().join("missing.json");
        let error = TrustRoot::from_file(&missing).unwrap_err().to_string();
        assert!(error.contains("missing.json"), "{error}");
    }
}
