//! Waivers: which findings a `[[waiver]]` covers, expiry, and the `waiver-expired` /
//! `waiver-unused` diagnostics that keep the list of exceptions honest.

use std::collections::BTreeSet;

use portcullis_reference::{ImageRef, Location, Pattern};
use schemars::JsonSchema;

use crate::config::reader::{closest, quoted_list, Reader, Section};
use crate::config::sections::pattern;
use crate::config::settings::Spanned;
use crate::config::ConfigSite;
use crate::finding::{AppliedWaiver, Finding, Severity};
use crate::rules::Rule;
use crate::vuln::SuppressedBy;

/// `[[waiver]]`: an expiring exception to any rule or vulnerability.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Waiver {
    /// Rule codes it waives.
    #[schemars(with = "Vec<Rule>", default)]
    pub rules: Vec<Spanned<Rule>>,
    /// Vulnerability ids (or aliases) it waives.
    #[schemars(with = "Vec<String>", default)]
    pub ids: Vec<Spanned<String>>,
    /// Only findings about images matching one of these patterns (empty: any image).
    #[schemars(with = "Vec<String>", default)]
    pub images: Vec<Spanned<Pattern>>,
    /// Only vulnerabilities in these packages (empty: any package).
    #[schemars(with = "Vec<String>", default)]
    pub packages: Vec<Spanned<String>>,
    /// Why the exception exists (required).
    #[schemars(with = "String")]
    pub reason: Spanned<String>,
    /// Last day the waiver applies, `YYYY-MM-DD` (required).
    #[schemars(with = "String")]
    pub expires: Spanned<jiff::civil::Date>,
    /// The `[[waiver]]` header.
    #[schemars(skip)]
    pub site: Option<ConfigSite>,
    /// The header as a finding location (for `waiver-expired` and `waiver-unused`).
    #[schemars(skip)]
    pub location: Option<Location>,
}

fn rule(text: &str) -> Result<Rule, String> {
    if let Some(rule) = Rule::from_code(text).filter(|rule| rule.is_bad_input()) {
        return Err(format!(
            "`{rule}` cannot be waived: fix the input instead (a gate that cannot read its input fails closed)"
        ));
    }
    Rule::from_code(text).ok_or_else(|| {
        let codes: Vec<&str> = Rule::all().map(Rule::code).collect();
        match closest(text, &codes) {
            Some(best) => format!("unknown rule `{text}`; did you mean `{best}`?"),
            None => format!("unknown rule `{text}` (rules: {})", quoted_list(&codes)),
        }
    })
}

pub(crate) fn read(reader: &mut Reader<'_>, section: &Section<'_>) -> Option<Waiver> {
    reader.check_keys(
        section,
        &["rules", "ids", "images", "packages", "reason", "expires"],
    );
    let rules = reader.converted(section, "rules", rule).map(|(v, _)| v);
    let ids = reader.strings(section, "ids").map(|(v, _)| v);
    let images = reader
        .converted(section, "images", pattern)
        .map(|(v, _)| v)
        .unwrap_or_default();
    let packages = reader
        .strings(section, "packages")
        .map(|(v, _)| v)
        .unwrap_or_default();
    let present = |key: &str| Reader::entry(section, key).is_some();
    let reason = reader.non_empty_string(section, "reason");
    if !present("reason") {
        reader.error(
            section.span.as_ref(),
            "`[[waiver]]` needs a `reason` saying why the exception exists".to_owned(),
        );
    }
    let expires = reader.date(section, "expires");
    if !present("expires") {
        reader.error(
            section.span.as_ref(),
            "`[[waiver]]` needs an `expires` date like `2027-03-31`".to_owned(),
        );
    }
    if !present("rules") && !present("ids") {
        reader.error(
            section.span.as_ref(),
            "`[[waiver]]` needs `rules` (rule codes) or `ids` (vulnerability ids) to say what it waives".to_owned(),
        );
    }
    let location = section.span.as_ref().filter(|_| reader.sites).map(|span| {
        let (line, column) = reader.lines.position(reader.text, span.start);
        let (end_line, end_column) = reader.header_end(span.start);
        Location {
            file: reader.file.to_owned(),
            line,
            column,
            end_line,
            end_column,
            span: span.clone(),
        }
    });
    let site = reader.site(section.span.clone(), "waiver declared here".to_owned());
    Some(Waiver {
        rules: rules.unwrap_or_default(),
        ids: ids.unwrap_or_default(),
        images,
        packages,
        reason: reason?,
        expires: expires?,
        site,
        location,
    })
}

/// Whether `waiver` covers `finding` (about `image`, when known).
///
/// (rules contains the rule OR ids contains the vulnerability id or an alias) AND
/// (images empty OR an images pattern matches) AND (packages empty OR contains the package).
#[must_use]
pub fn covers(waiver: &Waiver, finding: &Finding, image: Option<&ImageRef>) -> bool {
    if matches!(finding.rule, Rule::WaiverExpired | Rule::WaiverUnused)
        || finding.rule.is_bad_input()
    {
        return false;
    }
    let by_rule = waiver.rules.iter().any(|rule| rule.value == finding.rule);
    let by_id = finding.vulnerability().is_some_and(|vuln| {
        waiver.ids.iter().any(|id| {
            let id = id.value.as_str();
            vuln.id.eq_ignore_ascii_case(id)
                || vuln
                    .aliases
                    .iter()
                    .any(|alias| alias.eq_ignore_ascii_case(id))
        })
    });
    if !(by_rule || by_id) {
        return false;
    }
    let by_image = waiver.images.is_empty()
        || image.is_some_and(|image| {
            waiver
                .images
                .iter()
                .any(|pattern| pattern.value.matches(image))
        });
    let by_package = waiver.packages.is_empty()
        || finding.vulnerability().is_some_and(|vuln| {
            waiver
                .packages
                .iter()
                .any(|package| package.value == vuln.package)
        });
    by_image && by_package
}

/// Whether the waiver's `expires` day has passed (it still applies on that day).
#[must_use]
pub fn is_expired(waiver: &Waiver, today: jiff::civil::Date) -> bool {
    today > waiver.expires.value
}

/// Applies `waivers` to `findings` (each with the image it concerns) and returns the
/// `waiver-expired` and `waiver-unused` findings. `evaluated` holds the rules this run
/// could produce: a waiver only for rules that were not evaluated (say `digest-stale`
/// without `--resolve`) is not reported unused, and neither is any waiver when the run did
/// not cover the whole tree of the policy file (`whole_tree` false: `check services/web`
/// cannot know whether a waiver matches elsewhere).
pub(crate) fn apply(
    waivers: &[Waiver],
    findings: &mut [(Finding, Option<ImageRef>)],
    today: jiff::civil::Date,
    evaluated: &BTreeSet<Rule>,
    whole_tree: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for waiver in waivers {
        let expired = is_expired(waiver, today);
        let mut used = false;
        for (finding, image) in findings.iter_mut() {
            if !covers(waiver, finding, image.as_ref()) {
                continue;
            }
            used = true;
            if !expired && !finding.waived {
                waive(finding, waiver);
            }
        }
        let judged = waiver
            .rules
            .iter()
            .any(|rule| evaluated.contains(&rule.value))
            || (!waiver.ids.is_empty() && evaluated.contains(&Rule::Vulnerability));
        if expired {
            out.push(expired_finding(waiver));
        } else if !used && judged && whole_tree {
            out.push(unused_finding(waiver));
        }
    }
    out
}

/// What a waiver covers, for messages: `digest-not-pinned, CVE-2024-1234`.
fn scope(waiver: &Waiver) -> String {
    let mut parts: Vec<String> = waiver
        .rules
        .iter()
        .map(|rule| format!("`{}`", rule.value))
        .collect();
    parts.extend(waiver.ids.iter().map(|id| format!("`{}`", id.value)));
    parts.join(", ")
}

fn at_waiver(
    waiver: &Waiver,
    rule: Rule,
    severity: Severity,
    message: String,
    help: &str,
) -> Finding {
    let mut finding = Finding::new(rule, severity, message, Some(help.to_owned()));
    finding.location.clone_from(&waiver.location);
    finding
}

fn expired_finding(waiver: &Waiver) -> Finding {
    let message = format!(
        "the waiver for {} expired on `{}` (reason: {})",
        scope(waiver),
        waiver.expires.value,
        waiver.reason.value
    );
    let help =
        "fix what it waived and delete the waiver, or set a new `expires` date with a reason";
    let mut finding = at_waiver(waiver, Rule::WaiverExpired, Severity::Error, message, help);
    finding.cause = waiver
        .expires
        .site
        .as_ref()
        .map(|site| site.labelled("expired here"));
    finding
}

fn unused_finding(waiver: &Waiver) -> Finding {
    let message = format!("the waiver for {} matched no finding", scope(waiver));
    let mut finding = at_waiver(
        waiver,
        Rule::WaiverUnused,
        Severity::Warning,
        message,
        "delete the waiver",
    );
    finding.cause.clone_from(&waiver.site);
    finding
}

/// Marks a finding waived by `waiver`, keeping which waiver it was.
fn waive(finding: &mut Finding, waiver: &Waiver) {
    finding.waived = true;
    finding.waiver = Some(AppliedWaiver {
        reason: waiver.reason.value.clone(),
        expires: waiver.expires.value,
        declared: waiver.location.clone(),
    });
    finding.cause = waiver
        .site
        .as_ref()
        .map(|site| site.labelled(format!("waived here: {}", waiver.reason.value)));
    if let Some(crate::finding::Detail::Vulnerability(block)) = &mut finding.detail {
        block.suppressed_by = Some(SuppressedBy::Waiver);
    }
}
