//! What scans leave behind besides findings: the cosign vulnerability attestation
//! predicate (`https://cosign.sigstore.dev/attestation/vuln/v1`) and SBOM files written
//! exactly as the SBOM tool produced them, after checking they are what they claim.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::util::{from_json, null_default};
use crate::{Format, ScanError, ScanResult};

/// The predicate type of cosign vulnerability attestations (the URI form; the short form
/// without `https://` is deprecated by policy-controller).
pub const VULN_PREDICATE_TYPE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

/// Who scanned: the predicate's `scanner` block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScannerInfo {
    /// Scanner URI, e.g. `pkg:github/aquasecurity/trivy@0.58.0`.
    pub uri: String,
    /// Scanner version.
    pub version: String,
    /// Vulnerability database URI.
    pub db_uri: String,
    /// Vulnerability database version (or build time).
    pub db_version: String,
    /// The scanner's own report (`scanner.result`); the normalized result when `None`.
    pub raw_result: Option<Value>,
}

#[derive(Deserialize, Default)]
struct Sniffed {
    #[serde(rename = "Trivy")]
    trivy: Option<TrivyMeta>,
    descriptor: Option<GrypeDescriptor>,
}

#[derive(Deserialize, Default)]
struct TrivyMeta {
    #[serde(rename = "Version")]
    version: Option<String>,
}

#[derive(Deserialize, Default)]
struct GrypeDescriptor {
    name: Option<String>,
    version: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    db: Value,
}

impl ScannerInfo {
    /// Reads scanner and database versions from a Trivy or Grype JSON report and keeps the
    /// report as `raw_result`. Unknown or unparseable reports give empty fields.
    #[must_use]
    pub fn from_report(report: &[u8]) -> Self {
        let raw_result = serde_json::from_slice::<Value>(report).ok();
        let sniffed: Sniffed = serde_json::from_slice(report).unwrap_or_default();
        let mut info = Self {
            raw_result,
            ..Self::default()
        };
        if let Some(trivy) = sniffed.trivy {
            info.version = trivy.version.unwrap_or_default();
            info.uri = format!("pkg:github/aquasecurity/trivy@{}", info.version);
            "ghcr.io/aquasecurity/trivy-db".clone_into(&mut info.db_uri);
        } else if let Some(grype) = sniffed.descriptor {
            if grype.name.as_deref() == Some("grype") {
                info.version = grype.version.unwrap_or_default();
                info.uri = format!("pkg:github/anchore/grype@{}", info.version);
                let db = &grype.db;
                let field = |keys: &[&str]| {
                    keys.iter()
                        .find_map(|k| db.pointer(k).and_then(Value::as_str))
                        .unwrap_or("")
                        .to_owned()
                };
                info.db_uri = field(&["/status/from", "/from", "/status/location"]);
                info.db_version = field(&["/status/built", "/built", "/status/schemaVersion"]);
            }
        }
        info
    }
}

/// Builds the cosign vuln v1 predicate for a scan that ran from `started` to `finished`.
#[must_use]
pub fn vuln_predicate(
    result: &ScanResult,
    scanner: &ScannerInfo,
    started: jiff::Timestamp,
    finished: jiff::Timestamp,
) -> Value {
    let scanner_result = scanner
        .raw_result
        .clone()
        .unwrap_or_else(|| serde_json::to_value(result).unwrap_or(Value::Null));
    json!({
        "invocation": {
            "parameters": [],
            "uri": "",
            "event_id": "",
            "builder.id": ""
        },
        "scanner": {
            "uri": scanner.uri,
            "version": scanner.version,
            "db": { "uri": scanner.db_uri, "version": scanner.db_version },
            "result": scanner_result
        },
        "metadata": {
            "scanStartedOn": started.to_string(),
            "scanFinishedOn": finished.to_string()
        }
    })
}

/// Which SBOM standard a document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SbomKind {
    /// CycloneDX JSON (`bomFormat: "CycloneDX"`).
    CycloneDx,
    /// SPDX 2.x JSON (`spdxVersion: "SPDX-2.…"`).
    Spdx,
}

impl SbomKind {
    /// The matching [`Format`].
    #[must_use]
    pub fn format(self) -> Format {
        match self {
            Self::CycloneDx => Format::Cyclonedx,
            Self::Spdx => Format::SpdxJson,
        }
    }

    /// The in-toto predicate type for attesting it.
    #[must_use]
    pub fn predicate_type(self) -> &'static str {
        match self {
            Self::CycloneDx => "https://cyclonedx.org/bom",
            Self::Spdx => "https://spdx.dev/Document",
        }
    }
}

/// A validated SBOM document: the bytes exactly as the SBOM tool wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sbom {
    kind: SbomKind,
    bytes: Vec<u8>,
}

#[derive(Deserialize)]
struct SbomTop {
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "specVersion")]
    spec_version: Option<String>,
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<String>,
}

impl Sbom {
    /// Checks that `bytes` are a CycloneDX or SPDX JSON document.
    pub fn validate(source_name: &str, bytes: Vec<u8>) -> Result<Self, ScanError> {
        let top: SbomTop = from_json(source_name, Format::Cyclonedx, &bytes)?;
        let invalid = |field: &str, value: Option<&str>, expected: &str| ScanError::InvalidField {
            source_name: source_name.to_owned(),
            field: field.to_owned(),
            value: value.unwrap_or("null").to_owned(),
            expected: expected.to_owned(),
        };
        let kind = if let Some(format) = top.bom_format.as_deref() {
            if format != "CycloneDX" {
                return Err(invalid("bomFormat", Some(format), "`CycloneDX`"));
            }
            if top
                .spec_version
                .as_deref()
                .is_none_or(|v| !v.starts_with('1'))
            {
                return Err(invalid(
                    "specVersion",
                    top.spec_version.as_deref(),
                    "a CycloneDX 1.x spec version",
                ));
            }
            SbomKind::CycloneDx
        } else if let Some(version) = top.spdx_version.as_deref() {
            if !version.starts_with("SPDX-") {
                return Err(invalid("spdxVersion", Some(version), "`SPDX-2.x`"));
            }
            SbomKind::Spdx
        } else {
            return Err(invalid(
                "bomFormat",
                None,
                "a CycloneDX `bomFormat` or an SPDX `spdxVersion`",
            ));
        };
        Ok(Self { kind, bytes })
    }

    /// The SBOM standard.
    #[must_use]
    pub fn kind(&self) -> SbomKind {
        self.kind
    }

    /// The document as produced.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Parses the document (for attesting it as a predicate).
    pub fn to_json(&self) -> Result<Value, ScanError> {
        from_json("SBOM", self.kind.format(), &self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbom_validation_table() {
        for (doc, want) in [
            (
                r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#,
                Ok(SbomKind::CycloneDx),
            ),
            (
                r#"{"spdxVersion":"SPDX-2.3","packages":[]}"#,
                Ok(SbomKind::Spdx),
            ),
            (r#"{"bomFormat":"SWID","specVersion":"1.6"}"#, Err("`SWID`")),
            (r#"{"bomFormat":"CycloneDX"}"#, Err("specVersion")),
            (r#"{"spdxVersion":"2.3"}"#, Err("spdxVersion")),
            (r#"{"hello":1}"#, Err("bomFormat")),
            ("garbage", Err("syft")),
        ] {
            match (Sbom::validate("syft", doc.as_bytes().to_vec()), want) {
                (Ok(sbom), Ok(kind)) => assert_eq!(sbom.kind(), kind, "{doc}"),
                (Err(err), Err(needle)) => {
                    assert!(err.to_string().contains(needle), "{doc}: {err}");
                }
                (got, want) => panic!("{doc}: got {got:?}, want {want:?}"),
            }
        }
    }
}
