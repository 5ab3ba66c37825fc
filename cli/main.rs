//! The `portcullis` binary: parses the command line, wires the library crates together,
//! picks the output and maps the outcome to the documented exit codes. No domain logic.

mod args;
mod blob;
mod check;
mod ci;
mod exit;
mod init;
mod mirror;
mod output;
mod pin;
mod pin_mirror;
mod progress;
mod promote;
mod resolve;
mod scan;
mod sign;
mod sigstore;
mod stale;
mod workspace;

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

/// mimalloc: parsing thousands of files on several threads is allocation-bound, and the
/// system allocator's free-list work showed as a quarter of `check`'s time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::args::{Cli, Command};
use crate::output::Messages;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.global);
    if let Some(seconds) = cli.global.timeout {
        deadline(&cli.global, seconds);
    }
    let outcome = match &cli.command {
        Command::Check(args) => check::run(&cli.global, args),
        Command::Pin(args) => pin::run(&cli.global, args),
        Command::Scan(args) => scan::run(&cli.global, args),
        Command::Mirror(args) => mirror::run(&cli.global, args),
        Command::Promote(args) => promote::run(&cli.global, args),
        Command::Stale(args) => stale::run(&cli.global, args),
        Command::SignBlob(args) => blob::sign_blob(&cli.global, args),
        Command::VerifyBlob(args) => blob::verify_blob(&cli.global, args),
        Command::Ci(args) => ci::run(&cli.global, args),
        Command::Sign(args) => sign::sign(&cli.global, args),
        Command::Attest(args) => sign::attest(&cli.global, args),
        Command::Verify(args) => sign::verify(&cli.global, args),
        Command::Init(args) => init::run(&cli.global, args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "portcullis", &mut out);
            let _ = std::io::stdout().lock().write_all(&out);
            Ok(portcullis_policy::exit::PASSED)
        }
    };
    let code = match outcome {
        Ok(code) => code,
        Err(error) => {
            let mut message = error.to_string();
            for cause in error.chain().skip(1) {
                let _ = write!(message, "\n  caused by: {cause}");
            }
            Messages::new(&cli.global).error(&message);
            exit::classify(&error)
        }
    };
    ExitCode::from(code)
}

/// Ends the process with exit code 3 once `seconds` have passed. Files are only ever
/// replaced atomically, so stopping at any point leaves no half-written file.
#[allow(clippy::exit)]
fn deadline(global: &args::Global, seconds: u64) {
    let messages = Messages::new(global);
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(seconds));
        messages.error(&format!(
            "the run took longer than `--timeout {seconds}` seconds; stopped"
        ));
        std::process::exit(i32::from(portcullis_policy::exit::RUNTIME));
    });
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
        .with_ansi(output::stderr_color(global.color))
        .try_init();
}
