//! Trusted roots: which Fulcio CAs, Rekor logs, CT logs and timestamp authorities a
//! verification trusts, and (from a client trust config) which services signing uses.
//!
//! The public-good instance's `trusted_root.json` is embedded, so verification needs no
//! network at all: nothing here ever fetches TUF metadata. `--trusted-root FILE` replaces
//! it; a client trust config (`application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`)
//! brings a trusted root and a signing config in one file, as sigstore-python's
//! `--trust-config` reads.

use std::path::{Path, PathBuf};

use sigstore_verify::crypto::VerificationKey;
use sigstore_verify::trust_root::{SigningConfig, TrustedRoot};
use sigstore_verify::types::DerPublicKey;

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

    /// Whether `certificate` (DER) carries the signature of one of this root's Fulcio
    /// certificate authorities (a root or intermediate listed in `certChain`). It says
    /// only who issued the certificate, not that it is valid: verification still builds
    /// and checks the whole chain at signing time. `None` when the certificate cannot be
    /// read.
    #[must_use]
    pub fn issued_by_a_fulcio_ca(&self, certificate: &[u8]) -> Option<bool> {
        let (tbs, signature) = der::signed_parts(certificate)?;
        let signature = sigstore_verify::types::SignatureBytes::new(signature.to_vec());
        Some(self.root.fulcio_certs().iter().any(|ca| {
            der::subject_public_key_info(ca.as_bytes())
                .and_then(|spki| VerificationKey::from_spki(&DerPublicKey::new(spki.to_vec())).ok())
                .is_some_and(|key| key.verify(tbs, &signature).is_ok())
        }))
    }
}

/// Just enough DER to take certificates apart.
mod der {
    /// One TLV: its tag, its contents, the whole TLV, and what follows it.
    type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

    fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[count..])
        };
        if rest.len() < len {
            return None;
        }
        let header = input.len() - rest.len();
        Some((tag, &rest[..len], &input[..header + len], &rest[len..]))
    }

    /// A certificate's `tbsCertificate` (the whole TLV, what is signed) and its signature
    /// (the BIT STRING's bytes).
    pub(super) fn signed_parts(certificate: &[u8]) -> Option<(&[u8], &[u8])> {
        let (0x30, body, _, _) = tlv(certificate)? else {
            return None;
        };
        let (0x30, _, tbs, rest) = tlv(body)? else {
            return None;
        };
        let (0x30, _, _, rest) = tlv(rest)? else {
            return None;
        };
        let (0x03, bits, _, _) = tlv(rest)? else {
            return None;
        };
        let (&0, signature) = bits.split_first()? else {
            return None;
        };
        Some((tbs, signature))
    }

    /// A certificate's `subjectPublicKeyInfo` (the whole TLV).
    pub(super) fn subject_public_key_info(certificate: &[u8]) -> Option<&[u8]> {
        let (0x30, body, _, _) = tlv(certificate)? else {
            return None;
        };
        let (0x30, tbs, _, _) = tlv(body)? else {
            return None;
        };
        let mut rest = tbs;
        // version [0] is optional; then serial, signature, issuer, validity, subject.
        if rest.first() == Some(&0xa0) {
            rest = tlv(rest)?.3;
        }
        for _ in 0..5 {
            rest = tlv(rest)?.3;
        }
        let (0x30, _, spki, _) = tlv(rest)? else {
            return None;
        };
        Some(spki)
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

    /// The production bundle's certificate was issued by the public-good Fulcio
    /// intermediate; another root's authorities did not issue it, and garbage is unread.
    #[test]
    fn a_certificate_is_issued_by_its_own_roots_ca_only() {
        let bundle: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/data/rfc8785-0.1.2-py3-none-any.whl.sigstore.json"
        ))
        .unwrap();
        let leaf = bundle["verificationMaterial"]["x509CertificateChain"]["certificates"][0]
            ["rawBytes"]
            .as_str()
            .unwrap();
        let leaf =
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, leaf).unwrap();
        let production = TrustRoot::production();
        assert_eq!(production.issued_by_a_fulcio_ca(&leaf), Some(true));
        let stack = portcullis_testkit::sigstore::SigstoreStack::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = stack.write_trust_files(dir.path()).unwrap();
        let other = TrustRoot::from_file(&files.trusted_root).unwrap();
        assert_eq!(other.issued_by_a_fulcio_ca(&leaf), Some(false));
        assert_eq!(production.issued_by_a_fulcio_ca(b"\x30\x03\x02\x01"), None);
        let mut tampered = leaf.clone();
        let middle = tampered.len() / 2;
        tampered[middle] ^= 1;
        assert_ne!(production.issued_by_a_fulcio_ca(&tampered), Some(true));
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
