//! `portcullis pin`: resolve every tagged reference and rewrite it in place to
//! `name:tag@sha256:…`, editing only the reference's bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;

use portcullis_reference::ImageRef;
use portcullis_registry::{PinChoice, PlatformPins};
use portcullis_sources::{Edit, Occurrence, PinTarget, SkipReason, Skipped};

use crate::args::{Global, PinArgs, PlatformPinsArg};
use crate::exit::Outcome;
use crate::workspace::{self, Workspace};

pub fn run(global: &Global, args: &PinArgs) -> anyhow::Result<Outcome> {
    let ws = Workspace::load(&args.sources)?;
    let config = workspace::load_config(global.config.as_deref(), &args.sources.paths, &ws.root)?;
    let bad_input = workspace::print_problems(&ws.scan.problems);

    let split = portcullis_sources::pin_targets(&ws.scan.occurrences);
    print_skipped(&split.skipped);
    let queries: Vec<ImageRef> = split.targets.iter().map(PinTarget::query).collect();
    let mode = match args.platform_pins {
        PlatformPinsArg::Keep => PlatformPins::Keep,
        PlatformPinsArg::Index => PlatformPins::Index,
    };
    let client = crate::resolve::client(&config)?;
    let rt = crate::resolve::runtime()?;
    // Not holding the stderr lock meanwhile: log lines from the resolver threads must get through.
    let choices = rt.block_on(client.pins(&queries, mode));

    let mut runtime_failure = false;
    let mut reported = BTreeSet::new();
    let mut chosen = Vec::new();
    for target in &split.targets {
        let at = at(target.occurrence);
        let Some(choice) = choices.get(&target.query()) else {
            continue;
        };
        match choice {
            PinChoice::Digest(digest) => chosen.push((target, digest)),
            PinChoice::PlatformGone { platform } => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "warning: {at}: `{}` is pinned to a `{platform}` manifest, but the tag no longer has that platform; left alone",
                    target.occurrence.text
                );
            }
            PinChoice::TagNotFound | PinChoice::TagFailed(_) => {
                runtime_failure = true;
                if reported.insert(target.lookup.clone()) {
                    print_choice_failure(&at, &target.lookup, choice);
                }
            }
            PinChoice::PinnedNotFound | PinChoice::PinnedFailed(_) => {
                runtime_failure = true;
                print_choice_failure(&at, &target.image, choice);
            }
        }
    }
    let edits = portcullis_sources::pin_edits(chosen);

    let changed = write_or_diff(&ws, &edits, args.check, global.quiet)?;
    Ok(if bad_input {
        Outcome::BadInput
    } else if runtime_failure {
        Outcome::RuntimeFailure
    } else if args.check && changed > 0 {
        Outcome::Violations
    } else {
        Outcome::Passed
    })
}

/// Warns about the references `pin` leaves alone.
fn print_skipped(skipped: &[Skipped<'_>]) {
    let mut stderr = std::io::stderr().lock();
    for Skipped { occurrence, reason } in skipped {
        let (at, text) = (at(occurrence), &occurrence.text);
        let _ = match reason {
            SkipReason::NotWrittenHere { image } => writeln!(
                stderr,
                "warning: {at}: `{text}` resolves to `{image}` through a value not written here; left alone"
            ),
            SkipReason::Unresolved { variable } => writeln!(
                stderr,
                "warning: {at}: `{text}` depends on `{variable}` with no value; left alone"
            ),
        };
    }
}

/// Prints why `image` could not be pinned.
fn print_choice_failure(at: &str, image: &ImageRef, choice: &PinChoice) {
    match choice {
        PinChoice::TagFailed(error) | PinChoice::PinnedFailed(error) => {
            crate::resolve::print_failure(Some(at), image, error);
        }
        _ => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "error: {at}: cannot resolve `{image}`: `{image}` not found in the registry"
            );
        }
    }
}

/// Applies the edits (or, with `--check`, prints their unified diff). Returns the number of
/// files that change.
fn write_or_diff(
    ws: &Workspace,
    edits: &BTreeMap<String, Vec<Edit>>,
    check: bool,
    quiet: bool,
) -> anyhow::Result<usize> {
    let mut stderr = std::io::stderr().lock();
    let changed = edits.len();
    let count: usize = edits.values().map(Vec::len).sum();
    if check {
        let mut stdout = std::io::stdout().lock();
        for (file, list) in edits {
            let path = ws.path_of(file);
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
            stdout.write_all(diff.as_bytes())?;
        }
        stdout.flush()?;
        if !quiet {
            let _ = writeln!(
                stderr,
                "{count} reference(s) in {changed} file(s) would be pinned"
            );
        }
    } else {
        for (file, list) in edits {
            portcullis_sources::rewrite(&ws.path_of(file), list)?;
        }
        if !quiet {
            let _ = writeln!(stderr, "pinned {count} reference(s) in {changed} file(s)");
        }
    }
    Ok(changed)
}

/// `file:line:col` of an occurrence.
fn at(occurrence: &Occurrence) -> String {
    let loc = &occurrence.location;
    format!("{}:{}:{}", loc.file, loc.line, loc.column)
}
