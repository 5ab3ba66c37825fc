//! Waivers: which findings a `[[waiver]]` or an inline waiver covers, expiry, and the
//! `waiver-expired` / `waiver-unused` diagnostics that keep the list of exceptions honest.
//!
//! An inline waiver is a comment in a source file,
//! `# portcullis: ignore RULE[,RULE…] [until YYYY-MM-DD] -- REASON`, that `sources` reads
//! into parts ([`InlineComment`]); [`InlineWaiver::read`] judges them (rule codes, the
//! date) and it then covers the named rules' findings on the lines the comment concerns.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use portcullis_reference::inline::InlineComment;
use portcullis_reference::{ImageRef, Location, Pattern, Problem, ProblemKind};
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

/// An inline waiver: a `# portcullis: ignore …` comment in a source file, waiving the
/// named rules for the references of the lines it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineWaiver {
    /// Rule codes it waives.
    pub rules: Vec<Rule>,
    /// Last day it applies; `None`: until the comment is removed.
    pub until: Option<jiff::civil::Date>,
    /// Why the exception exists.
    pub reason: String,
    /// The comment (its file is the file of the references it covers).
    pub location: Location,
    /// The lines of that file whose references it covers.
    pub lines: RangeInclusive<u32>,
}

impl InlineWaiver {
    /// Judges the parts `sources` read: every rule code must name a rule that can be waived
    /// and the `until` date must be a real `YYYY-MM-DD` day. The first problem found is a
    /// `file-invalid` input problem naming the file, line and offending text.
    pub fn read(comment: &InlineComment) -> Result<Self, Problem> {
        let problem = |location: &Location, message: String| Problem {
            kind: ProblemKind::FileInvalid,
            file: location.file.clone(),
            line: Some(location.line),
            column: Some(location.column),
            message: format!("inline waiver: {message}"),
        };
        let parts = comment
            .parsed
            .as_ref()
            .map_err(|error| problem(&error.location, error.message.clone()))?;
        let mut rules = Vec::with_capacity(parts.rules.len());
        for part in &parts.rules {
            let code = rule(&part.text).map_err(|message| problem(&part.location, message))?;
            if matches!(code, Rule::WaiverExpired | Rule::WaiverUnused) {
                return Err(problem(
                    &part.location,
                    format!("`{code}` is about waivers themselves and cannot be waived inline"),
                ));
            }
            rules.push(code);
        }
        let until = parts
            .until
            .as_ref()
            .map(|part| {
                day(&part.text).ok_or_else(|| {
                    problem(
                        &part.location,
                        format!("`{}` is not a date: write `until YYYY-MM-DD`, as in `until 2027-01-31`", part.text),
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            rules,
            until,
            reason: parts.reason.text.clone(),
            location: comment.location.clone(),
            lines: comment.lines.clone(),
        })
    }

    /// Whether it covers `finding`: one of its rules, on one of its lines of its file.
    #[must_use]
    pub fn covers(&self, finding: &Finding) -> bool {
        if matches!(finding.rule, Rule::WaiverExpired | Rule::WaiverUnused)
            || finding.rule.is_bad_input()
        {
            return false;
        }
        self.rules.contains(&finding.rule)
            && finding
                .location
                .as_ref()
                .is_some_and(|at| at.file == self.location.file && self.lines.contains(&at.line))
    }
}

/// A `YYYY-MM-DD` calendar day (nothing else jiff would also read).
fn day(text: &str) -> Option<jiff::civil::Date> {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shape.then(|| text.parse().ok()).flatten()
}

/// A `[[waiver]]` or an inline waiver, for what both do alike.
#[derive(Clone, Copy)]
enum Entry<'a> {
    Config(&'a Waiver),
    Inline(&'a InlineWaiver),
}

impl Entry<'_> {
    fn covers(self, finding: &Finding, image: Option<&ImageRef>) -> bool {
        match self {
            Entry::Config(waiver) => covers(waiver, finding, image),
            Entry::Inline(waiver) => waiver.covers(finding),
        }
    }

    fn expires(self) -> Option<jiff::civil::Date> {
        match self {
            Entry::Config(waiver) => Some(waiver.expires.value),
            Entry::Inline(waiver) => waiver.until,
        }
    }

    /// Whether this run could produce a finding it covers.
    fn judged(self, evaluated: &BTreeSet<Rule>) -> bool {
        match self {
            Entry::Config(waiver) => {
                waiver
                    .rules
                    .iter()
                    .any(|rule| evaluated.contains(&rule.value))
                    || (!waiver.ids.is_empty() && evaluated.contains(&Rule::Vulnerability))
            }
            Entry::Inline(waiver) => waiver.rules.iter().any(|rule| evaluated.contains(rule)),
        }
    }
}

/// Applies the inline waivers, then the `[[waiver]]`s, to `findings` (each with the image
/// it concerns) and returns the `waiver-expired` and `waiver-unused` findings. `evaluated`
/// holds the rules this run could produce: a waiver only for rules that were not evaluated
/// (say `digest-stale` without `--resolve`) is not reported unused, and neither is a
/// `[[waiver]]` when the run did not cover the whole tree of the policy file (`whole_tree`
/// false: `check services/web` cannot know whether it matches elsewhere). An inline waiver
/// can only match in its own file, which was read whole, so it is reported unused anyway.
pub(crate) fn apply(
    waivers: &[Waiver],
    inline: &[InlineWaiver],
    findings: &mut [Finding],
    images: &[Option<&ImageRef>],
    today: jiff::civil::Date,
    evaluated: &BTreeSet<Rule>,
    whole_tree: bool,
) -> Vec<Finding> {
    // An inline waiver only looks at the findings of its own lines: those of the files
    // holding inline waivers, indexed by (file, line). A repository without any builds no
    // index.
    let files: BTreeMap<&str, usize> = inline
        .iter()
        .map(|waiver| waiver.location.file.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(id, file)| (file, id))
        .collect();
    let mut by_line: BTreeMap<(usize, u32), Vec<usize>> = BTreeMap::new();
    if !files.is_empty() {
        for (i, finding) in findings.iter().enumerate() {
            let Some(at) = &finding.location else {
                continue;
            };
            if let Some(&id) = files.get(at.file.as_str()) {
                by_line.entry((id, at.line)).or_default().push(i);
            }
        }
    }
    let all: Vec<usize> = (0..findings.len()).collect();
    let entries = inline
        .iter()
        .map(Entry::Inline)
        .chain(waivers.iter().map(Entry::Config));
    let mut out = Vec::new();
    for entry in entries {
        let expired = entry.expires().is_some_and(|last| today > last);
        let candidates: Vec<usize> = match entry {
            Entry::Inline(waiver) if waiver.lines.is_empty() => Vec::new(),
            Entry::Inline(waiver) => {
                let file = files[waiver.location.file.as_str()];
                by_line
                    .range((file, *waiver.lines.start())..=(file, *waiver.lines.end()))
                    .flat_map(|(_, found)| found.iter().copied())
                    .collect()
            }
            Entry::Config(_) => all.clone(),
        };
        let mut used = false;
        for i in candidates {
            let finding = &mut findings[i];
            if !entry.covers(finding, images[i]) {
                continue;
            }
            used = true;
            if !expired && !finding.waived {
                waive(finding, entry);
            }
        }
        let reportable = whole_tree || matches!(entry, Entry::Inline(_));
        match entry {
            Entry::Config(waiver) if expired => out.push(expired_finding(waiver)),
            Entry::Inline(waiver) if expired => out.push(inline_expired(waiver)),
            Entry::Config(waiver) if !used && entry.judged(evaluated) && reportable => {
                out.push(unused_finding(waiver));
            }
            Entry::Inline(waiver) if !used && entry.judged(evaluated) => {
                out.push(inline_unused(waiver));
            }
            _ => {}
        }
    }
    out
}

/// The finding for an inline waiver that is not one (bad grammar, an unknown or
/// unwaivable rule, a bad date): bad input, so the run exits 2.
pub(crate) fn inline_problem(problem: &Problem) -> Finding {
    let mut finding = super::inputs::problem(problem);
    finding.help = Some(
        "write `# portcullis: ignore RULE[,RULE…] [until YYYY-MM-DD] -- REASON` on the reference's line or alone on the line above it".to_owned(),
    );
    finding
}

fn inline_scope(waiver: &InlineWaiver) -> String {
    let codes: Vec<String> = waiver
        .rules
        .iter()
        .map(|rule| format!("`{rule}`"))
        .collect();
    codes.join(", ")
}

fn inline_expired(waiver: &InlineWaiver) -> Finding {
    let until = waiver.until.map(|d| d.to_string()).unwrap_or_default();
    let message = format!(
        "the inline waiver for {} expired on `{until}` (reason: {})",
        inline_scope(waiver),
        waiver.reason
    );
    let mut finding = Finding::new(
        Rule::WaiverExpired,
        Severity::Error,
        message,
        Some(
            "fix what it waived and delete the comment, or set a new `until` date with a reason"
                .to_owned(),
        ),
    );
    finding.location = Some(waiver.location.clone());
    finding
}

fn inline_unused(waiver: &InlineWaiver) -> Finding {
    let message = if waiver.lines.is_empty() {
        format!(
            "the inline waiver for {} stands above no instruction or line it could cover",
            inline_scope(waiver)
        )
    } else {
        let (first, last) = (waiver.lines.start(), waiver.lines.end());
        let lines = if first == last {
            format!("line {first}")
        } else {
            format!("lines {first}-{last}")
        };
        format!(
            "the inline waiver for {} matched no finding on {lines}",
            inline_scope(waiver)
        )
    };
    let mut finding = Finding::new(
        Rule::WaiverUnused,
        Severity::Warning,
        message,
        Some("delete the comment, or put it on the reference's line (YAML) or alone on the line above it".to_owned()),
    );
    finding.location = Some(waiver.location.clone());
    finding
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

/// Marks a finding waived by `entry`, keeping which waiver it was.
fn waive(finding: &mut Finding, entry: Entry<'_>) {
    finding.waived = true;
    match entry {
        Entry::Config(waiver) => {
            finding.waiver = Some(AppliedWaiver {
                reason: waiver.reason.value.clone(),
                expires: Some(waiver.expires.value),
                declared: waiver.location.clone(),
            });
            finding.cause = waiver
                .site
                .as_ref()
                .map(|site| site.labelled(format!("waived here: {}", waiver.reason.value)));
        }
        Entry::Inline(waiver) => {
            finding.waiver = Some(AppliedWaiver {
                reason: waiver.reason.clone(),
                expires: waiver.until,
                declared: Some(waiver.location.clone()),
            });
        }
    }
    if let Some(crate::finding::Detail::Vulnerability(block)) = &mut finding.detail {
        block.suppressed_by = Some(SuppressedBy::Waiver);
    }
}
