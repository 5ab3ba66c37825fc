//! Scans images for vulnerabilities: runs scanner hooks (Trivy, Grype, Syft, any command),
//! reads report and VEX files, parses them into the normalized vulnerability model of
//! `portcullis-policy`, merges the findings of several scanners, applies VEX, and checks
//! that every report is about the image scanned.
//!
//! The gate itself (fail-on, only-fixed, waivers) is `portcullis-policy`'s job, and
//! rendering and exit codes are the caller's: this crate prints nothing. It turns scanner
//! output into [`Vulnerability`] values and produces the cosign vuln predicate and SBOM
//! files.
//!
//! Entry points:
//! - [`run`]: one whole scan from a [`ScanRequest`] (the policy's `[scan]` section, hook
//!   names, report and VEX files) to a [`ScanRun`]: the [`ScanResult`] to gate, what was
//!   read ([`ScanInput`]), reports about another image ([`ReportMismatch`]), the SBOM, the
//!   scanner info and timestamps for the vuln predicate, and each hook's run;
//! - [`select_hooks`]: `--hook` names or `[scan] hooks` to [`HookSpec`]s (custom
//!   `[[scan.hook]]` entries win over built-ins); [`read_inputs`]: report and VEX files;
//! - [`parse_report`] / [`parse_document`]: bytes of a Trivy JSON, Grype JSON, SARIF,
//!   CycloneDX (SBOM or VEX), SPDX or OpenVEX document, format sniffed unless given as a
//!   [`Format`] (the config's own [`portcullis_policy::ReportFormat`]);
//! - [`check_image`]: whether a report's [`ReportedImage`] is the scanned image;
//! - [`apply_vex`]: suppress findings that VEX statements declare `not_affected`;
//! - [`merge`]: one finding per (vulnerability, package) across scanners;
//! - [`run_hooks`]: run [`HookSpec`]s in parallel with timeouts and parse what they print;
//!   a [`HookCommand`] argv runs without a shell, a string through `sh -c`;
//! - [`vuln_predicate`], [`Sbom`]: attestation predicate and SBOM output;
//! - [`run_observed`], [`run_hooks_observed`]: the same, telling a [`HookProgress`]
//!   observer when each hook starts, what it writes to stderr, and when it ends.

mod engine;
mod error;
mod grype;
mod hook;
mod image;
mod intake;
mod merge;
mod output;
mod progress;
mod runner;
mod sarif;
mod select;
mod sniff;
mod trivy;
mod util;
mod vex;

pub mod bench;

pub use engine::{run, run_observed, InputContent, ScanInput, ScanRequest, ScanRun};
pub use error::{FileRole, ScanError};
pub use hook::{is_loopback_registry, HookCommand, HookSpec, DEFAULT_TIMEOUT};
pub use image::{check_image, InputSource, ReportMismatch, ReportedImage};
pub use intake::{read_inputs, InputFiles, Intake, ReadReport, ReadVex};
pub use merge::merge;
pub use output::{vuln_predicate, Sbom, SbomKind, ScannerInfo, VULN_PREDICATE_TYPE};
pub use portcullis_policy::vuln::{
    FixState, ScanResult, SuppressedBy, VulnSeverity, Vulnerability,
};
pub use progress::{HookProgress, NoProgress};
pub use runner::{
    run_hook, run_hooks, run_hooks_observed, HookOutput, HookRun, ScanOutcome, ScanTarget,
    MAX_REPORT_BYTES,
};
pub use select::select_hooks;
pub use vex::{apply_vex, parse_vex, VexStatement, VexStatus};

/// A document format this crate reads: the config's vocabulary (`[[scan.hook]] format`),
/// so a hook's declared format reaches the parser unchanged.
pub use portcullis_policy::ReportFormat as Format;

/// What a document turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    /// A scanner report.
    Report {
        /// Its format.
        format: Format,
        /// The scanner's name (`trivy`, `grype`, or the SARIF driver name, lowercased).
        scanner: String,
        /// The findings, one per (vulnerability, package) as the scanner listed them.
        vulnerabilities: Vec<Vulnerability>,
        /// The image the report says it is about; `None` when it names none.
        image: Option<ReportedImage>,
    },
    /// A VEX document (OpenVEX, or CycloneDX with `vulnerabilities[].analysis`).
    Vex(Vec<VexStatement>),
    /// An SBOM (CycloneDX without vulnerabilities, or SPDX).
    Sbom(SbomKind),
}

/// Parses a scan report (format sniffed unless `hint` is given) into its findings.
///
/// Errors name the report as `report`; use [`parse_report_named`] to name the file or hook.
pub fn parse_report(bytes: &[u8], hint: Option<Format>) -> Result<Vec<Vulnerability>, ScanError> {
    parse_report_named("report", bytes, hint)
}

/// [`parse_report`] with the report's name (a path, or ``hook `trivy` ``) for errors.
pub fn parse_report_named(
    source_name: &str,
    bytes: &[u8],
    hint: Option<Format>,
) -> Result<Vec<Vulnerability>, ScanError> {
    match parse_document(source_name, bytes, hint)? {
        Document::Report {
            vulnerabilities, ..
        } => Ok(vulnerabilities),
        Document::Vex(_) => Err(ScanError::WrongKind {
            source_name: source_name.to_owned(),
            found: match hint {
                Some(format) => format,
                None => sniff::detect(source_name, bytes)?,
            },
            expected: "a scan report (pass VEX documents as VEX)".to_owned(),
        }),
        Document::Sbom(kind) => Err(ScanError::WrongKind {
            source_name: source_name.to_owned(),
            found: kind.format(),
            expected: "a scan report (an SBOM lists no vulnerabilities)".to_owned(),
        }),
    }
}

/// Parses any supported document, sniffing the format unless `hint` is given. A hint is
/// taken at its word: `Cyclonedx` reads an SBOM, `CyclonedxVex` VEX statements; sniffing
/// reads a CycloneDX document that lists vulnerabilities as VEX.
pub fn parse_document(
    source_name: &str,
    bytes: &[u8],
    hint: Option<Format>,
) -> Result<Document, ScanError> {
    let format = match hint {
        Some(format) => format,
        None => sniff::detect(source_name, bytes)?,
    };
    match format {
        Format::TrivyJson => {
            let (vulnerabilities, image) = trivy::parse(source_name, bytes)?;
            Ok(Document::Report {
                format,
                scanner: "trivy".to_owned(),
                vulnerabilities,
                image,
            })
        }
        Format::GrypeJson => {
            let (vulnerabilities, image) = grype::parse(source_name, bytes)?;
            Ok(Document::Report {
                format,
                scanner: "grype".to_owned(),
                vulnerabilities,
                image,
            })
        }
        Format::Sarif => {
            let parsed = sarif::parse(source_name, bytes)?;
            Ok(Document::Report {
                format,
                scanner: parsed.scanner,
                vulnerabilities: parsed.vulnerabilities,
                image: parsed.image,
            })
        }
        Format::Openvex | Format::CyclonedxVex => {
            Ok(Document::Vex(parse_vex(source_name, bytes, Some(format))?))
        }
        Format::Cyclonedx | Format::SpdxJson => Ok(Document::Sbom(
            Sbom::validate(source_name, bytes.to_vec())?.kind(),
        )),
    }
}
