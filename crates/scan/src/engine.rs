//! One scan from request to result: select the hooks, read the report and VEX files, run
//! the hooks, merge every finding, apply VEX, and check that each report is about the
//! scanned image. Nothing is printed and no exit code is decided: the caller gates the
//! [`ScanResult`] with the policy and renders what [`ScanRun`] says was read.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portcullis_policy::ScanSettings;
use portcullis_reference::ImageRef;

use crate::intake::{read_inputs, InputFiles, Intake};
use crate::progress::{HookProgress, NoProgress};
use crate::{
    apply_vex, check_image, merge, run_hooks_observed, select_hooks, HookOutput, HookRun,
    InputSource, ReportMismatch, ReportedImage, Sbom, SbomKind, ScanError, ScanResult, ScanTarget,
    ScannerInfo, VexStatement, Vulnerability,
};

/// What to scan and with what.
#[derive(Debug, Clone)]
pub struct ScanRequest<'a> {
    /// The image scanned (or that the report files are about).
    pub image: ImageRef,
    /// The policy's `[scan]` section: hooks, custom hooks, VEX documents.
    pub settings: &'a ScanSettings,
    /// The directory of the policy file; `[scan] vex` paths are relative to it.
    pub policy_dir: &'a Path,
    /// Hook names asked for (`--hook`); empty means the policy's, unless reports are given.
    pub hooks: &'a [String],
    /// Report files (`--report`): scan reports or VEX documents.
    pub reports: &'a [PathBuf],
    /// VEX documents (`--vex`), applied after the policy's.
    pub vex: &'a [PathBuf],
    /// The SBOM standard the built-in `syft` hook writes.
    pub sbom: SbomKind,
    /// Overrides every hook's timeout.
    pub timeout: Option<Duration>,
}

/// What one input (a hook's output or a file) turned out to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputContent {
    /// A scan report.
    Report {
        /// The scanner that wrote it (`trivy`, `grype`, SARIF driver name).
        scanner: String,
        /// The image it says it is about.
        image: Option<ReportedImage>,
        /// How many findings it listed (before merging).
        findings: usize,
    },
    /// A VEX document.
    Vex {
        /// How many statements it made.
        statements: usize,
    },
    /// An SBOM (from an SBOM hook).
    Sbom(SbomKind),
}

/// One input of a scan: where it came from and what it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanInput {
    /// The hook or file.
    pub source: InputSource,
    /// What it held.
    pub content: InputContent,
}

impl ScanInput {
    /// The report this input was, as the report lists what a scan read (VEX documents and
    /// SBOMs are not reports).
    #[must_use]
    pub fn read(&self) -> Option<portcullis_policy::vuln::ScanInput> {
        let InputContent::Report {
            scanner,
            image,
            findings,
        } = &self.content
        else {
            return None;
        };
        let (kind, source) = match &self.source {
            InputSource::Hook(name) => ("hook", name.clone()),
            InputSource::File(path) => ("report", path.display().to_string()),
        };
        Some(portcullis_policy::vuln::ScanInput {
            kind: kind.to_owned(),
            source,
            scanner: scanner.clone(),
            image: image.as_ref().map(|image| image.name.clone()),
            findings: *findings,
        })
    }
}

/// Everything a scan produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRun {
    /// The normalized image, every scanner and the merged, VEX-applied findings.
    pub result: ScanResult,
    /// What was read, hooks first (in the order given), then files.
    pub inputs: Vec<ScanInput>,
    /// Reports about another image than the one scanned.
    pub mismatches: Vec<ReportMismatch>,
    /// How many findings VEX statements suppressed.
    pub vex_suppressed: usize,
    /// The SBOM of the first SBOM hook (`syft`).
    pub sbom: Option<Sbom>,
    /// Who scanned, for the vuln predicate: the first report-producing hook, else the first
    /// report file; empty (the normalized result as `scanner.result`) when neither.
    pub scanner: ScannerInfo,
    /// When the scan started (before the hooks ran).
    pub started: jiff::Timestamp,
    /// When the findings were final.
    pub finished: jiff::Timestamp,
    /// Each hook's run, with its exit code and stderr.
    pub hook_runs: Vec<HookRun>,
}

/// Runs one scan. Report and VEX files are read before any hook runs, so bad input fails
/// fast; hooks run in parallel on the normalized image reference. VEX statements apply in
/// the order hooks, `reports`, the policy's `vex`, `vex`: the last matching one wins.
pub fn run(request: &ScanRequest<'_>) -> Result<ScanRun, ScanError> {
    run_observed(request, &(Arc::new(NoProgress) as Arc<dyn HookProgress>))
}

/// [`run`], telling `progress` when each hook starts, each line it writes to stderr, and
/// when it ends.
pub fn run_observed(
    request: &ScanRequest<'_>,
    progress: &Arc<dyn HookProgress>,
) -> Result<ScanRun, ScanError> {
    let hooks = select_hooks(
        request.settings,
        request.hooks,
        !request.reports.is_empty(),
        request.sbom,
        request.timeout,
    )?;
    if hooks.is_empty() && request.reports.is_empty() {
        return Err(ScanError::NothingToScan);
    }
    let intake = read_inputs(&InputFiles {
        reports: request.reports,
        settings: request.settings,
        policy_dir: request.policy_dir,
        vex: request.vex,
    })?;
    let image = request.image.to_string();
    let started = jiff::Timestamp::now();
    let hook_runs = if hooks.is_empty() {
        Vec::new()
    } else {
        run_hooks_observed(&ScanTarget::new(&image), &hooks, progress)?.runs
    };

    let mut gathered = Gathered::default();
    for run in &hook_runs {
        gathered.hook(&request.image, run);
    }
    gathered.files(&request.image, intake);

    let mut vulnerabilities = merge(gathered.vulnerabilities);
    let vex_suppressed = apply_vex(&mut vulnerabilities, &gathered.statements);
    gathered.scanners.sort();
    gathered.scanners.dedup();
    let result = ScanResult {
        image,
        digest: request.image.digest().map(ToString::to_string),
        scanners: gathered.scanners,
        inputs: gathered.inputs.iter().filter_map(ScanInput::read).collect(),
        vulnerabilities,
        gate: None,
    };
    Ok(ScanRun {
        result,
        inputs: gathered.inputs,
        mismatches: gathered.mismatches,
        vex_suppressed,
        sbom: gathered.sbom,
        scanner: gathered.scanner_info.unwrap_or_default(),
        started,
        finished: jiff::Timestamp::now(),
        hook_runs,
    })
}

/// What the inputs added up to, before merging.
#[derive(Default)]
struct Gathered {
    vulnerabilities: Vec<Vulnerability>,
    scanners: Vec<String>,
    statements: Vec<VexStatement>,
    inputs: Vec<ScanInput>,
    mismatches: Vec<ReportMismatch>,
    scanner_info: Option<ScannerInfo>,
    sbom: Option<Sbom>,
}

impl Gathered {
    /// Takes in what a hook printed.
    fn hook(&mut self, expected: &ImageRef, run: &HookRun) {
        let source = InputSource::Hook(run.hook.clone());
        let content = match &run.output {
            HookOutput::Report {
                scanner,
                vulnerabilities,
                image,
                ..
            } => {
                if self.scanner_info.is_none() {
                    self.scanner_info = Some(run.scanner_info());
                }
                self.report(
                    expected,
                    &source,
                    scanner,
                    image.as_ref(),
                    vulnerabilities.clone(),
                )
            }
            HookOutput::Vex(statements) => {
                self.statements.extend(statements.iter().cloned());
                InputContent::Vex {
                    statements: statements.len(),
                }
            }
            HookOutput::Sbom(sbom) => {
                if self.sbom.is_none() {
                    self.sbom = Some(sbom.clone());
                }
                InputContent::Sbom(sbom.kind())
            }
        };
        self.inputs.push(ScanInput { source, content });
    }

    /// Takes in the report and VEX files (after the hooks: a hook's scanner info wins).
    fn files(&mut self, expected: &ImageRef, intake: Intake) {
        if self.scanner_info.is_none() {
            self.scanner_info = intake.scanner_info;
        }
        for report in intake.reports {
            let source = InputSource::File(report.path);
            let content = self.report(
                expected,
                &source,
                &report.scanner,
                report.image.as_ref(),
                report.vulnerabilities,
            );
            self.inputs.push(ScanInput { source, content });
        }
        for vex in intake.vex {
            self.inputs.push(ScanInput {
                source: InputSource::File(vex.path),
                content: InputContent::Vex {
                    statements: vex.statements.len(),
                },
            });
            self.statements.extend(vex.statements);
        }
    }

    /// Takes in one report: its findings, scanner and image check.
    fn report(
        &mut self,
        expected: &ImageRef,
        source: &InputSource,
        scanner: &str,
        image: Option<&ReportedImage>,
        vulnerabilities: Vec<Vulnerability>,
    ) -> InputContent {
        let findings = vulnerabilities.len();
        self.vulnerabilities.extend(vulnerabilities);
        self.scanners.push(scanner.to_owned());
        self.mismatches.extend(check_image(source, expected, image));
        InputContent::Report {
            scanner: scanner.to_owned(),
            image: image.cloned(),
            findings,
        }
    }
}
