//! Benchmark support: builds large Trivy reports from a real one, so parser speed and
//! memory can be measured at realistic sizes (`cargo test -p portcullis-scan --release
//! -- --ignored large_report`).

use serde_json::Value;

use crate::{Format, ScanError};

/// Builds a Trivy JSON report of at least `target_bytes` by repeating the vulnerability
/// entries of `template` (a Trivy JSON report) with numbered ids and package names, so that
/// merging cannot collapse them. Returns the report and the number of entries written.
pub fn synthetic_trivy_report(
    template: &[u8],
    target_bytes: usize,
) -> Result<(Vec<u8>, usize), ScanError> {
    let doc: Value = crate::util::from_json("template", Format::TrivyJson, template)?;
    let entries: Vec<&Value> = doc
        .get("Results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("Vulnerabilities").and_then(Value::as_array))
        .flatten()
        .collect();
    if entries.is_empty() {
        return Err(ScanError::InvalidField {
            source_name: "template".to_owned(),
            field: "Results[].Vulnerabilities".to_owned(),
            value: "[]".to_owned(),
            expected: "at least one vulnerability to repeat".to_owned(),
        });
    }
    let mut out = Vec::with_capacity(target_bytes + 64 * 1024);
    out.extend_from_slice(br#"{"SchemaVersion":2,"ArtifactName":"synthetic","ArtifactType":"container_image","Results":[{"Target":"synthetic","Class":"os-pkgs","Type":"alpine","Vulnerabilities":["#);
    let mut count = 0_usize;
    while out.len() < target_bytes {
        let mut entry = entries[count % entries.len()].clone();
        if let Some(map) = entry.as_object_mut() {
            let id = map
                .get("VulnerabilityID")
                .and_then(Value::as_str)
                .unwrap_or("CVE")
                .to_owned();
            map.insert(
                "VulnerabilityID".to_owned(),
                Value::String(format!("{id}-{count}")),
            );
            let pkg = map
                .get("PkgName")
                .and_then(Value::as_str)
                .unwrap_or("pkg")
                .to_owned();
            map.insert(
                "PkgName".to_owned(),
                Value::String(format!("{pkg}-{}", count / entries.len())),
            );
        }
        if count > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &entry).map_err(|error| ScanError::Parse {
            source_name: "synthetic report".to_owned(),
            format: Format::TrivyJson,
            field: ".".to_owned(),
            error,
        })?;
        count += 1;
    }
    out.extend_from_slice(b"]}]}");
    Ok((out, count))
}
