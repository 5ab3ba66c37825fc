//! Random report text through every renderer: no panics, output that parses, escapes that
//! hold, and the Markdown budget kept.

use portcullis_policy::vuln::{FixState, VulnSeverity, VulnerabilityFinding};
use portcullis_policy::{ConfigSite, Detail, Finding, Location, Report, Rule, Severity};
use portcullis_report::{
    github_annotations, gitlab_codequality, gitlab_container_scanning, markdown_with_limit, render,
    Format, RenderOptions,
};
use proptest::prelude::*;

use crate::common::{config_text, repo};

const ESC: char = '\u{1b}';

fn arb_finding() -> impl Strategy<Value = Finding> {
    (
        (
            0..Rule::all().count(),
            0..3u8,
            any::<String>(),
            proptest::option::of(any::<String>()),
            proptest::option::of(any::<String>()),
        ),
        proptest::option::of((".{0,12}", 0..6u32, 0..40u32, 0..6u32, 0..40u32)),
        any::<bool>(),
        proptest::option::of((0..400usize, 0..400usize, any::<String>())),
        any::<bool>(),
    )
        .prop_map(
            |((rule, severity, message, help, image), location, waived, cause, vulnerable)| {
                Finding {
                    rule: Rule::all().nth(rule).unwrap(),
                    severity: [Severity::Error, Severity::Warning, Severity::Note]
                        [usize::from(severity)],
                    message,
                    help,
                    image: image.clone(),
                    location: location.map(|(file, line, column, end_line, end_column)| Location {
                        file: if file.is_empty() {
                            "services/web/Dockerfile".into()
                        } else {
                            file
                        },
                        line,
                        column,
                        end_line,
                        end_column,
                        span: 0..0,
                    }),
                    context: None,
                    waived,
                    waiver: None,
                    cause: cause.map(|(a, b, label)| ConfigSite {
                        file: "portcullis.toml".into(),
                        line: 1,
                        column: 1,
                        span: a..b,
                        label,
                    }),
                    detail: vulnerable.then(|| {
                        Detail::Vulnerability(VulnerabilityFinding {
                            id: image.unwrap_or_default(),
                            aliases: vec![],
                            package: "p".into(),
                            installed: "1".into(),
                            fixed: vec![],
                            fix_state: FixState::Unknown,
                            severity: VulnSeverity::Unknown,
                            cvss: Some(f64::NAN),
                            scanners: vec![],
                            suppressed_by: None,
                        })
                    }),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_renderer_survives_random_findings(findings in proptest::collection::vec(arb_finding(), 0..12), limit in 0..5_000usize) {
        let (root, config) = (repo(), config_text());
        let report = Report { findings, ..Report::default() };
        for color in [false, true] {
            let options = RenderOptions { color, ..crate::common::options(&root, &config) };
            let human = render(&report, Format::Human, &options);
            prop_assert!(human.ends_with(" waived\n"));
            if !color {
                prop_assert!(!human.contains(ESC), "colorless");
            } else if !report.findings.is_empty() {
                prop_assert!(human.contains(ESC), "colored");
            }
        }
        let options = crate::common::options(&root, &config);
        for format in [Format::Json, Format::Sarif, Format::GitlabCodequality] {
            let text = render(&report, format, &options);
            prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{:?}", format);
        }
        let junit = render(&report, Format::Junit, &options);
        prop_assert!(roxmltree::Document::parse(&junit).is_ok(), "JUnit is well-formed XML");
        let markdown = markdown_with_limit(&report, &options, limit);
        prop_assert!(markdown.encode_utf16().count() <= limit.max(portcullis_report::MIN_LIMIT));
        let annotations = github_annotations(&report);
        // One command per unwaived finding, plus the overflow notice when a kind passes 10.
        let commands = annotations.lines().filter(|l| !l.starts_with("::notice title=portcullis::")).count();
        prop_assert_eq!(commands, report.findings.iter().filter(|f| !f.waived).count());
        prop_assert!(annotations.lines().all(|l| l.starts_with("::")));
        let _ = gitlab_codequality(&report);
        let _ = gitlab_container_scanning(&report, &options, jiff::Timestamp::UNIX_EPOCH);
    }
}
