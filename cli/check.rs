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
    let report = check(ws, args.resolve, progress.as_ref());
    if let Some(progress) = &progress {
        progress.clear();
    }
    let report = report?;
    let code = output.emit(&report, &root, &configs);
    crate::exit::left_at_exit(report);
    Ok(code)
}

/// The check of every group, merged into one report; the registry lookups of `--resolve`
/// drawn on `progress`.
pub fn check(
    ws: Workspace,
    resolve: bool,
    progress: Option<&Arc<Lookups>>,
) -> anyhow::Result<Report> {
    let today = workspace::today()?;
    let runtime = if resolve {
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
        if let Some(runtime) = &runtime {
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
