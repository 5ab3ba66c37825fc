//! One whole scan through `portcullis_scan::run`: hooks as real processes and report files
//! from real scanners, configured by a real `portcullis.toml`.

use std::path::{Path, PathBuf};

use portcullis_policy::{Config, ScanSettings};
use portcullis_reference::ImageRef;
use portcullis_scan::{
    run, select_hooks, FileRole, Format, InputContent, InputSource, ReportMismatch, SbomKind,
    ScanError, ScanInput, ScanRequest, ScanRun, SuppressedBy,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn settings(policy: &str) -> ScanSettings {
    Config::parse("portcullis.toml", policy)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .scan()
        .clone()
}

/// The image the Debian fixture is about.
const DEBIAN: &str = "ghcr.io/aquasecurity/trivy-test-images:debian-buster";

struct Scan<'a> {
    image: &'a str,
    settings: ScanSettings,
    policy_dir: &'a Path,
    hooks: Vec<String>,
    reports: Vec<PathBuf>,
    vex: Vec<PathBuf>,
}

impl<'a> Scan<'a> {
    fn new(image: &'a str, settings: ScanSettings) -> Self {
        Self {
            image,
            settings,
            policy_dir: Path::new("."),
            hooks: Vec::new(),
            reports: Vec::new(),
            vex: Vec::new(),
        }
    }

    fn run(&self) -> Result<ScanRun, ScanError> {
        run(&ScanRequest {
            image: ImageRef::parse(self.image).unwrap(),
            settings: &self.settings,
            policy_dir: self.policy_dir,
            hooks: &self.hooks,
            reports: &self.reports,
            vex: &self.vex,
            sbom: SbomKind::CycloneDx,
            timeout: None,
        })
    }
}

/// A CycloneDX VEX document: CVE-2019-18224 (libidn2-0, critical in debian-buster) does
/// not affect the product.
const VEX: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,
  "vulnerabilities":[{"id":"CVE-2019-18224","analysis":{"state":"not_affected","justification":"code_not_reachable"}}]}"#;

fn vex_hook_policy(dir: &Path, format: &str) -> ScanSettings {
    let vex = dir.join("vex.json");
    std::fs::write(&vex, VEX).unwrap();
    settings(&format!(
        r#"
[scan]
hooks = ["debian", "triage"]

[[scan.hook]]
name = "debian"
command = "cat '{}'"
format = "trivy-json"

[[scan.hook]]
name = "triage"
command = ["cat", "{}"]
format = "{format}"
"#,
        data("debian-buster.json").display(),
        vex.display()
    ))
}

fn suppressed(run: &ScanRun, id: &str) -> bool {
    run.result
        .vulnerabilities
        .iter()
        .find(|v| v.id == id)
        .unwrap_or_else(|| panic!("{id} missing"))
        .suppressed_by
        == Some(SuppressedBy::Vex)
}

#[test]
fn cyclonedx_vex_hook_output_is_applied_as_vex() {
    // `format = "cyclonedx-vex"` used to be ignored, and VEX printed by a hook was dropped.
    let dir = tempfile::tempdir().unwrap();
    let scan = Scan::new(DEBIAN, vex_hook_policy(dir.path(), "cyclonedx-vex"));
    let hooks = select_hooks(&scan.settings, &[], false, SbomKind::CycloneDx, None).unwrap();
    assert_eq!(hooks[1].format, Some(Format::CyclonedxVex));
    let run = scan.run().unwrap();
    assert!(suppressed(&run, "CVE-2019-18224"));
    assert!(!suppressed(&run, "CVE-2019-18276"));
    assert_eq!(run.vex_suppressed, 1);
    assert_eq!(
        run.inputs[1],
        ScanInput {
            source: InputSource::Hook("triage".into()),
            content: InputContent::Vex { statements: 1 },
        }
    );
}

#[test]
fn a_hook_declared_as_cyclonedx_sbom_is_not_read_as_vex() {
    let dir = tempfile::tempdir().unwrap();
    let run = Scan::new(DEBIAN, vex_hook_policy(dir.path(), "cyclonedx"))
        .run()
        .unwrap();
    assert!(!suppressed(&run, "CVE-2019-18224"));
    assert_eq!(
        run.inputs[1].content,
        InputContent::Sbom(SbomKind::CycloneDx)
    );
    assert!(run.sbom.is_some());
}

/// The real alpine-310 report as `trivy image alpine:3.10` writes it for a registry image.
fn alpine_report(dir: &Path) -> PathBuf {
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("alpine-310.json")).unwrap()).unwrap();
    doc["ArtifactName"] = "alpine:3.10".into();
    doc["Metadata"]["RepoTags"] = serde_json::json!(["alpine:3.10"]);
    let path = dir.join("alpine.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    path
}

#[test]
fn trivy_report_for_alpine_given_for_nginx_is_a_mismatch_naming_both() {
    // A report about another image used to gate the scanned one without a word.
    let dir = tempfile::tempdir().unwrap();
    let report = alpine_report(dir.path());
    let mut scan = Scan::new("nginx:1.27", ScanSettings::default());
    scan.reports = vec![report.clone()];
    let run = scan.run().unwrap();
    let want = ReportMismatch {
        source: InputSource::File(report.clone()),
        reported: "alpine:3.10".into(),
        expected: ImageRef::parse("nginx:1.27").unwrap(),
    };
    assert_eq!(run.mismatches, [want]);
    let text = run.mismatches[0].to_string();
    assert!(
        text.contains("`alpine:3.10`") && text.contains("`docker.io/library/nginx:1.27`"),
        "{text}"
    );
    // The same report for the image it is about passes the check.
    scan.image = "docker.io/library/alpine:3.10";
    assert_eq!(scan.run().unwrap().mismatches, []);
}

#[test]
fn a_hook_printing_a_report_about_another_image_is_a_mismatch_naming_the_hook() {
    let dir = tempfile::tempdir().unwrap();
    let report = alpine_report(dir.path());
    let policy = format!(
        "[[scan.hook]]\nname = \"stale\"\ncommand = [\"cat\", \"{}\"]\nformat = \"trivy-json\"\n",
        report.display()
    );
    let mut scan = Scan::new("nginx:1.27", settings(&policy));
    scan.hooks = vec!["stale".into()];
    let run = scan.run().unwrap();
    assert_eq!(run.mismatches.len(), 1);
    assert_eq!(run.mismatches[0].source, InputSource::Hook("stale".into()));
}

#[test]
fn what_was_read_lists_hooks_then_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy-vex.json"), VEX).unwrap();
    let policy = format!(
        "[scan]\nhooks = [\"g\"]\nvex = [\"policy-vex.json\"]\n[[scan.hook]]\nname = \"g\"\ncommand = \"cat '{}'\"\nformat = \"grype-json\"\n",
        data("grype-image.json").display()
    );
    let mut scan = Scan::new(DEBIAN, settings(&policy));
    scan.policy_dir = dir.path();
    scan.hooks = vec!["g".into()];
    scan.reports = vec![data("debian-buster.json"), data("trivy-vex-openvex.json")];
    scan.vex = vec![data("trivy-vex-openvex-oci.json")];
    let run = scan.run().unwrap();
    let summary: Vec<(String, String)> = run
        .inputs
        .iter()
        .map(|input| {
            let content = match &input.content {
                InputContent::Report {
                    scanner,
                    image,
                    findings,
                } => format!(
                    "{scanner} {} {findings}",
                    image.as_ref().map_or("-", |i| i.name.as_str())
                ),
                InputContent::Vex { statements } => format!("vex {statements}"),
                InputContent::Sbom(kind) => format!("{kind:?}"),
            };
            let source = match &input.source {
                InputSource::Hook(name) => format!("hook {name}"),
                InputSource::File(path) => path.file_name().unwrap().to_string_lossy().into(),
            };
            (source, content)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = summary
        .iter()
        .map(|(s, c)| (s.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("hook g", "grype user-input 2"),
            ("debian-buster.json", &*format!("trivy {DEBIAN} 2")),
            ("trivy-vex-openvex.json", "vex 1"),
            ("policy-vex.json", "vex 1"),
            ("trivy-vex-openvex-oci.json", "vex 1"),
        ]
    );
    assert_eq!(run.result.image, DEBIAN);
    assert_eq!(run.result.scanners, ["grype", "trivy"]);
    assert_eq!(run.result.vulnerabilities.len(), 4);
    assert!(suppressed(&run, "CVE-2019-18224"), "policy VEX applied");
    // Only the Grype hook names another image.
    assert_eq!(run.mismatches.len(), 1);
    assert_eq!(run.mismatches[0].source, InputSource::Hook("g".into()));
    // The hook's report comes before the files' for the vuln predicate.
    assert!(run.scanner.uri.contains("grype"), "{:?}", run.scanner.uri);
    assert!(run.started <= run.finished);
    assert_eq!(run.hook_runs.len(), 1);
}

#[test]
fn nothing_to_scan_unknown_hooks_and_bad_files_are_errors() {
    let scan = Scan::new("nginx", ScanSettings::default());
    assert!(matches!(scan.run(), Err(ScanError::NothingToScan)));
    let mut scan = Scan::new("nginx", ScanSettings::default());
    scan.hooks = vec!["nope".into()];
    assert!(matches!(scan.run(), Err(ScanError::UnknownHook { name, .. }) if name == "nope"));
    // Files are read before any hook runs: a bad file fails fast, as bad input.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let policy = format!(
        "[scan]\nhooks = [\"h\"]\n[[scan.hook]]\nname = \"h\"\ncommand = \"touch '{}'\"\nformat = \"trivy-json\"\n",
        marker.display()
    );
    let mut scan = Scan::new("nginx", settings(&policy));
    scan.vex = vec![dir.path().join("missing.json")];
    let err = scan.run().unwrap_err();
    assert!(
        matches!(&err, ScanError::Input { role: FileRole::Vex, path, .. } if path.ends_with("missing.json")),
        "{err}"
    );
    assert!(!marker.exists(), "the hook ran before the files were read");
}
