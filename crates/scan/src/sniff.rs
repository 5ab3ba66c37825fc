//! Format detection from a document's top-level keys, so `--report FILE` and custom hooks
//! work without a format setting. Walks the document once without allocating for values
//! it does not need (`IgnoredAny`), so sniffing a 50 MB report is cheap.

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::error::excerpt;
use crate::{Format, ScanError};

#[derive(Deserialize)]
struct TopLevel {
    #[serde(rename = "SchemaVersion")]
    schema_version: Option<IgnoredAny>,
    #[serde(rename = "Results")]
    results: Option<IgnoredAny>,
    #[serde(rename = "ArtifactName")]
    artifact_name: Option<IgnoredAny>,
    matches: Option<IgnoredAny>,
    descriptor: Option<IgnoredAny>,
    runs: Option<IgnoredAny>,
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<IgnoredAny>,
    #[serde(rename = "@context")]
    context: Option<IgnoredAny>,
    statements: Option<IgnoredAny>,
    vulnerabilities: Option<IgnoredAny>,
}

/// Detects the format of `bytes`.
pub(crate) fn detect(source_name: &str, bytes: &[u8]) -> Result<Format, ScanError> {
    let unknown = || ScanError::UnknownFormat {
        source_name: source_name.to_owned(),
        start: excerpt(&String::from_utf8_lossy(&bytes[..bytes.len().min(120)]), 40),
    };
    let top: TopLevel = serde_json::from_slice(bytes).map_err(|_| unknown())?;
    if top
        .bom_format
        .as_deref()
        .is_some_and(|f| f.eq_ignore_ascii_case("CycloneDX"))
    {
        Ok(if cyclonedx_has_vulnerabilities(source_name, bytes)? {
            Format::CyclonedxVex
        } else {
            Format::Cyclonedx
        })
    } else if top.spdx_version.is_some() {
        Ok(Format::SpdxJson)
    } else if top.runs.is_some() {
        Ok(Format::Sarif)
    } else if top.matches.is_some() && (top.descriptor.is_some() || top.vulnerabilities.is_none()) {
        Ok(Format::GrypeJson)
    } else if top.schema_version.is_some() || top.results.is_some() || top.artifact_name.is_some() {
        Ok(Format::TrivyJson)
    } else if top.statements.is_some() || top.context.is_some() {
        Ok(Format::Openvex)
    } else {
        Err(unknown())
    }
}

#[derive(Deserialize)]
struct CycloneDxTop {
    #[serde(default)]
    vulnerabilities: Option<Vec<IgnoredAny>>,
}

/// Whether a CycloneDX document lists vulnerabilities (then it is read as VEX).
fn cyclonedx_has_vulnerabilities(source_name: &str, bytes: &[u8]) -> Result<bool, ScanError> {
    let top: CycloneDxTop = crate::util::from_json(source_name, Format::Cyclonedx, bytes)?;
    Ok(top.vulnerabilities.is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_from_top_level_keys() {
        let cases: &[(&str, Format)] = &[
            (
                r#"{"SchemaVersion":2,"ArtifactName":"x"}"#,
                Format::TrivyJson,
            ),
            (r#"{"ArtifactName":"x"}"#, Format::TrivyJson),
            (
                r#"{"matches":[],"descriptor":{"name":"grype"}}"#,
                Format::GrypeJson,
            ),
            (r#"{"version":"2.1.0","runs":[]}"#, Format::Sarif),
            (
                r#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#,
                Format::Cyclonedx,
            ),
            (
                r#"{"bomFormat":"CycloneDX","specVersion":"1.5","vulnerabilities":[]}"#,
                Format::Cyclonedx,
            ),
            (
                r#"{"bomFormat":"CycloneDX","specVersion":"1.5","vulnerabilities":[{"id":"CVE-1"}]}"#,
                Format::CyclonedxVex,
            ),
            (r#"{"spdxVersion":"SPDX-2.3"}"#, Format::SpdxJson),
            (
                r#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[]}"#,
                Format::Openvex,
            ),
        ];
        for (doc, want) in cases {
            assert_eq!(detect("t", doc.as_bytes()).unwrap(), *want, "{doc}");
        }
    }

    #[test]
    fn garbage_is_unknown_format_quoting_the_start() {
        for doc in ["", "not json", "[1,2]", r#"{"hello":1}"#, "\u{0}\u{1}"] {
            let err = detect("hook `x`", doc.as_bytes()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("hook `x`"), "{text}");
            assert!(matches!(err, ScanError::UnknownFormat { .. }), "{text}");
        }
    }
}
