//! `portcullis stale`: for each watched image (`[stale] images`, else the references
//! `check` finds that match `[stale] own`), read what it was built from and when
//! (`portcullis_trust::lineage`), resolve its bases now, scan it with `--scan`, let the
//! policy decide (`image-stale`), and with `--trigger` ask the forge for one rebuild per
//! stale image (`portcullis_forge::trigger`).

use std::collections::BTreeSet;
use std::time::Duration;

use portcullis_forge::trigger::{self, Pace, Target};
use portcullis_forge::CiEnv;
use portcullis_policy::{BaseFact, Config, Facts, Failure, Note, Report, StaleFact, Subject};
use portcullis_reference::ImageRef;
use portcullis_registry::Client;
use portcullis_report::Format;
use portcullis_scan::ScanRequest;
use portcullis_sources::Root;
use portcullis_trust::lineage::{self, BaseSource};

use crate::args::{Global, SourceArgs, StaleArgs};
use crate::exit::UsageError;
use crate::output::Output;
use crate::workspace::{self, Workspace};

pub fn run(global: &Global, args: &StaleArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let root = Root::current()?;
    let config = workspace::policy_here(&root, global.config.as_deref())?;
    // The trigger is checked before anything is read: a missing token is a usage error.
    let target = if args.trigger {
        let env = CiEnv::detect()?;
        let target = trigger::target(config.stale(), &env, |name| std::env::var(name).ok())
            .map_err(|error| UsageError(error.to_string()))?;
        Some(target.ok_or_else(|| {
            UsageError("`--trigger` needs `[stale] trigger` in portcullis.toml: `github-dispatch`, `github-workflow` or `gitlab-pipeline`".into())
        })?)
    } else {
        None
    };
    let subjects = watched(global, &config, &args.sources)?;
    let client = crate::resolve::client(&config)?;
    let runtime = workspace::runtime()?;
    let mut report = runtime.block_on(read_all(&config, &client, &subjects, args))?;
    if let Some(target) = &target {
        runtime.block_on(ask(target, args, &mut report));
    }
    report.finish();
    let configs = vec![(config.name().to_owned(), config.source.clone())];
    Ok(output.emit(&report, &root.dir, &configs))
}

/// The images to watch: `[stale] images`, else the references `check` finds under the
/// given paths that match `[stale] own`, each image once.
fn watched(global: &Global, config: &Config, sources: &SourceArgs) -> anyhow::Result<Vec<Subject>> {
    let stale = config.stale();
    let subjects: Vec<Subject> = if let Some(images) = &stale.images {
        images
            .iter()
            .map(|image| Subject::image(image.value.clone()))
            .collect()
    } else if stale.own.is_empty() {
        return Err(UsageError(
            "nothing to watch: set `[stale] images = [\"…\"]` or `[stale] own = [\"registry.example.com/acme/**\"]` in portcullis.toml".into(),
        )
        .into());
    } else {
        let ws = Workspace::load(global.config.as_deref(), sources)?;
        ws.groups
            .into_iter()
            .flat_map(|group| workspace::subjects(group.collected.occurrences))
            .filter(|subject| {
                subject
                    .resolution
                    .image()
                    .is_some_and(|image| stale.owns(image))
            })
            .collect()
    };
    let mut seen = BTreeSet::new();
    Ok(subjects
        .into_iter()
        .filter(|subject| {
            subject
                .resolution
                .image()
                .is_some_and(|image| seen.insert(image.clone()))
        })
        .collect())
}

/// Reads every image, decides, and returns the report (failures for images that could not
/// be read).
async fn read_all(
    config: &Config,
    client: &Client,
    subjects: &[Subject],
    args: &StaleArgs,
) -> anyhow::Result<Report> {
    let mut facts = Facts::default();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for subject in subjects {
        let Some(image) = subject.resolution.image() else {
            continue;
        };
        match read_one(config, client, subject, image, args, &mut notes).await {
            Ok(fact) => facts.stale.push(fact),
            Err(message) => failures.push(Failure {
                message,
                image: Some(image.to_string()),
                location: subject.written.as_ref().map(|w| w.location.clone()),
            }),
        }
    }
    let mut report = portcullis_policy::evaluate(config, &facts, workspace::today()?);
    report.failures.extend(failures);
    report.notes.extend(notes);
    Ok(report)
}

async fn read_one(
    config: &Config,
    client: &Client,
    subject: &Subject,
    image: &ImageRef,
    args: &StaleArgs,
    notes: &mut Vec<Note>,
) -> Result<StaleFact, String> {
    let read = lineage::read(client, image).await.map_err(|e| chain(&e))?;
    let mut bases = Vec::new();
    for base in &read.bases {
        let now = match lineage::base_now(client, &base.name).await {
            Ok(now) => now,
            Err(error) => {
                notes.push(Note::warning(format!(
                    "cannot resolve the base `{}` of `{image}` now: {}",
                    base.name,
                    chain(&error)
                )));
                None
            }
        };
        bases.push(BaseFact {
            name: base.name.clone(),
            then: base.digest.clone(),
            now,
        });
    }
    if read.source == BaseSource::Unknown {
        notes.push(Note::info(format!(
            "the base of `{image}` is unknown: its manifest has no `org.opencontainers.image.base.name`/`.digest` annotations and no SLSA provenance is attached"
        )));
    }
    let scan = if args.scan {
        Some(scan(config, &image.with_digest(read.digest.clone()), args)?)
    } else {
        None
    };
    Ok(StaleFact {
        subject: subject.clone(),
        digest: read.digest,
        created: read.created,
        bases,
        scan,
        checked_at: jiff::Timestamp::now(),
    })
}

/// The `[scan]` hooks (or `--hook`, `--report`) on the image, as `scan` runs them.
fn scan(
    config: &Config,
    image: &ImageRef,
    args: &StaleArgs,
) -> Result<portcullis_policy::vuln::ScanResult, String> {
    let policy_dir = config.resolve_path(std::path::Path::new(""));
    let request = ScanRequest {
        image: image.clone(),
        settings: config.scan(),
        policy_dir: &policy_dir,
        hooks: &args.hook,
        reports: &args.report,
        vex: &[],
        sbom: portcullis_scan::SbomKind::CycloneDx,
        timeout: None,
    };
    portcullis_scan::run(&request)
        .map(|scan| scan.result)
        .map_err(|error| format!("cannot scan `{image}`: {}", chain(&error)))
}

/// Asks `target` for one rebuild per stale image (or, with `--dry-run`, says what it would
/// send); each request is an entry of `report.triggers`, a refusal is also a failure.
async fn ask(target: &Target, args: &StaleArgs, report: &mut Report) {
    let details = report
        .findings
        .iter()
        .filter(|finding| !finding.waived)
        .filter_map(portcullis_policy::Finding::stale);
    let rebuilds = trigger::rebuilds(details);
    if args.dry_run {
        for rebuild in &rebuilds {
            let request = trigger::request(target, rebuild);
            report.notes.push(Note::info(format!(
                "would ask for a rebuild of `{}` ({}): {} {}\n{}",
                rebuild.image,
                target.describe(),
                request.method,
                request.url,
                request.body
            )));
        }
        report.triggers.extend(trigger::dry_run(target, &rebuilds));
        return;
    }
    let pace = Pace {
        min_interval: Duration::from_millis(args.trigger_interval_ms),
        ..Pace::default()
    };
    let asked = trigger::ask(target, &rebuilds, pace).await;
    report.triggers.extend(asked.triggered);
    if let Some(error) = asked.error {
        report.failures.push(Failure {
            message: chain(&error),
            image: None,
            location: None,
        });
    }
}

/// An error with its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
