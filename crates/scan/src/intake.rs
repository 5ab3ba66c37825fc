//! Reading the files a scan is given besides hook output: `--report` files (scan reports,
//! or VEX documents), the policy's `[scan] vex` documents (relative to the policy file's
//! directory) and `--vex` documents. Every failure is a [`ScanError::Input`] naming the
//! file, so bad input is never mistaken for a scanner failure.

use std::path::{Path, PathBuf};

use portcullis_policy::ScanSettings;

use crate::{
    parse_document, parse_vex, Document, FileRole, Format, ReportedImage, ScanError, ScannerInfo,
    VexStatement, Vulnerability,
};

/// Report and VEX files to read.
#[derive(Debug, Clone, Copy)]
pub struct InputFiles<'a> {
    /// `--report` files: scan reports or VEX documents, in order.
    pub reports: &'a [PathBuf],
    /// The policy; its `[scan] vex` paths are relative to `policy_dir`.
    pub settings: &'a ScanSettings,
    /// The directory of the policy file (`.` for the embedded default).
    pub policy_dir: &'a Path,
    /// `--vex` files, read after the policy's.
    pub vex: &'a [PathBuf],
}

/// A scan report read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadReport {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: Format,
    /// The scanner that wrote it.
    pub scanner: String,
    /// The image it says it is about.
    pub image: Option<ReportedImage>,
    /// Its findings, as the scanner listed them.
    pub vulnerabilities: Vec<Vulnerability>,
}

/// A VEX document read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadVex {
    /// The file.
    pub path: PathBuf,
    /// Its statements, in document order.
    pub statements: Vec<VexStatement>,
}

/// Everything read, in the order given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Intake {
    /// Scan reports among the `--report` files.
    pub reports: Vec<ReadReport>,
    /// VEX documents: those among the `--report` files, then the policy's, then `--vex`.
    pub vex: Vec<ReadVex>,
    /// Scanner and database versions of the first report (for the vuln predicate).
    pub scanner_info: Option<ScannerInfo>,
}

impl Intake {
    /// Every statement, in the order the documents were given (the last match wins).
    pub fn statements(&self) -> impl Iterator<Item = &VexStatement> {
        self.vex.iter().flat_map(|v| &v.statements)
    }
}

/// Reads a report or VEX file: a regular file, at most [`crate::MAX_REPORT_BYTES`].
fn read(path: &Path, role: FileRole) -> Result<Vec<u8>, ScanError> {
    use std::io::Read as _;
    let io = |error| {
        input(
            path,
            role,
            ScanError::Io {
                path: path.to_owned(),
                error,
            },
        )
    };
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(input(
            path,
            role,
            ScanError::NotRegular {
                path: path.to_owned(),
            },
        ));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(crate::MAX_REPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > crate::MAX_REPORT_BYTES {
        return Err(input(
            path,
            role,
            ScanError::ReportTooLarge {
                source_name: format!("`{}`", path.display()),
                limit: crate::MAX_REPORT_BYTES,
            },
        ));
    }
    Ok(bytes)
}

fn input(path: &Path, role: FileRole, error: ScanError) -> ScanError {
    ScanError::Input {
        role,
        path: path.to_owned(),
        error: Box::new(error),
    }
}

/// Reads every file of `files`. An SBOM given as a report is an error: it lists no
/// vulnerabilities, so it would make the gate pass on nothing.
pub fn read_inputs(files: &InputFiles<'_>) -> Result<Intake, ScanError> {
    let mut intake = Intake::default();
    for path in files.reports {
        let role = FileRole::Report;
        let bytes = read(path, role)?;
        let name = format!("`{}`", path.display());
        match parse_document(&name, &bytes, None).map_err(|e| input(path, role, e))? {
            Document::Report {
                format,
                scanner,
                vulnerabilities,
                image,
            } => {
                if intake.scanner_info.is_none() {
                    intake.scanner_info = Some(ScannerInfo::from_report(&bytes));
                }
                intake.reports.push(ReadReport {
                    path: path.clone(),
                    format,
                    scanner,
                    image,
                    vulnerabilities,
                });
            }
            Document::Vex(statements) => intake.vex.push(ReadVex {
                path: path.clone(),
                statements,
            }),
            Document::Sbom(kind) => {
                let error = ScanError::WrongKind {
                    source_name: name,
                    found: kind.format(),
                    expected: "a scan report or a VEX document; scan an SBOM with `--hook grype`"
                        .to_owned(),
                };
                return Err(input(path, role, error));
            }
        }
    }
    let policy_vex = files
        .settings
        .vex
        .iter()
        .map(|p| files.policy_dir.join(&p.value));
    for path in policy_vex.chain(files.vex.iter().cloned()) {
        let role = FileRole::Vex;
        let bytes = read(&path, role)?;
        let name = format!("`{}`", path.display());
        let statements = parse_vex(&name, &bytes, None).map_err(|e| input(&path, role, e))?;
        intake.vex.push(ReadVex { path, statements });
    }
    Ok(intake)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use portcullis_policy::Spanned;

    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    fn files<'a>(
        reports: &'a [PathBuf],
        settings: &'a ScanSettings,
        vex: &'a [PathBuf],
    ) -> InputFiles<'a> {
        InputFiles {
            reports,
            settings,
            // Not the working directory of tests, so a path read from there is not found.
            policy_dir: Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests")),
            vex,
        }
    }

    /// The whole error chain, as the CLI prints it.
    fn chain(error: &ScanError) -> String {
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(c) = cause {
            text.push_str(" / ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    #[test]
    fn reports_and_vex_documents_are_told_apart() {
        let reports = [data("alpine-310.json"), data("trivy-vex-openvex.json")];
        let mut settings = ScanSettings::default();
        settings
            .vex
            .push(Spanned::unsited("data/trivy-vex-cyclonedx.json".into()));
        let vex = [data("trivy-vex-openvex-oci.json")];
        let intake = read_inputs(&files(&reports, &settings, &vex)).unwrap();
        assert_eq!(intake.reports.len(), 1);
        let report = &intake.reports[0];
        assert_eq!(
            (report.scanner.as_str(), report.vulnerabilities.len()),
            ("trivy", 4)
        );
        assert_eq!(report.format, Format::TrivyJson);
        let vex_files: Vec<&Path> = intake.vex.iter().map(|v| v.path.as_path()).collect();
        assert_eq!(
            vex_files,
            [
                data("trivy-vex-openvex.json"),
                data("trivy-vex-cyclonedx.json"),
                data("trivy-vex-openvex-oci.json")
            ]
        );
        assert!(intake.statements().count() >= 3);
        assert!(intake.scanner_info.unwrap().uri.contains("trivy"));
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sbom = dir.path().join("sbom.json");
        std::fs::write(
            &sbom,
            r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#,
        )
        .unwrap();
        let garbage = dir.path().join("garbage.json");
        std::fs::write(&garbage, "not json").unwrap();
        let missing = dir.path().join("missing.json");
        let settings = ScanSettings::default();
        for (reports, vex, needle) in [
            (vec![sbom.clone()], vec![], "SBOM"),
            (vec![garbage.clone()], vec![], "not a Trivy"),
            (vec![missing.clone()], vec![], "cannot access"),
            (vec![], vec![missing.clone()], "VEX document"),
            (
                vec![],
                vec![data("alpine-310.json")],
                "OpenVEX or CycloneDX VEX",
            ),
        ] {
            let err = read_inputs(&files(&reports, &settings, &vex)).unwrap_err();
            let path = reports.first().or(vex.first()).unwrap();
            assert!(
                matches!(&err, ScanError::Input { path: p, .. } if p == path),
                "{err}"
            );
            let text = chain(&err);
            assert!(text.contains(&format!("`{}`", path.display())), "{text}");
            assert!(text.contains(needle), "{needle}: {text}");
        }
        let mut settings = ScanSettings::default();
        settings
            .vex
            .push(Spanned::unsited("no/such/vex.json".into()));
        let err = read_inputs(&files(&[], &settings, &[])).unwrap_err();
        assert!(chain(&err).contains("no/such/vex.json"), "{err}");
    }
}
