//! When an image is stale: `[stale]` → `image-stale`. `stale` reads each image's build time
//! and base (from its manifest annotations or its provenance), resolves the base now and,
//! with `--scan`, scans it; which of those facts make the image stale is decided here, one
//! finding per image with every reason, and the finding carries what a rebuild trigger
//! sends ([`StaleDetail`]).
//!
//! Which images: `images` (tags or digests) when given, else the references `check` finds
//! in the repository that match one of the `own` patterns. How a rebuild is asked for:
//! `trigger` and the keys it needs (`repository`, `event-type`, `workflow`, `ref`,
//! `project`), each checked against the trigger that uses it.

use std::time::Duration;

use portcullis_reference::{Digest, ImageRef, Pattern};
use schemars::JsonSchema;

use super::At;
use crate::config::reader::{Reader, Section};
use crate::config::sections::pattern;
use crate::config::settings::{Spanned, Trigger};
use crate::config::ConfigSite;
use crate::finding::{Detail, Finding, Severity};
use crate::rules::Rule;
use crate::subject::Subject;
use crate::vuln::{FixState, ScanResult, SeverityCounts, SuppressedBy};
use crate::ScanSettings;

/// The `repository_dispatch` event type sent when `event-type` is not set.
pub const DEFAULT_EVENT_TYPE: &str = "portcullis-stale";

/// `[stale]`: when an image counts as stale and what to do.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StaleSettings {
    /// Like `30d`.
    #[schemars(with = "Option<String>")]
    pub max_age: Option<Spanned<Duration>>,
    #[schemars(with = "Trigger")]
    pub trigger: Spanned<Trigger>,
    /// The images to watch (tags or digests). When absent, the references `check` finds
    /// in the repository that match `own`.
    #[schemars(with = "Option<Vec<String>>")]
    pub images: Option<Vec<Spanned<ImageRef>>>,
    /// Patterns naming the organisation's own images (`registry.example.com/acme/**`).
    #[schemars(with = "Vec<String>")]
    pub own: Vec<Spanned<Pattern>>,
    /// `owner/repo` to send GitHub dispatches to (default: the CI's repository).
    #[schemars(with = "Option<String>")]
    pub repository: Option<Spanned<String>>,
    /// The `repository_dispatch` event type (default `portcullis-stale`).
    #[schemars(with = "Option<String>")]
    pub event_type: Option<Spanned<String>>,
    /// The workflow file name or id `github-workflow` dispatches.
    #[schemars(with = "Option<String>")]
    pub workflow: Option<Spanned<String>>,
    /// The branch or tag a `github-workflow` or `gitlab-pipeline` run is for (default: the
    /// repository's default branch, as the CI names it).
    #[schemars(rename = "ref", with = "Option<String>")]
    pub git_ref: Option<Spanned<String>>,
    /// The GitLab project (id or `group/name`) whose pipeline is triggered (default: the
    /// CI's project).
    #[schemars(with = "Option<String>")]
    pub project: Option<Spanned<String>>,
    #[schemars(skip)]
    pub site: Option<ConfigSite>,
}

impl Default for StaleSettings {
    fn default() -> Self {
        Self {
            max_age: None,
            trigger: Spanned::unsited(Trigger::None),
            images: None,
            own: Vec::new(),
            repository: None,
            event_type: None,
            workflow: None,
            git_ref: None,
            project: None,
            site: None,
        }
    }
}

impl StaleSettings {
    /// Whether `image` is one of the organisation's own (`own` patterns).
    #[must_use]
    pub fn owns(&self, image: &ImageRef) -> bool {
        self.own.iter().any(|pattern| pattern.value.matches(image))
    }

    /// The `repository_dispatch` event type.
    #[must_use]
    pub fn event_type(&self) -> &str {
        self.event_type
            .as_ref()
            .map_or(DEFAULT_EVENT_TYPE, |event| event.value.as_str())
    }
}

const KEYS: [&str; 9] = [
    "max-age",
    "trigger",
    "images",
    "own",
    "repository",
    "event-type",
    "workflow",
    "ref",
    "project",
];

pub(crate) fn read(reader: &mut Reader<'_>, section: &Section<'_>) -> StaleSettings {
    reader.check_keys(section, &KEYS);
    let mut stale = StaleSettings {
        max_age: reader.duration(section, "max-age"),
        site: reader.site(section.span.clone(), "`[stale]` set here".to_owned()),
        ..StaleSettings::default()
    };
    if let Some(trigger) = reader.choice(section, "trigger") {
        stale.trigger = trigger;
    }
    stale.images = reader
        .converted(section, "images", image)
        .map(|(images, _)| images);
    stale.own = reader
        .converted(section, "own", pattern)
        .map(|(own, _)| own)
        .unwrap_or_default();
    stale.repository = reader.non_empty_string(section, "repository");
    stale.event_type = reader.non_empty_string(section, "event-type");
    stale.workflow = reader.non_empty_string(section, "workflow");
    stale.git_ref = reader.non_empty_string(section, "ref");
    stale.project = reader.non_empty_string(section, "project");
    validate(reader, section, &stale);
    stale
}

fn image(text: &str) -> Result<ImageRef, String> {
    ImageRef::parse(text).map_err(|error| format!("`{text}` is not an image reference: {error}"))
}

/// Which keys each trigger takes, and what they must look like.
fn validate(reader: &mut Reader<'_>, section: &Section<'_>, stale: &StaleSettings) {
    let span =
        |key: &str| Reader::entry(section, key).and_then(|(k, item)| Reader::span_of(k, item));
    let trigger = stale.trigger.value;
    let uses = |key: &str| match key {
        "repository" => matches!(trigger, Trigger::GithubDispatch | Trigger::GithubWorkflow),
        "event-type" => trigger == Trigger::GithubDispatch,
        "workflow" => trigger == Trigger::GithubWorkflow,
        "ref" => matches!(trigger, Trigger::GithubWorkflow | Trigger::GitlabPipeline),
        "project" => trigger == Trigger::GitlabPipeline,
        _ => true,
    };
    for key in ["repository", "event-type", "workflow", "ref", "project"] {
        if Reader::entry(section, key).is_some() && !uses(key) {
            let message = format!(
                "`{key}` is not used with `trigger = \"{}\"`: {}",
                trigger.as_str(),
                users_of(key)
            );
            reader.error(span(key).as_ref(), message);
        }
    }
    if trigger == Trigger::GithubWorkflow && stale.workflow.is_none() && span("workflow").is_none()
    {
        let at = span("trigger");
        reader.error(
            at.as_ref(),
            "`trigger = \"github-workflow\"` needs `workflow`, the workflow file name (like `build.yml`) to dispatch".to_owned(),
        );
    }
    if let Some(repository) = &stale.repository {
        let valid = repository
            .value
            .split_once('/')
            .is_some_and(|(owner, name)| {
                !owner.is_empty() && !name.is_empty() && !name.contains('/')
            });
        if !valid {
            reader.error(
                span("repository").as_ref(),
                format!(
                    "`repository` must be `owner/name`, found `{}`",
                    repository.value
                ),
            );
        }
    }
    if let Some(event) = &stale.event_type {
        // GitHub refuses event types over 100 characters.
        if event.value.chars().count() > 100 {
            reader.error(
                span("event-type").as_ref(),
                format!(
                    "`event-type` `{}` is longer than GitHub's 100 characters",
                    event.value
                ),
            );
        }
    }
    if stale.images.is_some() && !stale.own.is_empty() {
        reader.error(
            span("own").as_ref(),
            "set `images` or `own`, not both: `own` picks images from the repository only when `images` is absent".to_owned(),
        );
    }
}

fn users_of(key: &str) -> &'static str {
    match key {
        "repository" => "it names the GitHub repository of `github-dispatch` and `github-workflow`",
        "event-type" => "it is the event type of `github-dispatch`",
        "workflow" => "it is the workflow `github-workflow` dispatches",
        "ref" => "it is the branch of `github-workflow` and `gitlab-pipeline`",
        _ => "it is the GitLab project of `gitlab-pipeline`",
    }
}

/// A base image as the image records it and as its tag resolves now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseFact {
    /// The base's name (with its tag) as recorded.
    pub name: ImageRef,
    /// The digest the image was built on.
    pub then: Digest,
    /// The digest the base's tag points at now; `None` when the base names no tag (it
    /// cannot move) or could not be resolved (a note says so).
    pub now: Option<Digest>,
}

/// What `stale` read about one image.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleFact {
    /// The image as listed (in `[stale] images`, or where `check` found it).
    pub subject: Subject,
    /// The digest its reference resolves to now.
    pub digest: Digest,
    /// When it was built (`org.opencontainers.image.created`, else the config's
    /// `created`).
    pub created: Option<jiff::Timestamp>,
    /// Its bases; empty when unknown.
    pub bases: Vec<BaseFact>,
    /// Its scan (`stale --scan`).
    pub scan: Option<ScanResult>,
    /// When the facts were read.
    pub checked_at: jiff::Timestamp,
}

/// Why an image is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaleReason {
    /// A base's tag points at another digest than the image was built on.
    BaseDrifted {
        base: ImageRef,
        then: Digest,
        now: Digest,
    },
    /// Built longer ago than `max-age`.
    TooOld {
        created: jiff::Timestamp,
        max_age: Duration,
    },
    /// Vulnerabilities with a fix at or above the `[scan]` gate level.
    FixableVulnerabilities {
        /// The gate level, as `fail-on` names it.
        level: String,
        counts: SeverityCounts,
    },
}

impl StaleReason {
    /// The reason's stable kebab-case code (what a rebuild trigger sends).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BaseDrifted { .. } => "base-drifted",
            Self::TooOld { .. } => "too-old",
            Self::FixableVulnerabilities { .. } => "fixable-vulnerabilities",
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::BaseDrifted { base, then, now } => {
                format!("its base `{base}` moved from `{then}` to `{now}`")
            }
            Self::TooOld { created, max_age } => format!(
                "it was built at {created}, longer ago than `max-age` {}",
                duration_text(*max_age)
            ),
            Self::FixableVulnerabilities { level, counts } => format!(
                "it has {} vulnerabilit{} with a fix at or above `{level}` ({})",
                counts.total(),
                if counts.total() == 1 { "y" } else { "ies" },
                counts_text(counts)
            ),
        }
    }
}

/// An `image-stale` finding's detail: the image, the digest it has now and every reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleDetail {
    pub image: ImageRef,
    pub digest: Digest,
    pub reasons: Vec<StaleReason>,
}

impl StaleDetail {
    /// The first drifted base, when one drifted.
    #[must_use]
    pub fn drifted_base(&self) -> Option<(&ImageRef, &Digest, &Digest)> {
        self.reasons.iter().find_map(|reason| match reason {
            StaleReason::BaseDrifted { base, then, now } => Some((base, then, now)),
            _ => None,
        })
    }
}

/// Why `fact`'s image is stale, in the order base, age, vulnerabilities; empty when it is
/// not.
#[must_use]
pub fn reasons(stale: &StaleSettings, scan: &ScanSettings, fact: &StaleFact) -> Vec<StaleReason> {
    let mut reasons: Vec<StaleReason> = fact
        .bases
        .iter()
        .filter_map(|base| {
            let now = base.now.as_ref()?;
            (*now != base.then).then(|| StaleReason::BaseDrifted {
                base: base.name.clone(),
                then: base.then.clone(),
                now: now.clone(),
            })
        })
        .collect();
    if let (Some(max_age), Some(created)) = (&stale.max_age, fact.created) {
        let age = fact.checked_at.duration_since(created);
        let limit =
            jiff::SignedDuration::try_from(max_age.value).unwrap_or(jiff::SignedDuration::MAX);
        if age > limit {
            reasons.push(StaleReason::TooOld {
                created,
                max_age: max_age.value,
            });
        }
    }
    if let (Some(result), Some(threshold)) = (&fact.scan, scan.fail_on.value.threshold()) {
        let rated = super::vulnerabilities::rate(scan, result);
        let mut counts = SeverityCounts::default();
        for vuln in &rated.vulnerabilities {
            if vuln.suppressed_by != Some(SuppressedBy::Vex)
                && vuln.fix_state == FixState::Fixed
                && vuln.severity >= threshold
            {
                counts.add(vuln.severity);
            }
        }
        if counts.total() > 0 {
            reasons.push(StaleReason::FixableVulnerabilities {
                level: scan.fail_on.value.as_str().to_owned(),
                counts,
            });
        }
    }
    reasons
}

/// The `image-stale` finding for `fact`, when its image is stale.
pub(crate) fn check(
    stale: &StaleSettings,
    scan: &ScanSettings,
    at: &At<'_>,
    fact: &StaleFact,
) -> Option<Finding> {
    let image = at.image()?;
    let reasons = reasons(stale, scan, fact);
    if reasons.is_empty() {
        return None;
    }
    let listed: Vec<String> = reasons.iter().map(StaleReason::describe).collect();
    let message = format!(
        "`{}` (`{}`) is stale: {}",
        at.subject.text,
        fact.digest,
        listed.join("; ")
    );
    let help = format!(
        "rebuild `{}`; `portcullis stale --trigger` asks the forge for the rebuild",
        at.subject.text
    );
    let mut finding = at.finding(Rule::ImageStale, Severity::Error, message, Some(help));
    let age = reasons
        .iter()
        .any(|reason| matches!(reason, StaleReason::TooOld { .. }));
    finding.cause = if age {
        stale.max_age.as_ref().and_then(|max| max.site.clone())
    } else {
        None
    }
    .or_else(|| stale.site.clone());
    finding.detail = Some(Detail::ImageStale(StaleDetail {
        image: image.clone(),
        digest: fact.digest.clone(),
        reasons,
    }));
    Some(finding)
}

/// `30d`, `12h`, `90m`, `45s`: the largest unit that divides the duration.
fn duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs();
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

fn counts_text(counts: &SeverityCounts) -> String {
    [
        ("critical", counts.critical),
        ("high", counts.high),
        ("medium", counts.medium),
        ("low", counts.low),
        ("negligible", counts.negligible),
        ("unknown", counts.unknown),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(name, n)| format!("{n} {name}"))
    .collect::<Vec<_>>()
    .join(", ")
}

#[cfg(test)]
#[path = "staleness_tests.rs"]
mod tests;
