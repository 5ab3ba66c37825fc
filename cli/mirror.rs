//! `portcullis mirror`: each `[[mirror]]` entry's images (its tags, and the listed tags its
//! `tag-regex` matches), each source admitted by the policy first, then copied with the
//! registry's copy engine; one report of what was copied, found, refused or failed.

use std::sync::Arc;

use portcullis_policy::mirror::{refusals, MirrorItem};
use portcullis_policy::{Config, Failure, MirrorOutcome, Mirrored, Platforms, Report};
use portcullis_registry::{Client, CopyOptions, CopyReport, Platform};
use portcullis_report::Format;
use portcullis_sources::Root;

use crate::args::{Global, MirrorArgs};
use crate::output::Output;
use crate::workspace;

/// Images copied at once (each also copies several blobs at once).
const IMAGES_AT_ONCE: usize = 2;

pub fn run(global: &Global, args: &MirrorArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let root = Root::current()?;
    let config = workspace::policy_here(&root, global.config.as_deref())?;
    let client = crate::resolve::client(&config)?;
    let runtime = workspace::runtime()?;
    let report = runtime.block_on(mirror(&config, client, args));
    let configs = vec![(config.name().to_owned(), config.source.clone())];
    Ok(output.emit(&report, &root.dir, &configs))
}

async fn mirror(config: &Config, client: Client, args: &MirrorArgs) -> Report {
    let mut report = Report {
        policies: vec![config.name().to_owned()],
        ..Report::default()
    };
    let items = plan(config, &client, &mut report).await;
    let mut admitted = Vec::new();
    for item in items {
        let refused = refusals(config, &item.source);
        if refused.is_empty() {
            admitted.push(item);
        } else {
            report
                .mirrored
                .push(entry(&item, MirrorOutcome::Refused, None));
            report.findings.extend(refused);
        }
    }
    if args.dry_run {
        for item in &admitted {
            report
                .mirrored
                .push(entry(item, MirrorOutcome::Planned, None));
        }
        report.finish();
        return report;
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(IMAGES_AT_ONCE));
    let mut tasks = Vec::new();
    for item in admitted {
        let (client, limit) = (client.clone(), Arc::clone(&limit));
        let options = CopyOptions {
            platforms: platforms(&item.platforms),
            allow_retag: args.allow_retag,
            referrers: true,
        };
        tasks.push((
            item.clone(),
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                client.copy(&item.source, &item.target, &options).await
            }),
        ));
    }
    for (item, task) in tasks {
        match task.await {
            Ok(Ok(copied)) => {
                let outcome = if copied.already_present {
                    MirrorOutcome::Present
                } else {
                    MirrorOutcome::Copied
                };
                report.mirrored.push(entry(&item, outcome, Some(&copied)));
            }
            Ok(Err(error)) => {
                report
                    .mirrored
                    .push(entry(&item, MirrorOutcome::Failed, None));
                report.failures.push(Failure {
                    message: format!(
                        "cannot mirror `{}` to `{}`: {}",
                        item.source,
                        item.target,
                        crate::resolve::chain(&error)
                    ),
                    image: Some(item.source.to_string()),
                    location: None,
                });
            }
            Err(error) => {
                report
                    .mirrored
                    .push(entry(&item, MirrorOutcome::Failed, None));
                report.failures.push(Failure {
                    message: format!("mirroring `{}` stopped: {error}", item.source),
                    image: Some(item.source.to_string()),
                    location: None,
                });
            }
        }
    }
    report.finish();
    report
}

/// Every entry's images, in file order; a source whose tags cannot be listed is a failure.
async fn plan(config: &Config, client: &Client, report: &mut Report) -> Vec<MirrorItem> {
    let mut items = Vec::new();
    for (i, entry) in config.mirrors().iter().enumerate() {
        let listed = if entry.lists_tags() {
            match client.list_tags(&entry.from.value).await {
                Ok(tags) => tags,
                Err(error) => {
                    report.failures.push(Failure {
                        message: format!(
                            "cannot list the tags of `{}`: {}",
                            entry.from.value.name(),
                            crate::resolve::chain(&error)
                        ),
                        image: Some(entry.from.value.name()),
                        location: None,
                    });
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        items.extend(entry.plan(i, &listed));
    }
    items
}

/// The platforms a copy keeps: every one, or the listed ones.
fn platforms(platforms: &Platforms) -> Option<Vec<Platform>> {
    match platforms {
        Platforms::All => None,
        Platforms::List(list) => Some(list.iter().filter_map(|p| Platform::parse(p)).collect()),
    }
}

fn entry(item: &MirrorItem, outcome: MirrorOutcome, copied: Option<&CopyReport>) -> Mirrored {
    let copied = copied.cloned().unwrap_or_default();
    Mirrored {
        source: item.source.to_string(),
        target: item.target.to_string(),
        outcome,
        digest: copied.digest.as_ref().map(ToString::to_string),
        manifests: copied.manifests_copied,
        blobs: copied.blobs_uploaded + copied.blobs_mounted,
        bytes: copied.bytes,
        referrers: copied.referrers_copied + copied.legacy_tags_copied,
    }
}
