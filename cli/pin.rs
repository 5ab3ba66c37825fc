//! `portcullis pin`: resolve every tagged reference and rewrite it in place to
//! `name:tag@sha256:…`, editing only the reference's bytes. Which references are pinned
//! and with which digest is decided in `sources` and `registry`; this prints and writes.
//! With `--mirror`, references a `[[mirror]]` entry covers move to the mirror
//! (`pin_mirror`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;

use portcullis_policy::{Failure, Note, Report};
use portcullis_reference::ImageRef;
use portcullis_registry::{PinChoice, PlatformPins};
use portcullis_sources::{Edit, Occurrence, PinTarget, Root, SkipReason, Skipped};

use crate::args::{Global, PinArgs, PlatformPinsArg};
use crate::output::Messages;
use crate::workspace::{self, Workspace};

pub fn run(global: &Global, args: &PinArgs) -> anyhow::Result<u8> {
    let messages = Messages::new(global);
    let ws = Workspace::load(global.config.as_deref(), &args.sources)?;
    let mode = match args.platform_pins {
        PlatformPinsArg::Keep => PlatformPins::Keep,
        PlatformPinsArg::Index => PlatformPins::Index,
    };
    let rt = workspace::runtime()?;
    let progress = crate::progress::Lookups::start(global, "pinning");
    let mut report = Report::default();
    let mut edits: BTreeMap<String, Vec<Edit>> = BTreeMap::new();
    for group in &ws.groups {
        // Unreadable files and invalid references, as `check` reports them.
        report.findings.extend(portcullis_policy::problem_findings(
            &group.collected.problems,
        ));

        let editable = group.collected.in_valid_files();
        let split = portcullis_sources::pin_targets(&editable);
        report.notes.extend(skipped(&split.skipped));
        let queries: Vec<ImageRef> = split.targets.iter().map(PinTarget::query).collect();
        let client =
            crate::resolve::observed(crate::resolve::client(&group.config)?, progress.as_ref());
        let choices = rt.block_on(client.pins(&queries, mode));
        let mut reported = BTreeSet::new();
        let mut chosen = Vec::new();
        for target in &split.targets {
            let Some(choice) = choices.get(&target.query()) else {
                continue;
            };
            match choice {
                PinChoice::Digest(digest) => chosen.push((target, digest)),
                PinChoice::PlatformGone { platform } => report.notes.push(Note::warning(format!(
                    "{}: `{}` is pinned to a `{platform}` manifest, but the tag no longer has that platform; left alone",
                    at(target.occurrence),
                    target.occurrence.text
                ))),
                // A registry that did not answer is reported once, by its first failure.
                PinChoice::TagFailed(error) | PinChoice::PinnedFailed(error)
                    if error.repeats_earlier_failure() => {}
                PinChoice::TagNotFound | PinChoice::TagFailed(_) => {
                    if reported.insert(target.lookup.clone()) {
                        report.failures.push(failure(target.occurrence, &target.lookup, choice));
                    }
                }
                PinChoice::PinnedNotFound | PinChoice::PinnedFailed(_) => {
                    report.failures.push(failure(target.occurrence, &target.image, choice));
                }
            }
        }
        if args.mirror {
            let (stay, moved) =
                crate::pin_mirror::redirect(&rt, &client, &group.config, chosen, &mut report);
            chosen = stay;
            for (file, list) in moved {
                edits.entry(file).or_default().extend(list);
            }
        }
        for (file, list) in portcullis_sources::pin_edits(chosen) {
            edits.entry(file).or_default().extend(list);
        }
    }
    for list in edits.values_mut() {
        // A file under two checked paths with different policies gets the same edit twice.
        list.sort_by_key(|e| (e.span.start, e.span.end));
        list.dedup_by(|a, b| a.span == b.span && a.replacement == b.replacement);
    }
    if let Some(progress) = &progress {
        progress.clear();
    }
    report.finish();
    messages.report(&report);
    let (changed, refused) = write_or_diff(&ws.root, &edits, args.check, &messages)?;
    let code = if refused {
        // A file pin will not write is input it cannot handle, as `file-invalid` is.
        portcullis_policy::exit::BAD_INPUT
    } else {
        report.exit_code()
    };
    // `--check` asks whether anything would change: that is its verdict.
    Ok(if code == 0 && args.check && changed > 0 {
        portcullis_policy::exit::VIOLATIONS
    } else {
        code
    })
}

/// Warnings about the references `pin` leaves alone.
fn skipped(skipped: &[Skipped<'_>]) -> Vec<Note> {
    skipped
        .iter()
        .map(|Skipped { occurrence, reason }| {
            let (at, text) = (at(occurrence), &occurrence.text);
            Note::warning(match reason {
                SkipReason::NotWrittenHere { image } => format!(
                    "{at}: `{text}` resolves to `{image}` through a value not written here; left alone"
                ),
                SkipReason::Unresolved { variable } => {
                    format!("{at}: `{text}` depends on `{variable}` with no value; left alone")
                }
            })
        })
        .collect()
}

/// Why `image` could not be pinned.
fn failure(occurrence: &Occurrence, image: &ImageRef, choice: &PinChoice) -> Failure {
    let message = match choice {
        PinChoice::TagFailed(error) | PinChoice::PinnedFailed(error) => {
            crate::resolve::failure(image, error)
        }
        _ => format!("cannot resolve `{image}`: `{image}` not found in the registry"),
    };
    Failure {
        message,
        image: Some(image.to_string()),
        location: Some(occurrence.location.clone()),
    }
}

/// Applies the edits (or, with `--check`, prints their unified diff). Returns the number of
/// files that change, and whether a file was refused (a link out of the repository, a
/// read-only file).
fn write_or_diff(
    root: &Root,
    edits: &BTreeMap<String, Vec<Edit>>,
    check: bool,
    messages: &Messages,
) -> anyhow::Result<(usize, bool)> {
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
        let mut refused = false;
        for (file, list) in edits {
            match portcullis_sources::rewrite(&root.file(file), list, &root.dir) {
                Ok(_) => {}
                // What pin will not write is named, and the rest is still pinned.
                Err(error @ portcullis_sources::SourceError::Refused { .. }) => {
                    messages.error(&format!("{file}: {error}"));
                    refused = true;
                }
                Err(error) => return Err(error.into()),
            }
        }
        messages.note(&format!("pinned {count} reference(s) in {changed} file(s)"));
        return Ok((changed, refused));
    }
    Ok((changed, false))
}

/// `file:line:col` of an occurrence.
fn at(occurrence: &Occurrence) -> String {
    let loc = &occurrence.location;
    format!("{}:{}:{}", loc.file, loc.line, loc.column)
}
