//! The Markdown body of the sticky pull/merge request comment and the job summary, built to
//! stay readable at thousands of findings: a status heading and the totals, a table of
//! counts per rule (every rule with a finding, always), a vulnerability summary per scanned
//! image, then the findings grouped by rule and file (by image when they have no file),
//! each group folded in `<details>` under a line with its count and the command that fixes
//! the whole group, and the waived findings folded last.
//!
//! GitHub refuses comment bodies over 65,536 characters, so the body is built within a
//! budget (counted in UTF-16 code units, which is what GitHub counts, and never less than
//! characters): the heading and the counts per rule always fit; then image rows, groups
//! (errors first, as many rows of each as fit) and waived rows take what is left, and a note
//! says how many findings and groups were left out. Report text is data: table cells escape
//! HTML and `|` outside code spans, so a finding cannot inject markup.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use portcullis_policy::vuln::{FixState, ScanResult, VulnSeverity};
use portcullis_policy::{CopyKind, Finding, MirrorOutcome, Mirrored, Report, Severity, Triggered};

use crate::{code, plural, waiver_reason, RenderOptions, SourceLinks};

/// The hidden marker at the top of the body, to find the sticky comment again.
pub const MARKER: &str = "<!-- portcullis:report -->";

/// The budget [`crate::render`] uses: under GitHub's 65,536-character comment limit with
/// room for a caller's own footer.
pub const COMMENT_LIMIT: usize = 65_000;

/// Longest message cell; longer text is cut with `…` so one finding cannot eat the budget.
const MAX_CELL: usize = 1_000;

/// Length as GitHub counts it.
fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Escapes text for a table cell. Code spans (backtick runs closed by a run of the same
/// length, as `CommonMark` pairs them) keep their text, since Markdown shows it literally;
/// outside them HTML-significant characters become entities; an unpaired backtick is
/// escaped; `|` is escaped everywhere (GFM splits cells before it parses code spans) and
/// line breaks become `<br>` (spaces inside code).
pub(crate) fn cell(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let run_at = |at: usize| chars[at..].iter().take_while(|c| **c == '`').count();
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while pos < chars.len() {
        let ch = chars[pos];
        if ch == '`' {
            let run = run_at(pos);
            if let Some(close) = closing_run(&chars, pos + run, run) {
                out.extend(std::iter::repeat_n('`', run));
                for &inner in &chars[pos + run..close] {
                    match inner {
                        '|' => out.push_str("\\|"),
                        '\n' | '\r' => out.push(' '),
                        other => out.push(other),
                    }
                }
                out.extend(std::iter::repeat_n('`', run));
                pos = close + run;
            } else {
                (0..run).for_each(|_| out.push_str("\\`"));
                pos += run;
            }
            continue;
        }
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            other => out.push(other),
        }
        pos += 1;
    }
    out
}

/// Where the first run of exactly `run` backticks at or after `from` starts.
fn closing_run(chars: &[char], from: usize, run: usize) -> Option<usize> {
    let mut pos = from;
    while pos < chars.len() {
        if chars[pos] == '`' {
            let len = chars[pos..].iter().take_while(|c| **c == '`').count();
            if len == run {
                return Some(pos);
            }
            pos += len;
        } else {
            pos += 1;
        }
    }
    None
}

/// `text` in a code span that no backtick inside can close early.
fn code_cell(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if longest > 0 { " " } else { "" };
    cell(&format!("{fence}{pad}{text}{pad}{fence}"))
}

/// Cuts `text` to at most `MAX_CELL` characters.
fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_CELL {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_CELL - 1).collect();
    // Do not leave a code span open: drop the text after an odd backtick.
    if cut.matches('`').count() % 2 == 1 {
        if let Some(at) = cut.rfind('`') {
            cut.truncate(at);
        }
    }
    cut.push('…');
    cut
}

/// `file:line` in code, linked to that line when the report has [`SourceLinks`].
fn place(finding: &Finding, links: Option<&SourceLinks>) -> String {
    finding.location.as_ref().map_or_else(String::new, |l| {
        let text = code_cell(&format!("{}:{}", l.file, l.line));
        match links {
            Some(links) => format!("[{text}]({})", links.line(&l.file, l.line)),
            None => text,
        }
    })
}

fn image(finding: &Finding) -> String {
    finding.image.as_deref().map_or_else(String::new, code_cell)
}

fn message(finding: &Finding) -> String {
    let mut text = clip(&finding.message);
    if let Some(help) = &finding.help {
        text.push_str("\nhelp: ");
        text.push_str(&clip(help));
    }
    cell(&text)
}

fn mark(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "❌",
        Severity::Warning => "⚠️",
        Severity::Note => "ℹ️",
    }
}

/// Escapes text for HTML (the `<summary>` line is HTML, not Markdown).
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Findings of one rule in one file (or about one image, when they have no file).
struct Group<'r> {
    rule: &'static str,
    place: String,
    findings: Vec<&'r Finding>,
}

impl Group<'_> {
    fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .min()
            .unwrap_or(Severity::Note)
    }

    /// The fix shared by every finding of the group, if they share one.
    fn fix(&self) -> Option<&str> {
        let first = self.findings.first()?.help.as_deref()?;
        self.findings
            .iter()
            .all(|f| f.help.as_deref() == Some(first))
            .then_some(first)
    }

    /// The folded section: summary line, fix, table of the findings.
    fn table(&self, links: Option<&SourceLinks>) -> Table {
        let n = self.findings.len();
        let mut open = format!(
            "<details><summary>{} <code>{}</code> in <code>{}</code>: {}</summary>\n\n",
            mark(self.worst()),
            self.rule,
            html(&self.place),
            plural(n, "finding", "findings")
        );
        let fix = self.fix();
        if let Some(fix) = fix {
            let _ = writeln!(open, "**Fix:** {}\n", cell(&clip(fix)));
        }
        open.push_str("| | line | image | message |\n|---|---:|---|---|\n");
        let rows = self
            .findings
            .iter()
            .map(|f| {
                let line = f
                    .location
                    .as_ref()
                    .map_or_else(String::new, |l| match links {
                        Some(links) => format!("[{}]({})", l.line, links.line(&l.file, l.line)),
                        None => l.line.to_string(),
                    });
                let mut text = clip(&f.message);
                if fix.is_none() {
                    if let Some(help) = &f.help {
                        text.push_str("\nhelp: ");
                        text.push_str(&clip(help));
                    }
                }
                format!(
                    "| {} | {line} | {} | {} |\n",
                    mark(f.severity),
                    image(f),
                    cell(&text)
                )
            })
            .collect();
        Table::new(open, rows, "\n</details>\n\n")
    }
}

/// The open findings grouped by rule and file, errors first, then by rule and place.
fn groups<'r>(open: &[&'r Finding]) -> Vec<Group<'r>> {
    let mut by_key: BTreeMap<(&'static str, String), Vec<&'r Finding>> = BTreeMap::new();
    for finding in open {
        let place = finding
            .location
            .as_ref()
            .map(|l| l.file.clone())
            .or_else(|| finding.image.clone())
            .unwrap_or_default();
        by_key
            .entry((code(finding.rule), place))
            .or_default()
            .push(finding);
    }
    let mut groups: Vec<Group<'r>> = by_key
        .into_iter()
        .map(|((rule, place), findings)| Group {
            rule,
            place,
            findings,
        })
        .collect();
    groups.sort_by_key(Group::worst);
    groups
}

/// Counts per rule: open errors, warnings and notes, waived, and files touched.
fn rule_counts(report: &Report) -> String {
    #[derive(Default)]
    struct Counts<'r> {
        errors: usize,
        warnings: usize,
        notes: usize,
        waived: usize,
        places: BTreeSet<&'r str>,
    }
    let mut by_rule: BTreeMap<&'static str, Counts<'_>> = BTreeMap::new();
    for f in &report.findings {
        let counts = by_rule.entry(code(f.rule)).or_default();
        match (f.waived, f.severity) {
            (true, _) => counts.waived += 1,
            (false, Severity::Error) => counts.errors += 1,
            (false, Severity::Warning) => counts.warnings += 1,
            (false, Severity::Note) => counts.notes += 1,
        }
        if let Some(l) = &f.location {
            counts.places.insert(l.file.as_str());
        }
    }
    let mut rows: Vec<(&'static str, Counts<'_>)> = by_rule.into_iter().collect();
    rows.sort_by_key(|(rule, c)| {
        (
            std::cmp::Reverse(c.errors),
            std::cmp::Reverse(c.warnings),
            *rule,
        )
    });
    let mut out = String::from(
        "#### Findings by rule\n\n| rule | errors | warnings | notes | waived | files |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for (rule, c) in rows {
        let _ = writeln!(
            out,
            "| `{rule}` | {} | {} | {} | {} | {} |",
            c.errors,
            c.warnings,
            c.notes,
            c.waived,
            c.places.len()
        );
    }
    out.push('\n');
    out
}

fn waived_row(finding: &Finding, links: Option<&SourceLinks>) -> String {
    let reason = waiver_reason(finding)
        .map(|r| cell(&clip(r)))
        .unwrap_or_default();
    format!(
        "| `{}` | {} | {} | {} | {reason} |\n",
        code(finding.rule),
        place(finding, links),
        image(finding),
        message(finding)
    )
}

/// The tables of what `mirror` or `promote` copied and of the rebuilds `stale` asked for.
fn image_tables(report: &Report) -> (Table, Table) {
    let promoted = !report.mirrored.is_empty()
        && report
            .mirrored
            .iter()
            .all(|m| m.kind == CopyKind::Promotion);
    let mirrored = Table::new(
        format!(
            "#### {}\n\n| source | target | outcome | digest | copied |\n|---|---|---|---|---:|\n",
            if promoted { "Promoted" } else { "Mirrored" }
        ),
        report.mirrored.iter().map(mirror_row).collect(),
        "\n",
    );
    let triggers = Table::new(
        "#### Rebuilds\n\n| image | trigger | where | outcome | reasons |\n|---|---|---|---|---|\n"
            .to_owned(),
        report.triggers.iter().map(trigger_row).collect(),
        "\n",
    );
    (mirrored, triggers)
}

/// One rebuild `stale --trigger` asked for: the image, where the request went, what the
/// forge answered and why.
fn trigger_row(t: &Triggered) -> String {
    format!(
        "| {} | {} | {} | {} | {} |\n",
        code_cell(&t.image),
        t.target.as_str(),
        cell(&t.place()),
        cell(&t.outcome_text()),
        cell(&t.reasons.join(", ")),
    )
}

/// Counts per scanned image: the vulnerabilities that count (not suppressed) by severity,
/// how many of them have a fix, and how many VEX or waivers suppressed.
/// One image `mirror` handled: source, target, what happened, the digest and the bytes.
fn mirror_row(m: &Mirrored) -> String {
    let outcome = match (m.kind, m.outcome) {
        (CopyKind::Mirror, MirrorOutcome::Copied) => "copied",
        (CopyKind::Mirror, MirrorOutcome::Present) => "already mirrored",
        (CopyKind::Mirror, MirrorOutcome::Planned) => "would copy",
        (CopyKind::Promotion, MirrorOutcome::Copied) => "promoted",
        (CopyKind::Promotion, MirrorOutcome::Present) => "already in place",
        (CopyKind::Promotion, MirrorOutcome::Planned) => "would promote",
        (_, MirrorOutcome::Refused) => "**refused**",
        (_, MirrorOutcome::Failed) => "**failed**",
    };
    #[allow(clippy::cast_precision_loss)]
    let megabytes = m.bytes as f64 / 1_000_000.0;
    format!(
        "| {} | {} | {outcome} | {} | {megabytes:.1} MB |\n",
        code_cell(&m.source),
        code_cell(&m.target),
        m.digest.as_deref().map(code_cell).unwrap_or_default(),
    )
}

fn scan_row(scan: &ScanResult) -> String {
    let open: Vec<_> = scan
        .vulnerabilities
        .iter()
        .filter(|v| v.suppressed_by.is_none())
        .collect();
    let count = |s: VulnSeverity| open.iter().filter(|v| v.severity == s).count();
    let other = count(VulnSeverity::Negligible) + count(VulnSeverity::Unknown);
    let fixable = open
        .iter()
        .filter(|v| v.fix_state == FixState::Fixed || !v.fixed.is_empty())
        .count();
    let suppressed = scan.vulnerabilities.len() - open.len();
    format!(
        "| {} | {} | {} | {} | {} | {other} | {fixable} | {suppressed} |\n",
        code_cell(&scan.image),
        count(VulnSeverity::Critical),
        count(VulnSeverity::High),
        count(VulnSeverity::Medium),
        count(VulnSeverity::Low),
    )
}

/// A table whose rows may be left out from the end to meet the budget.
struct Table {
    /// Everything before the first row (heading, header row, separator).
    open: String,
    rows: Vec<String>,
    /// Everything after the last row.
    close: String,
    kept: usize,
}

impl Table {
    fn new(open: String, rows: Vec<String>, close: &str) -> Self {
        Table {
            open,
            rows,
            close: close.to_owned(),
            kept: 0,
        }
    }

    /// Keeps as many rows as fit in `budget`; returns what they and the frame cost.
    fn fill(&mut self, budget: usize) -> usize {
        let frame = units(&self.open) + units(&self.close);
        if self.rows.is_empty() || frame > budget {
            return 0;
        }
        let mut used = frame;
        for row in &self.rows {
            let cost = units(row);
            if used + cost > budget {
                break;
            }
            used += cost;
            self.kept += 1;
        }
        if self.kept == 0 {
            0
        } else {
            used
        }
    }

    fn write(&self, out: &mut String) {
        if self.kept > 0 {
            out.push_str(&self.open);
            self.rows[..self.kept].iter().for_each(|r| out.push_str(r));
            out.push_str(&self.close);
        }
    }

    fn left_out(&self) -> usize {
        self.rows.len() - self.kept
    }
}

fn head(report: &Report) -> String {
    let status = if report.exit_code() == 0 {
        "✅ passed"
    } else {
        "❌ blocked"
    };
    let s = &report.summary;
    let mut out = format!("{MARKER}\n### portcullis: {status}\n\n");
    out.push_str(
        "| files | images | errors | warnings | waived | VEX-suppressed |\n|---:|---:|---:|---:|---:|---:|\n",
    );
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |\n",
        s.files, s.images, s.errors, s.warnings, s.waived, s.suppressed_by_vex
    );
    if s.not_checked > 0 {
        let files = if s.not_checked == 1 { "file" } else { "files" };
        let _ = writeln!(
            out,
            "{} template {files} not checked (Helm chart templates and other Go templates: \
             what they deploy is decided when they are rendered).\n",
            s.not_checked
        );
    }
    out
}

/// The smallest budget: the heading, the counts, the note and the footer always fit in it.
pub const MIN_LIMIT: usize = 2_000;

/// Renders within `limit` UTF-16 code units (raised to [`MIN_LIMIT`] if below it). GitLab
/// notes take up to 1,000,000 characters; GitHub's job summary takes 1 MiB.
#[must_use]
/// The run's registry traffic as a paragraph (a mirror run), else nothing.
fn traffic_paragraph(report: &Report) -> String {
    report
        .summary
        .traffic
        .as_ref()
        .map_or_else(String::new, |traffic| {
            format!(
                "{}\n\n",
                crate::human::traffic_line(traffic).replacen("registries", "Registries", 1)
            )
        })
}

pub fn markdown_with_limit(report: &Report, options: &RenderOptions<'_>, limit: usize) -> String {
    let limit = limit.max(MIN_LIMIT);
    let head = head(report);
    let footer = format!("<sub>{} {}</sub>\n", crate::TOOL_NAME, options.version);
    // Errors first, then warnings and notes, each in report order.
    let mut open: Vec<&Finding> = report.findings.iter().filter(|f| !f.waived).collect();
    open.sort_by_key(|f| f.severity);
    let waived: Vec<&Finding> = report.findings.iter().filter(|f| f.waived).collect();

    let counts = if report.findings.is_empty() {
        String::new()
    } else {
        rule_counts(report)
    };
    let mut scans = Table::new(
        "#### Vulnerabilities\n\n| image | critical | high | medium | low | other | fixable | suppressed |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n"
            .to_owned(),
        report.scans.iter().map(scan_row).collect(),
        "\n",
    );
    let (mut mirrored, mut triggers) = image_tables(report);
    let mut groups: Vec<Table> = groups(&open)
        .iter()
        .map(|g| g.table(options.links))
        .collect();
    let mut waived_table = Table::new(
        format!(
            "<details><summary>Waived findings ({})</summary>\n\n| rule | where | image | message | waiver |\n|---|---|---|---|---|\n",
            waived.len()
        ),
        waived.iter().map(|f| waived_row(f, options.links)).collect(),
        "\n</details>\n\n",
    );

    // The note's longest form, reserved up front so it always fits.
    let reserve = 300;
    let details_heading = "#### Details\n\n";
    let traffic = traffic_paragraph(report);
    let fixed = units(&head)
        + units(&counts)
        + units(&footer)
        + units(details_heading)
        + units(&traffic)
        + reserve;
    let mut budget = limit.saturating_sub(fixed);
    budget -= scans.fill(budget);
    budget -= mirrored.fill(budget);
    budget -= triggers.fill(budget);
    for group in &mut groups {
        budget -= group.fill(budget);
    }
    waived_table.fill(budget);

    let mut out = head;
    if open.is_empty() && waived.is_empty() {
        out.push_str("No findings.\n\n");
    }
    out.push_str(&counts);
    scans.write(&mut out);
    mirrored.write(&mut out);
    triggers.write(&mut out);
    out.push_str(&traffic);
    if groups.iter().any(|g| g.kept > 0) {
        out.push_str(details_heading);
    }
    for group in &groups {
        group.write(&mut out);
    }
    waived_table.write(&mut out);
    let left_findings: usize =
        groups.iter().map(Table::left_out).sum::<usize>() + waived_table.left_out();
    let left_groups = groups.iter().filter(|g| g.kept == 0).count();
    let left_images = scans.left_out() + mirrored.left_out() + triggers.left_out();
    if left_findings + left_images > 0 {
        let mut parts = Vec::new();
        if left_findings > 0 {
            let mut text = plural(left_findings, "finding", "findings");
            if left_groups > 0 {
                let _ = write!(
                    text,
                    " ({} entirely)",
                    plural(left_groups, "rule-and-file group", "rule-and-file groups")
                );
            }
            parts.push(text);
        }
        if left_images > 0 {
            parts.push(plural(left_images, "scanned image", "scanned images"));
        }
        let _ = writeln!(
            out,
            "> [!NOTE]\n> {} left out to keep this comment under its size limit; the counts above include them, and the JSON and SARIF reports list everything.\n",
            parts.join(" and ")
        );
    }
    out.push_str(&footer);
    out
}

pub(crate) fn render(report: &Report, options: &RenderOptions<'_>) -> String {
    markdown_with_limit(report, options, COMMENT_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_html_outside_code_only() {
        assert_eq!(cell("`a<b>` <img src=x>"), "`a<b>` &lt;img src=x&gt;");
        assert_eq!(cell("a|b `c|d`"), "a\\|b `c\\|d`");
        assert_eq!(cell("one\ntwo"), "one<br>two");
    }

    #[test]
    fn an_unpaired_backtick_cannot_open_a_code_span() {
        // Without the escape, `<script>` would sit in raw HTML after a lone backtick.
        assert_eq!(cell("x ` <script>"), "x \\` &lt;script&gt;");
        assert_eq!(cell("``a` <b>"), "\\`\\`a\\` &lt;b&gt;");
    }

    #[test]
    fn code_cells_survive_backticks_inside() {
        assert_eq!(code_cell("a`b"), "`` a`b ``");
        assert_eq!(code_cell("plain"), "`plain`");
    }

    #[test]
    fn clip_keeps_code_spans_closed() {
        let long = format!("`{}`", "x".repeat(2 * MAX_CELL));
        let clipped = clip(&long);
        assert!(clipped.chars().count() <= MAX_CELL);
        assert_eq!(clipped.matches('`').count() % 2, 0);
    }

    fn linked_report() -> Report {
        let at = |file: &str, line| portcullis_reference::Location {
            file: file.to_owned(),
            line,
            column: 6,
            end_line: line,
            end_column: 16,
            span: 0..1,
        };
        let mut open = Finding::new(
            portcullis_policy::Rule::DigestNotPinned,
            Severity::Error,
            "`alpine:3.20` has no digest".to_owned(),
            None,
        );
        open.location = Some(at("web app/Dockerfile", 3));
        let mut waived = open.clone();
        waived.location = Some(at("db/Dockerfile", 1));
        waived.waived = true;
        Report {
            findings: vec![open, waived],
            ..Report::default()
        }
    }

    fn options(links: Option<&SourceLinks>) -> RenderOptions<'_> {
        RenderOptions {
            root: std::path::Path::new("/repo"),
            configs: &[],
            color: false,
            quiet: false,
            version: "1.2.3",
            generated: jiff::Timestamp::UNIX_EPOCH,
            links,
        }
    }

    #[test]
    fn places_link_to_the_line_at_the_commit_when_links_are_given() {
        let links = SourceLinks::new("https://github.com/acme/app/blob/abc123/");
        let text = render(&linked_report(), &options(Some(&links)));
        assert!(
            text.contains(
                "| [3](https://github.com/acme/app/blob/abc123/web%20app/Dockerfile#L3) |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| [`db/Dockerfile:1`](https://github.com/acme/app/blob/abc123/db/Dockerfile#L1) |"
            ),
            "{text}"
        );
        let plain = render(&linked_report(), &options(None));
        assert!(!plain.contains("](http"), "{plain}");
        assert!(
            plain.contains("| 3 |") && plain.contains("| `db/Dockerfile:1` |"),
            "{plain}"
        );
    }
}
