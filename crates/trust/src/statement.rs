//! In-toto Statement v1 and the predicates portcullis attests: cosign's image signature
//! (`https://sigstore.dev/cosign/sign/v1`), SLSA provenance v1 built from the CI
//! environment and the base images `check` resolved, cosign's vulnerability scan predicate,
//! `CycloneDX` and SPDX documents as given, or any JSON under a URI.
//!
//! Predicates from files go through [`Predicate::read`], which refuses documents over
//! [`PredicateLimits::max_bytes`] before parsing them and names the line and column of
//! invalid JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use portcullis_reference::{Digest, ImageRef};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::provenance::{CiBuild, CiKind};

/// `_type` of every Statement v1.
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";
/// The DSSE `payloadType` of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// What `cosign sign` (v3) attests of an image.
pub const COSIGN_SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";
/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// cosign's vulnerability scan predicate.
pub const COSIGN_VULN_V1: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// cosign's type for `--type custom`.
pub const COSIGN_CUSTOM_V1: &str = "https://cosign.sigstore.dev/attestation/v1";
/// `CycloneDX` documents.
pub const CYCLONEDX_BOM: &str = "https://cyclonedx.org/bom";
/// SPDX documents.
pub const SPDX_DOCUMENT: &str = "https://spdx.dev/Document";

/// Predicates larger than this are refused unless the limit is raised.
pub const DEFAULT_MAX_PREDICATE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a statement or predicate cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    /// A `--type` that is neither a known name nor a URI.
    #[error("unknown predicate type `{given}`: use slsaprovenance, vuln, cyclonedx, spdx, custom, or a URI such as `https://example.com/predicate/v1`")]
    UnknownType { given: String },
    /// The predicate is larger than the limit.
    #[error("predicate `{source_name}` is {size} bytes, over the {limit}-byte limit; attest a smaller document (an SBOM without per-file entries, a scan report without its raw database dump) or raise the predicate size limit")]
    TooLarge {
        source_name: String,
        size: u64,
        limit: u64,
    },
    /// The predicate file could not be read.
    #[error("cannot read predicate `{source_name}`: {reason}")]
    Unreadable { source_name: String, reason: String },
    /// The predicate is not JSON.
    #[error("predicate `{source_name}` line {line}, column {column}: not JSON: {reason}")]
    NotJson {
        source_name: String,
        line: usize,
        column: usize,
        reason: String,
    },
    /// The predicate is JSON but not what its type requires.
    #[error("predicate `{source_name}` is not a {kind} document: {reason}")]
    WrongShape {
        source_name: String,
        kind: String,
        reason: String,
    },
    /// A base image given to provenance has no digest.
    #[error("base image `{image}` has no digest; resolve or pin it first (`portcullis pin`)")]
    UnpinnedBase { image: String },
    /// The CI environment lacks a variable provenance needs.
    #[error("the {ci} environment has no `{variable}`, which SLSA provenance needs")]
    MissingVariable { ci: &'static str, variable: String },
    /// A CI variable whose value is not what it should be.
    #[error("the {ci} environment's `{variable}` is `{value}`, not {expected}")]
    BadVariable {
        ci: &'static str,
        variable: String,
        value: String,
        expected: &'static str,
    },
    /// Neither GitHub Actions nor GitLab CI is named by the environment.
    #[error("no CI environment found (neither `GITHUB_ACTIONS=true` nor `GITLAB_CI=true`); SLSA provenance describes a CI build")]
    NoCi,
    /// A statement that is not an in-toto Statement v1.
    #[error("not an in-toto Statement v1: {reason}")]
    NotAStatement { reason: String },
}

/// The predicate types `attest --type` names, as cosign names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PredicateKind {
    /// `https://sigstore.dev/cosign/sign/v1`: what an image signature attests (no `--type`
    /// name: `sign` makes it).
    CosignSign,
    /// `slsaprovenance`, `slsaprovenance1`: SLSA provenance v1.
    SlsaProvenance,
    /// `vuln`: cosign's vulnerability scan predicate.
    Vuln,
    /// `cyclonedx`: a `CycloneDX` document as given.
    CycloneDx,
    /// `spdx`, `spdxjson`: an SPDX document as given.
    Spdx,
    /// `custom`, `promotion` (portcullis' promotion record), or any URI: JSON as given
    /// under that type.
    Custom(String),
}

impl PredicateKind {
    /// The `predicateType` URI.
    #[must_use]
    pub fn uri(&self) -> &str {
        match self {
            Self::CosignSign => COSIGN_SIGN_V1,
            Self::SlsaProvenance => SLSA_PROVENANCE_V1,
            Self::Vuln => COSIGN_VULN_V1,
            Self::CycloneDx => CYCLONEDX_BOM,
            Self::Spdx => SPDX_DOCUMENT,
            Self::Custom(uri) => uri,
        }
    }

    /// The kind a `predicateType` URI names (a URI portcullis does not know is custom).
    #[must_use]
    pub fn from_uri(uri: &str) -> Self {
        match uri {
            COSIGN_SIGN_V1 => Self::CosignSign,
            SLSA_PROVENANCE_V1 => Self::SlsaProvenance,
            COSIGN_VULN_V1 => Self::Vuln,
            CYCLONEDX_BOM => Self::CycloneDx,
            SPDX_DOCUMENT => Self::Spdx,
            other => Self::Custom(other.to_owned()),
        }
    }

    fn describe(&self) -> &str {
        match self {
            Self::CosignSign => "cosign sign",
            Self::SlsaProvenance => "SLSA provenance v1",
            Self::Vuln => "cosign vuln",
            Self::CycloneDx => "CycloneDX",
            Self::Spdx => "SPDX",
            Self::Custom(uri) => uri,
        }
    }
}

impl FromStr for PredicateKind {
    type Err = StatementError;

    /// A `--type` value: `slsaprovenance`, `vuln`, `cyclonedx`, `spdx`, `custom` (cosign's
    /// names, case-insensitive), `promotion`, or a URI (`scheme://…`).
    fn from_str(given: &str) -> Result<Self, Self::Err> {
        match given.to_ascii_lowercase().as_str() {
            "slsaprovenance" | "slsaprovenance1" => Ok(Self::SlsaProvenance),
            "vuln" => Ok(Self::Vuln),
            "cyclonedx" => Ok(Self::CycloneDx),
            "spdx" | "spdxjson" => Ok(Self::Spdx),
            "custom" => Ok(Self::Custom(COSIGN_CUSTOM_V1.to_owned())),
            "promotion" => Ok(Self::Custom(crate::promotion::PROMOTION_V1.to_owned())),
            _ if is_uri(given) => Ok(Self::from_uri(given)),
            _ => Err(StatementError::UnknownType {
                given: given.to_owned(),
            }),
        }
    }
}

impl fmt::Display for PredicateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

/// `scheme://rest` with an RFC 3986 scheme and no whitespace.
fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !text.chars().any(char::is_whitespace)
}

/// How large a predicate may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredicateLimits {
    /// The most bytes a predicate document may have.
    pub max_bytes: u64,
}

impl Default for PredicateLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_PREDICATE_BYTES,
        }
    }
}

/// A predicate with its type, ready to go into a [`Statement`].
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    pub kind: PredicateKind,
    pub value: Value,
}

impl Predicate {
    /// [`Predicate::read`] of a file: one larger than the limit is refused by its size,
    /// before a byte of it is read.
    pub fn read_file(
        kind: PredicateKind,
        path: &std::path::Path,
        limits: PredicateLimits,
    ) -> Result<Self, StatementError> {
        let source_name = path.display().to_string();
        let unreadable = |error: std::io::Error| StatementError::Unreadable {
            source_name: source_name.clone(),
            reason: error.to_string(),
        };
        let size = std::fs::metadata(path).map_err(unreadable)?.len();
        if size > limits.max_bytes {
            return Err(StatementError::TooLarge {
                source_name,
                size,
                limit: limits.max_bytes,
            });
        }
        let bytes = std::fs::read(path).map_err(unreadable)?;
        Self::read(kind, &source_name, &bytes, limits)
    }

    /// Reads a predicate document (`source_name` names it in errors: the file as given):
    /// refused over `limits.max_bytes` before it is parsed, then checked for the shape its
    /// kind requires (a SLSA provenance v1 with `buildDefinition.buildType` and
    /// `runDetails.builder.id`, a cosign vuln predicate, a `CycloneDX` or SPDX document).
    pub fn read(
        kind: PredicateKind,
        source_name: &str,
        bytes: &[u8],
        limits: PredicateLimits,
    ) -> Result<Self, StatementError> {
        let size = bytes.len() as u64;
        if size > limits.max_bytes {
            return Err(StatementError::TooLarge {
                source_name: source_name.to_owned(),
                size,
                limit: limits.max_bytes,
            });
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let value: Value = serde_json::from_slice(bytes).map_err(|e| StatementError::NotJson {
            source_name: source_name.to_owned(),
            line: e.line(),
            column: e.column(),
            reason: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        })?;
        let shape = |reason: String| StatementError::WrongShape {
            source_name: source_name.to_owned(),
            kind: kind.describe().to_owned(),
            reason,
        };
        match &kind {
            PredicateKind::SlsaProvenance => {
                let provenance: SlsaProvenance =
                    serde_json::from_value(value.clone()).map_err(|e| shape(e.to_string()))?;
                provenance.check().map_err(shape)?;
            }
            PredicateKind::Vuln => {
                serde_json::from_value::<VulnPredicate>(value.clone())
                    .map_err(|e| shape(e.to_string()))?;
            }
            PredicateKind::CycloneDx => {
                if value.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
                    return Err(shape("`bomFormat` is not `CycloneDX`".to_owned()));
                }
            }
            PredicateKind::Spdx => {
                let version = value.get("spdxVersion").and_then(Value::as_str);
                if !version.is_some_and(|v| v.starts_with("SPDX-")) {
                    return Err(shape("no `spdxVersion` `SPDX-…`".to_owned()));
                }
            }
            PredicateKind::CosignSign | PredicateKind::Custom(_) => {
                if !value.is_object() {
                    return Err(shape("a predicate is a JSON object".to_owned()));
                }
            }
        }
        Ok(Self { kind, value })
    }

    /// What `cosign sign` v3 attests: an empty predicate (the signed annotations are on the
    /// statement's subject).
    #[must_use]
    pub fn cosign_sign() -> Self {
        Self {
            kind: PredicateKind::CosignSign,
            value: Value::Object(Map::new()),
        }
    }

    /// SLSA provenance v1 of a CI build that used `base_images` (each with its digest, as
    /// `check --resolve` or `pin` gives them).
    pub fn slsa_provenance(
        build: &CiBuild,
        base_images: &[ImageRef],
    ) -> Result<Self, StatementError> {
        let provenance = crate::provenance::build(build, base_images)?;
        Ok(Self {
            kind: PredicateKind::SlsaProvenance,
            value: serde_json::to_value(provenance).unwrap_or(Value::Null),
        })
    }

    /// cosign's vuln predicate from a scan: what `portcullis_scan::vuln_predicate` returns
    /// (checked for its shape here, so a wrong value fails before it is signed).
    pub fn vuln(predicate: Value) -> Result<Self, StatementError> {
        serde_json::from_value::<VulnPredicate>(predicate.clone()).map_err(|e| {
            StatementError::WrongShape {
                source_name: "scan result".to_owned(),
                kind: "cosign vuln".to_owned(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            kind: PredicateKind::Vuln,
            value: predicate,
        })
    }
}

/// One subject of a statement: an artifact by digest, with a name (none for cosign's image
/// signature) and annotations (what `cosign sign -a k=v` signs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Algorithm → lowercase hex.
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, Value>,
}

impl Subject {
    /// A subject for `digest`, named `name` when given.
    #[must_use]
    pub fn new(name: Option<String>, digest: &Digest) -> Self {
        Self {
            name,
            digest: BTreeMap::from([(
                digest.algorithm().as_str().to_owned(),
                digest.hex().to_owned(),
            )]),
            annotations: Map::new(),
        }
    }
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Value,
}

impl Statement {
    /// A statement about one image: its repository name (`docker.io/library/alpine`, as
    /// `cosign attest` names it) and digest.
    #[must_use]
    pub fn about_image(image: &ImageRef, digest: &Digest, predicate: Predicate) -> Self {
        Self {
            type_: STATEMENT_TYPE_V1.to_owned(),
            subject: vec![Subject::new(Some(image.name()), digest)],
            predicate_type: predicate.kind.uri().to_owned(),
            predicate: predicate.value,
        }
    }

    /// What `cosign sign` v3 signs for an image: a subject with the digest and the
    /// annotations given, no name, and the empty cosign sign v1 predicate.
    #[must_use]
    pub fn image_signature(digest: &Digest, annotations: &BTreeMap<String, String>) -> Self {
        let mut subject = Subject::new(None, digest);
        subject.annotations = annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        let predicate = Predicate::cosign_sign();
        Self {
            type_: STATEMENT_TYPE_V1.to_owned(),
            subject: vec![subject],
            predicate_type: predicate.kind.uri().to_owned(),
            predicate: predicate.value,
        }
    }

    /// The statement with its subjects named `name` (the image's repository, as `cosign
    /// attest` names them). In-toto Statement v1 says a subject SHOULD have a name, and
    /// some verifiers (sigstore-python) refuse one without; verifiers that go by the digest
    /// (cosign) read it all the same.
    #[must_use]
    pub fn with_subject_name(mut self, name: &str) -> Self {
        for subject in &mut self.subject {
            subject.name = Some(name.to_owned());
        }
        self
    }

    /// The JSON bytes that go into a DSSE envelope as its payload.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a statement (a DSSE payload): `_type` must be Statement v1, and each subject
    /// must have a digest.
    pub fn parse(bytes: &[u8]) -> Result<Self, StatementError> {
        let statement: Self =
            serde_json::from_slice(bytes).map_err(|e| StatementError::NotAStatement {
                reason: e.to_string(),
            })?;
        if statement.type_ != STATEMENT_TYPE_V1 {
            return Err(StatementError::NotAStatement {
                reason: format!("`_type` is `{}`", statement.type_),
            });
        }
        if statement.subject.is_empty() || statement.subject.iter().any(|s| s.digest.is_empty()) {
            return Err(StatementError::NotAStatement {
                reason: "a subject without a digest".to_owned(),
            });
        }
        Ok(statement)
    }

    /// Whether a subject names `digest`.
    #[must_use]
    pub fn names_digest(&self, digest: &Digest) -> bool {
        self.subject.iter().any(|s| {
            s.digest
                .get(digest.algorithm().as_str())
                .map(String::as_str)
                == Some(digest.hex())
        })
    }
}

/// SLSA provenance v1 (<https://slsa.dev/spec/v1.0/provenance>).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlsaProvenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

impl SlsaProvenance {
    /// What SLSA requires beyond the JSON shape: a build type and a builder id.
    fn check(&self) -> Result<(), String> {
        if self.build_definition.build_type.is_empty() {
            return Err("`buildDefinition.buildType` is empty".to_owned());
        }
        if self.run_details.builder.id.is_empty() {
            return Err("`runDetails.builder.id` is empty".to_owned());
        }
        Ok(())
    }
}

/// `buildDefinition`: what was built, how, and from what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub internal_parameters: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// An in-toto resource descriptor (a dependency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, Value>,
}

/// `runDetails`: who built it, and this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetails {
    pub builder: Builder,
    #[serde(default)]
    pub metadata: BuildMetadata,
}

/// `runDetails.builder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Builder {
    pub id: String,
}

/// `runDetails.metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}

/// cosign's vuln v1 predicate: the scanner, its database and result, and when it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnPredicate {
    pub invocation: VulnInvocation,
    pub scanner: VulnScanner,
    pub metadata: VulnMetadata,
}

/// `invocation` of a vuln predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnInvocation {
    #[serde(default)]
    pub parameters: Value,
    #[serde(default)]
    pub uri: String,
    #[serde(default)]
    pub event_id: String,
    #[serde(rename = "builder.id", default)]
    pub builder_id: String,
}

/// `scanner` of a vuln predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnScanner {
    pub uri: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub db: VulnDb,
    pub result: Value,
}

/// `scanner.db` of a vuln predicate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VulnDb {
    #[serde(default)]
    pub uri: String,
    #[serde(default)]
    pub version: String,
}

/// `metadata` of a vuln predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnMetadata {
    pub scan_started_on: String,
    pub scan_finished_on: String,
}

#[cfg(test)]
#[path = "statement_tests.rs"]
mod tests;
