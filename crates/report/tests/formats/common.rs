//! One report that exercises every part of every renderer, built by hand from the policy
//! crate's data types, and the options that point the renderers at `tests/data/repo`.

use std::path::{Path, PathBuf};

use portcullis_policy::vuln::{
    FixState, ScanResult, SuppressedBy, VulnSeverity, Vulnerability, VulnerabilityFinding,
};
use portcullis_policy::{
    AppliedWaiver, ConfigSite, Context, Detail, Finding, ImageEntry, Location, Report, Rule,
    Severity, Summary,
};
use portcullis_report::RenderOptions;

pub const CONFIG_NAME: &str = "portcullis.toml";
pub const DOCKERFILE: &str = "services/web/Dockerfile";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/repo")
}

pub fn config_text() -> String {
    std::fs::read_to_string(repo().join(CONFIG_NAME)).expect("test config")
}

pub fn options<'a>(root: &'a Path, config: &'a str) -> RenderOptions<'a> {
    RenderOptions {
        root,
        configs: Box::leak(vec![(CONFIG_NAME.to_owned(), config.to_owned())].into_boxed_slice()),
        color: false,
        quiet: false,
        version: "0.1.0",
        generated: "2024-05-01T12:00:00Z".parse().expect("a timestamp"),
        links: None,
    }
}

// Returns `Option` because it fills `Option` fields of `Finding` directly.
#[allow(clippy::unnecessary_wraps)]
pub fn at(file: &str, line: u32, column: u32, end_column: u32) -> Option<Location> {
    Some(Location {
        file: file.into(),
        line,
        column,
        end_line: line,
        end_column,
        span: 0..0,
    })
}

#[allow(clippy::unnecessary_wraps)]
pub fn site(
    line: u32,
    column: u32,
    span: std::ops::Range<usize>,
    label: &str,
) -> Option<ConfigSite> {
    Some(ConfigSite {
        file: CONFIG_NAME.into(),
        line,
        column,
        span,
        label: label.into(),
    })
}

pub fn finding(rule: Rule, severity: Severity, message: &str) -> Finding {
    Finding::new(rule, severity, message.into(), None)
}

pub fn vuln(id: &str, package: &str, severity: VulnSeverity, fixed: &[&str]) -> Vulnerability {
    Vulnerability {
        id: id.into(),
        aliases: vec![],
        package: package.into(),
        installed: "3.0.13-1".into(),
        fixed: fixed.iter().map(|s| (*s).to_owned()).collect(),
        fix_state: if fixed.is_empty() {
            FixState::NotFixed
        } else {
            FixState::Fixed
        },
        severity,
        cvss: Some(7.5),
        scanners: vec!["trivy".into()],
        title: None,
        url: None,
        location: None,
        suppressed_by: None,
        justification: None,
        scanner_severity: None,
        cvss_vectors: Vec::new(),
        operating_system: None,
    }
}

const NGINX: &str = "docker.io/library/nginx:latest";
const TOOLS: &str = "ghcr.io/acme/tools:1.2";

/// The findings `tests/data/repo` would give: every location kind (in a readable file, in
/// a missing file, none), a config cause, a waiver, a vulnerability.
// One literal report, read top to bottom; splitting it would scatter the fixture.
#[allow(clippy::too_many_lines)]
pub fn sample() -> Report {
    let pin_help = Some(format!("run `portcullis pin {DOCKERFILE}`"));
    let findings = vec![
        Finding {
            image: Some(NGINX.into()),
            detail: Some(Detail::Vulnerability(VulnerabilityFinding {
                id: "CVE-2024-1234".into(),
                aliases: vec!["GHSA-aaaa-bbbb-cccc".into()],
                package: "openssl".into(),
                installed: "3.0.13-1".into(),
                fixed: vec!["3.0.14-1".into()],
                fix_state: FixState::Fixed,
                severity: VulnSeverity::High,
                cvss: Some(7.5),
                scanners: vec!["trivy".into(), "grype".into()],
                suppressed_by: None,
            })),
            help: Some(
                "rebuild `docker.io/library/nginx` on a base with `openssl` 3.0.14-1".into(),
            ),
            ..finding(
                Rule::Vulnerability,
                Severity::Error,
                "`CVE-2024-1234` (high) in `openssl` 3.0.13-1",
            )
        },
        Finding {
            cause: site(5, 1, 91..101, "`[[waiver]]` entry here"),
            ..finding(
                Rule::WaiverUnused,
                Severity::Warning,
                "waiver for `docker.io/library/postgres` matched nothing",
            )
        },
        Finding {
            image: Some("docker.io/library/alpine".into()),
            location: at("missing/Dockerfile", 2, 6, 12),
            context: Some(Context::DockerfileFrom),
            help: Some("run `portcullis pin missing/Dockerfile`".into()),
            ..finding(
                Rule::DigestNotPinned,
                Severity::Error,
                "`docker.io/library/alpine` is not pinned by digest",
            )
        },
        Finding {
            image: Some("docker.io/docker/dockerfile:1".into()),
            location: at(DOCKERFILE, 1, 10, 29),
            context: Some(Context::DockerfileSyntax),
            help: pin_help.clone(),
            ..finding(
                Rule::DigestNotPinned,
                Severity::Error,
                "`docker.io/docker/dockerfile:1` is not pinned by digest",
            )
        },
        Finding {
            image: Some(NGINX.into()),
            location: at(DOCKERFILE, 3, 6, 18),
            context: Some(Context::DockerfileFrom),
            help: pin_help.clone(),
            ..finding(
                Rule::DigestNotPinned,
                Severity::Error,
                "`nginx:latest` is not pinned by digest",
            )
        },
        Finding {
            image: Some(NGINX.into()),
            location: at(DOCKERFILE, 3, 6, 18),
            context: Some(Context::DockerfileFrom),
            cause: site(3, 1, 67..76, "`deny-tags` set here"),
            help: Some("name a release tag, e.g. `nginx:1.27`, then run `portcullis pin`".into()),
            ..finding(
                Rule::TagDenied,
                Severity::Error,
                "tag `latest` of `nginx` is denied",
            )
        },
        Finding {
            image: Some(TOOLS.into()),
            location: at(DOCKERFILE, 4, 13, 35),
            context: Some(Context::DockerfileCopyFrom),
            waived: true,
            waiver: Some(AppliedWaiver {
                reason: "internal tool, pinned by the release job".into(),
                expires: Some(jiff::civil::date(2099, 1, 1)),
                declared: at(CONFIG_NAME, 5, 1, 11),
            }),
            cause: site(
                5,
                1,
                91..101,
                "waived here: internal tool, pinned by the release job",
            ),
            ..finding(
                Rule::DigestNotPinned,
                Severity::Error,
                "`ghcr.io/acme/tools:1.2` is not pinned by digest",
            )
        },
        Finding {
            image: Some(TOOLS.into()),
            location: at(DOCKERFILE, 4, 13, 35),
            context: Some(Context::DockerfileCopyFrom),
            cause: site(2, 1, 9..14, "no `allow` pattern matches"),
            help: Some(
                "add `ghcr.io/acme/tools` to `allow` in portcullis.toml, or use an allowed image"
                    .into(),
            ),
            ..finding(
                Rule::ImageNotAllowed,
                Severity::Error,
                "`ghcr.io/acme/tools` is not allowed",
            )
        },
        Finding {
            location: at(DOCKERFILE, 5, 6, 13),
            context: Some(Context::DockerfileFrom),
            help: Some("give `BASE` a default: `ARG BASE=<image>@sha256:…`".into()),
            ..finding(
                Rule::UnresolvedVariable,
                Severity::Error,
                "`${BASE}` has no default, so the image cannot be checked",
            )
        },
    ];
    let images = vec![
        ImageEntry {
            image: "docker.io/docker/dockerfile:1".into(),
            file: DOCKERFILE.into(),
            line: 1,
            context: Context::DockerfileSyntax,
        },
        ImageEntry {
            image: NGINX.into(),
            file: DOCKERFILE.into(),
            line: 3,
            context: Context::DockerfileFrom,
        },
        ImageEntry {
            image: TOOLS.into(),
            file: DOCKERFILE.into(),
            line: 4,
            context: Context::DockerfileCopyFrom,
        },
        ImageEntry {
            image: "docker.io/library/alpine".into(),
            file: "missing/Dockerfile".into(),
            line: 2,
            context: Context::DockerfileFrom,
        },
    ];
    let mut waived_vuln = vuln("CVE-2023-0001", "zlib", VulnSeverity::Critical, &[]);
    waived_vuln.suppressed_by = Some(SuppressedBy::Waiver);
    let mut vex = vuln("CVE-2023-0002", "curl", VulnSeverity::Medium, &["8.0"]);
    vex.suppressed_by = Some(SuppressedBy::Vex);
    let mut high = vuln(
        "CVE-2024-1234",
        "openssl",
        VulnSeverity::High,
        &["3.0.14-1"],
    );
    high.aliases = vec!["GHSA-aaaa-bbbb-cccc".into()];
    high.url = Some("https://avd.aquasec.com/nvd/cve-2024-1234".into());
    let scans = vec![ScanResult {
        image: NGINX.into(),
        scanners: vec!["trivy".into()],
        vulnerabilities: vec![
            high,
            waived_vuln,
            vex,
            vuln("CVE-2022-0003", "bash", VulnSeverity::Low, &[]),
        ],
        ..ScanResult::default()
    }];
    Report {
        findings,
        images,
        scans,
        summary: Summary {
            files: 2,
            images: 4,
            errors: 6,
            warnings: 1,
            waived: 1,
            not_checked: 0,
            suppressed_by_vex: 0,
            traffic: None,
        },
        ..Report::default()
    }
}
