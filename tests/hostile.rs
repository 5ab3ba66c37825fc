//! What a hostile repository can make portcullis wait on or spend: each test runs the built
//! binary on input built to hang or blow up, and fails on the code before the fix.

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::{assert_exit, portcullis, run_in, stderr};

/// Runs the built binary in `dir` under `/usr/bin/time`, returning its output and peak
/// resident memory in KB.
fn run_measured(dir: &std::path::Path, args: &[&str]) -> (std::process::Output, u64) {
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "max-rss-kb %M"])
        .arg(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PORTCULLIS_TODAY", "2026-11-27")
        .output()
        .unwrap();
    let rss_kb = stderr(&out)
        .lines()
        .find_map(|l| l.strip_prefix("max-rss-kb ").map(str::to_owned))
        .and_then(|v| v.trim().parse().ok())
        .expect("/usr/bin/time reports the peak");
    (out, rss_kb)
}

/// A registry on loopback that accepts connections and never answers.
fn silent_registry() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    host
}

/// Human output rescanned the file for every finding: 20k findings in one file took 12 s
/// against 0.4 s for JSON.
#[test]
fn human_output_of_many_findings_in_one_file_is_linear() {
    let dir = tempfile::tempdir().unwrap();
    let body = "FROM nginx:1.27\n".repeat(20_000);
    std::fs::write(dir.path().join("Dockerfile"), body).unwrap();
    let timed = |format: &str| {
        let started = Instant::now();
        let out = run_in(dir.path(), &["check", "-f", format, "-o", "/dev/null"]);
        assert_exit(&out, 1);
        started.elapsed()
    };
    let json = timed("json");
    let human = timed("human");
    // Within 2× of JSON, with a second of slack for a busy machine.
    assert!(
        human <= json * 2 + Duration::from_secs(1),
        "human {human:?} vs json {json:?}"
    );
}

/// An explicitly named FIFO blocked `check` and `pin` forever.
#[cfg(unix)]
#[test]
fn a_named_fifo_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("Dockerfile");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for command in ["check", "pin"] {
        let mut child = portcullis()
            .current_dir(dir.path())
            .args([command, "Dockerfile"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(20) {
                child.kill().unwrap();
                panic!("`{command}` blocked on the FIFO");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains('`') && stderr(&out).contains("not a regular file"),
            "{}",
            stderr(&out)
        );
    }
    // `--config` naming a device says what it is, not that it "does not exist".
    let out = run_in(dir.path(), &["check", "--config", "/dev/zero"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("`/dev/zero` is not a regular file"),
        "{}",
        stderr(&out)
    );
}

/// A `Dockerfile` symlinked to `build/base.txt` holding `FROM evil…` was skipped: "checked 0
/// files", exit 0.
#[cfg(unix)]
#[test]
fn symlinked_sources_are_checked_and_links_out_of_the_tree_fail_closed() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("build")).unwrap();
    std::fs::write(
        repo.join("build/base.txt"),
        "FROM evil.example.com/x:latest\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("build/base.txt", repo.join("Dockerfile")).unwrap();
    let out = run_in(&repo, &["check", "--format", "json"]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["files"], 1);
    assert_eq!(report["images"][0]["image"], "evil.example.com/x:latest");

    std::fs::write(dir.path().join("elsewhere"), "FROM evil.example.com/y:1\n").unwrap();
    std::os::unix::fs::symlink("../elsewhere", repo.join("Containerfile")).unwrap();
    let out = run_in(&repo, &["check", "--format", "json"]);
    assert_exit(&out, 2);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outside = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "file-invalid")
        .expect("a file-invalid finding for the link");
    let message = outside["message"].as_str().unwrap();
    assert!(
        message.contains("`Containerfile`") && message.contains("`../elsewhere`"),
        "{message}"
    );
}

/// A chain of 17 `<<` merges hid the image (`services.web: {<<: *m17}` → 0 images, exit
/// 0); a chain past the parser's bound must refuse the file, not drop what it holds.
#[test]
fn deep_merge_chains_are_resolved_or_the_file_is_refused() {
    let chain = |levels: usize| {
        let mut text = String::from("x-0: &m0 {image: evil.example.com/x:1}\n");
        for i in 1..=levels {
            let _ = writeln!(text, "x-{i}: &m{i} {{<<: *m{}}}", i - 1);
        }
        let _ = writeln!(text, "services:\n  web: {{<<: *m{levels}}}");
        text
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), chain(17)).unwrap();
    let out = run_in(dir.path(), &["check", "--format", "json"]);
    assert_exit(&out, 1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["images"][0]["image"], "evil.example.com/x:1");

    std::fs::write(dir.path().join("compose.yaml"), chain(300)).unwrap();
    let out = run_in(dir.path(), &["check", "--format", "json"]);
    assert_exit(&out, 2);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["rule"], "file-invalid");
    assert!(report["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("merge keys chain deeper than"));
}

/// A hook printing only whitespace exited 2 (usage) although the scanner failed (3).
#[test]
fn a_hook_that_prints_no_report_is_a_scanner_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        "[[scan.hook]]\nname = \"blank\"\ncommand = \"echo '   '\"\nformat = \"trivy-json\"\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["scan", "app:1", "--hook", "blank"]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("`blank`") && stderr(&out).contains("printed no report"),
        "{}",
        stderr(&out)
    );
}

/// A hook printing without end (`yes`) grew to gigabytes; `--report /dev/zero` grew at
/// 1.8 GB/s. Both now stop at the report limit, in bounded memory and time.
#[test]
fn endless_scanner_output_is_cut_off_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        "[[scan.hook]]\nname = \"endless\"\ncommand = [\"yes\"]\nformat = \"trivy-json\"\ntimeout = \"120s\"\n",
    )
    .unwrap();
    let started = Instant::now();
    let (out, rss_kb) = run_measured(dir.path(), &["scan", "app:1", "--hook", "endless"]);
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("`endless`") && err.contains("limit"), "{err}");
    // The limit is 512 MiB; generous margins for the allocator and a slow machine.
    assert!(rss_kb < 1_200_000, "peak {rss_kb} KB");
    assert!(elapsed < Duration::from_secs(90), "took {elapsed:?}");

    let out = run_in(dir.path(), &["scan", "app:1", "--report", "/dev/zero"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}

/// A hook that exits 0 with a valid report while a detached (`setsid`) child keeps stdout
/// open failed as "timed out".
#[test]
fn a_detached_child_holding_stdout_does_not_lose_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = common::repo_root().join("crates/scan/tests/data/npm-with-suppressed.json");
    let script = dir.path().join("scanner.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nsetsid sleep 30 &\ncat '{}'\nexit 0\n",
            report.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        format!(
            "[scan]\nfail-on = \"none\"\n[[scan.hook]]\nname = \"detaching\"\ncommand = [\"{}\"]\nformat = \"trivy-json\"\ntimeout = \"60s\"\n",
            script.display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = run_in(
        dir.path(),
        &["scan", "app:1", "--hook", "detaching", "-f", "json"],
    );
    assert_exit(&out, 0);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report["scans"][0]["vulnerabilities"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// A hanging registry cost 154 s per reference, serially; three references 464 s.
#[test]
fn a_registry_that_never_answers_costs_seconds_and_one_message() {
    let host = silent_registry();
    let dir = tempfile::tempdir().unwrap();
    let digest = format!("sha256:{}", "a".repeat(64));
    let mut body = String::new();
    for name in ["a", "b", "c"] {
        let _ = writeln!(body, "FROM {host}/{name}:1@{digest}");
    }
    std::fs::write(dir.path().join("Dockerfile"), body).unwrap();
    let started = Instant::now();
    let out = run_in(dir.path(), &["check", "--resolve", "-f", "json"]);
    let elapsed = started.elapsed();
    assert_exit(&out, 3);
    assert!(elapsed < Duration::from_mins(1), "took {elapsed:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(
        stderr(&out).matches("error:").count(),
        1,
        "{}",
        stderr(&out)
    );
}

/// No overall deadline: a run could wait on a registry or a scanner for as long as they
/// liked. `--timeout` bounds the whole run.
#[test]
fn timeout_bounds_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        "[[scan.hook]]\nname = \"slow\"\ncommand = \"sleep 60\"\nformat = \"trivy-json\"\ntimeout = \"120s\"\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = run_in(
        dir.path(),
        &["scan", "app:1", "--hook", "slow", "--timeout", "2"],
    );
    assert_exit(&out, 3);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr(&out).contains("`--timeout 2`"), "{}", stderr(&out));
}

/// Serves canned HTTP answers on loopback, keeping every request head it receives.
fn canned(
    answer: impl Fn(&str, &str) -> String + Send + Sync + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&seen);
    let me = host.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => head.push(byte[0]),
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            kept.lock().unwrap().push(text.clone());
            let _ = stream.write_all(answer(&me, &text).as_bytes());
        }
    });
    (host, seen)
}

/// Docker credentials for `host` in a fresh `DOCKER_CONFIG` directory.
fn docker_config(dir: &std::path::Path, host: &str, user: &str, pass: &str) -> std::path::PathBuf {
    use base64::Engine as _;
    let config = dir.join("docker");
    std::fs::create_dir_all(&config).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    std::fs::write(
        config.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    config
}

/// After a cross-origin 307, the target's own challenge was answered with the registry's
/// credentials.
#[test]
fn a_redirect_target_never_receives_the_registrys_credentials() {
    const CANARY: &str = "canary-e2e-5c1d";
    let (target, target_seen) = canned(|me, _| {
        format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{me}/token\",service=\"t\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    });
    let (registry, registry_seen) = canned(move |_, head| {
        if head.starts_with("GET /v2/ ") {
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"r\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        } else {
            let path = head.split(' ').nth(1).unwrap_or("/");
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{target}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = docker_config(dir.path(), &registry, "ci", CANARY);
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {registry}/app:1\n"),
    )
    .unwrap();
    let out = portcullis()
        .current_dir(dir.path())
        .env("DOCKER_CONFIG", &config)
        .args(["check", "--resolve", "-f", "json", "-v"])
        .output()
        .unwrap();
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("asked for credentials after a redirect"),
        "{err}"
    );
    assert!(!err.contains(CANARY) && !stdout_text(&out).contains(CANARY));
    let target_heads = target_seen.lock().unwrap().join("\n");
    assert!(!target_heads.is_empty(), "the redirect was followed");
    assert!(
        !target_heads.to_ascii_lowercase().contains("authorization"),
        "{target_heads}"
    );
    assert!(
        registry_seen
            .lock()
            .unwrap()
            .iter()
            .any(|h| h.to_ascii_lowercase().contains("authorization: basic")),
        "the registry itself got its credentials"
    );
}

/// `pin` wrote a HEAD digest with an unexpected algorithm or a non-manifest
/// `Content-Type`.
#[test]
fn pin_writes_no_digest_from_a_head_answer_that_is_no_manifest() {
    let sha512 = format!("sha512:{}", "b".repeat(128));
    for (content_type, digest, says) in [
        (
            "text/html",
            format!("sha256:{}", "a".repeat(64)),
            "not a manifest media type",
        ),
        (
            "application/vnd.oci.image.index.v1+json",
            sha512.clone(),
            "is not `sha256`",
        ),
    ] {
        let (registry, _) = canned(move |_, head| {
            if head.starts_with("GET /v2/ ") {
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            } else {
                format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nDocker-Content-Digest: {digest}\r\nContent-Length: 10\r\nConnection: close\r\n\r\n")
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let text = format!("FROM {registry}/app:1\n");
        std::fs::write(dir.path().join("Dockerfile"), &text).unwrap();
        let out = run_in(dir.path(), &["pin"]);
        assert_exit(&out, 3);
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
            text
        );
    }
}

fn stdout_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A registry's own request timeout, `[registries."host"] timeout`, bounds each request.
#[test]
fn a_registry_timeout_in_the_policy_bounds_each_request() {
    let host = silent_registry();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("portcullis.toml"),
        format!("[registries.\"{host}\"]\ntimeout = \"1s\"\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {host}/a:1\n")).unwrap();
    let started = Instant::now();
    let out = run_in(dir.path(), &["check", "--resolve", "-f", "json"]);
    assert_exit(&out, 3);
    // Two one-second attempts and a backoff, against twenty seconds by default.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

/// A token answer was read whole before its 1 MiB check (a 1 GiB answer: 1.2 GB RSS).
#[test]
fn a_huge_token_answer_is_cut_off_at_its_limit() {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let me = host.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let me = me.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => head.push(byte[0]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                if text.starts_with("GET /token") {
                    // No length: the body runs until the connection closes, 400 MB of it.
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    let chunk = vec![b' '; 1 << 16];
                    for _ in 0..6400 {
                        if stream.write_all(&chunk).is_err() {
                            return;
                        }
                    }
                } else {
                    let answer = format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{me}/token\",service=\"s\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    let _ = stream.write_all(answer.as_bytes());
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), format!("FROM {host}/a:1\n")).unwrap();
    let (out, rss_kb) = run_measured(dir.path(), &["check", "--resolve", "-f", "json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("over 1 MiB"), "{err}");
    assert!(rss_kb < 150_000, "peak {rss_kb} KB");
}

/// `--predicate-out` files were 0600 whatever the umask, and an existing 0644 file became
/// 0600.
#[cfg(unix)]
#[test]
fn predicate_files_follow_the_umask_and_keep_an_existing_mode() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let report = common::repo_root().join("crates/scan/tests/data/npm-with-suppressed.json");
    let report = report.to_str().unwrap();
    let run = || {
        let out = run_in(
            dir.path(),
            &[
                "scan",
                "app:1",
                "--report",
                report,
                "--predicate-out",
                "vuln.json",
                "-q",
            ],
        );
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        std::fs::metadata(dir.path().join("vuln.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    let created = run();
    assert_eq!(created & 0o044, 0o044, "{created:o}");
    std::fs::set_permissions(
        dir.path().join("vuln.json"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    assert_eq!(run(), 0o640);
}
