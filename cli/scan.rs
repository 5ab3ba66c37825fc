//! `portcullis scan`: run scanner hooks on an image (or read reports made earlier), apply
//! VEX, gate on the policy's `[scan]` threshold and waivers, and write the outputs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use portcullis_policy::vuln::ScanResult;
use portcullis_policy::{Config, Facts};
use portcullis_report::{Format, RenderOptions};
use portcullis_scan::{Document, SbomKind, ScanError, ScanTarget, ScannerInfo, VexStatement};

use crate::args::{Global, OutputFormat, ScanArgs};
use crate::exit::{self, Outcome, UsageError};
use crate::workspace;

pub fn run(global: &Global, args: &ScanArgs) -> anyhow::Result<Outcome> {
    let root = PathBuf::from(".");
    let config =
        workspace::load_config(global.config.as_deref(), std::slice::from_ref(&root), &root)?;
    portcullis_reference::ImageRef::parse(&args.image)
        .map_err(|e| UsageError(format!("`{}` is not an image reference: {e}", args.image)))?;

    // clap accepts only `cyclonedx` and `spdx`.
    let sbom = match args.sbom_format.as_str() {
        "spdx" => SbomKind::Spdx,
        _ => SbomKind::CycloneDx,
    };
    let hooks = portcullis_scan::select_hooks(
        config.scan(),
        &args.hook,
        !args.report.is_empty(),
        sbom,
        args.timeout.map(Duration::from_secs),
    )
    .map_err(classify)?;
    if hooks.is_empty() && args.report.is_empty() {
        return Err(UsageError(
            "nothing to scan with: pass `--hook trivy|grype|syft|NAME` or `--report FILE`, or set `[scan] hooks` in portcullis.toml"
                .into(),
        )
        .into());
    }

    let started = jiff::Timestamp::now();
    let target = ScanTarget::new(&args.image);
    let mut vulnerabilities = Vec::new();
    let mut scanners = Vec::new();
    let mut scanner_info: Option<ScannerInfo> = None;
    let mut sbom = None;
    if !hooks.is_empty() {
        let outcome = portcullis_scan::run_hooks(&target, &hooks).map_err(classify)?;
        report_hook_stderr(&outcome.runs, global.verbose > 0);
        for run in &outcome.runs {
            if matches!(run.output, portcullis_scan::HookOutput::Report { .. })
                && scanner_info.is_none()
            {
                scanner_info = Some(run.scanner_info());
            }
        }
        sbom = outcome.sboms().next().map(|(_, s)| s.clone());
        scanners.extend(outcome.result.scanners.iter().cloned());
        vulnerabilities.extend(outcome.result.vulnerabilities);
    }
    let vex = read_reports(
        &config,
        args,
        &mut vulnerabilities,
        &mut scanners,
        &mut scanner_info,
    )?;
    let mut vulnerabilities = portcullis_scan::merge(vulnerabilities);
    portcullis_scan::apply_vex(&mut vulnerabilities, &vex);
    scanners.sort();
    scanners.dedup();
    let image = portcullis_reference::ImageRef::parse(&args.image)
        .map_or_else(|_| args.image.clone(), |i| i.to_string());
    let result = ScanResult {
        image,
        scanners,
        vulnerabilities,
    };
    let finished = jiff::Timestamp::now();

    if let Some(path) = &args.predicate_out {
        let info = scanner_info
            .clone()
            .unwrap_or_else(|| ScannerInfo::from_report(b"{}"));
        let predicate = portcullis_scan::vuln_predicate(&result, &info, started, finished);
        let text = serde_json::to_string_pretty(&predicate)? + "\n";
        crate::workspace::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if let Some(path) = &args.sbom_out {
        let Some(sbom) = &sbom else {
            return Err(
                UsageError("`--sbom-out` needs an SBOM hook: add `--hook syft`".into()).into(),
            );
        };
        sbom.write_to(path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }

    let facts = Facts {
        scans: vec![result],
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

/// Reads `--report` files (scan reports or VEX) and the VEX documents of the policy and
/// `--vex`. Findings go into `vulnerabilities`; returns the VEX statements.
fn read_reports(
    config: &Config,
    args: &ScanArgs,
    vulnerabilities: &mut Vec<portcullis_policy::vuln::Vulnerability>,
    scanners: &mut Vec<String>,
    scanner_info: &mut Option<ScannerInfo>,
) -> anyhow::Result<Vec<VexStatement>> {
    let mut vex: Vec<VexStatement> = Vec::new();
    for path in &args.report {
        let bytes = std::fs::read(path)
            .with_context(|| UsageError(format!("cannot read report `{}`", path.display())))?;
        let name = path.display().to_string();
        match portcullis_scan::parse_document(&name, &bytes, None)
            .map_err(|e| anyhow::Error::new(UsageError(e.to_string())))?
        {
            Document::Report {
                scanner,
                vulnerabilities: found,
                ..
            } => {
                if scanner_info.is_none() {
                    *scanner_info = Some(ScannerInfo::from_report(&bytes));
                }
                scanners.push(scanner);
                vulnerabilities.extend(found);
            }
            Document::Vex(statements) => vex.extend(statements),
            Document::Sbom(_) => {
                return Err(UsageError(format!(
                    "`{name}` is an SBOM, not a scan report; scan it with `--hook grype`"
                ))
                .into());
            }
        }
    }
    let base = config
        .path
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let vex_files = config
        .scan()
        .vex
        .iter()
        .map(|p| base.join(&p.value))
        .chain(args.vex.iter().cloned());
    for path in vex_files {
        let bytes = std::fs::read(&path).with_context(|| {
            UsageError(format!("cannot read VEX document `{}`", path.display()))
        })?;
        let statements = portcullis_scan::parse_vex(&path.display().to_string(), &bytes, None)
            .map_err(|e| anyhow::Error::new(UsageError(e.to_string())))?;
        vex.extend(statements);
    }
    Ok(vex)
}

/// Hook definition problems are usage errors (2); a scanner that is missing, crashed,
/// timed out or wrote garbage is a runtime failure (3).
fn classify(error: ScanError) -> anyhow::Error {
    match error {
        ScanError::InvalidHook { .. } | ScanError::UnknownHook { .. } => {
            anyhow::Error::new(UsageError(error.to_string()))
        }
        other => anyhow::Error::new(other),
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
