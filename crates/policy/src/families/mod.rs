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
//! | [`mirrors`] | `not-from-mirror` | `[[mirror]]` `from`, `to`, `tags`, `tag-regex` |
//! | [`promote`] | `promotion-refused` | `[[promote]]` `from`, `to`, `require` |
//! | [`staleness`] | `image-stale` | `[stale]` (and `[scan]` for fixable vulnerabilities) |
//! | [`inputs`] | `file-invalid`, `reference-invalid`, `scan-report-mismatch` | none: the input itself |
//!
//! [`signatures`] (`[trust]`) holds its section and rule codes; its check comes with the
//! commands that gather its facts. Sections that are
//! not rules (`[sign]`, `[report]`, `[registries]`, and the rest of `[[mirror]]`) live in
//! `config`.

pub mod images;
pub mod inputs;
pub mod mirrors;
pub mod promote;
pub mod registry;
pub mod signatures;
pub mod staleness;
pub mod tags;
pub mod vulnerabilities;
pub mod waivers;

use std::cell::OnceCell;

use portcullis_reference::ImageRef;

use crate::finding::{Finding, Severity};
use crate::rules::Rule;
use crate::subject::{HelpPaths, Subject};

/// A subject as its findings describe it. What several findings of one subject repeat (the
/// image's name, the file as a command names it) is worked out once.
pub(crate) struct At<'a> {
    pub(crate) subject: &'a Subject,
    pub(crate) help: &'a HelpPaths,
    image_text: OnceCell<Option<String>>,
    command_path: OnceCell<Option<String>>,
}

impl<'a> At<'a> {
    pub(crate) fn new(subject: &'a Subject, help: &'a HelpPaths) -> Self {
        Self {
            subject,
            help,
            image_text: OnceCell::new(),
            command_path: OnceCell::new(),
        }
    }

    /// [`At::new`] with the file's name as a command typed in the current directory names
    /// it already known (a repository's references come file by file).
    pub(crate) fn with_command_path(
        subject: &'a Subject,
        help: &'a HelpPaths,
        command_path: Option<String>,
    ) -> Self {
        let at = Self::new(subject, help);
        at.command_path.get_or_init(|| command_path);
        at
    }

    /// The file as a command typed in the current directory names it, when written in one.
    pub(crate) fn command_path(&self) -> Option<String> {
        self.command_path
            .get_or_init(|| {
                self.subject
                    .written
                    .as_ref()
                    .map(|written| self.help.command_path(&written.location.file))
            })
            .clone()
    }

    /// The image, when the subject names one.
    pub(crate) fn image(&self) -> Option<&ImageRef> {
        self.subject.resolution.image()
    }

    /// The image's normalized name, when the subject names one.
    pub(crate) fn image_text(&self) -> Option<&str> {
        self.image_text
            .get_or_init(|| self.image().map(ToString::to_string))
            .as_deref()
    }

    pub(crate) fn finding(
        &self,
        rule: Rule,
        severity: Severity,
        message: String,
        help: Option<String>,
    ) -> Finding {
        let mut finding = Finding::new(rule, severity, message, help);
        finding.image = self.image_text().map(str::to_owned);
        if let Some(written) = &self.subject.written {
            finding.location = Some(written.location.clone());
            finding.context = Some(written.context);
        }
        finding
    }
}
