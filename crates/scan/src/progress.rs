//! Progress of the hooks of a scan, for a caller that shows it: each hook's start, the
//! lines it writes to stderr as they arrive (a scanner downloading its vulnerability
//! database says so there), and its end. This crate prints nothing itself.

use std::sync::Arc;

use crate::{HookRun, ScanError};

/// Told about each hook of [`crate::run_observed`] and [`crate::run_hooks_observed`].
/// Hooks run in parallel threads, so it must be `Send + Sync`; every method has an empty
/// default.
pub trait HookProgress: Send + Sync {
    /// The hook named `hook` is starting.
    fn started(&self, hook: &str) {
        let _ = hook;
    }
    /// The hook wrote `line` to stderr (without its line ending; a carriage return ends a
    /// line too, as progress bars redraw with one). Very long lines are cut short.
    fn stderr_line(&self, hook: &str, line: &str) {
        let _ = (hook, line);
    }
    /// The hook ended, with its run or why it failed.
    fn finished(&self, hook: &str, outcome: Result<&HookRun, &ScanError>) {
        let _ = (hook, outcome);
    }
}

/// An observer that is told nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl HookProgress for NoProgress {}

/// The longest stderr line passed on; the rest of it is dropped.
const MAX_LINE: usize = 1024;

/// Splits stderr chunks into lines for [`HookProgress::stderr_line`], holding at most
/// [`MAX_LINE`] bytes of an unfinished line.
pub(crate) struct Lines {
    hook: String,
    progress: Arc<dyn HookProgress>,
    partial: Vec<u8>,
}

impl Lines {
    pub(crate) fn new(hook: &str, progress: Arc<dyn HookProgress>) -> Self {
        Self {
            hook: hook.to_owned(),
            progress,
            partial: Vec::new(),
        }
    }

    /// Takes in a chunk of stderr, passing on every line it completes.
    pub(crate) fn push(&mut self, data: &[u8]) {
        for &byte in data {
            if byte == b'\n' || byte == b'\r' {
                self.emit();
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(byte);
            }
        }
    }

    /// Passes on what is left of the last line, at the end of the output.
    pub(crate) fn end(&mut self) {
        self.emit();
    }

    fn emit(&mut self) {
        let line = String::from_utf8_lossy(&self.partial);
        let line = line.trim_end();
        if !line.trim().is_empty() {
            self.progress.stderr_line(&self.hook, line);
        }
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl HookProgress for Seen {
        fn stderr_line(&self, hook: &str, line: &str) {
            self.0.lock().unwrap().push(format!("{hook}: {line}"));
        }
    }

    #[test]
    fn chunks_become_lines_at_newlines_and_carriage_returns() {
        let seen = Arc::new(Seen::default());
        let mut lines = Lines::new("trivy", seen.clone());
        lines.push(b"Downloading DB");
        lines.push(b"...\n  10%\r  55%\r\n\nScanning ima");
        lines.push(b"ge\n");
        lines.push(b"tail without newline");
        lines.end();
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "trivy: Downloading DB...",
                "trivy:   10%",
                "trivy:   55%",
                "trivy: Scanning image",
                "trivy: tail without newline",
            ]
        );
    }

    #[test]
    fn an_endless_line_is_cut_short_in_bounded_memory() {
        let seen = Arc::new(Seen::default());
        let mut lines = Lines::new("h", seen.clone());
        for _ in 0..1000 {
            lines.push(&[b'x'; 4096]);
            assert!(lines.partial.len() <= MAX_LINE);
        }
        lines.push(b"\nnext\n");
        let seen = seen.0.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].len(), "h: ".len() + MAX_LINE);
        assert_eq!(seen[1], "h: next");
    }
}
