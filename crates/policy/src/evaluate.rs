//! The gate itself: subjects, input problems, registry facts and scan results in, one
//! [`Report`] out. Pure, so it is tested with plain values. Each family's check reads only
//! its own section of the policy.

use std::collections::{BTreeMap, BTreeSet};

use portcullis_reference::inline::InlineComment;
use portcullis_reference::{ImageRef, Problem, Resolution};

use crate::config::Config;
use crate::families::inputs::{self, ReportMismatch};
use crate::families::registry::{self, RegistryFact};
use crate::families::signatures::{self, SignatureFact};
use crate::families::staleness::{self, StaleFact};
use crate::families::{images, mirrors, tags, vulnerabilities, waivers, At};
use crate::finding::Finding;
use crate::report::{ImageEntry, Report, Summary};
use crate::rules::Rule;
use crate::subject::{HelpPaths, Subject};
use crate::vuln::ScanResult;

/// Everything evaluation looks at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Number of files read.
    pub files: usize,
    /// Number of files found but not checked (Helm templates).
    pub not_checked: usize,
    /// The images to judge, written in files or given by name.
    pub subjects: Vec<Subject>,
    /// Files and values that could not be read (`file-invalid`, `reference-invalid`).
    pub problems: Vec<Problem>,
    /// `--resolve` results, by image.
    pub registry: Option<BTreeMap<ImageRef, RegistryFact>>,
    /// `--verify` results, by image, for the images a `[[trust.signer]]` covers.
    pub signatures: Option<BTreeMap<ImageRef, SignatureFact>>,
    pub scans: Vec<ScanResult>,
    /// Inline waiver comments of the files read, as `sources` found them.
    pub inline_comments: Vec<InlineComment>,
    /// Where scanned images are written (`scan --dockerfile`): they place a scan's findings
    /// and are not judged themselves.
    pub references: Vec<Subject>,
    /// What `stale` read about each watched image (judged by `[stale]`, not by the
    /// reference rules).
    pub stale: Vec<StaleFact>,
    /// Scanner reports about another image than the one scanned.
    pub mismatches: Vec<ReportMismatch>,
    /// How `help:` lines name files.
    pub help: HelpPaths,
    /// The run did not cover the whole tree of the policy file (say `check services/web`
    /// under a root `portcullis.toml`): waivers are not reported unused, since they may
    /// match elsewhere.
    pub partial_tree: bool,
}

/// Findings, and side by side the image each is about (for waiver matching), borrowed
/// from the subject or scan it came from rather than copied for each finding.
#[derive(Default)]
struct Pending<'a> {
    findings: Vec<Finding>,
    images: Vec<Option<&'a ImageRef>>,
}

impl<'a> Pending<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            findings: Vec::with_capacity(n),
            images: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, finding: Finding, image: Option<&'a ImageRef>) {
        self.findings.push(finding);
        self.images.push(image);
    }

    fn append(&mut self, mut other: Pending<'a>) {
        self.findings.append(&mut other.findings);
        self.images.append(&mut other.images);
    }
}

/// Evaluates facts against the policy. `today` decides waiver expiry.
#[must_use]
pub fn evaluate(config: &Config, facts: &Facts, today: jiff::civil::Date) -> Report {
    let scans: Vec<ScanResult> = facts
        .scans
        .iter()
        .map(|scan| vulnerabilities::rate(config.scan(), scan))
        .collect();
    let scanned: Vec<Option<ImageRef>> = scans
        .iter()
        .map(|scan| ImageRef::parse(&scan.image).ok())
        .collect();
    let (mut pending, mut images) = subject_findings(config, facts);
    for (scan, image) in scans.iter().zip(&scanned) {
        let subject = brought_in_by(facts, scan);
        let at = At::new(&subject, &facts.help);
        // A reference given only to place the scan is listed like a checked one.
        if let (Some(written), Some(image)) = (&subject.written, subject.resolution.image()) {
            if !facts.subjects.contains(&subject) {
                images.push(ImageEntry {
                    image: image.to_string(),
                    file: written.location.file.clone(),
                    line: written.location.line,
                    context: written.context,
                });
            }
        }
        for finding in vulnerabilities::check(config.scan(), &at, scan) {
            pending.push(finding, image.as_ref());
        }
    }
    for fact in &facts.stale {
        let at = At::new(&fact.subject, &facts.help);
        if let Some(finding) = staleness::check(config.stale(), config.scan(), &at, fact) {
            pending.push(finding, fact.subject.resolution.image());
        }
    }
    let evaluated = evaluated_rules(facts);
    let (inline, bad_inline): (Vec<_>, Vec<_>) = facts
        .inline_comments
        .iter()
        .map(waivers::InlineWaiver::read)
        .partition(Result::is_ok);
    let inline: Vec<waivers::InlineWaiver> = inline.into_iter().filter_map(Result::ok).collect();
    let waiver_findings = waivers::apply(
        config.waivers(),
        &inline,
        &mut pending.findings,
        &pending.images,
        today,
        &evaluated,
        !facts.partial_tree,
    );
    let mut findings = pending.findings;
    findings.extend(waiver_findings);
    findings.extend(
        bad_inline
            .into_iter()
            .filter_map(Result::err)
            .map(|problem| waivers::inline_problem(&problem)),
    );
    findings.extend(facts.problems.iter().map(inputs::problem));
    findings.extend(facts.mismatches.iter().map(inputs::mismatch));

    let scans = scans
        .iter()
        .map(|scan| vulnerabilities::judged(config.scan(), scan, &findings))
        .collect();
    let mut report = Report {
        findings,
        images,
        scans,
        policies: vec![config.name().to_owned()],
        summary: Summary {
            files: facts.files,
            not_checked: facts.not_checked,
            ..Summary::default()
        },
        ..Report::default()
    };
    report.finish();
    report
}

/// The subject a scan's findings point at: the reference that brought the image in, when
/// one did, else the image by name.
fn brought_in_by(facts: &Facts, scan: &ScanResult) -> Subject {
    let scanned = ImageRef::parse(&scan.image).ok();
    let written = scanned.as_ref().and_then(|scanned| {
        facts
            .subjects
            .iter()
            .chain(&facts.references)
            .find(|subject| {
                subject.written.is_some()
                    && subject
                        .resolution
                        .image()
                        .is_some_and(|image| image.name() == scanned.name())
            })
    });
    match (written, scanned) {
        (Some(subject), _) => subject.clone(),
        (None, Some(image)) => Subject::image(image),
        (None, None) => Subject {
            resolution: Resolution::Unresolved {
                variable: scan.image.clone(),
            },
            text: scan.image.clone(),
            written: None,
        },
    }
}

/// Evaluates every subject. Subjects are independent, so large repositories are split over
/// the available cores; the output order is the input order either way.
fn subject_findings<'a>(config: &Config, facts: &'a Facts) -> (Pending<'a>, Vec<ImageEntry>) {
    const CHUNK: usize = 4096;
    let subjects = &facts.subjects;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if subjects.len() <= CHUNK || threads == 1 {
        return evaluate_subjects(config, facts, subjects, subjects.len());
    }
    let chunk = subjects.len().div_ceil(threads).max(CHUNK);
    let parts: Vec<(Pending, Vec<ImageEntry>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = subjects
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                let capacity = if i == 0 { subjects.len() } else { part.len() };
                scope.spawn(move || evaluate_subjects(config, facts, part, capacity))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    // The first part was sized for every subject: the others move into its spare room
    // instead of all of them into new buffers.
    let mut parts = parts.into_iter();
    let (mut findings, mut images) = parts.next().unwrap_or_default();
    for (f, mut i) in parts {
        findings.append(f);
        images.append(&mut i);
    }
    (findings, images)
}

fn evaluate_subjects<'a>(
    config: &Config,
    facts: &Facts,
    subjects: &'a [Subject],
    capacity: usize,
) -> (Pending<'a>, Vec<ImageEntry>) {
    // About one finding and one image entry a reference: grown once, not by doubling.
    let mut findings = Pending::with_capacity(capacity);
    let mut images = Vec::with_capacity(capacity);
    // The current file and its name in `help:` commands: references come file by file.
    let mut file: Option<(&str, Option<String>)> = None;
    for subject in subjects {
        let written = subject.written.as_ref().map(|w| w.location.file.as_str());
        let at = match (&file, written) {
            (Some((name, path)), Some(written)) if *name == written => {
                At::with_command_path(subject, &facts.help, path.clone())
            }
            _ => {
                let at = At::new(subject, &facts.help);
                if let Some(written) = written {
                    file = Some((written, at.command_path()));
                }
                at
            }
        };
        let image = match &subject.resolution {
            Resolution::Unresolved { variable } => {
                findings.push(tags::unresolved_variable(&at, variable), None);
                continue;
            }
            Resolution::Image(image) => image,
        };
        if let Some(written) = &subject.written {
            images.push(ImageEntry {
                image: at.image_text().unwrap_or_default().to_owned(),
                file: written.location.file.clone(),
                line: written.location.line,
                context: written.context,
            });
        }
        let mut found: Vec<Finding> = images::check(config.images(), &at, image)
            .into_iter()
            .collect();
        found.extend(tags::check(config.images(), &at, image));
        found.extend(mirrors::check(config.mirrors(), &at, image));
        if let Some(fact) = facts.registry.as_ref().and_then(|facts| facts.get(image)) {
            found.extend(registry::check(fact, &at, image));
        }
        if let Some(signed) = &facts.signatures {
            // An image the verifier was not asked about counts as unsigned: fail closed.
            let unchecked = SignatureFact::default();
            let fact = signed.get(image).unwrap_or(&unchecked);
            found.extend(signatures::check(config.trust(), fact, &at, image));
        }
        // In report order (the rule decides among one reference's findings), so the report
        // is sorted already when the references were.
        found.sort_by(|a, b| a.rule.code().cmp(b.rule.code()));
        for finding in found {
            findings.push(finding, Some(image));
        }
    }
    (findings, images)
}

/// The rules this run could produce (for `waiver-unused`).
fn evaluated_rules(facts: &Facts) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::from([
        Rule::ImageNotAllowed,
        Rule::DigestNotPinned,
        Rule::TagMissing,
        Rule::TagDenied,
        Rule::UnresolvedVariable,
        Rule::NotFromMirror,
    ]);
    if facts.registry.is_some() {
        rules.extend([Rule::DigestNotFound, Rule::DigestStale]);
    }
    if facts.signatures.is_some() {
        rules.extend([Rule::SignatureMissing, Rule::SignatureInvalid]);
    }
    if !facts.scans.is_empty() {
        rules.insert(Rule::Vulnerability);
    }
    if !facts.stale.is_empty() {
        rules.insert(Rule::ImageStale);
    }
    rules
}
