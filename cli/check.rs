//! `portcullis check`: read the sources under each checked path, optionally ask the
//! registries, judge every reference under its policy, and hand one report to the output.

use std::sync::Arc;

use portcullis_policy::{Facts, HelpPaths, Report};
use portcullis_report::Format;

use crate::args::{CheckArgs, Global};
use crate::output::Output;
use crate::progress::Lookups;
use crate::workspace::{self, Workspace};

pub fn run(global: &Global, args: &CheckArgs) -> anyhow::Result<u8> {
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?;
    let ws = Workspace::load(global.config.as_deref(), &args.sources)?;
    let configs = ws.configs();
    let root = ws.root.dir.clone();
    let progress = if args.resolve {
        crate::progress::Lookups::start(global, "resolving")
    } else {
        None
    };
    let verify = if args.verify {
        Some(match &args.trusted_root {
            Some(path) => crate::sigstore::root_file(path)?,
            None => portcullis_trust::TrustRoot::production(),
        })
    } else {
        None
    };
    let report = check(ws, args.resolve, verify.as_ref(), progress.as_ref());
    if let Some(progress) = &progress {
        progress.clear();
    }
    let report = report?;
    let code = output.emit(&report, &root, &configs);
    crate::exit::left_at_exit(report);
    Ok(code)
}

/// The check of every group, merged into one report; the registry lookups of `--resolve`
/// drawn on `progress`; with `verify`, the signatures of the images a `[[trust.signer]]`
/// covers checked against that root.
pub fn check(
    ws: Workspace,
    resolve: bool,
    verify: Option<&portcullis_trust::TrustRoot>,
    progress: Option<&Arc<Lookups>>,
) -> anyhow::Result<Report> {
    let today = workspace::today()?;
    let runtime = if resolve || verify.is_some() {
        Some(workspace::runtime()?)
    } else {
        None
    };
    let mut report = Report::default();
    for group in ws.groups {
        let collected = group.collected;
        let mut facts = Facts {
            files: collected.files,
            not_checked: collected.not_checked.len(),
            subjects: workspace::subjects(collected.occurrences),
            problems: collected.problems,
            inline_comments: collected.inline_comments,
            help: HelpPaths {
                cwd: ws.root.cwd.clone(),
            },
            partial_tree: !group.config.covered_by(&group.paths),
            ..Facts::default()
        };
        let mut failures = Vec::new();
        if let (Some(runtime), Some(root)) = (&runtime, verify) {
            facts.signatures = Some(signatures(runtime, &group.config, &facts, root)?);
        }
        if let (Some(runtime), true) = (&runtime, resolve) {
            let images = facts
                .subjects
                .iter()
                .filter_map(|s| s.resolution.image().cloned())
                .collect();
            let client = crate::resolve::observed(crate::resolve::client(&group.config)?, progress);
            let (registry, failed) = crate::resolve::facts(runtime, &client, &images);
            facts.registry = Some(registry);
            failures = failed;
        }
        let mut part = portcullis_policy::evaluate(&group.config, &facts, today);
        part.failures.extend(failures);
        crate::exit::left_at_exit(facts);
        report = report.merge(part);
    }
    Ok(report)
}

/// What verification finds for each image a `[[trust.signer]]` covers, once per image.
fn signatures(
    runtime: &tokio::runtime::Runtime,
    config: &portcullis_policy::Config,
    facts: &Facts,
    root: &portcullis_trust::TrustRoot,
) -> anyhow::Result<
    std::collections::BTreeMap<portcullis_reference::ImageRef, portcullis_policy::SignatureFact>,
> {
    let client = crate::resolve::client(config)?;
    let covered: std::collections::BTreeSet<_> = facts
        .subjects
        .iter()
        .filter_map(|s| s.resolution.image())
        .filter(|image| !config.trust().signers_for(image).is_empty())
        .cloned()
        .collect();
    Ok(covered
        .into_iter()
        .map(|image| {
            let (_, fact) = runtime.block_on(crate::sign::signature_fact(&client, &image, root));
            (image, fact)
        })
        .collect())
}
