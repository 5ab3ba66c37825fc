//! Waivers: which findings a `[[waiver]]` covers, expiry, and the `waiver-expired` /
//! `waiver-unused` diagnostics that keep the list of exceptions honest.

use std::collections::BTreeSet;

use portcullis_reference::ImageRef;

use crate::config::Waiver;
use crate::rules::{self, Rule};
use crate::Finding;

/// Whether `waiver` covers `finding` (about `image`, when known).
///
/// (rules contains the rule OR ids contains the vulnerability id or an alias) AND
/// (images empty OR an images pattern matches) AND (packages empty OR contains the package).
#[must_use]
pub fn covers(waiver: &Waiver, finding: &Finding, image: Option<&ImageRef>) -> bool {
    if matches!(finding.rule, Rule::WaiverExpired | Rule::WaiverUnused) {
        return false;
    }
    let by_rule = waiver.rules.iter().any(|rule| rule.value == finding.rule);
    let by_id = finding.vulnerability.as_ref().is_some_and(|vuln| {
        waiver.ids.iter().any(|id| {
            let id = id.value.as_str();
            vuln.id.eq_ignore_ascii_case(id)
                || vuln
                    .aliases
                    .iter()
                    .any(|alias| alias.eq_ignore_ascii_case(id))
        })
    });
    if !(by_rule || by_id) {
        return false;
    }
    let by_image = waiver.images.is_empty()
        || image.is_some_and(|image| {
            waiver
                .images
                .iter()
                .any(|pattern| pattern.value.matches(image))
        });
    let by_package = waiver.packages.is_empty()
        || finding.vulnerability.as_ref().is_some_and(|vuln| {
            waiver
                .packages
                .iter()
                .any(|package| package.value == vuln.package)
        });
    by_image && by_package
}

/// Whether the waiver's `expires` day has passed (it still applies on that day).
#[must_use]
pub fn is_expired(waiver: &Waiver, today: jiff::civil::Date) -> bool {
    today > waiver.expires.value
}

/// Applies `waivers` to `findings` (each with the image it concerns) and returns the
/// `waiver-expired` and `waiver-unused` findings. `evaluated` holds the rules this run
/// could produce: a waiver only for rules that were not evaluated (say `digest-stale`
/// without `--resolve`) is not reported unused.
pub(crate) fn apply(
    waivers: &[Waiver],
    findings: &mut [(Finding, Option<ImageRef>)],
    today: jiff::civil::Date,
    evaluated: &BTreeSet<Rule>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for waiver in waivers {
        let expired = is_expired(waiver, today);
        let mut used = false;
        for (finding, image) in findings.iter_mut() {
            if !covers(waiver, finding, image.as_ref()) {
                continue;
            }
            used = true;
            if !expired && !finding.waived {
                rules::waive(finding, waiver);
            }
        }
        let judged = waiver
            .rules
            .iter()
            .any(|rule| evaluated.contains(&rule.value))
            || (!waiver.ids.is_empty() && evaluated.contains(&Rule::Vulnerability));
        if expired {
            out.push(rules::waiver_expired(waiver));
        } else if !used && judged {
            out.push(rules::waiver_unused(waiver));
        }
    }
    out
}
