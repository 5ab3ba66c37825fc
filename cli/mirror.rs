//! `portcullis mirror`: each `[[mirror]]` entry's images (its tags, and the listed tags its
//! `tag-regex` matches), each source admitted by the policy first, then copied with the
//! registry's copy engine; one report of what was copied, found, refused or failed.

use std::collections::BTreeSet;
use std::sync::Arc;

use portcullis_policy::mirror::{needs_signature, refusals, scan_refusals, MirrorItem};
use portcullis_policy::{
    Config, CopyKind, Failure, Finding, MirrorOutcome, Mirrored, Report, Traffic,
};
use portcullis_reference::ImageRef;
use portcullis_registry::{Client, CopyOptions, CopyReport, Progress};
use portcullis_report::Format;
use portcullis_scan::{SbomKind, ScanRequest};
use portcullis_sources::Root;

use crate::args::{Global, MirrorArgs};
use crate::output::Output;
use crate::workspace;

/// Images handled at once. Checking an image that is in place costs a few `HEAD`s; the
/// blob transfers of all of them share the client's slots (`blob_concurrency`).
const IMAGES_AT_ONCE: usize = 16;

pub fn run(global: &Global, args: &MirrorArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let root = Root::current()?;
    let config = workspace::policy_here(&root, global.config.as_deref())?;
    let progress = crate::progress::Copies::start(global);
    let client = crate::resolve::client(&config)?;
    let client = match &progress {
        Some(progress) => client.with_progress(Arc::clone(progress) as Arc<dyn Progress>),
        None => client,
    };
    let trust_root = match &args.trusted_root {
        Some(path) => crate::sigstore::root_file(path)?,
        None => portcullis_trust::TrustRoot::production(),
    };
    let runtime = workspace::runtime()?;
    let report = runtime.block_on(async {
        // The bytes so far, redrawn while the copies run.
        let ticker = progress.clone().map(|progress| {
            let client = client.clone();
            tokio::spawn(async move {
                loop {
                    progress.bytes(client.stats().bytes_read);
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            })
        });
        let report = mirror(&config, client, &trust_root, args).await;
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        report
    });
    if let Some(progress) = &progress {
        progress.clear();
    }
    let configs = vec![(config.name().to_owned(), config.source.clone())];
    Ok(output.emit(&report, &root.dir, &configs))
}

async fn mirror(
    config: &Config,
    client: Client,
    trust_root: &portcullis_trust::TrustRoot,
    args: &MirrorArgs,
) -> Report {
    let mut report = Report {
        policies: vec![config.name().to_owned()],
        ..Report::default()
    };
    // The targets' challenges and push tokens are learned while the sources' tags are
    // listed, not after.
    let targets = config.mirrors().iter().map(|entry| &entry.to.value);
    let prepare = async {
        if !args.dry_run {
            client.prepare_push(targets).await;
        }
    };
    let ((items, listed_tags), ()) = tokio::join!(plan(config, &client, &mut report), prepare);
    let admitted = gate(
        config,
        &client,
        trust_root,
        items,
        args.dry_run,
        &mut report,
    )
    .await;
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
    client.observe_queued(admitted.len());
    let mut tasks = Vec::new();
    for item in admitted {
        let (client, limit) = (client.clone(), Arc::clone(&limit));
        let options = CopyOptions {
            platforms: item.platforms.listed().map(<[_]>::to_vec),
            allow_retag: args.allow_retag,
            referrers: true,
            source_tags: listed_tags[item.entry].clone(),
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
    let stats = client.stats();
    report.summary.traffic = Some(Traffic {
        requests: stats.total_requests,
        retries: stats.retries,
        bytes_read: stats.bytes_read,
        bytes_written: stats.bytes_written,
    });
    report
}

/// The sources the policy admits; the refused ones recorded in `report` with the findings
/// that keep them out (a scan that cannot run is a failure, and keeps its source out too).
async fn gate(
    config: &Config,
    client: &Client,
    trust_root: &portcullis_trust::TrustRoot,
    items: Vec<MirrorItem>,
    dry_run: bool,
    report: &mut Report,
) -> Vec<MirrorItem> {
    let mut admitted = Vec::new();
    for mut item in items {
        // A source a `[[trust.signer]]` covers is verified first (a dry run too: it writes
        // nothing), and copied by the digest that was verified.
        let signatures = if needs_signature(config, &item.source) {
            let (pinned, fact) =
                crate::sign::signature_fact(client, &item.source, trust_root).await;
            if let Some(pinned) = pinned {
                item.source = pinned;
            }
            Some(fact)
        } else {
            None
        };
        let mut refused = refusals(config, &item.source, signatures.as_ref());
        // The scan gate scans; a dry run only plans.
        if refused.is_empty() && !dry_run && item.scan {
            match scan_gate(config, client, &item).await {
                Ok((pinned, found)) => {
                    // Copied by the digest that was scanned, whatever the tag does meanwhile.
                    item.source = pinned;
                    refused = found;
                }
                Err(message) => {
                    report
                        .mirrored
                        .push(entry(&item, MirrorOutcome::Failed, None));
                    report.failures.push(Failure {
                        message,
                        image: Some(item.source.to_string()),
                        location: None,
                    });
                    continue;
                }
            }
        }
        if refused.is_empty() {
            admitted.push(item);
        } else {
            report
                .mirrored
                .push(entry(&item, MirrorOutcome::Refused, None));
            report.findings.extend(refused);
        }
    }
    admitted
}

/// The `[scan]` gate on a source whose entry asks for it: the tag resolved once, that
/// digest scanned with the policy's hooks, and the findings that keep it out. A scan that
/// cannot run keeps it out too (the error is returned).
async fn scan_gate(
    config: &Config,
    client: &Client,
    item: &MirrorItem,
) -> Result<(ImageRef, Vec<Finding>), String> {
    let resolved = client.resolve_digest(&item.source).await.map_err(|e| {
        format!(
            "cannot resolve `{}` to scan it: {}",
            item.source,
            crate::resolve::chain(&e)
        )
    })?;
    let pinned = item.source.with_digest(resolved.digest);
    let policy_dir = config.resolve_path(std::path::Path::new(""));
    let request = ScanRequest {
        image: pinned.clone(),
        settings: config.scan(),
        policy_dir: &policy_dir,
        hooks: &[],
        reports: &[],
        vex: &[],
        sbom: SbomKind::CycloneDx,
        timeout: None,
    };
    let scan = tokio::task::block_in_place(|| portcullis_scan::run(&request))
        .map_err(|e| format!("cannot scan `{pinned}` before mirroring it: {e}"))?;
    let today = workspace::today().map_err(|e| e.to_string())?;
    Ok((pinned, scan_refusals(config, scan.result, today)))
}

/// Every entry's images, in file order, and each entry's source tags when they could be
/// listed (one request per entry: they tell which signature and referrer tags exist, so
/// a copy does not ask for each). An entry with `tag-regex` whose tags cannot be listed is
/// a failure.
async fn plan(
    config: &Config,
    client: &Client,
    report: &mut Report,
) -> (Vec<MirrorItem>, Vec<Tags>) {
    let mut items = Vec::new();
    let mut listed_tags = Vec::new();
    for (i, entry) in config.mirrors().iter().enumerate() {
        let listed = match client.list_tags(&entry.from.value).await {
            Ok(tags) => Some(tags),
            Err(error) if entry.lists_tags() => {
                report.failures.push(Failure {
                    message: format!(
                        "cannot list the tags of `{}`: {}",
                        entry.from.value.name(),
                        crate::resolve::chain(&error)
                    ),
                    image: Some(entry.from.value.name()),
                    location: None,
                });
                None
            }
            Err(_) => None,
        };
        items.extend(entry.plan(i, listed.as_deref().unwrap_or_default()));
        listed_tags.push(listed.map(|tags| Arc::new(tags.into_iter().collect())));
    }
    (items, listed_tags)
}

/// A source repository's tags, when listed.
type Tags = Option<Arc<BTreeSet<String>>>;

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
        kind: CopyKind::Mirror,
    }
}
