//! Human diagnostics, rendered by codespan-reporting (the one renderer portcullis uses):
//! `error[rule]: message`, the offending line with a caret under the reference, a secondary
//! label on the `portcullis.toml` entry that caused it, `= help: …`, and a closing summary
//! line. A file that cannot be read (or a span that does not fit it) degrades to a bare
//! `--> file:line:col`, never to a panic.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::termcolor::{Ansi, NoColor, WriteColor};
use codespan_reporting::term::{self, Chars, Config};
use portcullis_policy::vuln::ScanResult;
use portcullis_policy::{
    ConfigSite, CopyKind, Finding, Location, MirrorOutcome, Mirrored, Report, Severity, Triggered,
};

use crate::{code, plural, waiver_reason, RenderOptions};

/// Source files read for the report, each at most once.
struct Sources<'a> {
    options: &'a RenderOptions<'a>,
    files: SimpleFiles<String, String>,
    by_name: HashMap<String, Option<usize>>,
    /// The policy files, by name.
    configs: HashMap<String, usize>,
    /// Byte offset of each line's start, by file id, computed once per file: a file with
    /// thousands of findings must not be rescanned for each.
    line_starts: HashMap<usize, Vec<usize>>,
}

impl<'a> Sources<'a> {
    fn new(options: &'a RenderOptions<'a>) -> Self {
        let mut files = SimpleFiles::new();
        let configs = options
            .configs
            .iter()
            .map(|(name, text)| {
                (
                    name.clone(),
                    files.add(printable(name), printable_source(text)),
                )
            })
            .collect();
        Sources {
            options,
            files,
            by_name: HashMap::new(),
            configs,
            line_starts: HashMap::new(),
        }
    }

    /// The file id of a checked file, reading it on first use; `None` when unreadable.
    fn checked_file(&mut self, name: &str) -> Option<usize> {
        if let Some(id) = self.by_name.get(name) {
            return *id;
        }
        let id = std::fs::read_to_string(self.options.root.join(name))
            .ok()
            .map(|text| self.files.add(printable(name), printable_source(&text)));
        self.by_name.insert(name.to_owned(), id);
        id
    }

    /// The byte range of `location` in file `id`, if it fits.
    fn range(&mut self, id: usize, location: &Location) -> Option<Range<usize>> {
        let text = self.files.get(id).map_or("", |f| f.source().as_str());
        let starts = self
            .line_starts
            .entry(id)
            .or_insert_with(|| line_starts(text));
        location_range(text, starts, location)
    }

    fn text(&self, id: usize) -> &str {
        self.files.get(id).map_or("", |f| f.source().as_str())
    }
}

/// Report text is data from the checked repository: control characters (an ESC could
/// recolor or rewrite the CI log) are shown escaped, `\u{1b}`.
fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Quoted source text with each control character but `\n` and `\t` replaced by `?`s of
/// the same UTF-8 length, so byte offsets (and so spans) stay the same.
fn printable_source(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                "?".repeat(c.len_utf8())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The byte offset where each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// Byte offset of 1-based `line` and character `column` in `text` (whose line starts are
/// `starts`); a column one past the end of the line is allowed (exclusive ends).
fn offset(text: &str, starts: &[usize], line: u32, column: u32) -> Option<usize> {
    let line_index = usize::try_from(line.checked_sub(1)?).ok()?;
    let column_index = usize::try_from(column.checked_sub(1)?).ok()?;
    let start = *starts.get(line_index)?;
    let rest = &text[start..];
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let mut chars = line_text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(line_text.len()));
    chars.nth(column_index).map(|i| start + i)
}

/// The byte range of a finding's location in `text`, if it fits.
fn location_range(text: &str, starts: &[usize], location: &Location) -> Option<Range<usize>> {
    let start = offset(text, starts, location.line, location.column)?;
    let end = offset(text, starts, location.end_line, location.end_column).unwrap_or(start);
    Some(start..end.max(start))
}

/// The config entry's range, if it lies inside the config text on character boundaries.
fn config_range(text: &str, site: &ConfigSite) -> Option<Range<usize>> {
    let Range { start, end } = site.span.clone();
    (start <= end && text.get(start..end).is_some()).then_some(start..end)
}

fn diagnostic(finding: &Finding) -> Diagnostic<usize> {
    let base = if finding.waived {
        Diagnostic::note()
    } else {
        match finding.severity {
            Severity::Error => Diagnostic::error(),
            Severity::Warning => Diagnostic::warning(),
            Severity::Note => Diagnostic::note(),
        }
    };
    base.with_code(code(finding.rule))
        .with_message(printable(&finding.message))
}

/// Notes under the snippet: image and vulnerability facts that have no place in a label,
/// the fix, and the waiver.
fn notes(finding: &Finding, cause_note: Option<String>) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(v) = finding.vulnerability() {
        if let Some(image) = &finding.image {
            notes.push(format!("image: `{image}`"));
        }
        let fixed = if v.fixed.is_empty() {
            "no fix available".to_owned()
        } else {
            format!("fixed in {}", v.fixed.join(", "))
        };
        notes.push(format!(
            "package: `{}` {} ({fixed})",
            v.package, v.installed
        ));
        let severity = serde_json::to_value(v.severity)
            .ok()
            .and_then(|s| s.as_str().map(str::to_owned))
            .unwrap_or_default();
        let cvss = v.cvss.map(|c| format!(", CVSS {c:.1}")).unwrap_or_default();
        notes.push(format!(
            "severity: {severity}{cvss}; reported by {}",
            v.scanners.join(", ")
        ));
    }
    if let Some(note) = cause_note {
        notes.push(note);
    }
    if let Some(help) = &finding.help {
        notes.push(format!("help: {help}"));
    }
    if finding.waived {
        notes.push(match waiver_reason(finding) {
            Some(reason) => format!("waived: {reason}"),
            None => "waived".to_owned(),
        });
    }
    notes.iter().map(|n| printable(n)).collect()
}

/// Builds one finding's diagnostic, with source labels where the sources allow, and the
/// `file:line:col` to print in their place when the checked file cannot be quoted.
fn build(finding: &Finding, sources: &mut Sources<'_>) -> (Diagnostic<usize>, Option<String>) {
    let mut labels = Vec::new();
    let mut locus = None;
    if let Some(location) = &finding.location {
        let placed = sources
            .checked_file(&location.file)
            .and_then(|id| sources.range(id, location).map(|range| (id, range)));
        match placed {
            Some((id, range)) => {
                let label = Label::primary(id, range);
                labels.push(match &finding.image {
                    Some(image) => label.with_message(printable(&format!("normalized: `{image}`"))),
                    None => label,
                });
            }
            None => {
                locus = Some(printable(&format!(
                    "{}:{}:{}",
                    location.file, location.line, location.column
                )));
            }
        }
    }
    let mut cause_note = None;
    if let Some(site) = &finding.cause {
        let placed = sources
            .configs
            .iter()
            .find(|(name, _)| same_file(name, &site.file))
            .and_then(|(_, id)| Some((*id, config_range(sources.text(*id), site)?)));
        match placed {
            Some((id, range)) => {
                labels.push(Label::secondary(id, range).with_message(printable(&site.label)));
            }
            None => {
                cause_note = Some(format!(
                    "{}: {}:{}:{}",
                    site.label, site.file, site.line, site.column
                ));
            }
        }
    }
    (
        diagnostic(finding)
            .with_labels(labels)
            .with_notes(notes(finding, cause_note)),
        locus,
    )
}

/// Whether the config file name given to the renderer and the one in a finding's cause name
/// the same file (one may be absolute, the other relative to the root).
fn same_file(rendered: &str, cause: &str) -> bool {
    let rendered = rendered.replace('\\', "/");
    let cause = cause.replace('\\', "/");
    rendered == cause
        || rendered.ends_with(&format!("/{cause}"))
        || cause.ends_with(&format!("/{rendered}"))
}

/// One line that closes the output: `checked 12 files, 30 images: 2 errors, 1 warning, 0 waived`,
/// with `; 3 Helm templates not checked` when files were found but not read.
pub(crate) fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let mut line = format!(
        "checked {}, {}: {}, {}, {} waived",
        plural(s.files, "file", "files"),
        plural(s.images, "image", "images"),
        plural(s.errors, "error", "errors"),
        plural(s.warnings, "warning", "warnings"),
        s.waived
    );
    if s.not_checked > 0 {
        let templates = plural(s.not_checked, "template", "templates");
        line = format!("{line}; {templates} not checked");
    }
    line
}

/// What a run asked of registries: `registries: 412 requests (3 retried), 612.4 MB read, 600.1 MB written`.
pub(crate) fn traffic_line(traffic: &portcullis_policy::Traffic) -> String {
    #[allow(clippy::cast_precision_loss)]
    let megabytes = |bytes: u64| bytes as f64 / 1_000_000.0;
    let mut line = format!(
        "registries: {}",
        plural(traffic.requests as usize, "request", "requests")
    );
    if traffic.retries > 0 {
        let _ = write!(line, " ({} retried)", traffic.retries);
    }
    let _ = write!(
        line,
        ", {:.1} MB read, {:.1} MB written",
        megabytes(traffic.bytes_read),
        megabytes(traffic.bytes_written)
    );
    line
}

/// One rebuild `stale --trigger` asked for: `rebuild of `img` (sha256:…): sent (HTTP 204),
/// github-dispatch to acme/app dispatch portcullis-stale; base-drifted`.
pub(crate) fn trigger_line(t: &Triggered) -> String {
    format!(
        "rebuild of `{}` ({}): {}, {} to {}; {}",
        t.image,
        t.digest,
        t.outcome_text(),
        t.target.as_str(),
        t.place(),
        t.reasons.join(", ")
    )
}

/// What `mirror` did with one image: `copied `src:tag` → `dst:tag` (sha256:…): 3 manifests, 5 blobs, 12.4 MB, 2 referrers`.
pub(crate) fn mirror_line(m: &Mirrored) -> String {
    let verb = match (m.kind, m.outcome) {
        (CopyKind::Mirror, MirrorOutcome::Copied) => "copied",
        (CopyKind::Mirror, MirrorOutcome::Present) => "already mirrored",
        (CopyKind::Mirror, MirrorOutcome::Failed) => "failed to copy",
        (CopyKind::Mirror, MirrorOutcome::Planned) => "would copy",
        (CopyKind::Promotion, MirrorOutcome::Copied) => "promoted",
        (CopyKind::Promotion, MirrorOutcome::Present) => "already in place",
        (CopyKind::Promotion, MirrorOutcome::Failed) => "failed to promote",
        (CopyKind::Promotion, MirrorOutcome::Planned) => "would promote",
        (_, MirrorOutcome::Refused) => "refused",
    };
    let digest = m
        .digest
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let mut line = format!("{verb} `{}` → `{}`{digest}", m.source, m.target);
    if m.outcome == MirrorOutcome::Copied {
        #[allow(clippy::cast_precision_loss)]
        let megabytes = m.bytes as f64 / 1_000_000.0;
        let _ = write!(
            line,
            ": {}, {}, {megabytes:.1} MB, {}",
            plural(m.manifests as usize, "manifest", "manifests"),
            plural(m.blobs as usize, "blob", "blobs"),
            plural(m.referrers as usize, "referrer", "referrers"),
        );
    }
    line
}

/// What a scan read and decided, one line each:
/// `scanned `docker.io/library/nginx:1.27` with hook `trivy`, report `grype.json` (grype)`, then the counts and the decision.
pub(crate) fn scan_lines(scan: &ScanResult) -> Vec<String> {
    let mut lines = Vec::new();
    let digest = scan
        .digest
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let inputs: Vec<String> = scan
        .inputs
        .iter()
        .map(|input| {
            let named = input
                .image
                .as_deref()
                .map(|image| format!(", about `{image}`"))
                .unwrap_or_default();
            format!(
                "{} `{}` ({}, {}{named})",
                input.kind,
                input.source,
                input.scanner,
                plural(input.findings, "finding", "findings")
            )
        })
        .collect();
    let read = if inputs.is_empty() {
        scan.scanners.join(", ")
    } else {
        inputs.join(", ")
    };
    lines.push(format!("scanned `{}`{digest} with {read}", scan.image));
    if let Some(gate) = &scan.gate {
        let f = &gate.found;
        lines.push(format!(
            "  found {}: {} critical, {} high, {} medium, {} low, {} negligible, {} unknown; {} suppressed by VEX, {} waived",
            f.total(),
            f.critical,
            f.high,
            f.medium,
            f.low,
            f.negligible,
            f.unknown,
            gate.suppressed_by_vex,
            gate.waived
        ));
        let only_fixed = if gate.only_fixed { ", only fixed" } else { "" };
        let decision = if gate.passed {
            "passed".to_owned()
        } else {
            format!(
                "failed: {} at or above the threshold",
                plural(gate.failing, "vulnerability", "vulnerabilities")
            )
        };
        lines.push(format!(
            "  fail-on `{}`{only_fixed}: {decision}",
            gate.fail_on
        ));
    }
    lines
}

/// Which policy files applied, one line.
fn policies_line(report: &Report) -> Option<String> {
    match report.policies.as_slice() {
        [] => None,
        [only] if only == portcullis_policy::config::EMBEDDED_NAME => Some(
            "policy: no portcullis.toml found; the embedded default applied (digests required, `latest` denied, every image allowed)".to_owned(),
        ),
        [only] => Some(format!("policy: `{only}`")),
        many => Some(format!(
            "policies: {}",
            many.iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub(crate) fn render(report: &Report, options: &RenderOptions<'_>) -> String {
    let config = Config {
        chars: Chars::ascii(),
        ..Config::default()
    };
    let mut sources = Sources::new(options);
    let shown = report
        .findings
        .iter()
        .filter(|f| !options.quiet || f.counts(Severity::Error));
    let diagnostics: Vec<_> = shown.map(|f| build(f, &mut sources)).collect();
    let mut out = String::new();
    for (diagnostic, locus) in &diagnostics {
        let mut text = emit(&config, &sources.files, diagnostic, options.color);
        if let Some(locus) = locus {
            // No source to quote: the header line, then where it is, as codespan would.
            let at = text.find('\n').map_or(text.len(), |i| i + 1);
            text.insert_str(at, &format!("  {} {locus}\n", config.chars.snippet_start));
        }
        out.push_str(&text);
    }
    if options.quiet {
        return out;
    }
    for scan in &report.scans {
        for line in scan_lines(scan) {
            out.push_str(&printable(&line));
            out.push('\n');
        }
    }
    for mirrored in &report.mirrored {
        out.push_str(&printable(&mirror_line(mirrored)));
        out.push('\n');
    }
    for triggered in &report.triggers {
        out.push_str(&printable(&trigger_line(triggered)));
        out.push('\n');
    }
    if let Some(traffic) = &report.summary.traffic {
        out.push_str(&traffic_line(traffic));
        out.push('\n');
    }
    if let Some(line) = policies_line(report) {
        out.push_str(&printable(&line));
        out.push('\n');
    }
    if (report.scans.is_empty() && report.mirrored.is_empty()) || report.summary.files > 0 {
        out.push_str(&summary_line(report));
    } else {
        let s = &report.summary;
        let _ = write!(
            out,
            "{}, {}, {} waived",
            plural(s.errors, "error", "errors"),
            plural(s.warnings, "warning", "warnings"),
            s.waived
        );
    }
    out.push('\n');
    out
}

/// One diagnostic as text. Every label was checked against its file when it was built, so
/// emitting cannot fail on ranges; should it fail anyway, the finding still shows without
/// its source.
fn emit(
    config: &Config,
    files: &SimpleFiles<String, String>,
    diagnostic: &Diagnostic<usize>,
    color: bool,
) -> String {
    let mut buffer = Vec::new();
    let ok = emit_to(&mut buffer, config, files, diagnostic, color);
    if !ok {
        buffer.clear();
        emit_to(
            &mut buffer,
            config,
            files,
            &diagnostic.clone().with_labels(Vec::new()),
            color,
        );
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

fn emit_to(
    buffer: &mut Vec<u8>,
    config: &Config,
    files: &SimpleFiles<String, String>,
    diagnostic: &Diagnostic<usize>,
    color: bool,
) -> bool {
    let mut writer: Box<dyn WriteColor + '_> = if color {
        Box::new(Ansi::new(buffer))
    } else {
        Box::new(NoColor::new(buffer))
    };
    term::emit(writer.as_mut(), config, files, diagnostic).is_ok()
}

#[cfg(test)]
mod traffic_tests {
    use super::traffic_line;
    use portcullis_policy::Traffic;

    #[test]
    fn traffic_names_requests_retries_and_bytes() {
        let traffic = Traffic {
            requests: 412,
            retries: 3,
            bytes_read: 612_400_000,
            bytes_written: 600_060_000,
        };
        assert_eq!(
            traffic_line(&traffic),
            "registries: 412 requests (3 retried), 612.4 MB read, 600.1 MB written"
        );
        let quiet = Traffic {
            requests: 1,
            ..Traffic::default()
        };
        assert_eq!(
            traffic_line(&quiet),
            "registries: 1 request, 0.0 MB read, 0.0 MB written"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_characters_and_allow_the_end_of_a_line() {
        let text = "FROM é\nFROM nginx\n";
        let starts = line_starts(text);
        assert_eq!(starts, [0, 8, 19]);
        assert_eq!(offset(text, &starts, 1, 6), Some(5));
        assert_eq!(offset(text, &starts, 1, 7), Some(7)); // after the two-byte `é`
        assert_eq!(offset(text, &starts, 2, 6), Some(13));
        assert_eq!(offset(text, &starts, 2, 11), Some(18));
        assert_eq!(offset(text, &starts, 2, 12), None);
        assert_eq!(offset(text, &starts, 4, 1), None);
        assert_eq!(offset(text, &starts, 0, 1), None);
        assert_eq!(offset(text, &starts, 1, 0), None);
    }

    #[test]
    fn config_ranges_outside_the_text_or_inside_a_character_are_refused() {
        let site = |span| ConfigSite {
            file: "p.toml".into(),
            line: 1,
            column: 1,
            span,
            label: String::new(),
        };
        assert_eq!(config_range("aé", &site(0..1)), Some(0..1));
        assert_eq!(config_range("aé", &site(0..2)), None);
        assert_eq!(config_range("aé", &site(2..9)), None);
    }

    #[test]
    fn control_characters_are_escaped_and_source_offsets_kept() {
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        let source = printable_source("FROM \u{1b}x\u{85}y\n");
        assert_eq!(source, "FROM ?x??y\n");
        assert_eq!(source.len(), "FROM \u{1b}x\u{85}y\n".len());
    }

    #[test]
    fn config_names_match_relative_to_absolute() {
        assert!(same_file("/repo/portcullis.toml", "portcullis.toml"));
        assert!(same_file("portcullis.toml", "portcullis.toml"));
        assert!(!same_file("/repo/other.toml", "portcullis.toml"));
    }
}
