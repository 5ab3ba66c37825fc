//! Plain-value builders shared by the policy tests: occurrences built by hand, configs
//! parsed from inline TOML.
#![allow(dead_code)]

use portcullis_policy::{Config, Facts, Finding, Report, Rule};
use portcullis_reference::ImageRef;
use portcullis_sources::{Context, Location, Occurrence, Resolution};

/// An image occurrence of `text` on `line` of `file` (column 6, as after `FROM `).
pub fn image(file: &str, line: u32, text: &str) -> Occurrence {
    let image = ImageRef::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    occurrence(file, line, text, Resolution::Image(image))
}

/// An occurrence whose text uses `variable`.
pub fn unresolved(file: &str, line: u32, text: &str, variable: &str) -> Occurrence {
    occurrence(
        file,
        line,
        text,
        Resolution::Unresolved {
            variable: variable.to_owned(),
        },
    )
}

fn occurrence(file: &str, line: u32, text: &str, resolution: Resolution) -> Occurrence {
    let width = text.chars().count() as u32;
    Occurrence {
        location: Location {
            file: file.to_owned(),
            line,
            column: 6,
            end_line: line,
            end_column: 6 + width,
            span: 0..text.len(),
        },
        text: text.to_owned(),
        resolution,
        context: Context::DockerfileFrom,
        platform: None,
        literal: None,
    }
}

pub fn config(text: &str) -> Config {
    Config::parse("portcullis.toml", text).unwrap_or_else(|errors| panic!("{errors}"))
}

pub fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 6, 1)
}

pub fn facts(occurrences: Vec<Occurrence>) -> Facts {
    Facts {
        files: 1,
        occurrences,
        ..Facts::default()
    }
}

pub fn check(config_text: &str, occurrences: Vec<Occurrence>) -> Report {
    portcullis_policy::evaluate(&config(config_text), &facts(occurrences), today())
}

/// The rule codes of the unwaived findings, in report order.
pub fn rules(report: &Report) -> Vec<&'static str> {
    report
        .findings
        .iter()
        .filter(|f| !f.waived)
        .map(|f| f.rule.code())
        .collect()
}

pub fn find(report: &Report, rule: Rule) -> &Finding {
    report
        .findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} in {:#?}", report.findings))
}

pub const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const OTHER_DIGEST: &str =
    "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
pub const PLATFORM_DIGEST: &str =
    "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
