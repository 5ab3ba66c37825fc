//! `portcullis pin`: resolve every tagged reference and rewrite it in place to
//! `name:tag@sha256:…`, editing only the reference's bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;

use portcullis_policy::{Failure, Note, Report};
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{Client, RegistryError, Resolved};
use portcullis_sources::{Edit, Occurrence, Resolution, Root};

use crate::args::{Global, PinArgs, PlatformPins};
use crate::output::Messages;
use crate::workspace::{self, Workspace};

/// One reference `pin` may rewrite.
struct Target<'a> {
    occurrence: &'a Occurrence,
    image: ImageRef,
}

pub fn run(global: &Global, args: &PinArgs) -> anyhow::Result<u8> {
    let messages = Messages::new(global);
    let ws = Workspace::load(global.config.as_deref(), &args.sources)?;
    let rt = workspace::runtime()?;
    let mut report = Report::default();
    let mut edits: BTreeMap<String, Vec<Edit>> = BTreeMap::new();
    for group in &ws.groups {
        let client = crate::resolve::client(&group.config)?;
        let part = plan(
            &rt,
            &client,
            &group.collected.occurrences,
            args.platform_pins,
        );
        report.notes.extend(part.notes);
        report.failures.extend(part.failures);
        for (file, list) in part.edits {
            edits.entry(file).or_default().extend(list);
        }
        report.findings.extend(
            portcullis_policy::evaluate(
                &group.config,
                &portcullis_policy::Facts {
                    problems: group.collected.problems.clone(),
                    ..portcullis_policy::Facts::default()
                },
                workspace::today()?,
            )
            .findings
            .into_iter()
            .filter(|f| f.rule.is_bad_input()),
        );
    }
    for list in edits.values_mut() {
        list.sort_by_key(|e| e.span.start);
        list.dedup_by(|a, b| a.span == b.span);
    }
    report.finish();
    for finding in &report.findings {
        let at = finding
            .location
            .as_ref()
            .map(|l| format!("{}:{}:{}: ", l.file, l.line, l.column))
            .unwrap_or_default();
        messages.error(&format!("{at}{}", finding.message));
    }
    for note in &report.notes {
        messages.say(note.severity, &note.message);
    }
    for failure in &report.failures {
        messages.error(&failure.message);
    }
    let changed = write_or_diff(&ws.root, &edits, args.check, &messages)?;
    let code = report.exit_code();
    Ok(if code == 0 && args.check && changed > 0 {
        portcullis_policy::exit::VIOLATIONS
    } else {
        code
    })
}

/// What pin would do to one group's references.
struct Plan {
    edits: BTreeMap<String, Vec<Edit>>,
    notes: Vec<Note>,
    failures: Vec<Failure>,
}

fn plan(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    occurrences: &[Occurrence],
    platform_pins: PlatformPins,
) -> Plan {
    let mut notes = Vec::new();
    let targets = pinnable(occurrences, &mut notes);

    // One lookup per unique tag; references without a tag resolve `latest`, as Docker does.
    let lookups: BTreeSet<ImageRef> = targets.iter().map(|t| lookup_key(&t.image)).collect();
    let lookups: Vec<ImageRef> = lookups.into_iter().collect();
    // One HEAD per unique reference; the index is read only for references pinned to a
    // platform manifest (below), whose platform must be found in the current index.
    let mut resolved = rt.block_on(client.resolve_all_digests(&lookups));
    if platform_pins == PlatformPins::Keep {
        let need_platforms: BTreeSet<ImageRef> = targets
            .iter()
            .filter(|t| {
                let key = lookup_key(&t.image);
                matches!((t.image.digest(), resolved.get(&key)), (Some(pin), Some(Ok(r))) if *pin != r.digest)
            })
            .map(|t| lookup_key(&t.image))
            .collect();
        let need: Vec<ImageRef> = need_platforms.into_iter().collect();
        if !need.is_empty() {
            resolved.extend(rt.block_on(client.resolve_all(&need)));
        }
    }

    let mut failures = Vec::new();
    let mut edits: BTreeMap<String, Vec<Edit>> = BTreeMap::new();
    let mut reported = BTreeSet::new();
    for target in &targets {
        let key = lookup_key(&target.image);
        let result = match resolved.get(&key) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                if reported.insert(key.clone()) {
                    failures.push(failure(target.occurrence, &key, e));
                }
                continue;
            }
            None => continue,
        };
        let digest = match choose_digest(rt, client, target, result, platform_pins, &mut notes) {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e) => {
                failures.push(failure(target.occurrence, &target.image, &e));
                continue;
            }
        };
        let literal = target
            .occurrence
            .literal
            .as_ref()
            .expect("targets have a literal");
        let replacement = format!("{}@{digest}", strip_digest(&literal.text));
        if replacement != literal.text {
            edits
                .entry(target.occurrence.location.file.clone())
                .or_default()
                .push(Edit {
                    span: literal.span.clone(),
                    expected: literal.text.clone(),
                    replacement,
                });
        }
    }
    Plan {
        edits,
        notes,
        failures,
    }
}

fn failure(occurrence: &Occurrence, image: &ImageRef, error: &RegistryError) -> Failure {
    Failure {
        message: crate::resolve::failure(image, error),
        image: Some(image.to_string()),
        location: Some(occurrence.location.clone()),
    }
}

/// The references `pin` can rewrite; warns about the others.
fn pinnable<'a>(occurrences: &'a [Occurrence], notes: &mut Vec<Note>) -> Vec<Target<'a>> {
    let mut targets = Vec::new();
    for occurrence in occurrences {
        let at = format!(
            "{}:{}:{}",
            occurrence.location.file, occurrence.location.line, occurrence.location.column
        );
        match (&occurrence.resolution, &occurrence.literal) {
            (Resolution::Image(image), Some(_)) => targets.push(Target {
                occurrence,
                image: image.clone(),
            }),
            (Resolution::Image(image), None) => notes.push(Note::warning(format!(
                "{at}: `{}` resolves to `{image}` through a value not written here; left alone",
                occurrence.text
            ))),
            (Resolution::Unresolved { variable }, _) => notes.push(Note::warning(format!(
                "{at}: `{}` depends on `{variable}` with no value; left alone",
                occurrence.text
            ))),
        }
    }

    targets
}

/// Applies the edits (or, with `--check`, prints their unified diff). Returns the number of
/// files that change.
fn write_or_diff(
    root: &Root,
    edits: &BTreeMap<String, Vec<Edit>>,
    check: bool,
    messages: &Messages,
) -> anyhow::Result<usize> {
    let changed = edits.len();
    let count: usize = edits.values().map(Vec::len).sum();
    if check {
        let mut stdout = std::io::stdout().lock();
        for (file, list) in edits {
            let path = root.file(file);
            let before = std::fs::read(&path)?;
            let after = portcullis_sources::apply(&path, &before, list)?;
            let diff = similar::TextDiff::from_lines(
                &String::from_utf8_lossy(&before).into_owned(),
                &String::from_utf8_lossy(&after).into_owned(),
            )
            .unified_diff()
            .context_radius(2)
            .header(&format!("a/{file}"), &format!("b/{file}"))
            .to_string();
            // A closed stdout stops the diff, never the answer (the exit code).
            if stdout.write_all(diff.as_bytes()).is_err() {
                break;
            }
        }
        let _ = stdout.flush();
        messages.note(&format!(
            "{count} reference(s) in {changed} file(s) would be pinned"
        ));
    } else {
        for (file, list) in edits {
            portcullis_sources::rewrite(&root.file(file), list)?;
        }
        messages.note(&format!("pinned {count} reference(s) in {changed} file(s)"));
    }
    Ok(changed)
}

/// The reference to resolve: the tag (or `latest`), without any digest.
fn lookup_key(image: &ImageRef) -> ImageRef {
    let base = image.without_digest();
    if base.tag().is_some() {
        base
    } else {
        base.with_tag("latest")
    }
}

/// `nginx:1.27@sha256:…` → `nginx:1.27`.
fn strip_digest(text: &str) -> &str {
    text.split_once('@').map_or(text, |(name, _)| name)
}

/// The digest to write: the index digest, or, for a reference pinned to one platform's
/// manifest, the manifest of the same platform in the tag's current index.
fn choose_digest(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    target: &Target<'_>,
    resolved: &Resolved,
    mode: PlatformPins,
    notes: &mut Vec<Note>,
) -> Result<Option<Digest>, RegistryError> {
    let Some(current) = target.image.digest() else {
        return Ok(Some(resolved.digest.clone()));
    };
    if *current == resolved.digest
        || resolved.platforms.iter().any(|p| p.digest == *current) && mode == PlatformPins::Keep
    {
        // Already pinned to the tag's index, or to one of its platforms: nothing to do.
        return Ok(Some(current.clone()));
    }
    if mode == PlatformPins::Index || resolved.platforms.is_empty() {
        return Ok(Some(resolved.digest.clone()));
    }
    // The pin is not the index digest: was it a platform manifest of an older index?
    let Some(platform) = rt.block_on(client.platform_of(&target.image))? else {
        return Ok(Some(resolved.digest.clone()));
    };
    let same = resolved
        .platforms
        .iter()
        .find(|p| p.platform.as_ref() == Some(&platform));
    if let Some(p) = same {
        Ok(Some(p.digest.clone()))
    } else {
        let loc = &target.occurrence.location;
        notes.push(Note::warning(format!(
            "{}:{}:{}: `{}` is pinned to a `{platform}` manifest, but the tag no longer has that platform; left alone",
            loc.file, loc.line, loc.column, target.occurrence.text
        )));
        Ok(None)
    }
}
