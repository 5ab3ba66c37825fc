//! What every command returns and every renderer consumes: findings, the images seen, the
//! scans, runtime failures and notes, the policies that applied, and totals. The exit code
//! is read from here, so no output path can turn a failure into a pass.

use std::cmp::Ordering;

use portcullis_reference::{Context, Location};
use schemars::JsonSchema;
use serde::Serialize;

use crate::finding::{Finding, Severity};
use crate::vuln::ScanResult;

/// One image reference seen, for the report's `images` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ImageEntry {
    pub image: String,
    pub file: String,
    pub line: u32,
    /// Where, syntactically, it is written (`dockerfile-from`, `compose-image`, ...).
    #[schemars(with = "ContextSchema")]
    pub context: Context,
}

/// Totals for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Summary {
    pub files: usize,
    pub images: usize,
    pub errors: usize,
    pub warnings: usize,
    /// Findings a waiver covers.
    pub waived: usize,
    /// Files found but not checked (Helm templates, other Go templates); in JSON only when
    /// there are some.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_checked: usize,
    /// Scanned vulnerabilities a VEX statement marks not affecting the image.
    pub suppressed_by_vex: usize,
    /// What the run asked of registries (`mirror`); absent for commands that did not copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
}

/// Registry traffic of a run: every request sent (tokens and retries included) and the blob
/// bytes moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Traffic {
    /// HTTP requests sent to registries and their token services.
    pub requests: u64,
    /// Of those, attempts repeated after a 429, a 5xx or a dropped connection.
    pub retries: u64,
    /// Blob bytes read from sources.
    pub bytes_read: u64,
    /// Blob bytes uploaded to targets (mounted blobs move none).
    pub bytes_written: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The JSON schema of a [`Context`]: one of its kebab-case names.
#[derive(Debug)]
pub struct ContextSchema;

impl JsonSchema for ContextSchema {
    fn schema_name() -> String {
        "Context".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        use strum::IntoEnumIterator as _;
        let names: Vec<serde_json::Value> = Context::iter()
            .map(|context| serde_json::Value::from(context.as_str()))
            .collect();
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            enum_values: Some(names),
            ..Default::default()
        }
        .into()
    }
}

/// How a [`Location`] is written in reports (the JSON schema's view of it).
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(crate) struct LocationSchema {
    file: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

/// Something that kept a command from finishing its work: a registry that failed, a
/// scanner that crashed (exit 3). Not a policy decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Failure {
    /// Names what failed and why, with its causes.
    pub message: String,
    /// The image it concerns.
    pub image: Option<String>,
    /// The reference it concerns.
    #[schemars(with = "Option<LocationSchema>")]
    pub location: Option<Location>,
}

/// A message for the person running the command that is not a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub severity: Severity,
    pub message: String,
}

impl Note {
    /// A warning.
    #[must_use]
    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    /// A note.
    #[must_use]
    pub fn info(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Note,
            message: message.into(),
        }
    }
}

/// What `mirror` did with one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MirrorOutcome {
    /// Copied now (some or all of it).
    Copied,
    /// The target already had it: nothing written.
    Present,
    /// The policy refused the source: nothing of it was copied (see the findings).
    Refused,
    /// The copy failed (see the failures); no tag was written.
    Failed,
    /// `--dry-run`: would be copied.
    Planned,
}

/// Which command copied an image: the reports name the copy after it (`mirror`'s
/// "already mirrored", `promote`'s "promoted").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CopyKind {
    /// `portcullis mirror`.
    #[default]
    Mirror,
    /// `portcullis promote`.
    Promotion,
}

impl CopyKind {
    /// Whether this is `mirror`'s copy (the JSON report leaves the kind out then).
    #[must_use]
    pub fn is_mirror(&self) -> bool {
        *self == Self::Mirror
    }
}

/// One image `mirror` (or `promote`) handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Mirrored {
    /// The source, `from:tag`.
    pub source: String,
    /// The target, `to:tag`.
    pub target: String,
    pub outcome: MirrorOutcome,
    /// The digest the target tag points at, when known.
    pub digest: Option<String>,
    /// Manifests written (images, indexes, referrers).
    pub manifests: u32,
    /// Blobs uploaded or mounted.
    pub blobs: u32,
    /// Blob bytes streamed into the target.
    pub bytes: u64,
    /// Referrers and cosign legacy tags copied (signatures, attestations, SBOMs).
    pub referrers: u32,
    /// Which command copied it; absent for `mirror`.
    #[serde(default, skip_serializing_if = "CopyKind::is_mirror")]
    pub kind: CopyKind,
}

/// The result of a command.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Sorted by file, line, column, rule.
    pub findings: Vec<Finding>,
    pub images: Vec<ImageEntry>,
    pub scans: Vec<ScanResult>,
    /// What `mirror` did with each planned image: those refused or failed at the gate first,
    /// then the copies, each group in plan order.
    pub mirrored: Vec<Mirrored>,
    /// The rebuilds `stale --trigger` asked for (or, with `--dry-run`, would ask for).
    pub triggers: Vec<crate::Triggered>,
    pub failures: Vec<Failure>,
    pub notes: Vec<Note>,
    /// The policy files that applied, as reports name them (`<embedded default>` for the
    /// built-in one).
    pub policies: Vec<String>,
    pub summary: Summary,
}

/// The documented exit codes.
pub mod exit {
    /// Passed (warnings allowed).
    pub const PASSED: u8 = 0;
    /// Policy violations.
    pub const VIOLATIONS: u8 = 1;
    /// Usage, configuration or input error.
    pub const BAD_INPUT: u8 = 2;
    /// Runtime failure (network, registry, scanner).
    pub const RUNTIME: u8 = 3;
}

impl Report {
    /// The exit code this report decides: 2 when an input could not be read or did not
    /// match (`file-invalid`, `reference-invalid`, `scan-report-mismatch`), else 3 when
    /// something failed at runtime, else 1 when an unwaived error remains, else 0.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        if self
            .findings
            .iter()
            .any(|finding| finding.rule.is_bad_input() && !finding.waived)
        {
            exit::BAD_INPUT
        } else if !self.failures.is_empty() {
            exit::RUNTIME
        } else if self.summary.errors > 0 {
            exit::VIOLATIONS
        } else {
            exit::PASSED
        }
    }

    /// Sorts the findings, dedups the images and policies, and recomputes the counts
    /// (keeping `files` and `not_checked`).
    pub fn finish(&mut self) {
        fn key(i: &ImageEntry) -> (&str, u32, &str, Context) {
            (i.file.as_str(), i.line, i.image.as_str(), i.context)
        }
        // Findings are large: sorting their positions and moving each finding into place
        // once costs a fraction of moving them around on every pass of the sort.
        if !self.findings.is_sorted_by(|a, b| compare(a, b).is_le()) {
            let mut order: Vec<usize> = (0..self.findings.len()).collect();
            order.sort_by(|&i, &j| compare(&self.findings[i], &self.findings[j]));
            permute(&mut self.findings, &mut order);
        }
        // Images come in file order from one run; only merged reports need the sort.
        if !self.images.is_sorted_by(|a, b| key(a) <= key(b)) {
            self.images.sort_by(|a, b| key(a).cmp(&key(b)));
        }
        self.images.dedup();
        self.policies.sort();
        self.policies.dedup();
        let count = |severity| {
            self.findings
                .iter()
                .filter(|finding| finding.counts(severity))
                .count()
        };
        self.summary = Summary {
            files: self.summary.files,
            not_checked: self.summary.not_checked,
            traffic: self.summary.traffic,
            images: self.images.len(),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            waived: self
                .findings
                .iter()
                .filter(|finding| finding.waived)
                .count(),
            suppressed_by_vex: self
                .scans
                .iter()
                .flat_map(|scan| &scan.vulnerabilities)
                .filter(|vuln| vuln.suppressed_by == Some(crate::vuln::SuppressedBy::Vex))
                .count(),
        };
    }

    /// One report of two runs (say `check a b` under two policies, or `ci` running check
    /// and scan): everything of both, sorted and counted again.
    #[must_use]
    pub fn merge(mut self, other: Report) -> Report {
        if self == Report::default() {
            return other;
        }
        self.findings.extend(other.findings);
        self.images.extend(other.images);
        self.scans.extend(other.scans);
        self.mirrored.extend(other.mirrored);
        self.triggers.extend(other.triggers);
        self.failures.extend(other.failures);
        self.notes.extend(other.notes);
        for policy in other.policies {
            if !self.policies.contains(&policy) {
                self.policies.push(policy);
            }
        }
        self.summary.files += other.summary.files;
        self.summary.not_checked += other.summary.not_checked;
        self.finish();
        self
    }

    /// The unwaived findings of a severity.
    pub fn counted(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |finding| finding.counts(severity))
    }
}

/// Puts `items[order[k]]` at position `k` for every `k`, in place: each element is swapped
/// along its cycle of the permutation, without a second vector of large items. `order` is
/// used up.
fn permute<T>(items: &mut [T], order: &mut [usize]) {
    const DONE: usize = usize::MAX;
    for start in 0..items.len() {
        let mut at = start;
        while order[at] != DONE {
            let from = order[at];
            order[at] = DONE;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// By file, line, column, rule; findings without a location last. Allocation-free: a
/// large monorepo sorts tens of thousands of findings.
fn compare(a: &Finding, b: &Finding) -> Ordering {
    fn position(finding: &Finding) -> Option<(&str, u32, u32)> {
        finding
            .location
            .as_ref()
            .map(|location| (location.file.as_str(), location.line, location.column))
    }
    type Tail<'f> = (Option<&'f str>, Option<(&'f str, &'f str)>);
    fn tail(finding: &Finding) -> Tail<'_> {
        (
            finding.image.as_deref(),
            finding
                .vulnerability()
                .map(|vuln| (vuln.id.as_str(), vuln.package.as_str())),
        )
    }
    match (position(a), position(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.rule.code().cmp(b.rule.code()))
    .then_with(|| tail(a).cmp(&tail(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Rule;

    #[test]
    fn permute_moves_each_item_to_its_sorted_place() {
        // Every permutation of five items, built from a simple counter in mixed radix.
        let mut seen = 0;
        for code in 0..5usize.pow(5) {
            let order: Vec<usize> = (0..5).map(|k| code / 5usize.pow(k) % 5).collect();
            let mut distinct = order.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() != 5 {
                continue;
            }
            seen += 1;
            let items: Vec<String> = (0..5).map(|i| format!("item {i}")).collect();
            let expected: Vec<String> = order.iter().map(|&i| items[i].clone()).collect();
            let mut moved = items.clone();
            permute(&mut moved, &mut order.clone());
            assert_eq!(moved, expected, "order {order:?}");
        }
        assert_eq!(seen, 120);
    }

    fn finding(rule: Rule, severity: Severity, file: &str) -> Finding {
        let mut finding = Finding::new(rule, severity, String::new(), None);
        finding.location = Some(Location {
            file: file.into(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 2,
            span: 0..1,
        });
        finding
    }

    fn report(findings: Vec<Finding>) -> Report {
        let mut report = Report {
            findings,
            ..Report::default()
        };
        report.finish();
        report
    }

    #[test]
    fn the_exit_code_comes_from_the_findings_and_failures() {
        assert_eq!(report(vec![]).exit_code(), 0);
        let warning = finding(Rule::DigestStale, Severity::Warning, "a");
        assert_eq!(report(vec![warning.clone()]).exit_code(), 0);
        let error = finding(Rule::DigestNotPinned, Severity::Error, "a");
        assert_eq!(report(vec![warning, error.clone()]).exit_code(), 1);
        let mut failed = report(vec![error.clone()]);
        failed.failures.push(Failure {
            message: "registry down".into(),
            image: None,
            location: None,
        });
        assert_eq!(failed.exit_code(), 3);
        let invalid = finding(Rule::FileInvalid, Severity::Error, "b");
        let mut both = report(vec![error, invalid]);
        both.failures = failed.failures.clone();
        assert_eq!(both.exit_code(), 2);
    }

    #[test]
    fn merging_is_independent_of_order() {
        let a = Report {
            findings: vec![finding(
                Rule::DigestNotPinned,
                Severity::Error,
                "b/Dockerfile",
            )],
            policies: vec!["b/portcullis.toml".into()],
            summary: Summary {
                files: 1,
                ..Summary::default()
            },
            ..Report::default()
        };
        let b = Report {
            findings: vec![finding(Rule::TagDenied, Severity::Warning, "a/Dockerfile")],
            policies: vec!["a/portcullis.toml".into()],
            summary: Summary {
                files: 2,
                ..Summary::default()
            },
            ..Report::default()
        };
        let ab = a.clone().merge(b.clone());
        let ba = b.merge(a);
        assert_eq!(ab.findings, ba.findings);
        assert_eq!(ab.summary, ba.summary);
        assert_eq!(
            (ab.summary.files, ab.summary.errors, ab.summary.warnings),
            (3, 1, 1)
        );
        assert_eq!(
            ab.findings[0].location.as_ref().unwrap().file,
            "a/Dockerfile"
        );
    }
}
