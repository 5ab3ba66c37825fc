//! The `HookProgress` observer with real hook processes: each hook's start, its stderr
//! lines as they arrive (before it ends), and its end, for a hook that succeeds and one
//! that fails.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_scan::{
    run_hooks_observed, HookCommand, HookProgress, HookRun, HookSpec, ScanError, ScanTarget,
};

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn events(&self, hook: &str) -> Vec<String> {
        let prefix = format!("{hook} ");
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|event| event.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }
}

impl HookProgress for Recorder {
    fn started(&self, hook: &str) {
        self.0.lock().unwrap().push(format!("{hook} started"));
    }

    fn stderr_line(&self, hook: &str, line: &str) {
        self.0.lock().unwrap().push(format!("{hook} stderr {line}"));
    }

    fn finished(&self, hook: &str, outcome: Result<&HookRun, &ScanError>) {
        let how = match outcome {
            Ok(run) => format!("ok {:?}", run.exit_code),
            Err(_) => "failed".to_owned(),
        };
        self.0
            .lock()
            .unwrap()
            .push(format!("{hook} finished {how}"));
    }
}

fn shell(name: &str, script: &str) -> HookSpec {
    let mut hook = HookSpec::custom(
        name,
        HookCommand::Argv(vec!["sh".into(), "-c".into(), script.into()]),
        None,
    );
    hook.timeout = Duration::from_secs(20);
    hook
}

#[test]
fn hooks_report_start_stderr_lines_and_end() {
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/alpine-310.json");
    let scanner = shell(
        "db-scanner",
        &format!(
            "printf 'Downloading vulnerability DB\\n 42%%\\r100%%\\n' >&2; cat '{}'; printf 'done' >&2",
            report.display()
        ),
    );
    let broken = shell("broken", "echo 'cannot reach the database' >&2; exit 4");
    let recorder = Arc::new(Recorder::default());
    let progress: Arc<dyn HookProgress> = recorder.clone();
    let result = run_hooks_observed(
        &ScanTarget::new("docker.io/library/alpine:3.10"),
        &[scanner, broken],
        &progress,
    );
    assert!(
        matches!(result, Err(ScanError::HookFailed { .. })),
        "{result:?}"
    );

    assert_eq!(
        recorder.events("db-scanner"),
        [
            "started",
            "stderr Downloading vulnerability DB",
            "stderr  42%",
            "stderr 100%",
            "stderr done",
            "finished ok Some(0)",
        ]
    );
    assert_eq!(
        recorder.events("broken"),
        [
            "started",
            "stderr cannot reach the database",
            "finished failed"
        ]
    );
}

/// Creates its file once the hook's first stderr line arrives.
struct Toucher(std::path::PathBuf);
impl HookProgress for Toucher {
    fn stderr_line(&self, _: &str, line: &str) {
        if line == "updating database" {
            std::fs::write(&self.0, "").unwrap();
        }
    }
}

#[test]
fn a_stderr_line_arrives_while_the_hook_still_runs() {
    // The hook waits until its first line has been seen: without lines as they arrive it
    // would run into its timeout.
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    let mut hook = shell(
        "slow",
        &format!(
            "echo 'updating database' >&2; while [ ! -e '{}' ]; do sleep 0.05; done; echo '{{}}'",
            seen.display()
        ),
    );
    hook.timeout = Duration::from_secs(10);

    let progress: Arc<dyn HookProgress> = Arc::new(Toucher(seen.clone()));
    let result = run_hooks_observed(&ScanTarget::new("alpine:3.20"), &[hook], &progress);
    assert!(
        !matches!(result, Err(ScanError::Timeout { .. })),
        "the line reached the observer only at the end: {result:?}"
    );
    assert!(seen.exists());
}
