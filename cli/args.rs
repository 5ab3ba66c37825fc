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

/// Where reports of `sign` and `attest` go: `-f`/`--report FORMAT[=PATH]` (there
/// `--format` names where the signature goes, as in cosign) and `--output FILE`.
#[derive(Debug, Args)]
pub struct SignOutputArgs {
    /// Report format, as `--format` of the other commands (`-f json`, `-f sarif=out.sarif`).
    #[arg(short = 'f', long = "report", value_name = "FORMAT[=PATH]")]
    pub report: Vec<String>,
    /// Write the (single) report to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl SignOutputArgs {
    /// The same choices as the other commands take them.
    #[must_use]
    pub fn output_args(&self) -> OutputArgs {
        OutputArgs {
            format: self.report.clone(),
            output: self.output.clone(),
        }
    }
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
    /// Promote a built image by digest into the registry production pulls from: the
    /// `[[promote]]` policy, the source's signature and the scan gate first, then a copy
    /// with every platform, signature and attestation, then a signature and a promotion
    /// record on the target. Nothing is written unless every check passes.
    #[command(
        after_help = "Examples:\n  portcullis promote staging.example.com/app@sha256:… registry.example.com/prod/app:1.4.2 --dry-run\n  \
portcullis promote staging.example.com/app@sha256:… registry.example.com/prod/app:1.4.2 --report trivy.json"
    )]
    Promote(PromoteArgs),
    /// Find images whose base moved, that are older than `[stale] max-age`, or (with
    /// `--scan`) that have fixable vulnerabilities, and with `--trigger` ask the forge to
    /// rebuild them.
    #[command(
        after_help = "Examples:\n  portcullis stale\n  portcullis stale --trigger --dry-run\n  \
portcullis stale --scan --trigger --format json --output stale.json"
    )]
    Stale(StaleArgs),
    /// Sign a file (keyless with an identity token, or with `--key`) into a Sigstore
    /// bundle v0.3.
    #[command(
        after_help = "Examples:\n  portcullis sign-blob dist/app.tar.gz --signing-config signing_config.json\n  \
portcullis sign-blob dist/app.tar.gz --key cosign.key --bundle app.sigstore.json"
    )]
    SignBlob(SignBlobArgs),
    /// Verify a file (or a digest) against a Sigstore bundle and a signer identity.
    #[command(
        after_help = "Example:\n  portcullis verify-blob app.whl --bundle app.whl.sigstore.json --offline \\\n    \
--certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1 \\\n    \
--certificate-oidc-issuer https://token.actions.githubusercontent.com"
    )]
    VerifyBlob(VerifyBlobArgs),
    /// The CI entry point (the GitHub Action and the GitLab template run it): check, scan
    /// `--image`, sign and attest it on the default branch or a tag, then the pull/merge
    /// request comment, the job summary and the step outputs.
    #[command(
        after_help = "Examples:\n  portcullis ci\n  portcullis ci --changed-only --image ghcr.io/acme/app@sha256:…"
    )]
    Ci(CiArgs),
    /// Sign an image by digest (keyless with an identity token, or with `--key`): a
    /// Sigstore bundle as an OCI 1.1 referrer, as cosign v3 writes it, read back and
    /// verified.
    #[command(
        after_help = "Examples:\n  portcullis sign ghcr.io/acme/app@sha256:… \n  \
portcullis sign ghcr.io/acme/app:1.0 --resolve-tag --format both"
    )]
    Sign(SignArgs),
    /// Attest an in-toto statement about an image by digest (SLSA provenance, vuln,
    /// `CycloneDX`, SPDX or any predicate type).
    #[command(
        after_help = "Examples:\n  portcullis attest ghcr.io/acme/app@sha256:… --type slsaprovenance --predicate auto\n  \
portcullis attest ghcr.io/acme/app@sha256:… --type cyclonedx --predicate sbom.json"
    )]
    Attest(AttestArgs),
    /// Verify the signatures (or attestations) of an image against a signer identity or
    /// the policy's `[[trust.signer]]` entries.
    #[command(
        after_help = "Examples:\n  portcullis verify ghcr.io/acme/app:1.0 \\\n    \
--certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main \\\n    \
--certificate-oidc-issuer https://token.actions.githubusercontent.com\n  \
portcullis verify ghcr.io/acme/app:1.0 --type slsaprovenance"
    )]
    Verify(VerifyArgs),
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
    /// Verify the signatures of every image a `[[trust.signer]]` covers
    /// (`signature-missing`, `signature-invalid`).
    #[arg(long)]
    pub verify: bool,
    /// With `--verify`: the trusted root (`trusted_root.json` or client trust config)
    /// instead of the embedded public-good one.
    #[arg(long, value_name = "FILE", requires = "verify")]
    pub trusted_root: Option<PathBuf>,
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
    /// The trusted root that signatures of `[[trust.signer]]`-covered sources are checked
    /// against (`trusted_root.json` or client trust config; default: the public-good one).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The image to promote, by digest: `registry/repository@sha256:…` (a tag alone is
    /// refused: it is never trusted).
    pub source: String,
    /// Where to: `registry/repository[:tag]` (the tag is written last; without one the
    /// source's tag, if any).
    pub target: String,
    /// Print the checks' results and what would be copied, signed and attested; write
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Move a target tag that points at another digest (refused by default).
    #[arg(long)]
    pub allow_retag: bool,
    /// Scanner hook to run on the source: `trivy`, `grype`, `syft` or a `[[scan.hook]]`
    /// name; repeatable. Default: `[scan] hooks` from the policy, unless `--report` is given.
    #[arg(long, value_name = "NAME")]
    pub hook: Vec<String>,
    /// Gate on a scanner report made earlier about the source (Trivy/Grype JSON, SARIF,
    /// or a VEX document); repeatable.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<PathBuf>,
    /// Apply a VEX document (`OpenVEX` or `CycloneDX` VEX); repeatable.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Lowest severity that fails the scan gate, overriding `[scan] fail-on`.
    #[arg(long, value_name = "LEVEL", value_parser = fail_on)]
    pub fail_on: Option<portcullis_policy::FailOn>,
    /// Only vulnerabilities with a fix fail the scan gate (overrides `[scan] only-fixed`).
    #[arg(long)]
    pub only_fixed: bool,
    /// How to sign the target; the trusted root (`--trusted-root`, `--trust-config`) is
    /// also what the source's signatures are verified against.
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct StaleArgs {
    /// Where `check` looks for the images `[stale] own` names, when `[stale] images` is not
    /// set.
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Ask the forge to rebuild each stale image (`[stale] trigger`).
    #[arg(long)]
    pub trigger: bool,
    /// With `--trigger`: print each request that would be sent, and send none.
    #[arg(long, requires = "trigger")]
    pub dry_run: bool,
    /// Also scan each image (`[scan] hooks`, or `--hook`/`--report`): vulnerabilities with
    /// a fix at or above `[scan] fail-on` make it stale.
    #[arg(long)]
    pub scan: bool,
    /// Scanner hook for `--scan`; repeatable.
    #[arg(long, value_name = "NAME", requires = "scan")]
    pub hook: Vec<String>,
    /// A scanner report for `--scan` (for one watched image); repeatable.
    #[arg(long, value_name = "FILE", requires = "scan")]
    pub report: Vec<PathBuf>,
    /// The least time between two rebuild requests, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub trigger_interval_ms: u64,
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

/// How to sign: keyless (an identity token; Fulcio and Rekor) or with a key.
#[derive(Debug, Args)]
pub struct SigningArgs {
    /// The OIDC identity token (default: `SIGSTORE_ID_TOKEN`, or GitHub Actions' token).
    #[arg(long, value_name = "TOKEN", conflicts_with = "identity_token_file")]
    pub identity_token: Option<String>,
    /// A file holding the OIDC identity token.
    #[arg(long, value_name = "FILE")]
    pub identity_token_file: Option<PathBuf>,
    /// Fulcio URL (with `--rekor-url`).
    #[arg(long, value_name = "URL", requires = "rekor_url")]
    pub fulcio_url: Option<String>,
    /// Rekor (v1 API) URL; with `--key`, logs the key-based signature there.
    #[arg(long, value_name = "URL")]
    pub rekor_url: Option<String>,
    /// A Sigstore signing config naming Fulcio and Rekor (default: the public-good
    /// instance's, embedded).
    #[arg(long, value_name = "FILE")]
    pub signing_config: Option<PathBuf>,
    /// A client trust config (trusted root and signing config).
    #[arg(long, value_name = "FILE")]
    pub trust_config: Option<PathBuf>,
    /// The trusted root a signature is checked against after it is written (default: the
    /// trust config's, else the public-good root).
    #[arg(long, value_name = "FILE", conflicts_with = "trust_config")]
    pub trusted_root: Option<PathBuf>,
    /// Sign with this PKCS#8 PEM ECDSA P-256 key instead of a Fulcio certificate.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// Whose signature to accept, and against which root.
#[derive(Debug, Args)]
pub struct IdentityArgs {
    /// The signer's identity (certificate SAN), exactly.
    #[arg(long, value_name = "IDENTITY")]
    pub certificate_identity: Option<String>,
    /// A regular expression the whole identity must match.
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_identity")]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
    /// A regular expression the whole issuer must match.
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_oidc_issuer")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Source repository (`owner/repo` or its URL), 1.3.6.1.4.1.57264.1.12.
    #[arg(long, value_name = "REPO")]
    pub certificate_github_workflow_repository: Option<String>,
    /// Source repository ref, 1.3.6.1.4.1.57264.1.14.
    #[arg(long, value_name = "REF")]
    pub certificate_github_workflow_ref: Option<String>,
    /// Source repository digest (commit), 1.3.6.1.4.1.57264.1.13.
    #[arg(long, value_name = "SHA")]
    pub certificate_github_workflow_sha: Option<String>,
    /// Build trigger (event), 1.3.6.1.4.1.57264.1.20.
    #[arg(long, value_name = "EVENT")]
    pub certificate_github_workflow_trigger: Option<String>,
    /// Build signer URI, 1.3.6.1.4.1.57264.1.9.
    #[arg(long, value_name = "URI")]
    pub certificate_build_signer_uri: Option<String>,
    /// Runner environment, 1.3.6.1.4.1.57264.1.11.
    #[arg(long, value_name = "ENV")]
    pub certificate_runner_environment: Option<String>,
    /// Verify a key-based signature with this PEM public key.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// With `--key`: accept a signature that has no transparency log entry.
    #[arg(long, requires = "key")]
    pub insecure_ignore_tlog: bool,
    /// A trusted root (`trusted_root.json` or client trust config) instead of the embedded one.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// A client trust config whose trusted root to use.
    #[arg(long, value_name = "FILE", conflicts_with = "trusted_root")]
    pub trust_config: Option<PathBuf>,
    /// No network I/O but to the registry (verification needs none: the root is embedded
    /// or given).
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct SignBlobArgs {
    /// The file to sign.
    pub file: PathBuf,
    /// Where to write the bundle (default: FILE.sigstore.json); written atomically.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct VerifyBlobArgs {
    /// The file to verify (or give `--digest`).
    #[arg(required_unless_present = "digest", conflicts_with = "digest")]
    pub file: Option<PathBuf>,
    /// The artifact's digest, `sha256:HEX`.
    #[arg(long, value_name = "DIGEST")]
    pub digest: Option<String>,
    /// The Sigstore bundle.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where a signature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    /// cosign v3: a Sigstore bundle as an OCI 1.1 referrer.
    Bundle,
    /// cosign v2: the `sha256-<hex>.sig` / `.att` tag.
    Legacy,
    /// Both.
    Both,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The image, by digest: `registry/repository@sha256:…` (a tag with `--resolve-tag`).
    pub image: String,
    /// Where the signature goes.
    #[arg(long, value_enum, default_value = "bundle")]
    pub format: LayoutArg,
    /// Sign what a tag names now (resolved once; that digest is signed).
    #[arg(long)]
    pub resolve_tag: bool,
    /// `key=value` annotations signed with the image (repeatable).
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE", value_parser = key_value)]
    pub annotations: Vec<(String, String)>,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub output: SignOutputArgs,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The image, by digest: `registry/repository@sha256:…` (a tag with `--resolve-tag`).
    pub image: String,
    /// The predicate type: `slsaprovenance`, `vuln`, `cyclonedx`, `spdx`, `custom` or a URI.
    #[arg(long = "type", value_name = "TYPE")]
    pub predicate_type: String,
    /// The predicate JSON file, or `auto` (`slsaprovenance` built from the CI environment).
    #[arg(long, value_name = "FILE")]
    pub predicate: String,
    /// Base images the build used (`image@sha256:…`, repeatable), for `--predicate auto`
    /// (default: the digest-pinned `FROM` images `check` finds under the current directory).
    #[arg(long = "base-image", value_name = "IMAGE")]
    pub base_images: Vec<String>,
    /// The largest predicate accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = portcullis_trust::statement::DEFAULT_MAX_PREDICATE_BYTES)]
    pub max_predicate_bytes: u64,
    /// Where the attestation goes.
    #[arg(long, value_enum, default_value = "bundle")]
    pub format: LayoutArg,
    /// Attest what a tag names now (resolved once).
    #[arg(long)]
    pub resolve_tag: bool,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub output: SignOutputArgs,
}

// Each flag switches one step of the run off, as the Action's inputs do: a flag each is
// what users type and what the Action passes.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args)]
pub struct CiArgs {
    /// The image this pipeline built: scanned, and on the default branch or a tag signed
    /// and attested (SLSA provenance).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// Check only the files the pull/merge request changes (against its base branch).
    #[arg(long)]
    pub changed_only: bool,
    /// Do not scan `--image`.
    #[arg(long)]
    pub no_scan: bool,
    /// Do not sign `--image` (on the default branch or a tag).
    #[arg(long)]
    pub no_sign: bool,
    /// Sign, but do not attest provenance.
    #[arg(long)]
    pub no_attest: bool,
    /// Do not post the pull/merge request comment.
    #[arg(long)]
    pub no_comment: bool,
    /// The key of the sticky comment (one comment per key and pull request).
    #[arg(long, value_name = "KEY", default_value = "portcullis")]
    pub comment_key: String,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The image (a tag is resolved once; its digest is verified).
    pub image: String,
    /// Verify attestations of this predicate type (`slsaprovenance`, `vuln`, …, a URI, or
    /// `any`) instead of signatures, and print their predicates.
    #[arg(long = "type", value_name = "TYPE")]
    pub predicate_type: Option<String>,
    /// Without identity flags, the `[[trust.signer]]` entries of the policy decide.
    #[command(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}
