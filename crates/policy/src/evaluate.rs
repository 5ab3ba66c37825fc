//! The gate itself: occurrences, registry facts and scan results in, sorted findings and
//! totals out. Pure, so it is tested with plain values.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use portcullis_reference::ImageRef;
use portcullis_sources::{Occurrence, Resolution};

use crate::config::Config;
use crate::rules::{self, Rule, Subject};
use crate::vuln::{FixState, ScanResult, SuppressedBy, Vulnerability};
use crate::{
    waiver, Facts, Finding, FindingLocation, ImageEntry, RegistryFact, Report, Severity, Summary,
};

/// Evaluates facts against the policy. `today` decides waiver expiry.
#[must_use]
pub fn evaluate(config: &Config, facts: &Facts, today: jiff::civil::Date) -> Report {
    let (mut findings, images) = occurrence_findings(config, facts);
    for scan in &facts.scans {
        findings.extend(scan_findings(config, facts, scan));
    }

    let evaluated = evaluated_rules(facts);
    let waiver_findings = waiver::apply(config.waivers(), &mut findings, today, &evaluated);
    let mut findings: Vec<Finding> = findings.into_iter().map(|(finding, _)| finding).collect();
    findings.extend(waiver_findings);
    findings.sort_by(compare);

    let scans = facts
        .scans
        .iter()
        .map(|scan| mark_waived(scan, &findings))
        .collect();
    let summary = Summary {
        files: facts.files,
        images: images.len(),
        errors: count(&findings, Severity::Error),
        warnings: count(&findings, Severity::Warning),
        waived: findings.iter().filter(|finding| finding.waived).count(),
    };
    Report {
        findings,
        images,
        scans,
        summary,
    }
}

/// A finding and the image it is about (for waiver matching).
type Pending = (Finding, Option<ImageRef>);

/// Evaluates every occurrence. Occurrences are independent, so large repositories are split
/// over the available cores; the output order is the input order either way.
fn occurrence_findings(config: &Config, facts: &Facts) -> (Vec<Pending>, Vec<ImageEntry>) {
    const CHUNK: usize = 4096;
    let occurrences = &facts.occurrences;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if occurrences.len() <= CHUNK || threads == 1 {
        return evaluate_occurrences(config, facts, occurrences);
    }
    let chunk = occurrences.len().div_ceil(threads).max(CHUNK);
    let parts: Vec<(Vec<Pending>, Vec<ImageEntry>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = occurrences
            .chunks(chunk)
            .map(|part| scope.spawn(move || evaluate_occurrences(config, facts, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut findings = Vec::new();
    let mut images = Vec::new();
    for (f, i) in parts {
        findings.extend(f);
        images.extend(i);
    }
    (findings, images)
}

fn evaluate_occurrences(
    config: &Config,
    facts: &Facts,
    occurrences: &[Occurrence],
) -> (Vec<Pending>, Vec<ImageEntry>) {
    let mut findings: Vec<Pending> = Vec::new();
    let mut images = Vec::new();
    for occurrence in occurrences {
        let subject = subject(occurrence, facts.command_root.as_deref());
        match &occurrence.resolution {
            Resolution::Unresolved { variable } => {
                findings.push((rules::unresolved_variable(&subject, variable), None));
            }
            Resolution::Image(image) => {
                images.push(ImageEntry {
                    image: image.to_string(),
                    file: occurrence.location.file.clone(),
                    line: occurrence.location.line,
                    context: occurrence.context.as_str().to_owned(),
                });
                let fact = facts
                    .registry
                    .as_ref()
                    .and_then(|registry| registry.get(&image.to_string()));
                for finding in image_findings(config, &subject, image, fact) {
                    findings.push((finding, Some(image.clone())));
                }
            }
        }
    }
    (findings, images)
}

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings
        .iter()
        .filter(|finding| !finding.waived && finding.severity == severity)
        .count()
}

fn subject(occurrence: &Occurrence, command_root: Option<&str>) -> Subject {
    let location = &occurrence.location;
    Subject {
        location: Some(FindingLocation {
            file: location.file.clone(),
            line: location.line,
            column: location.column,
            end_line: location.end_line,
            end_column: location.end_column,
        }),
        context: Some(occurrence.context.as_str().to_owned()),
        image: match &occurrence.resolution {
            Resolution::Image(image) => Some(image.to_string()),
            Resolution::Unresolved { .. } => None,
        },
        text: occurrence.text.clone(),
        command_path: command_root
            .map(|root| format!("{}/{}", root.trim_end_matches('/'), location.file)),
    }
}

/// The independent image rules for one reference.
fn image_findings(
    config: &Config,
    subject: &Subject,
    image: &ImageRef,
    fact: Option<&RegistryFact>,
) -> Vec<Finding> {
    let policy = config.images();
    let mut out = Vec::new();
    if let Some(deny) = policy
        .deny
        .iter()
        .find(|pattern| pattern.value.matches(image))
    {
        out.push(rules::image_denied(
            subject,
            deny.value.as_str(),
            deny.site.as_ref(),
        ));
    } else if let Some(allow) = &policy.allow {
        if !allow.iter().any(|pattern| pattern.value.matches(image)) {
            out.push(rules::image_not_allowed(
                subject,
                &image.name(),
                policy.allow_site.as_ref(),
            ));
        }
    }
    if policy.require_digest.value && image.digest().is_none() {
        out.push(rules::digest_not_pinned(
            subject,
            policy.require_digest.site.as_ref(),
        ));
    }
    match (image.tag(), image.digest()) {
        (None, None) => out.push(rules::tag_missing(subject)),
        (Some(tag), digest) => {
            if let Some(denied) = policy.deny_tags.iter().find(|denied| denied.value == tag) {
                out.push(rules::tag_denied(
                    subject,
                    tag,
                    digest.is_some(),
                    denied.site.as_ref(),
                ));
            }
        }
        (None, Some(_)) => {}
    }
    if let (Some(fact), Some(pin)) = (fact, image.digest()) {
        if fact.pinned_exists == Some(false) {
            out.push(rules::digest_not_found(
                subject,
                &pin.to_string(),
                image.tag().is_some(),
            ));
        } else if let Some(current) = &fact.tag_digest {
            if current != pin && !fact.platform_digests.contains(pin) {
                out.push(rules::digest_stale(
                    subject,
                    &pin.to_string(),
                    &current.to_string(),
                ));
            }
        }
    }
    out
}

/// Whether a vulnerability counts against the gate.
#[must_use]
pub fn counts(config: &Config, vuln: &Vulnerability) -> bool {
    let scan = config.scan();
    let Some(threshold) = scan.fail_on.value.threshold() else {
        return false;
    };
    vuln.suppressed_by != Some(SuppressedBy::Vex)
        && vuln.severity >= threshold
        && (!scan.only_fixed.value || vuln.fix_state == FixState::Fixed)
}

fn scan_findings(
    config: &Config,
    facts: &Facts,
    scan: &ScanResult,
) -> Vec<(Finding, Option<ImageRef>)> {
    let scanned = ImageRef::parse(&scan.image).ok();
    let occurrence = scanned.as_ref().and_then(|scanned| {
        facts
            .occurrences
            .iter()
            .find(|occurrence| match &occurrence.resolution {
                Resolution::Image(image) => image.name() == scanned.name(),
                Resolution::Unresolved { .. } => false,
            })
    });
    let subject = occurrence
        .map(|o| subject(o, facts.command_root.as_deref()))
        .unwrap_or_default();
    scan.vulnerabilities
        .iter()
        .filter(|vuln| counts(config, vuln))
        .map(|vuln| {
            (
                rules::vulnerability(&subject, &scan.image, vuln),
                scanned.clone(),
            )
        })
        .collect()
}

/// The rules this run could produce (for `waiver-unused`).
fn evaluated_rules(facts: &Facts) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::from([
        Rule::ImageNotAllowed,
        Rule::DigestNotPinned,
        Rule::TagMissing,
        Rule::TagDenied,
        Rule::UnresolvedVariable,
    ]);
    if facts.registry.is_some() {
        rules.extend([Rule::DigestNotFound, Rule::DigestStale]);
    }
    if !facts.scans.is_empty() {
        rules.insert(Rule::Vulnerability);
    }
    rules
}

/// The scan inventory with waived vulnerabilities marked `suppressed_by: waiver`.
fn mark_waived(scan: &ScanResult, findings: &[Finding]) -> ScanResult {
    let mut scan = scan.clone();
    for vuln in &mut scan.vulnerabilities {
        let waived = findings.iter().any(|finding| {
            finding.waived
                && finding.image.as_deref() == Some(scan.image.as_str())
                && finding.vulnerability.as_ref().is_some_and(|block| {
                    block.id == vuln.id
                        && block.package == vuln.package
                        && block.installed == vuln.installed
                })
        });
        if waived && vuln.suppressed_by.is_none() {
            vuln.suppressed_by = Some(SuppressedBy::Waiver);
        }
    }
    scan
}

/// By file, line, column, rule; findings without a location last.
fn compare(a: &Finding, b: &Finding) -> Ordering {
    let position = |finding: &Finding| {
        finding
            .location
            .as_ref()
            .map(|location| (location.file.clone(), location.line, location.column))
    };
    let tail = |finding: &Finding| {
        (
            finding.image.clone(),
            finding
                .vulnerability
                .as_ref()
                .map(|vuln| (vuln.id.clone(), vuln.package.clone())),
        )
    };
    match (position(a), position(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.rule.code().cmp(b.rule.code()))
    .then_with(|| tail(a).cmp(&tail(b)))
}
