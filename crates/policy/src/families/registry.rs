//! What the registry says (`--resolve`) → `digest-not-found`, `digest-stale`.

use portcullis_reference::{Digest, ImageRef};

use super::At;
use crate::finding::{Detail, Finding, Severity};
use crate::rules::Rule;

/// What the registry said about one reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryFact {
    /// The digest the tag points at now (index digest for multi-platform images).
    pub tag_digest: Option<Digest>,
    /// Digests of the platform manifests under that index (to accept a kept platform pin).
    pub platform_digests: Vec<Digest>,
    /// Whether the pinned digest exists in the repository (`None` when not pinned).
    pub pinned_exists: Option<bool>,
}

/// The registry rules for a pinned image.
pub(crate) fn check(fact: &RegistryFact, at: &At<'_>, image: &ImageRef) -> Option<Finding> {
    let pin = image.digest()?;
    if fact.pinned_exists == Some(false) {
        return Some(not_found(at, pin, image.tag().is_some()));
    }
    let current = fact.tag_digest.as_ref()?;
    (current != pin && !fact.platform_digests.contains(pin)).then(|| stale(at, pin, current))
}

fn not_found(at: &At<'_>, pinned: &Digest, has_tag: bool) -> Finding {
    let message = format!(
        "the pinned digest `{pinned}` of `{}` does not exist in the registry",
        at.subject.text
    );
    let help = match (has_tag, at.command_path()) {
        (true, Some(file)) => {
            format!("run `portcullis pin {file}` to pin the digest the tag points at now")
        }
        _ => "pin a digest that exists in the repository".to_owned(),
    };
    let mut finding = at.finding(Rule::DigestNotFound, Severity::Error, message, Some(help));
    finding.detail = Some(Detail::DigestNotFound {
        pinned: pinned.clone(),
    });
    finding
}

fn stale(at: &At<'_>, pinned: &Digest, current: &Digest) -> Finding {
    let message = format!(
        "the tag of `{}` now points at `{current}`, not the pinned `{pinned}`",
        at.subject.text
    );
    let help = match at.command_path() {
        Some(file) => format!("run `portcullis pin {file}` to update the pin"),
        None => format!("pin `{current}`"),
    };
    let mut finding = at.finding(Rule::DigestStale, Severity::Warning, message, Some(help));
    finding.detail = Some(Detail::DigestStale {
        pinned: pinned.clone(),
        current: current.clone(),
    });
    finding
}
