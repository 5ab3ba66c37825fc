//! `portcullis ci`: the one entry point the GitHub Action and the GitLab template run. It
//! reads the CI environment, runs `check` (and `scan` of `--image`), signs and attests the
//! image on the default branch or a tag, merges the reports into one, publishes it (the
//! sticky pull/merge request comment, the job summary, the step outputs) and exits with the
//! gate's code.

use std::path::{Path, PathBuf};

use portcullis_forge::comment::{publish, Forge, Outcome};
use portcullis_forge::env::CiEnv;
use portcullis_forge::StepOutputs;
use portcullis_policy::{Note, Report};
use portcullis_report::{Format, RenderOptions};

use crate::args::{CiArgs, Global, OutputArgs, ScanArgs, SourceArgs};
use crate::output::Output;
use crate::workspace;

pub fn run(global: &Global, args: &CiArgs) -> anyhow::Result<u8> {
    let env = CiEnv::detect().map_err(crate::sigstore::usage)?;
    let output = Output::new(global, &args.output, Format::GitlabCodequality)?
        .with_links(env.source_links());
    let changed = changed_paths(args, &env)?;
    let sources = SourceArgs {
        paths: changed.clone().unwrap_or_default(),
        exclude: Vec::new(),
        build_args: Vec::new(),
    };
    let ws = workspace::Workspace::load(global.config.as_deref(), &sources)?;
    let root = ws.root.clone();
    let configs = ws.configs();
    let mut report = if changed.as_ref().is_some_and(Vec::is_empty) {
        // The change touches no file that still exists: nothing to check.
        Report::default()
    } else {
        crate::check::check(ws, false, None, None)?
    };
    if let (Some(image), false) = (&args.image, args.no_scan) {
        let config = workspace::policy_here(&root, global.config.as_deref())?;
        let scan_args = ScanArgs {
            image: image.clone(),
            hook: Vec::new(),
            report: Vec::new(),
            dockerfile: Vec::new(),
            vex: Vec::new(),
            fail_on: None,
            only_fixed: false,
            hook_timeout: None,
            output: OutputArgs {
                format: Vec::new(),
                output: None,
            },
            predicate_out: None,
            sbom_out: None,
            sbom_format: "cyclonedx".to_owned(),
        };
        let scanned = crate::scan::scan(&root, &config, &scan_args, global.verbose > 0, None)?;
        report = report.merge(scanned);
    }
    let mut signed_digest = None;
    if let Some(image) = &args.image {
        let release = env.is_release();
        if release && !args.no_sign && report.exit_code() == 0 {
            let (digest, notes) =
                crate::sign::sign_in_ci(global, &args.signing, image, !args.no_attest)?;
            signed_digest = Some(digest);
            report.notes.extend(notes);
        } else if !release && !args.no_sign {
            report.notes.push(Note::info(
                "not signed: only a run on the default branch or for a tag signs".to_owned(),
            ));
        }
    }
    report.finish();
    publish_everywhere(
        global,
        &env,
        args,
        &report,
        (&root.dir, &configs),
        signed_digest.as_deref(),
    );
    let code = output.emit(&report, &root.dir, &configs);
    Ok(code)
}

/// `--changed-only`: the files the pull/merge request changes (`Some(empty)`: none that
/// still exist); `None`: the whole repository.
fn changed_paths(args: &CiArgs, env: &CiEnv) -> anyhow::Result<Option<Vec<PathBuf>>> {
    match (&env.base_branch, args.changed_only) {
        (Some(base), true) => portcullis_forge::changes::changed_files(Path::new("."), base)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("`--changed-only`: {e}")),
        _ => Ok(None),
    }
}

/// The comment, the job summary and the step outputs; each failure is a warning, never
/// the gate's decision.
fn publish_everywhere(
    global: &Global,
    env: &CiEnv,
    args: &CiArgs,
    report: &Report,
    (root, configs): (&Path, &[(String, String)]),
    signed_digest: Option<&str>,
) {
    let links = env.source_links();
    let options = RenderOptions {
        root,
        configs,
        color: false,
        quiet: false,
        version: env!("CARGO_PKG_VERSION"),
        generated: jiff::Timestamp::now(),
        links: links.as_ref(),
    };
    let markdown = portcullis_report::render(report, Format::Markdown, &options);
    let messages = crate::output::Messages::new(global);
    if !args.no_comment && env.change.is_some() {
        match comment(env, &args.comment_key, &markdown) {
            Ok(line) => messages.say(portcullis_policy::Severity::Note, &line),
            Err(line) => messages.say(portcullis_policy::Severity::Warning, &line),
        }
    }
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        // The summary holds far more than a comment: rendered again for the room it has.
        let written = portcullis_forge::summary::room(Path::new(&path)).and_then(|room| {
            let text = portcullis_report::markdown_with_limit(report, &options, room);
            portcullis_forge::summary::append(Path::new(&path), &text)
        });
        if let Err(error) = written {
            cannot_write(&path, &error, &messages);
        }
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT") {
        let outputs = StepOutputs::new(report, signed_digest);
        if let Err(error) = outputs.append(Path::new(&path)) {
            cannot_write(&path, &error, &messages);
        }
    }
}

fn cannot_write(
    path: &std::ffi::OsStr,
    error: &std::io::Error,
    messages: &crate::output::Messages,
) {
    messages.say(
        portcullis_policy::Severity::Warning,
        &format!("cannot write `{}`: {error}", Path::new(path).display()),
    );
}

/// Publishes the sticky comment; the line to say about it.
fn comment(env: &CiEnv, key: &str, body: &str) -> Result<String, String> {
    let rt = crate::sigstore::runtime().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let (forge, change) =
            Forge::from_env(env).map_err(|e| format!("no pull request comment: {e}"))?;
        match publish(&forge, change, key, body).await {
            Ok(Outcome::Published(published)) => Ok(format!(
                "pull request comment {:?} (id {})",
                published.action, published.id
            )),
            Ok(Outcome::Degraded { reason }) => Err(format!(
                "no pull request comment: {reason}; the report is still in the job log, summary and report files"
            )),
            Err(error) => Err(format!("no pull request comment: {error}")),
        }
    })
}
