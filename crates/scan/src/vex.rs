//! VEX documents (OpenVEX and CycloneDX VEX): statements that a vulnerability does not
//! affect a product. Only `not_affected` (CycloneDX: `not_affected`, `false_positive`)
//! suppresses a finding; `affected`, `fixed` and `under_investigation` leave it counted.
//! An OpenVEX statement is held to its specification: `not_affected` without a
//! `justification` or an `impact_statement`, or `affected` without an `action_statement`,
//! refuses the document, naming the statement (CycloneDX VEX has no such requirement).
//!
//! Matching: the statement's vulnerability id or one of its aliases equals the finding's id
//! or one of its aliases (case-insensitive). When the statement names products, one must
//! match: a package purl (`pkg:npm/debug@3.0.1`) matches by name (and version when given);
//! an image (`pkg:oci/…`, or in OpenVEX a plain image reference) matches every package of
//! the scanned image, unless the product lists `subcomponents`, which then decide. A
//! CycloneDX `affects[].ref` is resolved through the document's `components` (and
//! `metadata.component`, the image); a ref that resolves to nothing matches nothing, so an
//! unreadable statement never hides a finding. The last matching statement wins.

use serde::Deserialize;
use serde_json::Value;

use crate::util::{from_json, null_default};
use crate::{Format, ScanError, SuppressedBy, Vulnerability};

/// What a VEX statement says about a vulnerability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VexStatus {
    /// The product is not affected: the finding is suppressed.
    NotAffected,
    /// The product is affected.
    Affected,
    /// The product contains a fix.
    Fixed,
    /// Still being analysed.
    UnderInvestigation,
}

/// Which part of the scanned image a statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VexProduct {
    /// The image as a whole: every package in it.
    Image(String),
    /// One package, by purl name (`namespace/name` or `name`) and optional version.
    Package {
        /// `name` of the purl, percent-decoded.
        name: String,
        /// `namespace/name`, when the purl has a namespace.
        qualified: Option<String>,
        /// The version, when the purl has one.
        version: Option<String>,
    },
    /// Something that could not be resolved to a package or image: matches nothing.
    Unresolved(String),
}

/// One statement of a VEX document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexStatement {
    /// The vulnerability id (`CVE-…`, `GHSA-…`).
    pub vulnerability: String,
    /// Other ids of the same vulnerability.
    pub aliases: Vec<String>,
    /// Products the statement applies to; empty means every product.
    pub products: Vec<VexProduct>,
    /// The status.
    pub status: VexStatus,
    /// Justification and impact statement, as written.
    pub justification: Option<String>,
}

impl VexStatement {
    /// Whether this statement is about `vuln` (id/alias overlap and product match).
    #[must_use]
    pub fn matches(&self, vuln: &Vulnerability) -> bool {
        let ids = || std::iter::once(&vuln.id).chain(&vuln.aliases);
        let mine = || std::iter::once(&self.vulnerability).chain(&self.aliases);
        let same_vuln = mine().any(|a| ids().any(|b| a.eq_ignore_ascii_case(b)));
        same_vuln && (self.products.is_empty() || self.products.iter().any(|p| p.matches(vuln)))
    }
}

impl VexProduct {
    fn matches(&self, vuln: &Vulnerability) -> bool {
        match self {
            Self::Image(_) => true,
            Self::Unresolved(_) => false,
            Self::Package {
                name,
                qualified,
                version,
            } => {
                (vuln.package == *name || qualified.as_ref().is_some_and(|q| vuln.package == *q))
                    && version
                        .as_ref()
                        .is_none_or(|v| vuln.installed.is_empty() || vuln.installed == *v)
            }
        }
    }

    /// Reads a purl or image reference. `plain_is_image`: a non-purl names the image.
    fn parse(text: &str, plain_is_image: bool) -> Self {
        let Some(rest) = text.strip_prefix("pkg:") else {
            return if plain_is_image {
                Self::Image(text.to_owned())
            } else {
                Self::Unresolved(text.to_owned())
            };
        };
        let rest = rest
            .split('#')
            .next()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        let (path, version) = match rest.rsplit_once('@') {
            Some((path, version)) => (path, Some(percent_decode(version))),
            None => (rest, None),
        };
        let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segments.len() < 2 {
            return Self::Unresolved(text.to_owned());
        }
        let kind = segments.remove(0).to_ascii_lowercase();
        if kind == "oci" || kind == "docker" {
            return Self::Image(text.to_owned());
        }
        let name = percent_decode(segments[segments.len() - 1]);
        let qualified = (segments.len() > 1).then(|| {
            segments
                .iter()
                .map(|s| percent_decode(s))
                .collect::<Vec<_>>()
                .join("/")
        });
        Self::Package {
            name,
            qualified,
            version,
        }
    }
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Suppresses the findings that the last matching statement declares `not_affected`.
/// Returns how many findings it suppressed.
pub fn apply_vex(vulns: &mut [Vulnerability], statements: &[VexStatement]) -> usize {
    let mut count = 0;
    for vuln in vulns.iter_mut() {
        let Some(last) = statements.iter().rev().find(|s| s.matches(vuln)) else {
            continue;
        };
        if last.status == VexStatus::NotAffected {
            vuln.suppressed_by = Some(SuppressedBy::Vex);
            vuln.justification = Some(
                last.justification
                    .clone()
                    .unwrap_or_else(|| "not_affected".to_owned()),
            );
            count += 1;
        }
    }
    count
}

/// Parses an OpenVEX or CycloneDX VEX document (format sniffed unless given).
pub fn parse_vex(
    source_name: &str,
    bytes: &[u8],
    format: Option<Format>,
) -> Result<Vec<VexStatement>, ScanError> {
    let format = match format {
        Some(f) => f,
        None => crate::sniff::detect(source_name, bytes)?,
    };
    match format {
        Format::Openvex => parse_openvex(source_name, bytes),
        Format::CyclonedxVex | Format::Cyclonedx => parse_cyclonedx(source_name, bytes),
        found => Err(ScanError::WrongKind {
            source_name: source_name.to_owned(),
            found,
            expected: "an OpenVEX or CycloneDX VEX document".to_owned(),
        }),
    }
}

#[derive(Deserialize)]
struct OpenVex {
    #[serde(default, deserialize_with = "null_default")]
    statements: Vec<OpenVexStatement>,
}

#[derive(Deserialize)]
struct OpenVexStatement {
    vulnerability: Value,
    #[serde(default, deserialize_with = "null_default")]
    products: Vec<Value>,
    #[serde(default, deserialize_with = "null_default")]
    subcomponents: Vec<Value>,
    status: String,
    justification: Option<String>,
    impact_statement: Option<String>,
    action_statement: Option<String>,
    status_notes: Option<String>,
}

/// What the OpenVEX specification requires a statement of `status` to carry, when it lacks
/// it: `not_affected` needs a `justification` or an `impact_statement`, `affected` an
/// `action_statement` (blank text counts as missing).
fn missing_for(status: VexStatus, s: &OpenVexStatement) -> Option<&'static str> {
    let present = |field: &Option<String>| field.as_deref().is_some_and(|t| !t.trim().is_empty());
    match status {
        VexStatus::NotAffected if !present(&s.justification) && !present(&s.impact_statement) => {
            Some("a `justification` or an `impact_statement`")
        }
        VexStatus::Affected if !present(&s.action_statement) => Some("an `action_statement`"),
        _ => None,
    }
}

/// `"pkg:…"` or `{"@id": "pkg:…", "identifiers": {"purl": …}}`.
fn product_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map
            .get("identifiers")
            .and_then(|i| i.get("purl"))
            .and_then(Value::as_str)
            .or_else(|| map.get("@id").and_then(Value::as_str))
            .map(str::to_owned),
        _ => None,
    }
}

fn parse_openvex(source_name: &str, bytes: &[u8]) -> Result<Vec<VexStatement>, ScanError> {
    let doc: OpenVex = from_json(source_name, Format::Openvex, bytes)?;
    let invalid = |i: usize, field: &str, value: &str, expected: &str| ScanError::InvalidField {
        source_name: source_name.to_owned(),
        field: format!("statements[{i}].{field}"),
        value: crate::error::excerpt(value, 60),
        expected: expected.to_owned(),
    };
    let mut out = Vec::with_capacity(doc.statements.len());
    for (i, s) in doc.statements.into_iter().enumerate() {
        let (vulnerability, aliases) = match &s.vulnerability {
            Value::String(id) => (id.clone(), Vec::new()),
            Value::Object(map) => {
                let id = map
                    .get("name")
                    .or_else(|| map.get("@id"))
                    .and_then(Value::as_str);
                let aliases = map
                    .get("aliases")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                (id.unwrap_or("").to_owned(), aliases)
            }
            _ => (String::new(), Vec::new()),
        };
        if vulnerability.is_empty() {
            return Err(invalid(
                i,
                "vulnerability",
                &s.vulnerability.to_string(),
                "a vulnerability name",
            ));
        }
        let status = match s.status.as_str() {
            "not_affected" => VexStatus::NotAffected,
            "affected" => VexStatus::Affected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            other => {
                return Err(invalid(
                    i,
                    "status",
                    other,
                    "not_affected, affected, fixed or under_investigation",
                ))
            }
        };
        if let Some(missing) = missing_for(status, &s) {
            return Err(ScanError::VexIncomplete {
                source_name: source_name.to_owned(),
                index: i,
                vulnerability,
                status: s.status,
                missing: missing.to_owned(),
            });
        }
        let mut products = Vec::new();
        for product in &s.products {
            let subs: Vec<String> = product
                .get("subcomponents")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(product_id).collect())
                .unwrap_or_default();
            if subs.is_empty() {
                if let Some(id) = product_id(product) {
                    products.push(VexProduct::parse(&id, true));
                }
            } else {
                products.extend(subs.iter().map(|id| VexProduct::parse(id, false)));
            }
        }
        let statement_subs: Vec<VexProduct> = s
            .subcomponents
            .iter()
            .filter_map(product_id)
            .map(|id| VexProduct::parse(&id, false))
            .collect();
        if !statement_subs.is_empty() {
            products = statement_subs;
        }
        let justification = [s.justification, s.impact_statement, s.status_notes]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>();
        out.push(VexStatement {
            vulnerability,
            aliases,
            products,
            status,
            justification: (!justification.is_empty()).then(|| justification.join(": ")),
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct CycloneDx {
    #[serde(default)]
    metadata: Option<CdxMetadata>,
    #[serde(default, deserialize_with = "null_default")]
    components: Vec<CdxComponent>,
    #[serde(default, deserialize_with = "null_default")]
    vulnerabilities: Vec<CdxVulnerability>,
}

#[derive(Deserialize)]
struct CdxMetadata {
    component: Option<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxComponent {
    #[serde(rename = "bom-ref")]
    bom_ref: Option<String>,
    name: Option<String>,
    version: Option<String>,
    purl: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    components: Vec<CdxComponent>,
}

#[derive(Deserialize)]
struct CdxVulnerability {
    id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    references: Vec<CdxReference>,
    analysis: Option<CdxAnalysis>,
    #[serde(default, deserialize_with = "null_default")]
    affects: Vec<CdxAffects>,
}

#[derive(Deserialize)]
struct CdxReference {
    id: Option<String>,
}

#[derive(Deserialize)]
struct CdxAnalysis {
    state: Option<String>,
    justification: Option<String>,
    detail: Option<String>,
}

#[derive(Deserialize)]
struct CdxAffects {
    #[serde(rename = "ref")]
    reference: Option<String>,
}

fn collect_components<'a>(list: &'a [CdxComponent], out: &mut Vec<&'a CdxComponent>) {
    for c in list {
        out.push(c);
        collect_components(&c.components, out);
    }
}

fn parse_cyclonedx(source_name: &str, bytes: &[u8]) -> Result<Vec<VexStatement>, ScanError> {
    let doc: CycloneDx = from_json(source_name, Format::CyclonedxVex, bytes)?;
    let image_ref = doc
        .metadata
        .as_ref()
        .and_then(|m| m.component.as_ref())
        .and_then(|c| c.bom_ref.clone());
    let mut components = Vec::new();
    collect_components(&doc.components, &mut components);
    let resolve = |reference: &str| -> VexProduct {
        let bom_ref = reference
            .rsplit_once('#')
            .filter(|_| reference.starts_with("urn:cdx:"))
            .map_or(reference, |(_, r)| r);
        if image_ref.as_deref() == Some(bom_ref) {
            return VexProduct::Image(bom_ref.to_owned());
        }
        if let Some(c) = components
            .iter()
            .find(|c| c.bom_ref.as_deref() == Some(bom_ref))
        {
            if let Some(purl) = &c.purl {
                return VexProduct::parse(purl, false);
            }
            if let Some(name) = &c.name {
                return VexProduct::Package {
                    name: name.clone(),
                    qualified: None,
                    version: c.version.clone(),
                };
            }
        }
        VexProduct::parse(bom_ref, false)
    };
    let mut out = Vec::new();
    for (i, v) in doc.vulnerabilities.into_iter().enumerate() {
        let Some(analysis) = v.analysis else { continue };
        let Some(state) = analysis.state else {
            continue;
        };
        let status = match state.as_str() {
            "not_affected" | "false_positive" => VexStatus::NotAffected,
            "exploitable" => VexStatus::Affected,
            "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
            "in_triage" => VexStatus::UnderInvestigation,
            other => {
                return Err(ScanError::InvalidField {
                    source_name: source_name.to_owned(),
                    field: format!("vulnerabilities[{i}].analysis.state"),
                    value: crate::error::excerpt(other, 60),
                    expected: "not_affected, false_positive, exploitable, resolved, resolved_with_pedigree or in_triage"
                        .to_owned(),
                })
            }
        };
        let Some(id) = v.id.filter(|id| !id.is_empty()) else {
            return Err(ScanError::InvalidField {
                source_name: source_name.to_owned(),
                field: format!("vulnerabilities[{i}].id"),
                value: "null".to_owned(),
                expected: "a vulnerability id".to_owned(),
            });
        };
        let justification = [analysis.justification, analysis.detail]
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>();
        out.push(VexStatement {
            vulnerability: id,
            aliases: v.references.into_iter().filter_map(|r| r.id).collect(),
            products: v
                .affects
                .iter()
                .filter_map(|a| a.reference.as_deref())
                .map(resolve)
                .collect(),
            status,
            justification: (!justification.is_empty()).then(|| justification.join(": ")),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_products() {
        assert_eq!(
            VexProduct::parse("pkg:npm/%40angular/core@1.0.0?x=y#sub", false),
            VexProduct::Package {
                name: "core".into(),
                qualified: Some("@angular/core".into()),
                version: Some("1.0.0".into())
            }
        );
        assert!(matches!(
            VexProduct::parse("pkg:oci/alpine@sha256%3Aab", true),
            VexProduct::Image(_)
        ));
        assert!(matches!(
            VexProduct::parse("ghcr.io/x/y:1", true),
            VexProduct::Image(_)
        ));
        assert!(matches!(
            VexProduct::parse("some-bom-ref", false),
            VexProduct::Unresolved(_)
        ));
        assert!(matches!(
            VexProduct::parse("pkg:", false),
            VexProduct::Unresolved(_)
        ));
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
