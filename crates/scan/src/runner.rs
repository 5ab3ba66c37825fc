//! Running scanner hooks: one process group per hook, stdout captured as the report,
//! stderr kept (truncated) for the report, a hard timeout that kills the whole group, and
//! several hooks in parallel threads with their findings merged.
//!
//! The scanner's exit code never decides the gate: a parseable report is used whatever the
//! exit code (Grype exits 2 on its own `--fail-on`, Trivy on `--exit-code`). A non-zero exit
//! without a usable report is [`ScanError::HookFailed`], quoting the first stderr line.

use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use wait_timeout::ChildExt;

use crate::error::excerpt;
use crate::hook::{install_hint, program_name, Prepared};
use crate::progress::{HookProgress, Lines, NoProgress};
use crate::{
    merge, parse_document, Document, Format, HookSpec, ReportedImage, Sbom, ScanError, ScanResult,
    ScannerInfo, Vulnerability,
};

/// The largest report a hook may print or a `--report` file may hold: far above real
/// reports (a 50 MB Trivy report is already unusual), far below what would exhaust memory.
pub const MAX_REPORT_BYTES: u64 = 512 * 1024 * 1024;

/// How much of a hook's stderr is kept (head and tail each).
const STDERR_KEEP: usize = 4096;
/// How long to wait for output pipes to close after the hook's process group is gone.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The image a scan is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    /// The image reference passed to the scanners (`{image}`), normalized.
    pub image: String,
    /// Its manifest digest (`{digest}`), when known.
    pub digest: Option<String>,
}

impl ScanTarget {
    /// A target for `image`; the digest is taken from an `@sha256:` suffix when present.
    #[must_use]
    pub fn new(image: &str) -> Self {
        let digest = image
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .filter(|d| d.contains(':'));
        Self {
            image: image.to_owned(),
            digest,
        }
    }
}

/// What a hook produced.
#[derive(Debug, Clone, PartialEq)]
pub enum HookOutput {
    /// A vulnerability report.
    Report {
        /// Its format.
        format: Format,
        /// The scanner named in the report (`trivy`, `grype`, SARIF driver).
        scanner: String,
        /// Findings as the scanner listed them (before merging).
        vulnerabilities: Vec<Vulnerability>,
        /// The image the report says it is about.
        image: Option<ReportedImage>,
    },
    /// An SBOM, validated, bytes as produced.
    Sbom(Sbom),
    /// VEX statements (a hook may fetch a VEX document).
    Vex(Vec<crate::VexStatement>),
}

/// One finished hook run.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRun {
    /// The hook's name.
    pub hook: String,
    /// The command that ran (after placeholder substitution).
    pub argv: Vec<String>,
    /// Exit code; `None` when ended by a signal.
    pub exit_code: Option<i32>,
    /// Wall time.
    pub duration: Duration,
    /// stderr, truncated to its first and last 4 KiB.
    pub stderr: String,
    /// stdout as produced (the raw report, for the vuln predicate's `scanner.result`).
    pub report: Vec<u8>,
    /// The parsed output.
    pub output: HookOutput,
}

impl HookRun {
    /// Scanner name/version/database read from the raw report, for [`crate::vuln_predicate`].
    #[must_use]
    pub fn scanner_info(&self) -> ScannerInfo {
        ScannerInfo::from_report(&self.report)
    }
}

/// Everything a scan produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    /// Merged findings of every report-producing hook.
    pub result: ScanResult,
    /// Each hook's run, in the order the hooks were given.
    pub runs: Vec<HookRun>,
}

impl ScanOutcome {
    /// The SBOMs produced by SBOM hooks, with the hook name.
    pub fn sboms(&self) -> impl Iterator<Item = (&str, &Sbom)> {
        self.runs.iter().filter_map(|r| match &r.output {
            HookOutput::Sbom(sbom) => Some((r.hook.as_str(), sbom)),
            _ => None,
        })
    }
}

/// Runs every hook in parallel against `target` and merges their findings.
/// The first failing hook (in the given order) is the error.
pub fn run_hooks(target: &ScanTarget, hooks: &[HookSpec]) -> Result<ScanOutcome, ScanError> {
    run_hooks_observed(
        target,
        hooks,
        &(Arc::new(NoProgress) as Arc<dyn HookProgress>),
    )
}

/// [`run_hooks`], telling `progress` when each hook starts, each line it writes to
/// stderr, and when it ends.
pub fn run_hooks_observed(
    target: &ScanTarget,
    hooks: &[HookSpec],
    progress: &Arc<dyn HookProgress>,
) -> Result<ScanOutcome, ScanError> {
    let results: Vec<Result<HookRun, ScanError>> = thread::scope(|scope| {
        let handles: Vec<_> = hooks
            .iter()
            .map(|hook| {
                scope.spawn(move || {
                    progress.started(&hook.name);
                    let result = run_hook_with(hook, target, Some(progress));
                    progress.finished(&hook.name, result.as_ref());
                    result
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(hooks)
            .map(|(h, hook)| {
                h.join().unwrap_or_else(|_| {
                    Err(ScanError::InvalidHook {
                        hook: hook.name.clone(),
                        reason: "runner thread panicked".to_owned(),
                    })
                })
            })
            .collect()
    });
    let mut runs = Vec::with_capacity(results.len());
    for result in results {
        runs.push(result?);
    }
    let mut scanners = Vec::new();
    let mut all = Vec::new();
    for run in &runs {
        if let HookOutput::Report {
            scanner,
            vulnerabilities,
            ..
        } = &run.output
        {
            crate::util::push_unique(&mut scanners, scanner);
            all.extend(vulnerabilities.iter().cloned());
        }
    }
    let result = ScanResult {
        image: target.image.clone(),
        scanners,
        vulnerabilities: merge(all),
        ..ScanResult::default()
    };
    Ok(ScanOutcome { result, runs })
}

/// Runs one hook against `target` and parses its output.
pub fn run_hook(hook: &HookSpec, target: &ScanTarget) -> Result<HookRun, ScanError> {
    run_hook_with(hook, target, None)
}

/// [`run_hook`], passing each stderr line to `progress` as it arrives.
fn run_hook_with(
    hook: &HookSpec,
    target: &ScanTarget,
    progress: Option<&Arc<dyn HookProgress>>,
) -> Result<HookRun, ScanError> {
    let prepared = hook.prepare(&target.image, target.digest.as_deref())?;
    let mut argv = vec![prepared.program.clone()];
    argv.extend(prepared.args.iter().cloned());
    tracing::debug!(hook = %hook.name, ?argv, "running scanner hook");
    let started = Instant::now();
    let mut child = spawn(hook, &prepared)?;
    let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let (stdout_rx, stdout_buffer) = drain_report(child.stdout.take(), MAX_REPORT_BYTES);
    let lines = progress.map(|progress| Lines::new(&hook.name, Arc::clone(progress)));
    let stderr_rx = drain(child.stderr.take(), STDERR_KEEP, lines);
    let status = child.wait_timeout(hook.timeout);
    // The hook is done (or timed out): nothing it started may outlive it.
    let _ = killpg(group, Signal::SIGKILL);
    let timeout = || ScanError::Timeout {
        hook: hook.name.clone(),
        timeout: hook.timeout,
    };
    let status = status.map_err(|error| ScanError::Spawn {
        hook: hook.name.clone(),
        program: prepared.program.clone(),
        error,
    })?;
    let Some(status) = status else {
        let _ = child.wait();
        return Err(timeout());
    };
    // The hook has exited. Something it started outside its process group (`setsid`) may
    // still hold stdout open: after a short grace, what arrived is what the hook printed.
    let held_open = match stdout_rx.recv_timeout(DRAIN_GRACE) {
        Ok(Ok(())) => false,
        Ok(Err(limit)) => {
            return Err(ScanError::ReportTooLarge {
                source_name: format!("output of hook `{}`", hook.name),
                limit,
            })
        }
        Err(_) => true,
    };
    let stdout = std::mem::take(
        &mut *stdout_buffer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let stderr = stderr_rx
        .recv_timeout(DRAIN_GRACE)
        .map(|s| s.text())
        .unwrap_or_default();
    let duration = started.elapsed();
    let output = interpret(hook, &prepared.program, status, &stdout, &stderr).map_err(|error| {
        if held_open {
            ScanError::StdoutHeldOpen {
                hook: hook.name.clone(),
                error: Box::new(error),
            }
        } else {
            error
        }
    })?;
    if held_open {
        tracing::warn!(hook = %hook.name, "the hook exited while something it started kept its stdout open; used what it printed");
    }
    Ok(HookRun {
        hook: hook.name.clone(),
        argv,
        exit_code: status.code(),
        duration,
        stderr,
        report: stdout,
        output,
    })
}

/// Starts the hook in its own process group, stdin closed, stdout/stderr piped.
///
/// A hook script written just before the run (by a wrapper, or by another thread of the
/// same process) can still be open for writing in a child that was forked but has not yet
/// exec'd; the kernel then refuses to run it ("Text file busy"). That window is
/// microseconds long, so the start is retried a few times before it counts as a failure.
fn spawn(hook: &HookSpec, prepared: &Prepared) -> Result<Child, ScanError> {
    const BUSY_RETRIES: u32 = 20;
    let mut attempt = 0;
    loop {
        let started = Command::new(&prepared.program)
            .args(&prepared.args)
            .envs(prepared.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        match started {
            Err(error)
                if error.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && attempt < BUSY_RETRIES =>
            {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(5 * u64::from(attempt)));
            }
            other => return other.map_err(|error| spawn_error(hook, prepared, error)),
        }
    }
}

fn spawn_error(hook: &HookSpec, prepared: &Prepared, error: std::io::Error) -> ScanError {
    if error.kind() == std::io::ErrorKind::NotFound {
        ScanError::MissingBinary {
            hook: hook.name.clone(),
            program: prepared.program.clone(),
            install_hint: install_hint(&prepared.program),
        }
    } else {
        ScanError::Spawn {
            hook: hook.name.clone(),
            program: prepared.program.clone(),
            error,
        }
    }
}

/// Parses what the hook printed; the exit code only matters when the output is unusable.
fn interpret(
    hook: &HookSpec,
    program: &str,
    status: ExitStatus,
    stdout: &[u8],
    stderr: &str,
) -> Result<HookOutput, ScanError> {
    let failed = || ScanError::HookFailed {
        hook: hook.name.clone(),
        code: status.code(),
        stderr_first_line: excerpt(
            stderr
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("(no stderr)"),
            200,
        ),
    };
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(if status.success() {
            ScanError::NoReport {
                hook: hook.name.clone(),
                program: program_name(program).to_owned(),
            }
        } else {
            failed()
        });
    }
    let source_name = format!("output of hook `{}`", hook.name);
    match parse_document(&source_name, stdout, hook.format) {
        Ok(Document::Report {
            format,
            scanner,
            vulnerabilities,
            image,
        }) => Ok(HookOutput::Report {
            format,
            scanner,
            vulnerabilities,
            image,
        }),
        Ok(Document::Vex(statements)) => Ok(HookOutput::Vex(statements)),
        Ok(Document::Sbom(_)) => Ok(HookOutput::Sbom(Sbom::validate(
            &source_name,
            stdout.to_vec(),
        )?)),
        Err(error) if status.success() => Err(error),
        Err(_) => Err(failed()),
    }
}

/// Captured output of one pipe: everything, or the head and tail when `keep` is smaller.
struct Captured {
    bytes: Vec<u8>,
    tail: Vec<u8>,
    dropped: usize,
}

impl Captured {
    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.dropped > 0 {
            let _ = write!(text, "\n… ({} bytes omitted) …\n", self.dropped);
        }
        text.push_str(&String::from_utf8_lossy(&self.tail));
        text
    }
}

/// Reads a hook's report from its stdout, at most `limit` bytes: past that it stops reading
/// and closes the pipe (so the hook gets `SIGPIPE`), and the result is the limit it hit.
/// Memory never grows past the limit, whatever the hook prints.
/// The bytes arrive in the shared buffer as they are read, so a caller that stops waiting
/// (the hook exited but a child holds the pipe) still has what was printed.
#[allow(clippy::type_complexity)]
fn drain_report<R: Read + Send + 'static>(
    pipe: Option<R>,
    limit: u64,
) -> (
    mpsc::Receiver<Result<(), u64>>,
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    let (tx, rx) = mpsc::channel();
    // Reserved up front so the buffer never doubles past the limit; untouched pages cost
    // nothing.
    let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::with_capacity(
        usize::try_from(limit + 1).unwrap_or(usize::MAX),
    )));
    let shared = std::sync::Arc::clone(&buffer);
    thread::spawn(move || {
        let mut result = Ok(());
        pump(pipe, |data| {
            let mut bytes = shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if bytes.len() as u64 + data.len() as u64 > limit {
                result = Err(limit);
                return false;
            }
            bytes.extend_from_slice(data);
            true
        });
        let _ = tx.send(result);
    });
    (rx, buffer)
}

/// Reads `pipe` to its end in chunks, handing each to `each` until it returns `false`.
fn pump<R: Read>(pipe: Option<R>, mut each: impl FnMut(&[u8]) -> bool) {
    let Some(mut pipe) = pipe else {
        return;
    };
    let mut chunk = vec![0_u8; 64 * 1024];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !each(&chunk[..n]) {
                    return;
                }
            }
        }
    }
}

/// Keeps the head and tail of `pipe` (`keep` bytes each), passing its lines to `lines` as
/// they arrive.
fn drain<R: Read + Send + 'static>(
    pipe: Option<R>,
    keep: usize,
    mut lines: Option<Lines>,
) -> mpsc::Receiver<Captured> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut captured = Captured {
            bytes: Vec::new(),
            tail: Vec::new(),
            dropped: 0,
        };
        pump(pipe, |data| {
            if let Some(lines) = &mut lines {
                lines.push(data);
            }
            let n = data.len();
            let room = keep.saturating_sub(captured.bytes.len());
            captured.bytes.extend_from_slice(&data[..room.min(n)]);
            if room < n {
                captured.tail.extend_from_slice(&data[room.min(n)..]);
                if captured.tail.len() > keep {
                    let excess = captured.tail.len() - keep;
                    captured.tail.drain(..excess);
                    captured.dropped += excess;
                }
            }
            true
        });
        if let Some(lines) = &mut lines {
            lines.end();
        }
        let _ = tx.send(captured);
    });
    rx
}
