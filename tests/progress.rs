//! Progress on a terminal, through the built binary under a pseudo-terminal (`script` from
//! util-linux): `pin` and `check --resolve` draw registry lookups with the registry asked
//! and the rate, `scan` draws each hook with its last stderr line; nothing is drawn with
//! `--no-progress`, under CI or when stderr is piped; stdout never carries any of it; and
//! the progress is cleared before the command's own messages.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{assert_exit, run_in, stderr};
use portcullis_testkit::{Auth, ImageSpec, Registry};

/// Clears the terminal line: what indicatif writes when it redraws or clears.
const CLEAR_LINE: &str = "\x1b[2K";

/// `portcullis ARGS` in `dir` with stderr (and stdin) on a pseudo-terminal and stdout in
/// `stdout_file`; returns what the terminal showed (exit code in the output's status).
fn on_terminal(dir: &Path, args: &str, env: &[(&str, &str)], stdout_file: &str) -> Output {
    let command = format!(
        "{} {args} > {stdout_file}",
        env!("CARGO_BIN_EXE_portcullis")
    );
    let mut script = Command::new("script");
    script
        .current_dir(dir)
        .args(["-qec", &command, "/dev/null"])
        .env("PORTCULLIS_TODAY", "2026-11-27")
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    for name in [
        "CI",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "JENKINS_URL",
        "TF_BUILD",
        "TEAMCITY_VERSION",
        "RUST_LOG",
    ] {
        script.env_remove(name);
    }
    script.envs(env.iter().copied());
    script.output().expect("`script` (util-linux) runs")
}

fn terminal(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The progress was cleared before the first line the command printed itself.
fn cleared_before(shown: &str, first_message: &str) {
    let message = shown
        .find(first_message)
        .unwrap_or_else(|| panic!("no `{first_message}` in:\n{shown:?}"));
    let last_clear = shown.rfind(CLEAR_LINE).expect("progress was drawn");
    assert!(
        last_clear < message,
        "progress drawn after the messages:\n{shown:?}"
    );
    let between = &shown[last_clear + CLEAR_LINE.len()..message];
    assert!(
        !between.contains("references") && !between.contains("hook `"),
        "progress left on screen before the messages:\n{shown:?}"
    );
}

fn repository() -> (Registry, tempfile::TempDir) {
    let registry = Registry::start(Auth::None).expect("registry starts");
    let spec = ImageSpec::new("linux", "amd64");
    for tag in ["1.0", "1.1", "1.2"] {
        registry.seed_image("team/app", tag, &spec).unwrap();
    }
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {host}/team/app:1.0 AS a\nFROM {host}/team/app:1.1 AS b\nFROM {host}/team/app:1.2\n"
        ),
    )
    .unwrap();
    (registry, dir)
}

#[test]
fn pin_shows_lookups_with_registry_and_rate_on_a_terminal_only() {
    let (registry, dir) = repository();
    let d = dir.path();

    let out = on_terminal(d, "pin --check", &[], "diff.out");
    assert_exit(&out, 1);
    let shown = terminal(&out);
    assert!(shown.contains("references/s"), "{shown:?}");
    assert!(shown.contains("/3 references"), "{shown:?}");
    assert!(
        shown.contains(&format!("asking {}", registry.host())),
        "{shown:?}"
    );
    cleared_before(&shown, "note: 3 reference(s) in 1 file(s) would be pinned");
    let diff = std::fs::read_to_string(d.join("diff.out")).unwrap();
    assert!(diff.contains("+FROM "), "{diff}");
    assert!(
        !diff.contains("references") && !diff.contains('\x1b') && !diff.contains('\r'),
        "progress in stdout:\n{diff:?}"
    );

    for (args, env) in [
        ("pin --check --no-progress", &[][..]),
        ("pin --check", &[("CI", "true")][..]),
        ("pin --check", &[("GITLAB_CI", "true")][..]),
    ] {
        let out = on_terminal(d, args, env, "diff.out");
        assert_exit(&out, 1);
        let shown = terminal(&out);
        assert!(
            !shown.contains("references") && !shown.contains(CLEAR_LINE),
            "`{args}` with {env:?} drew progress:\n{shown:?}"
        );
        assert!(shown.contains("would be pinned"), "{shown:?}");
    }

    // Piped: stderr is no terminal.
    let out = run_in(d, &["pin"]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("references"), "{}", stderr(&out));
    assert!(stderr(&out).contains("pinned 3 reference(s)"));
}

#[test]
fn check_resolve_shows_lookups_and_keeps_stdout_a_clean_report() {
    let (registry, dir) = repository();
    let d = dir.path();
    let out = on_terminal(d, "check --resolve -f json", &[], "report.json");
    assert_exit(&out, 1);
    let shown = terminal(&out);
    assert!(shown.contains("resolving"), "{shown:?}");
    assert!(
        shown.contains(&format!("asking {}", registry.host())),
        "{shown:?}"
    );
    assert!(shown.contains("references/s"), "{shown:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("report.json")).unwrap())
            .expect("stdout is the JSON report alone");
    assert_eq!(report["summary"]["images"], 3);

    // Without `--resolve` nothing is looked up, so nothing is drawn.
    let out = on_terminal(d, "check -f json", &[], "report.json");
    assert!(
        !terminal(&out).contains("references"),
        "{:?}",
        terminal(&out)
    );
}

#[test]
fn scan_shows_each_hook_with_its_last_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let report = common::repo_root().join("crates/scan/tests/data/alpine-310.json");
    std::fs::write(
        d.join("portcullis.toml"),
        format!(
            "[scan]\nhooks = [\"db\"]\n\n[[scan.hook]]\nname = \"db\"\ncommand = \"echo 'Downloading vulnerability DB 42%' >&2; sleep 0.4; cat '{}'; echo 'exit soon' >&2; exit 3\"\nformat = \"trivy-json\"\n",
            report.display()
        ),
    )
    .unwrap();
    let image = "ghcr.io/aquasecurity/trivy-test-images:alpine-310";

    let out = on_terminal(d, &format!("scan {image} -f json"), &[], "scan.json");
    let shown = terminal(&out);
    assert!(shown.contains("hook `db`"), "{shown:?}");
    assert!(
        shown.contains("Downloading vulnerability DB 42%"),
        "{shown:?}"
    );
    // The hook's non-zero exit is a note printed after the spinner is gone.
    cleared_before(&shown, "note: hook `db` exited with 3");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("scan.json")).unwrap())
            .expect("stdout is the JSON report alone");
    assert!(report["findings"].is_array());

    let out = on_terminal(
        d,
        &format!("scan {image} -f json --no-progress"),
        &[],
        "scan.json",
    );
    let shown = terminal(&out);
    assert!(!shown.contains(CLEAR_LINE), "{shown:?}");
    assert!(
        shown.starts_with("note: hook `db` exited with 3"),
        "{shown:?}"
    );
}
