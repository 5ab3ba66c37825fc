//! `portcullis check`: parse sources, optionally ask registries, evaluate, render.

use std::collections::BTreeSet;
use std::io::Write as _;

use anyhow::Context as _;
use portcullis_policy::Facts;
use portcullis_report::{Format, RenderOptions};
use portcullis_sources::Resolution;

use crate::args::{CheckArgs, Global, OutputFormat};
use crate::exit::{self, Outcome};
use crate::workspace::{self, Workspace};

pub fn run(global: &Global, args: &CheckArgs) -> anyhow::Result<Outcome> {
    let ws = Workspace::load(&args.sources)?;
    let config = workspace::load_config(global.config.as_deref(), &args.sources.paths, &ws.root)?;
    let bad_input = workspace::print_problems(&ws.scan.problems);

    let mut facts = Facts {
        files: ws.scan.files,
        occurrences: ws.scan.occurrences.clone(),
        command_root: workspace::command_root(&ws.root),
        ..Facts::default()
    };
    let mut runtime_failure = false;
    if args.resolve {
        let images: BTreeSet<_> = ws
            .scan
            .occurrences
            .iter()
            .filter_map(|o| match &o.resolution {
                Resolution::Image(image) => Some(image.clone()),
                Resolution::Unresolved { .. } => None,
            })
            .collect();
        let client = crate::resolve::client(&config)?;
        let (registry, failed) = crate::resolve::facts(&client, &images)?;
        facts.registry = Some(registry);
        runtime_failure = failed;
    }

    let report = portcullis_policy::evaluate(&config, &facts, workspace::today()?);
    let format = match args.format {
        OutputFormat::Human => Format::Human,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Markdown => Format::Markdown,
        OutputFormat::Junit => Format::Junit,
        OutputFormat::Gitlab => Format::GitlabCodequality,
    };
    let config_name = config.name().to_owned();
    let to_terminal = args.output.is_none();
    let options = RenderOptions {
        root: &ws.root,
        config: Some((config_name.as_str(), config.source.as_str())),
        color: to_terminal && format == Format::Human && exit::stdout_color(global.color),
        version: env!("CARGO_PKG_VERSION"),
    };
    let rendered = portcullis_report::render(&report, format, &options);
    let mut stdout = std::io::stdout().lock();
    if let Some(path) = &args.output {
        workspace::write_atomic(path, rendered.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    } else {
        stdout.write_all(rendered.as_bytes())?;
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
        && (args.output.is_some() || format == Format::Human)
    {
        stdout.write_all(portcullis_report::github_annotations(&report).as_bytes())?;
    }
    stdout.flush()?;

    Ok(if bad_input {
        Outcome::BadInput
    } else if runtime_failure {
        Outcome::RuntimeFailure
    } else if report.exit_code() != 0 {
        Outcome::Violations
    } else {
        Outcome::Passed
    })
}
