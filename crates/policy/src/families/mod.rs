//! The rules, one module per family, each with its section of `portcullis.toml` (settings
//! type and reader), its checks and the wording of its findings side by side; each check
//! reads only its own section:
//!
//! | family | rules | section |
//! |---|---|---|
//! | [`images`] | `image-not-allowed` | `[images] allow`, `deny` |
//! | [`tags`] | `digest-not-pinned`, `tag-missing`, `tag-denied`, `unresolved-variable` | `[images] require-digest`, `deny-tags` |
//! | [`registry`] | `digest-not-found`, `digest-stale` | registry facts (`--resolve`) |
//! | [`vulnerabilities`] | `vulnerability` | `[scan]` |
//! | [`waivers`] | `waiver-expired`, `waiver-unused` | `[[waiver]]` |
//! | [`inputs`] | `file-invalid`, `reference-invalid`, `scan-report-mismatch` | none: the input itself |
//!
//! [`signatures`] (`[trust]`) and [`staleness`] (`[stale]`) hold their sections and rule
//! codes; their checks come with the commands that gather their facts. Sections that are
//! not rules (`[sign]`, `[[mirror]]`, `[report]`, `[registries]`) live in `config`.

pub mod images;
pub mod inputs;
pub mod registry;
pub mod signatures;
pub mod staleness;
pub mod tags;
pub mod vulnerabilities;
pub mod waivers;

use portcullis_reference::ImageRef;

use crate::finding::{Finding, Severity};
use crate::rules::Rule;
use crate::subject::{HelpPaths, Subject};

/// A subject as its findings describe it.
pub(crate) struct At<'a> {
    pub(crate) subject: &'a Subject,
    pub(crate) help: &'a HelpPaths,
}

impl At<'_> {
    /// The file as a command typed in the current directory names it, when written in one.
    pub(crate) fn command_path(&self) -> Option<String> {
        self.subject
            .written
            .as_ref()
            .map(|written| self.help.command_path(&written.location.file))
    }

    /// The image, when the subject names one.
    pub(crate) fn image(&self) -> Option<&ImageRef> {
        self.subject.resolution.image()
    }

    pub(crate) fn finding(
        &self,
        rule: Rule,
        severity: Severity,
        message: String,
        help: Option<String>,
    ) -> Finding {
        let mut finding = Finding::new(rule, severity, message, help);
        finding.image = self.image().map(ToString::to_string);
        if let Some(written) = &self.subject.written {
            finding.location = Some(written.location.clone());
            finding.context = Some(written.context);
        }
        finding
    }
}
