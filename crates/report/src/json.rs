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
/// writes for [`Document`] (a test holds it to that).
pub(crate) fn render(report: &Report, options: &RenderOptions<'_>) -> String {
    let mut out = Vec::new();
    write(report, options, &mut out).expect("writing to memory does not fail");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// How many array elements one block holds: a large monorepo's report is tens of thousands
/// of findings and images, serialized in blocks of this many on every core and written in
/// order, so the document never sits whole in memory.
const BLOCK: usize = 1024;

/// One block of the two long arrays: findings or images, by index range.
#[derive(Clone)]
enum Block {
    Findings(std::ops::Range<usize>),
    Images(std::ops::Range<usize>),
}

/// [`render`], written to `out` as it is serialized.
pub(crate) fn write(
    report: &Report,
    options: &RenderOptions<'_>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
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
    let blocks = |len: usize, block: fn(std::ops::Range<usize>) -> Block| {
        (0..len.div_ceil(BLOCK)).map(move |i| block(i * BLOCK..((i + 1) * BLOCK).min(len)))
    };
    let findings: Vec<Block> = blocks(report.findings.len(), Block::Findings).collect();
    let images: Vec<Block> = blocks(report.images.len(), Block::Images).collect();
    let serialize = |block: &Block, buffer: &mut Vec<u8>| {
        buffer.clear();
        match block {
            Block::Findings(range) => array_items(
                buffer,
                report.findings[range.clone()].iter().map(JsonFinding::new),
                range.start == 0,
            ),
            Block::Images(range) => {
                array_items(
                    buffer,
                    report.images[range.clone()].iter(),
                    range.start == 0,
                );
            }
        }
    };

    let mut opening = Vec::new();
    pretty(&mut opening, &head);
    // `{\n  "version": …\n}` without its closing brace: the arrays follow.
    opening.truncate(opening.len() - "\n}".len());
    opening.extend_from_slice(b",\n  \"findings\": [");
    out.write_all(&opening)?;
    in_order(&findings, serialize, out)?;
    if !report.findings.is_empty() {
        out.write_all(b"\n  ")?;
    }
    out.write_all(b"],\n  \"images\": [")?;
    in_order(&images, serialize, out)?;
    if !report.images.is_empty() {
        out.write_all(b"\n  ")?;
    }
    out.write_all(b"]")?;
    let mut rest = Vec::new();
    pretty(&mut rest, &tail);
    // `{\n  "summary": …\n}` without its opening brace continues the document.
    out.write_all(b",")?;
    out.write_all(&rest[1..])?;
    out.write_all(b"\n")
}

/// Serializes `blocks` on every core and writes them to `out` in order. Block `i` is
/// serialized by worker `i % workers`, each a block or two ahead of the writer, into buffers
/// the writer hands back, so memory stays a few blocks whatever the report's size.
fn in_order<F>(blocks: &[Block], serialize: F, out: &mut dyn std::io::Write) -> std::io::Result<()>
where
    F: Fn(&Block, &mut Vec<u8>) + Sync,
{
    let workers = if blocks.len() < 2 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(blocks.len())
    };
    let mut buffer = Vec::new();
    if workers == 1 {
        for block in blocks {
            serialize(block, &mut buffer);
            out.write_all(&buffer)?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let mut done = Vec::new();
        let mut spare = Vec::new();
        for w in 0..workers {
            let (to_writer, from_worker) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
            let (to_worker, returned) = std::sync::mpsc::channel::<Vec<u8>>();
            let serialize = &serialize;
            scope.spawn(move || {
                for block in blocks.iter().skip(w).step_by(workers) {
                    let mut buffer = returned.try_recv().unwrap_or_default();
                    serialize(block, &mut buffer);
                    if to_writer.send(buffer).is_err() {
                        // The writer stopped (a write failed): nothing more is wanted.
                        return;
                    }
                }
            });
            done.push(from_worker);
            spare.push(to_worker);
        }
        for i in 0..blocks.len() {
            let w = i % workers;
            let buffer = done[w]
                .recv()
                .expect("a worker serializes each of its blocks");
            out.write_all(&buffer)?;
            // A worker that finished its blocks no longer takes buffers back.
            let _ = spare[w].send(buffer);
        }
        Ok(())
    })
}

fn pretty<T: Serialize>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer_pretty(out, value)
        .expect("the report types serialize to JSON without fail");
}

/// Array elements as they stand one level inside the document's top object, appended to
/// `out`: each on its own lines, four spaces in, separated by commas; the first preceded by
/// a bare newline when it opens the array.
fn array_items<T: Serialize>(out: &mut Vec<u8>, items: impl Iterator<Item = T>, opens: bool) {
    for (i, item) in items.enumerate() {
        out.extend_from_slice(if i == 0 && opens {
            b"\n    "
        } else {
            b",\n    "
        });
        let mut serializer = serde_json::Serializer::with_formatter(&mut *out, Nested::new(2));
        item.serialize(&mut serializer)
            .expect("the report types serialize to JSON without fail");
    }
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

    /// Takes `room` bytes, then fails like a closed pipe.
    struct Closing {
        room: usize,
        written: Vec<u8>,
    }

    impl std::io::Write for Closing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_writer_that_closes_stops_the_blocks_with_its_error() {
        // Many blocks on every core; the writer closes a few blocks in. The serializing
        // threads stop instead of waiting forever for a writer that is gone.
        let report = report(6 * BLOCK, 3 * BLOCK);
        let options = options();
        let whole = render(&report, &options);
        let mut out = Closing {
            room: 200_000,
            written: Vec::new(),
        };
        let error = write(&report, &options, &mut out).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
        assert_eq!(out.written, whole.as_bytes()[..200_000]);
    }

    #[test]
    fn renders_exactly_what_serde_json_writes_for_the_document() {
        // Empty arrays, one element, uneven blocks, and several blocks (serialized on every
        // core of a multi-core machine), a last block full or not.
        for (findings, images) in [
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (3, 7),
            (2500, 1),
            (1, 3001),
            (2 * BLOCK, BLOCK),
        ] {
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
