//! Plain-value builders shared by the policy tests: occurrences built by hand, configs
//! parsed from inline TOML.
#![allow(dead_code)]

use portcullis_policy::{Config, Facts, Finding, Report, Rule, Subject};
use portcullis_reference::{Context, ImageRef, Location, Resolution};

/// An image occurrence of `text` on `line` of `file` (column 6, as after `FROM `).
pub fn image(file: &str, line: u32, text: &str) -> Subject {
    let image = ImageRef::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    occurrence(file, line, text, Resolution::Image(image))
}

/// An occurrence whose text uses `variable`.
pub fn unresolved(file: &str, line: u32, text: &str, variable: &str) -> Subject {
    occurrence(
        file,
        line,
        text,
        Resolution::Unresolved {
            variable: variable.to_owned(),
        },
    )
}

fn occurrence(file: &str, line: u32, text: &str, resolution: Resolution) -> Subject {
    let width = text.chars().count() as u32;
    Subject::written(
        resolution,
        text.to_owned(),
        Location {
            file: file.to_owned(),
            line,
            column: 6,
            end_line: line,
            end_column: 6 + width,
            span: 0..text.len(),
        },
        Context::DockerfileFrom,
    )
}

pub fn config(text: &str) -> Config {
    Config::parse("portcullis.toml", text).unwrap_or_else(|errors| panic!("{errors}"))
}

pub fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 6, 1)
}

pub fn facts(subjects: Vec<Subject>) -> Facts {
    Facts {
        files: 1,
        subjects,
        ..Facts::default()
    }
}

pub fn check(config_text: &str, subjects: Vec<Subject>) -> Report {
    portcullis_policy::evaluate(&config(config_text), &facts(subjects), today())
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
