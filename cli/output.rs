//! The one output layer: renders a [`Report`] in every requested format (stdout and
//! files), prints notes, warnings and errors to stderr in one style, and reads the exit
//! code from the report. A closed stdout (`portcullis check | head -1`) stops output, never
//! the gate.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use portcullis_forge::Ci;
use portcullis_policy::{exit, Report, Severity};
use portcullis_report::{Format, RenderOptions};

use crate::args::{ColorChoice, Global, OutputArgs};
use crate::exit::UsageError;

/// One rendering of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    format: Format,
    /// `None`: stdout.
    path: Option<PathBuf>,
}

/// Where the report goes and how messages look.
#[derive(Debug)]
pub struct Output {
    targets: Vec<Target>,
    stdout_color: bool,
    messages: Messages,
    ci: Ci,
    links: Option<portcullis_report::SourceLinks>,
}

impl Output {
    /// From `--format FORMAT[=PATH]…` and `--output FILE`; `gitlab` means `gitlab` (this
    /// command's GitLab report). Default: human on stdout.
    pub fn new(global: &Global, args: &OutputArgs, gitlab: Format) -> Result<Self, UsageError> {
        let mut targets = Vec::new();
        for value in &args.format {
            let (name, path) = match value.split_once('=') {
                Some((name, path)) if !path.is_empty() => (name, Some(PathBuf::from(path))),
                Some((name, _)) => {
                    return Err(UsageError(format!(
                        "`--format {value}`: give a path after `=`, as in `{name}=report.out`"
                    )))
                }
                None => (value.as_str(), None),
            };
            let format = Format::from_name(name, gitlab).map_err(|e| UsageError(e.to_string()))?;
            targets.push(Target { format, path });
        }
        if targets.is_empty() {
            targets.push(Target {
                format: Format::Human,
                path: None,
            });
        }
        if let Some(output) = &args.output {
            let mut to_stdout = targets.iter_mut().filter(|t| t.path.is_none());
            match (to_stdout.next(), to_stdout.next()) {
                (Some(target), None) => target.path = Some(output.clone()),
                _ => {
                    return Err(UsageError(
                        "`--output` names one file: give one `--format` without `=PATH`".to_owned(),
                    ))
                }
            }
        }
        if targets.iter().filter(|t| t.path.is_none()).count() > 1 {
            return Err(UsageError(
                "only one format can go to stdout: write the others with `--format FORMAT=PATH`"
                    .to_owned(),
            ));
        }
        Ok(Self {
            targets,
            stdout_color: color(global.color, std::io::stdout().is_terminal()),
            messages: Messages::new(global),
            ci: Ci::detect(),
            links: None,
        })
    }

    /// Links each `file:line` of the Markdown to the file on the forge (`ci`).
    pub fn with_links(mut self, links: Option<portcullis_report::SourceLinks>) -> Self {
        self.links = links;
        self
    }

    /// Renders every target, prints the report's notes and failures, and returns the exit
    /// code the report decides (3 when a requested file could not be written and the report
    /// decided less).
    pub fn emit(&self, report: &Report, root: &Path, configs: &[(String, String)]) -> u8 {
        for note in &report.notes {
            self.messages.say(note.severity, &note.message);
        }
        for failure in &report.failures {
            let at = failure
                .location
                .as_ref()
                .map(|l| format!("{}:{}:{}: ", l.file, l.line, l.column))
                .unwrap_or_default();
            self.messages.error(&format!("{at}{}", failure.message));
        }
        let mut code = report.exit_code();
        let mut stdout = Stdout::default();
        for target in &self.targets {
            let options = RenderOptions {
                root,
                configs,
                color: target.path.is_none() && target.format == Format::Human && self.stdout_color,
                quiet: self.messages.quiet,
                version: env!("CARGO_PKG_VERSION"),
                generated: jiff::Timestamp::now(),
                links: self.links.as_ref(),
            };
            let render = |out: &mut dyn std::io::Write| {
                portcullis_report::render_to(report, target.format, &options, out)
            };
            match &target.path {
                None => stdout.write_with(render),
                Some(path) => {
                    if let Err(error) = portcullis_sources::write_atomic_with(path, render) {
                        self.messages
                            .error(&format!("cannot write `{}`: {error}", path.display()));
                        code = code.max(exit::RUNTIME);
                    }
                }
            }
        }
        let annotate = self.ci.wants_annotations()
            && self
                .targets
                .iter()
                .any(|t| t.path.is_some() || t.format == Format::Human);
        if annotate {
            stdout.write(portcullis_report::github_annotations(report).as_bytes());
        }
        stdout.flush();
        code
    }
}

/// stdout that stops at the first write error (a closed pipe) without failing the run.
#[derive(Default)]
struct Stdout {
    closed: bool,
}

impl Stdout {
    fn write(&mut self, bytes: &[u8]) {
        self.write_with(|out| out.write_all(bytes));
    }

    /// What `write` writes, as it writes it.
    fn write_with(&mut self, write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) {
        if self.closed {
            return;
        }
        let mut out = std::io::stdout().lock();
        if write(&mut out).is_err() {
            self.closed = true;
        }
    }

    fn flush(&mut self) {
        if !self.closed && std::io::stdout().lock().flush().is_err() {
            self.closed = true;
        }
    }
}

/// The one place that prints to stderr: `error: …`, `warning: …`, `note: …`. With `-q`
/// only errors.
#[derive(Debug, Clone)]
pub struct Messages {
    quiet: bool,
}

impl Messages {
    pub fn new(global: &Global) -> Self {
        Self {
            quiet: global.quiet,
        }
    }

    /// Prints `message` at `severity`.
    #[allow(clippy::print_stderr)]
    pub fn say(&self, severity: Severity, message: &str) {
        let label = match severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        if self.quiet && severity != Severity::Error {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{label}: {message}");
    }

    pub fn error(&self, message: &str) {
        self.say(Severity::Error, message);
    }

    /// A report as messages, for a command whose stdout is not the report (`pin`): each
    /// error finding and failure as `error: file:line:col: …`, then notes and warnings.
    pub fn report(&self, report: &Report) {
        let at = |location: Option<&portcullis_policy::Location>| {
            location
                .map(|l| format!("{}:{}:{}: ", l.file, l.line, l.column))
                .unwrap_or_default()
        };
        for finding in report.counted(Severity::Error) {
            self.error(&format!(
                "{}{}",
                at(finding.location.as_ref()),
                finding.message
            ));
        }
        for note in &report.notes {
            self.say(note.severity, &note.message);
        }
        for failure in &report.failures {
            self.error(&format!(
                "{}{}",
                at(failure.location.as_ref()),
                failure.message
            ));
        }
    }

    pub fn note(&self, message: &str) {
        self.say(Severity::Note, message);
    }
}

fn color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Whether to color what goes to stderr.
pub fn stderr_color(choice: ColorChoice) -> bool {
    color(choice, std::io::stderr().is_terminal())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(formats: &[&str], output: Option<&str>) -> Result<Vec<Target>, String> {
        let global = Global {
            config: None,
            color: ColorChoice::Never,
            quiet: false,
            verbose: 0,
            no_progress: true,
            timeout: None,
        };
        let args = OutputArgs {
            format: formats.iter().map(|f| (*f).to_owned()).collect(),
            output: output.map(PathBuf::from),
        };
        Output::new(&global, &args, Format::GitlabCodequality)
            .map(|o| o.targets)
            .map_err(|e| e.to_string())
    }

    fn to(format: Format, path: Option<&str>) -> Target {
        Target {
            format,
            path: path.map(PathBuf::from),
        }
    }

    #[test]
    fn formats_go_to_stdout_or_to_their_files() {
        assert_eq!(targets(&[], None), Ok(vec![to(Format::Human, None)]));
        assert_eq!(
            targets(&["human", "sarif=out.sarif", "gitlab=cq.json"], None),
            Ok(vec![
                to(Format::Human, None),
                to(Format::Sarif, Some("out.sarif")),
                to(Format::GitlabCodequality, Some("cq.json")),
            ])
        );
        assert_eq!(
            targets(&["json"], Some("r.json")),
            Ok(vec![to(Format::Json, Some("r.json"))])
        );
        assert_eq!(
            targets(&[], Some("r.txt")),
            Ok(vec![to(Format::Human, Some("r.txt"))])
        );
    }

    #[test]
    fn ambiguous_destinations_are_usage_errors() {
        let two = targets(&["json", "sarif"], None).unwrap_err();
        assert!(two.contains("only one format can go to stdout"), "{two}");
        let output = targets(&["json", "sarif"], Some("x")).unwrap_err();
        assert!(output.contains("`--output` names one file"), "{output}");
        let empty = targets(&["json="], None).unwrap_err();
        assert!(empty.contains("`--format json=`"), "{empty}");
        let unknown = targets(&["yaml"], None).unwrap_err();
        assert!(unknown.contains("`yaml`"), "{unknown}");
    }
}
