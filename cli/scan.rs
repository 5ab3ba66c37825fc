//! `portcullis scan`: run scanner hooks on an image (or read reports made earlier), apply
//! VEX, gate on the policy's `[scan]` threshold and waivers, and write the outputs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use portcullis_policy::{Config, Facts};
use portcullis_reference::ImageRef;
use portcullis_report::{Format, RenderOptions};
use portcullis_scan::{ReportMismatch, SbomKind, ScanError, ScanRequest};

use crate::args::{Global, OutputFormat, ScanArgs};
use crate::exit::{self, Outcome, UsageError};
use crate::workspace;

pub fn run(global: &Global, args: &ScanArgs) -> anyhow::Result<Outcome> {
    let root = PathBuf::from(".");
    let config =
        workspace::load_config(global.config.as_deref(), std::slice::from_ref(&root), &root)?;
    let image = ImageRef::parse(&args.image)
        .map_err(|e| UsageError(format!("`{}` is not an image reference: {e}", args.image)))?;
    let policy_dir = config
        .path
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    // clap accepts only `cyclonedx` and `spdx`.
    let sbom = match args.sbom_format.as_str() {
        "spdx" => SbomKind::Spdx,
        _ => SbomKind::CycloneDx,
    };
    let scan = portcullis_scan::run(&ScanRequest {
        image,
        settings: config.scan(),
        policy_dir,
        hooks: &args.hook,
        reports: &args.report,
        vex: &args.vex,
        sbom,
        timeout: args.timeout.map(Duration::from_secs),
    })
    .map_err(classify)?;
    report_hook_stderr(&scan.hook_runs, global.verbose > 0);
    report_mismatches(&scan.mismatches);

    if let Some(path) = &args.predicate_out {
        let predicate = portcullis_scan::vuln_predicate(
            &scan.result,
            &scan.scanner,
            scan.started,
            scan.finished,
        );
        let text = serde_json::to_string_pretty(&predicate)? + "\n";
        crate::workspace::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if let Some(path) = &args.sbom_out {
        let Some(sbom) = &scan.sbom else {
            return Err(
                UsageError("`--sbom-out` needs an SBOM hook: add `--hook syft`".into()).into(),
            );
        };
        sbom.write_to(path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }

    let finished = scan.finished;
    let facts = Facts {
        scans: vec![scan.result],
        ..Facts::default()
    };
    let report = portcullis_policy::evaluate(&config, &facts, workspace::today()?);
    write_report(global, args, &config, &report, finished)?;
    Ok(if report.exit_code() == 0 {
        Outcome::Passed
    } else {
        Outcome::Violations
    })
}

/// Renders the report in the chosen format to stdout or `--output`.
fn write_report(
    global: &Global,
    args: &ScanArgs,
    config: &Config,
    report: &portcullis_policy::Report,
    finished: jiff::Timestamp,
) -> anyhow::Result<()> {
    let root = PathBuf::from(".");
    let options = RenderOptions {
        root: &root,
        config: Some((config.name(), config.source.as_str())),
        color: args.output.is_none()
            && args.format == OutputFormat::Human
            && exit::stdout_color(global.color),
        version: env!("CARGO_PKG_VERSION"),
    };
    let rendered = match args.format {
        OutputFormat::Human => portcullis_report::render(report, Format::Human, &options),
        OutputFormat::Json => portcullis_report::render(report, Format::Json, &options),
        OutputFormat::Sarif => portcullis_report::render(report, Format::Sarif, &options),
        OutputFormat::Markdown => portcullis_report::render(report, Format::Markdown, &options),
        OutputFormat::Junit => portcullis_report::render(report, Format::Junit, &options),
        OutputFormat::Gitlab => {
            portcullis_report::gitlab_container_scanning(report, &options, finished)
        }
    };
    if let Some(path) = &args.output {
        crate::workspace::write_atomic(path, rendered.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    } else {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(rendered.as_bytes())?;
        stdout.flush()?;
    }
    Ok(())
}

/// Hook definition problems and unusable report or VEX files are usage errors (2); a
/// scanner that is missing, crashed, timed out or wrote garbage is a runtime failure (3).
fn classify(error: ScanError) -> anyhow::Error {
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

/// Warns about reports that name another image than the one scanned.
fn report_mismatches(mismatches: &[ReportMismatch]) {
    let mut stderr = std::io::stderr().lock();
    for mismatch in mismatches {
        let _ = writeln!(stderr, "warning: {mismatch}");
    }
}

/// Shows each hook's stderr with `-v`, or a one-line note when it exited non-zero.
fn report_hook_stderr(runs: &[portcullis_scan::HookRun], verbose: bool) {
    let mut stderr = std::io::stderr().lock();
    for run in runs {
        if verbose && !run.stderr.is_empty() {
            let _ = writeln!(
                stderr,
                "--- stderr of hook `{}` ---\n{}",
                run.hook,
                run.stderr.trim_end()
            );
        } else if run.exit_code.is_some_and(|c| c != 0) {
            let first = run.stderr.lines().next().unwrap_or("");
            let _ = writeln!(
                stderr,
                "note: hook `{}` exited with {} (its exit code does not decide the gate){}",
                run.hook,
                run.exit_code.unwrap_or_default(),
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {first}")
                }
            );
        }
    }
}
