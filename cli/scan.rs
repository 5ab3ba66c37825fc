//! `portcullis scan`: run scanner hooks on an image (or read reports made earlier) through
//! `portcullis_scan::run`, gate the result with the policy, and hand one report to the
//! output, with the vuln predicate and the SBOM written where asked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use portcullis_policy::{Config, Facts, Note, Report, Subject};
use portcullis_reference::ImageRef;
use portcullis_report::Format;
use portcullis_scan::{HookProgress, NoProgress, SbomKind, ScanError, ScanRequest};
use portcullis_sources::Root;

use crate::args::{Global, ScanArgs};
use crate::exit::UsageError;
use crate::output::Output;
use crate::progress::Hooks;
use crate::workspace;

pub fn run(global: &Global, args: &ScanArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabContainerScanning)?;
    let root = portcullis_sources::Root::current()?;
    let config = workspace::policy_here(&root, global.config.as_deref())?
        .with_scan_gate(args.fail_on, args.only_fixed);
    let progress = crate::progress::Hooks::start(global);
    let report = scan(&root, &config, args, global.verbose > 0, progress.as_ref());
    if let Some(progress) = &progress {
        progress.clear();
    }
    let report = report?;
    let configs = [(config.name().to_owned(), config.source.clone())];
    Ok(output.emit(&report, &root.dir, &configs))
}

/// One scan under `config`, gated, as a report (the predicate and SBOM written where asked).
pub fn scan(
    root: &Root,
    config: &Config,
    args: &ScanArgs,
    verbose: bool,
    progress: Option<&Arc<Hooks>>,
) -> anyhow::Result<Report> {
    // Files are named from the current directory in every message and report.
    let reports: Vec<PathBuf> = args.report.iter().map(|p| root.from_cwd(p)).collect();
    let vex: Vec<PathBuf> = args.vex.iter().map(|p| root.from_cwd(p)).collect();
    let image = ImageRef::parse(&args.image)
        .map_err(|e| UsageError(format!("`{}` is not an image reference: {e}", args.image)))?;
    // clap accepts only `cyclonedx` and `spdx`.
    let sbom = match args.sbom_format.as_str() {
        "spdx" => SbomKind::Spdx,
        _ => SbomKind::CycloneDx,
    };
    let policy_dir = config.resolve_path(Path::new(""));
    let progress: Arc<dyn HookProgress> = match progress {
        Some(hooks) => Arc::clone(hooks) as Arc<dyn HookProgress>,
        None => Arc::new(NoProgress),
    };
    let request = ScanRequest {
        image,
        settings: config.scan(),
        policy_dir: &policy_dir,
        hooks: &args.hook,
        reports: &reports,
        vex: &vex,
        sbom,
        timeout: args.hook_timeout.map(Duration::from_secs),
    };
    let scan = portcullis_scan::run_observed(&request, &progress).map_err(classify)?;

    if let Some(path) = &args.predicate_out {
        let predicate = portcullis_scan::vuln_predicate(
            &scan.result,
            &scan.scanner,
            scan.started,
            scan.finished,
        );
        let text = serde_json::to_string_pretty(&predicate)? + "\n";
        portcullis_sources::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if let Some(path) = &args.sbom_out {
        let Some(sbom) = &scan.sbom else {
            return Err(
                UsageError("`--sbom-out` needs an SBOM hook: add `--hook syft`".into()).into(),
            );
        };
        portcullis_sources::write_atomic(path, sbom.bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }

    let facts = Facts {
        references: references(root, config, &args.dockerfile)?,
        scans: vec![scan.result],
        mismatches: scan
            .mismatches
            .iter()
            .map(portcullis_scan::ReportMismatch::to_policy)
            .collect(),
        ..Facts::default()
    };
    let mut report = portcullis_policy::evaluate(config, &facts, workspace::today()?);
    report.notes.extend(hook_notes(&scan.hook_runs, verbose));
    Ok(report)
}

/// The references written in `--dockerfile` paths (read for the policy's build platforms),
/// to place the scan's findings.
fn references(root: &Root, config: &Config, paths: &[PathBuf]) -> anyhow::Result<Vec<Subject>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    for path in paths {
        if let Err(source) = std::fs::metadata(path) {
            return Err(anyhow::Error::new(source)).context(UsageError(format!(
                "cannot read `--dockerfile {}`",
                path.display()
            )));
        }
    }
    let absolute: Vec<PathBuf> = paths.iter().map(|p| root.absolute(p)).collect();
    let collected = root.collect_all(
        &absolute,
        &portcullis_sources::DiscoverOptions::default(),
        &portcullis_sources::ParseOptions {
            platforms: config.build().platforms.value.clone(),
            ..portcullis_sources::ParseOptions::default()
        },
    )?;
    Ok(workspace::subjects(collected.occurrences))
}

/// Hook definition problems and unusable report or VEX files are usage errors (2); a
/// scanner that is missing, crashed, timed out or wrote garbage is a runtime failure (3).
pub(crate) fn classify(error: ScanError) -> anyhow::Error {
    match &error {
        ScanError::Input { error: cause, .. } => {
            anyhow::Error::new(UsageError(format!("{error}: {cause}")))
        }
        ScanError::NothingToScan => anyhow::Error::new(UsageError(
            "nothing to scan with: pass `--hook trivy|grype|syft|NAME` or `--report FILE`, or set `[scan] hooks` in portcullis.toml"
                .into(),
        )),
        ScanError::InvalidHook { .. } | ScanError::UnknownHook { .. } => {
            anyhow::Error::new(UsageError(error.to_string()))
        }
        _ => anyhow::Error::new(error),
    }
}

/// Each hook's stderr with `-v`, or a one-line note when it exited non-zero.
fn hook_notes(runs: &[portcullis_scan::HookRun], verbose: bool) -> Vec<Note> {
    let mut notes = Vec::new();
    for run in runs {
        if verbose && !run.stderr.is_empty() {
            notes.push(Note::info(format!(
                "stderr of hook `{}`:\n{}",
                run.hook,
                run.stderr.trim_end()
            )));
        } else if let Some(code) = run.exit_code.filter(|c| *c != 0) {
            let first = run.stderr.lines().next().unwrap_or("");
            let tail = if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            };
            notes.push(Note::info(format!(
                "hook `{}` exited with {code} (its exit code does not decide the gate){tail}",
                run.hook
            )));
        }
    }
    notes
}
