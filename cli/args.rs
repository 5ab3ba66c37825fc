//! Command-line arguments (clap derive). Every command's `--help` carries an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Supply-chain gate for container builds: image allowlists, digest pins, scans, signatures.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 passed (warnings allowed), 1 policy violations, \
2 usage or configuration error, 3 runtime failure (network, registry, scanner)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Policy file (default: `portcullis.toml` found by walking up from the checked path).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// When to color output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Less output (only errors).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More output (`-v` info, `-vv` debug); `RUST_LOG` also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Never show progress bars.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Stop the whole run after this many seconds (exit 3): a gate in CI must not wait on
    /// a registry or scanner for ever.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Where reports go: `--format FORMAT[=PATH]` (repeatable) and `--output FILE`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: human, json, sarif, markdown, junit, gitlab (this command's GitLab
    /// report), gitlab-codequality, gitlab-container-scanning. `FORMAT=PATH` writes that
    /// format to PATH; repeat to write several in one run.
    #[arg(short = 'f', long, value_name = "FORMAT[=PATH]")]
    pub format: Vec<String>,
    /// Write the (single) report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every image reference against the policy.
    #[command(
        after_help = "Examples:\n  portcullis check\n  portcullis check examples/monorepo --format json\n  \
portcullis check . --resolve -f human -f sarif=portcullis.sarif"
    )]
    Check(CheckArgs),
    /// Pin image references to digests in place (`name:tag` → `name:tag@sha256:…`).
    #[command(
        after_help = "Examples:\n  portcullis pin\n  portcullis pin services/web/Dockerfile\n  \
portcullis pin --check   # print a diff, exit 1 if anything would change\n  \
portcullis pin --mirror  # pin, and pull what [[mirror]] copies from the mirror"
    )]
    Pin(PinArgs),
    /// Run scanner hooks (or read their reports) and gate on vulnerabilities.
    #[command(
        after_help = "Examples:\n  portcullis scan ghcr.io/acme/api:1.4.2 --hook trivy --hook grype\n  \
portcullis scan ghcr.io/acme/api@sha256:… --report trivy.json --format gitlab --output gl-container-scanning-report.json\n  \
portcullis scan ghcr.io/acme/api:1.4.2 --hook syft --sbom-out sbom.cdx.json --predicate-out vuln.json"
    )]
    Scan(ScanArgs),
    /// Copy the images of `[[mirror]]` into a private registry: every platform, signatures
    /// and attestations included, digests unchanged, and only what the policy admits.
    #[command(
        after_help = "Examples:\n  portcullis mirror --dry-run\n  portcullis mirror\n  \
portcullis mirror --config mirror.toml --format json --output mirror.json"
    )]
    Mirror(MirrorArgs),
    /// Write a commented portcullis.toml to start from.
    #[command(after_help = "Example:\n  portcullis init && portcullis check")]
    Init(InitArgs),
    /// Print shell completions.
    #[command(
        after_help = "Example:\n  portcullis completions bash > /etc/bash_completion.d/portcullis"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Options shared by the commands that read sources.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Files or directories to check (default: the current directory).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Skip paths matching this glob (gitignore syntax); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Override a Dockerfile `ARG` default: `NAME=VALUE`; repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Ask the registries: report pinned digests that no longer exist or that the tag left.
    #[arg(long)]
    pub resolve: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformPinsArg {
    /// Keep a reference pinned to a platform manifest on the same platform.
    Keep,
    /// Always pin the index (multi-platform) digest.
    Index,
}

#[derive(Debug, Args)]
pub struct PinArgs {
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Change nothing: print a unified diff and exit 1 if anything would change.
    #[arg(long)]
    pub check: bool,
    /// What to do with references pinned to a platform manifest.
    #[arg(long, value_enum, default_value_t = PlatformPinsArg::Keep)]
    pub platform_pins: PlatformPinsArg,
    /// Point references that a `[[mirror]]` entry covers at the mirror (same tag, same
    /// digest), once the mirror is seen to hold that digest.
    #[arg(long)]
    pub mirror: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the file.
    #[arg(default_value = "portcullis.toml")]
    pub path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// Print what would be copied and what the policy refuses; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Move a target tag that points at another digest (refused by default).
    #[arg(long)]
    pub allow_retag: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The image to scan (or that `--report` files are about).
    pub image: String,
    /// Scanner hook to run: `trivy`, `grype`, `syft` or a `[[scan.hook]]` name; repeatable.
    /// Default: `[scan] hooks` from the policy, unless `--report` is given.
    #[arg(long, value_name = "NAME")]
    pub hook: Vec<String>,
    /// Gate on a report made earlier (Trivy/Grype JSON, SARIF, or a VEX document); repeatable.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<PathBuf>,
    /// A Dockerfile (or compose file, manifest, directory) that references the image: its
    /// findings point at that line in every report (SARIF, code quality, ...); repeatable.
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Vec<PathBuf>,
    /// Apply a VEX document (`OpenVEX` or `CycloneDX` VEX); repeatable.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Lowest severity that fails the gate, overriding `[scan] fail-on`: critical, high,
    /// medium, low or none (any case).
    #[arg(long, value_name = "LEVEL", value_parser = fail_on)]
    pub fail_on: Option<portcullis_policy::FailOn>,
    /// Only vulnerabilities with a fix fail the gate (overrides `[scan] only-fixed`).
    #[arg(long)]
    pub only_fixed: bool,
    /// Seconds each hook may run before it is killed (default: the hook's own, 600).
    /// `--timeout` bounds the whole run.
    #[arg(long = "hook-timeout", value_name = "SECONDS")]
    pub hook_timeout: Option<u64>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Write the result as a cosign vuln v1 predicate (for `attest --type vuln`).
    #[arg(long, value_name = "FILE")]
    pub predicate_out: Option<PathBuf>,
    /// Write the SBOM of the `syft` hook.
    #[arg(long, value_name = "FILE")]
    pub sbom_out: Option<PathBuf>,
    /// SBOM standard for the `syft` hook: `cyclonedx` or `spdx`.
    #[arg(long, default_value = "cyclonedx", value_parser = ["cyclonedx", "spdx"])]
    pub sbom_format: String,
}

/// `--fail-on LEVEL`, in any case.
fn fail_on(text: &str) -> Result<portcullis_policy::FailOn, String> {
    portcullis_policy::FailOn::parse_level(text)
        .ok_or_else(|| format!("`{text}` is not a level: use critical, high, medium, low or none"))
}
