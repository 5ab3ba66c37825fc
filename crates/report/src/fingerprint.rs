//! Stable identities for findings, so that SARIF alerts and GitLab code-quality issues
//! survive unrelated edits (a line inserted above a `FROM` must not open a new alert) and
//! two different problems never share one identity (GitLab shows only the first of a
//! duplicated fingerprint).

use std::collections::HashMap;

use portcullis_policy::{Finding, Report};
use sha2::{Digest as _, Sha256};

use crate::code;

/// The identity of one finding: rule, file, image, and for a vulnerability its id and
/// package. Line numbers are left out on purpose.
fn key(finding: &Finding) -> String {
    let file = finding.location.as_ref().map_or("", |l| l.file.as_str());
    let image = finding.image.as_deref().unwrap_or("");
    let mut key = format!("{}\0{file}\0{image}", code(finding.rule));
    if let Some(v) = finding.vulnerability() {
        key.push('\0');
        key.push_str(&v.id);
        key.push('\0');
        key.push_str(&v.package);
    }
    key
}

/// One lowercase hex sha256 per finding, in report order. When several findings share a
/// key (the same unpinned image twice in one Dockerfile), the second and later get their
/// ordinal mixed in, so every fingerprint in a report is unique and stays stable as long as
/// the order of those duplicates does.
pub(crate) fn fingerprints(report: &Report) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    report
        .findings
        .iter()
        .map(|finding| {
            let key = key(finding);
            let n = seen.entry(key.clone()).or_insert(0);
            *n += 1;
            let mut hasher = Sha256::new();
            hasher.update(key.as_bytes());
            if *n > 1 {
                hasher.update(format!("\0#{n}").as_bytes());
            }
            hex::encode(hasher.finalize())
        })
        .collect()
}

/// A UUID-shaped (8-4-4-4-12) identifier from a hex digest, for formats that want one.
pub(crate) fn uuid_shaped(hex: &str) -> String {
    let h = &hex[..32];
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Lowercase hex sha256 of `text`.
pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
