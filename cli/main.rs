//! The `portcullis` binary: parses the command line, wires the library crates together,
//! picks the output and maps the outcome to the documented exit codes. No domain logic.

mod args;
mod check;
mod exit;
mod init;
mod pin;
mod resolve;
mod scan;
mod workspace;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc: parsing thousands of files on several threads is allocation-bound, and the
/// system allocator's free-list work showed as a quarter of `check`'s time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::args::{Cli, Command};
use crate::exit::Outcome;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.global);
    let outcome = match &cli.command {
        Command::Check(args) => check::run(&cli.global, args),
        Command::Pin(args) => pin::run(&cli.global, args),
        Command::Scan(args) => scan::run(&cli.global, args),
        Command::Init(args) => init::run(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout();
            clap_complete::generate(*shell, &mut cmd, "portcullis", &mut out);
            Ok(Outcome::Passed)
        }
    };
    let code = match outcome {
        Ok(outcome) => outcome.code(),
        Err(error) => {
            let code = exit::classify(&error);
            if !exit::is_broken_pipe(&error) {
                report_error(&error);
            }
            code
        }
    };
    ExitCode::from(code)
}

/// Prints an error and its causes to stderr.
#[allow(clippy::print_stderr)]
fn report_error(error: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {error}");
    for cause in error.chain().skip(1) {
        let _ = writeln!(stderr, "  caused by: {cause}");
    }
}

fn init_tracing(global: &args::Global) {
    use tracing_subscriber::EnvFilter;
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(exit::stderr_color(global.color))
        .try_init();
}
