//! The policy: `portcullis.toml` (found by walking up from a checked path, parsed with
//! spans, validated, every error reported at once) and the pure evaluation of facts into a
//! [`Report`]. No I/O beyond finding and reading policy files.
//!
//! The policy judges [`Subject`]s — an image, and where it was written if anywhere — so an
//! image in no file (a mirror source, a promoted or scanned image) is gated by the same
//! rules as a `FROM` line. The rules are organised by family in [`families`], each with its
//! checks and wording side by side; [`Rule`] names every stable rule code. A [`Report`]
//! decides the exit code and merges with another, so commands compose.

pub mod config;
mod evaluate;
pub mod families;
mod finding;
pub mod mirror;
mod rebuild;
mod report;
pub mod rules;
pub mod shell;
mod subject;
pub mod vuln;

pub use config::{
    settings, CommentMode, Config, ConfigError, ConfigErrors, ConfigSite, FailOn, HookCommand,
    HookSettings, ImagesSettings, MirrorSettings, Platforms, RateAs, RegistrySettings,
    ReportFormat, ReportSettings, ScanSettings, Settings, SignFormat, SignMode, SignSettings,
    Signer, Spanned, StaleSettings, Trigger, TrustSettings, Waiver, BUILTIN_HOOKS,
    CONFIG_FILE_NAME,
};
pub use evaluate::{evaluate, Facts};
pub use families::inputs::{problem_findings, ReportMismatch};
pub use families::mirrors::{mirror_for, MirrorMatch, TagRegex};
pub use families::registry::RegistryFact;
pub use families::signatures::{judge_signatures, SignatureFact};
pub use families::staleness::{BaseFact, StaleDetail, StaleFact, StaleReason};
pub use families::vulnerabilities::counts as vulnerability_counts;
pub use families::waivers::InlineWaiver;
pub use finding::{AppliedWaiver, Detail, Finding, Severity};
pub use portcullis_reference::{Context, Location, Problem, ProblemKind, Resolution};
pub use rebuild::{TriggerOutcome, Triggered};
pub use report::{
    exit, ContextSchema, CopyKind, Failure, ImageEntry, MirrorOutcome, Mirrored, Note, Report,
    Summary, Traffic,
};
pub use rules::{Rule, UnknownRule};
pub use subject::{HelpPaths, Subject, Written};
