//! Progress on a terminal: registry lookups of `pin` and `check --resolve` as one bar with
//! the registry being asked and the rate, and each scanner hook of `scan` as a spinner with
//! its elapsed time and last stderr line. Drawn on stderr only (stdout carries reports),
//! never with `--no-progress`, when stderr is not a terminal, or under CI; always cleared
//! before the command's own messages. The library crates only report to these observers.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use portcullis_reference::ImageRef;
use portcullis_registry::RegistryError;
use portcullis_scan::{HookRun, ScanError};

use crate::args::Global;

/// How often spinners and elapsed times redraw.
const TICK: Duration = Duration::from_millis(100);

/// Whether progress is drawn: not with `--no-progress` or `-q`, only when stderr is a
/// terminal, never under CI.
pub fn wanted(global: &Global) -> bool {
    !global.no_progress
        && !global.quiet
        && std::io::stderr().is_terminal()
        && !portcullis_forge::Ci::under_ci()
}

/// The registry lookups of one command, as one bar: done/total, references per second, and
/// the registry being asked.
#[derive(Debug)]
pub struct Lookups {
    bar: ProgressBar,
}

impl Lookups {
    /// A bar for `what` (`pinning`, `resolving`) when progress is wanted.
    pub fn start(global: &Global, what: &str) -> Option<Arc<Self>> {
        if !wanted(global) {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} {prefix} {pos}/{len} references ({rate}) {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1} references/s", state.per_sec());
            },
        );
        bar.set_style(style);
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(TICK);
        Some(Arc::new(Self { bar }))
    }

    /// Clears the bar (before the command prints its messages).
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

impl portcullis_registry::Progress for Lookups {
    fn queued(&self, count: usize) {
        self.bar.inc_length(count as u64);
    }

    fn started(&self, image: &ImageRef) {
        self.bar
            .set_message(format!("asking {} for {image}", image.registry()));
    }

    fn finished(&self, _: &ImageRef, _: Option<&RegistryError>) {
        self.bar.inc(1);
    }
}

/// The copies of `mirror`, as one bar: images done/total, the bytes read from the sources
/// so far, and the image being copied.
#[derive(Debug)]
pub struct Copies {
    bar: ProgressBar,
}

impl Copies {
    /// A bar when progress is wanted.
    pub fn start(global: &Global) -> Option<Arc<Self>> {
        if !wanted(global) {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} mirroring {pos}/{len} images, {prefix} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix("0.0 MB");
        bar.enable_steady_tick(TICK);
        Some(Arc::new(Self { bar }))
    }

    /// The blob bytes read so far, over every image.
    pub fn bytes(&self, bytes: u64) {
        #[allow(clippy::cast_precision_loss)]
        self.bar
            .set_prefix(format!("{:.1} MB", bytes as f64 / 1_000_000.0));
    }

    /// Clears the bar (before the command prints its messages).
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

impl portcullis_registry::Progress for Copies {
    fn queued(&self, count: usize) {
        self.bar.inc_length(count as u64);
    }

    fn started(&self, image: &ImageRef) {
        self.bar.set_message(format!("copying {image}"));
    }

    fn finished(&self, _: &ImageRef, _: Option<&RegistryError>) {
        self.bar.inc(1);
    }
}

/// The scanner hooks of `scan`, one spinner each: the hook, its elapsed time and the last
/// line it wrote to stderr.
#[derive(Debug)]
pub struct Hooks {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Hooks {
    /// The spinners when progress is wanted.
    pub fn start(global: &Global) -> Option<Arc<Self>> {
        wanted(global).then(|| {
            Arc::new(Self {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
            })
        })
    }

    /// Clears every spinner (before the command prints its messages).
    pub fn clear(&self) {
        for bar in self.bars().values() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }

    fn bars(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.bars.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bar(&self, hook: &str) -> Option<ProgressBar> {
        self.bars().get(hook).cloned()
    }
}

impl portcullis_scan::HookProgress for Hooks {
    fn started(&self, hook: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template("{spinner} hook `{prefix}` {elapsed} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(hook.to_owned());
        bar.set_message("running");
        bar.enable_steady_tick(TICK);
        self.bars().insert(hook.to_owned(), bar);
    }

    fn stderr_line(&self, hook: &str, line: &str) {
        if let Some(bar) = self.bar(hook) {
            bar.set_message(line.to_owned());
        }
    }

    fn finished(&self, hook: &str, outcome: Result<&HookRun, &ScanError>) {
        if let Some(bar) = self.bar(hook) {
            bar.finish_with_message(match outcome {
                Ok(_) => "done",
                Err(_) => "failed",
            });
        }
    }
}
