//! The JSON report, version 1 (DESIGN.md "JSON report"): the machine contract that scripts,
//! the fork-safe two-stage comment workflow and other tools read. Keys come out in the
//! documented order, every documented key is always present (`null` when unknown), and
//! `scans` appears only when images were scanned. The JSON schema of the contract is
//! generated from these same types ([`crate::json_schema`], committed as
//! `schemas/report-v1.schema.json`).

use portcullis_policy::vuln::{ScanResult, VulnerabilityFinding};
use portcullis_policy::{
    AppliedWaiver, ContextSchema, Failure, Finding, ImageEntry, Mirrored, Report, Rule, Severity,
    Summary, Triggered,
};
use schemars::JsonSchema;
use serde::Serialize;

use crate::{RenderOptions, TOOL_NAME};

/// The contract's version; bump only with a breaking change.
pub(crate) const VERSION: u32 = 1;

/// A portcullis report (`--format json`), version 1.
#[derive(Serialize, JsonSchema)]
#[schemars(title = "portcullis report", deny_unknown_fields)]
pub(crate) struct Document<'a> {
    /// The contract's version: 1.
    version: u32,
    tool: Tool<'a>,
    /// Sorted by file, line, column, rule; findings without a file last.
    findings: Vec<JsonFinding<'a>>,
    /// Every image reference seen.
    images: &'a [ImageEntry],
    /// The scanned images: every vulnerability found and the gate's decision (only when
    /// images were scanned).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(default)]
    scans: &'a [ScanResult],
    /// What `mirror` copied, found in place, refused or failed to copy (only for `mirror`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(default)]
    mirrored: &'a [Mirrored],
    /// The rebuilds `stale --trigger` asked for, would ask for (`--dry-run`) or failed to
    /// (only for `stale --trigger`).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(default)]
    triggers: &'a [Triggered],
    /// What kept the command from finishing (exit 3).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(default)]
    failures: &'a [Failure],
    /// The policy files that applied.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(default)]
    policies: &'a [String],
    summary: &'a Summary,
}

/// The tool that wrote the report.
#[derive(Serialize, JsonSchema)]
struct Tool<'a> {
    /// `portcullis`.
    name: &'a str,
    version: &'a str,
}

/// One diagnostic.
#[derive(Serialize, JsonSchema)]
struct JsonFinding<'a> {
    rule: Rule,
    severity: Severity,
    /// Names the offending value in backticks.
    message: &'a str,
    /// The command or edit that fixes it.
    help: Option<&'a str>,
    /// The normalized image.
    image: Option<&'a str>,
    /// Relative to the repository root, `/`-separated.
    file: Option<&'a str>,
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
    #[schemars(with = "Option<ContextSchema>")]
    context: Option<&'static str>,
    /// Whether a waiver covers it (then it does not count).
    waived: bool,
    /// The waiver that applied: reason, expiry and where it is declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    waiver: Option<JsonWaiver<'a>>,
    /// A `vulnerability` finding's vulnerability.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    vulnerability: Option<&'a VulnerabilityFinding>,
}

/// The waiver behind a waived finding.
#[derive(Serialize, JsonSchema)]
struct JsonWaiver<'a> {
    /// Why the exception exists.
    reason: &'a str,
    /// Last day it applies, `YYYY-MM-DD`; `null` for an inline waiver without `until`.
    expires: Option<String>,
    /// Where it is declared: a policy file's `[[waiver]]`, or the file of an inline waiver.
    file: Option<&'a str>,
    line: Option<u32>,
}

impl<'a> JsonWaiver<'a> {
    fn new(waiver: &'a AppliedWaiver) -> Self {
        JsonWaiver {
            reason: &waiver.reason,
            expires: waiver.expires.map(|date| date.to_string()),
            file: waiver.declared.as_ref().map(|l| l.file.as_str()),
            line: waiver.declared.as_ref().map(|l| l.line),
        }
    }
}

impl<'a> JsonFinding<'a> {
    fn new(finding: &'a Finding) -> Self {
        let location = finding.location.as_ref();
        JsonFinding {
            rule: finding.rule,
            severity: finding.severity,
            message: &finding.message,
            help: finding.help.as_deref(),
            image: finding.image.as_deref(),
            file: location.map(|l| l.file.as_str()),
            line: location.map(|l| l.line),
            column: location.map(|l| l.column),
            end_line: location.map(|l| l.end_line),
            end_column: location.map(|l| l.end_column),
            context: finding.context.map(portcullis_policy::Context::as_str),
            waived: finding.waived,
            waiver: finding.waiver.as_ref().map(JsonWaiver::new),
            vulnerability: finding.vulnerability(),
        }
    }
}

/// The whole document as one value: the renderer's reference in tests.
#[cfg(test)]
fn document<'a>(report: &'a Report, options: &RenderOptions<'a>) -> Document<'a> {
    Document {
        version: VERSION,
        tool: Tool {
            name: TOOL_NAME,
            version: options.version,
        },
        findings: report.findings.iter().map(JsonFinding::new).collect(),
        images: &report.images,
        scans: &report.scans,
        mirrored: &report.mirrored,
        triggers: &report.triggers,
        failures: &report.failures,
        policies: &report.policies,
        summary: &report.summary,
    }
}

/// The keys before the two long arrays, in the document's order.
#[derive(Serialize)]
struct Head<'a> {
    version: u32,
    tool: Tool<'a>,
}

/// The keys after the two long arrays, in the document's order.
#[derive(Serialize)]
struct Tail<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    scans: &'a [ScanResult],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mirrored: &'a [Mirrored],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    triggers: &'a [Triggered],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    failures: &'a [Failure],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    policies: &'a [String],
    summary: &'a Summary,
}

/// Pretty-printed, newline-terminated, byte for byte what `serde_json::to_writer_pretty`
/// writes for [`Document`] (a test holds it to that). A large monorepo's report is tens of
/// thousands of findings and images: their elements are serialized on every core, straight
/// from the report, and joined in order.
pub(crate) fn render(report: &Report, options: &RenderOptions<'_>) -> String {
    let head = Head {
        version: VERSION,
        tool: Tool {
            name: TOOL_NAME,
            version: options.version,
        },
    };
    let tail = Tail {
        scans: &report.scans,
        mirrored: &report.mirrored,
        triggers: &report.triggers,
        failures: &report.failures,
        policies: &report.policies,
        summary: &report.summary,
    };
    let threads = if report.findings.len() + report.images.len() < 2048 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    let chunks = |len: usize| len.div_ceil(threads).max(1);
    let (finding_chunk, image_chunk) = (chunks(report.findings.len()), chunks(report.images.len()));
    let part =
        |t: usize, len: usize, chunk: usize| (t * chunk).min(len)..((t + 1) * chunk).min(len);
    // Buffers are sized up front from the text each element holds: growing buffers of
    // megabytes by doubling copies them over and over. The first thread's buffer becomes
    // the document, so it is sized for all of it.
    let estimate = |fixed: usize, texts: usize| fixed + texts + texts / 8;
    let finding_bytes = |findings: &[Finding]| -> usize {
        findings
            .iter()
            .map(|f| {
                let texts = f.message.len()
                    + f.help.as_ref().map_or(0, String::len)
                    + f.image.as_ref().map_or(0, String::len)
                    + f.location.as_ref().map_or(0, |l| l.file.len());
                estimate(320, texts)
            })
            .sum()
    };
    let image_bytes = |images: &[ImageEntry]| -> usize {
        images
            .iter()
            .map(|i| estimate(110, i.image.len() + i.file.len()))
            .sum()
    };
    let job = |t: usize| {
        let findings = part(t, report.findings.len(), finding_chunk);
        let images = part(t, report.images.len(), image_chunk);
        let first = (findings.start == 0, images.start == 0);
        let (findings, images) = (&report.findings[findings], &report.images[images]);
        let capacity = if t == 0 {
            4096 + finding_bytes(&report.findings) + image_bytes(&report.images)
        } else {
            finding_bytes(findings)
        };
        (
            array_items(findings.iter().map(JsonFinding::new), first.0, capacity),
            array_items(images.iter(), first.1, image_bytes(images)),
        )
    };
    let mut parts: Vec<(Vec<u8>, Vec<u8>)> = if threads == 1 {
        vec![job(0)]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|t| scope.spawn(move || job(t))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    };
    let mut opening = Vec::new();
    pretty(&mut opening, &head);
    // `{\n  "version": …\n}` without its closing brace: the arrays follow.
    opening.truncate(opening.len() - "\n}".len());
    opening.extend_from_slice(b",\n  \"findings\": [");
    let mut out = std::mem::take(&mut parts[0].0);
    out.splice(0..0, opening);
    for (t, part) in parts.iter().enumerate() {
        if t > 0 {
            out.extend_from_slice(&part.0);
        }
    }
    if !report.findings.is_empty() {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"],\n  \"images\": [");
    for part in &parts {
        out.extend_from_slice(&part.1);
    }
    if !report.images.is_empty() {
        out.extend_from_slice(b"\n  ");
    }
    out.push(b']');
    let mut rest = Vec::new();
    pretty(&mut rest, &tail);
    // `{\n  "summary": …\n}` without its opening brace continues the document.
    out.push(b',');
    out.extend_from_slice(&rest[1..]);
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

fn pretty<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer_pretty(out, value)
        .expect("the report types serialize to JSON without fail");
}

/// Array elements as they stand one level inside the document's top object: each on its
/// own lines, four spaces in, separated by commas; the first preceded by a bare newline
/// when it opens the array.
fn array_items<T: Serialize>(
    items: impl Iterator<Item = T>,
    opens: bool,
    estimate: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(estimate);
    for (i, item) in items.enumerate() {
        out.extend_from_slice(if i == 0 && opens {
            b"\n    "
        } else {
            b",\n    "
        });
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, Nested::new(2));
        item.serialize(&mut serializer)
            .expect("the report types serialize to JSON without fail");
    }
    out
}

/// `serde_json`'s pretty printer (two spaces a level) for a value that starts `level`
/// levels deep in a larger document.
struct Nested {
    level: usize,
    has_value: bool,
}

impl Nested {
    fn new(level: usize) -> Self {
        Self {
            level,
            has_value: false,
        }
    }

    fn open<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        out.write_all(bracket)
    }

    fn close<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.newline(out, b"\n")?;
        }
        out.write_all(bracket)
    }

    fn newline<W: ?Sized + std::io::Write>(
        &self,
        out: &mut W,
        separator: &[u8],
    ) -> std::io::Result<()> {
        const SPACES: &[u8] = &[b' '; 64];
        out.write_all(separator)?;
        let mut left = self.level * 2;
        while left > 0 {
            let now = left.min(SPACES.len());
            out.write_all(&SPACES[..now])?;
            left -= now;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.open(out, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.close(out, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.newline(out, if first { b"\n" } else { b",\n" })
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _out: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.open(out, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, out: &mut W) -> std::io::Result<()> {
        self.close(out, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.newline(out, if first { b"\n" } else { b",\n" })
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        out: &mut W,
    ) -> std::io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        _out: &mut W,
    ) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_policy::{Context, Location, Severity};

    fn options() -> RenderOptions<'static> {
        RenderOptions {
            root: std::path::Path::new("/repo"),
            configs: &[],
            color: false,
            quiet: false,
            version: "1.2.3",
            generated: jiff::Timestamp::UNIX_EPOCH,
            links: None,
        }
    }

    fn report(findings: usize, images: usize) -> Report {
        let mut report = Report::default();
        for i in 0..findings {
            let mut finding = Finding::new(
                Rule::DigestNotPinned,
                Severity::Error,
                format!("`x{i}` has a \"quote\"\nand a newline"),
                (i % 2 == 0).then(|| format!("run `portcullis pin d{i}`")),
            );
            finding.location = Some(Location {
                file: format!("d{i}/Dockerfile"),
                line: 1,
                column: 6,
                end_line: 1,
                end_column: 9,
                span: 5..8,
            });
            report.findings.push(finding);
        }
        for i in 0..images {
            report.images.push(ImageEntry {
                image: format!("docker.io/library/x{i}:1"),
                file: format!("d{i}/Dockerfile"),
                line: 1,
                context: Context::DockerfileFrom,
            });
        }
        report.policies.push("portcullis.toml".into());
        report.finish();
        report
    }

    #[test]
    fn renders_exactly_what_serde_json_writes_for_the_document() {
        // Empty arrays, one element, uneven chunks, and more elements than the one-thread
        // limit (split over threads on a multi-core machine).
        for (findings, images) in [(0, 0), (0, 1), (1, 0), (1, 1), (3, 7), (2500, 1), (1, 3001)] {
            let report = report(findings, images);
            let options = options();
            let mut expected = serde_json::to_vec_pretty(&document(&report, &options)).unwrap();
            expected.push(b'\n');
            let rendered = render(&report, &options);
            assert!(
                rendered.as_bytes() == expected,
                "{findings} findings, {images} images:\n{}",
                &rendered[..rendered.len().min(2000)]
            );
        }
    }
}
