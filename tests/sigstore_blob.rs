//! Keyless `sign-blob` and `verify-blob` end to end: the built binary against a local
//! Sigstore stack (OIDC issuer, Fulcio, Rekor) started per test, with sigstore-python as
//! the independent client that must read what portcullis writes and write what it reads.

mod common;

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_exit, portcullis, stderr, stdout};
use portcullis_testkit::sigstore::{Claims, RecordedRequest, Service, SigstoreStack};

/// The identity the stack certifies for `Claims::github("org/repo")`.
const WORKFLOW: &str = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main";

/// Variables that would hand portcullis a token or change its output.
const AMBIENT: [&str; 5] = [
    "SIGSTORE_ID_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
];

/// A stack, its trust files and a file to sign in a temporary directory.
struct Setup {
    stack: SigstoreStack,
    dir: tempfile::TempDir,
    trust_config: PathBuf,
    trusted_root: PathBuf,
    file: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let stack = SigstoreStack::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = stack.write_trust_files(&dir.path().join("trust")).unwrap();
        let file = dir.path().join("release.tar");
        std::fs::write(&file, b"portcullis release artifact\n").unwrap();
        Self {
            stack,
            dir,
            trust_config: files.trust_config,
            trusted_root: files.trusted_root,
            file,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn token(&self) -> String {
        self.stack.token(&Claims::github("org/repo")).unwrap()
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `portcullis ARGS` with `env` set and no ambient token variables.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = portcullis();
    for name in AMBIENT {
        cmd.env_remove(name);
    }
    cmd.args(args).envs(env.iter().copied());
    cmd.output().expect("run portcullis")
}

/// A token source: the arguments and the environment that give portcullis a token.
type Source<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);

fn text(out: &Output) -> String {
    stdout(out) + &stderr(out)
}

/// `sign-blob FILE --bundle BUNDLE --trust-config T` plus `extra`.
fn sign(setup: &Setup, bundle: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let args = [
        &[
            "sign-blob",
            s(&setup.file),
            "--bundle",
            s(bundle),
            "--trust-config",
            s(&setup.trust_config),
        ][..],
        extra,
    ]
    .concat();
    run(&args, env)
}

/// `verify-blob FILE --bundle BUNDLE --certificate-identity I --certificate-oidc-issuer U`
/// plus `extra` (which names the trusted root).
fn verify(file: &Path, bundle: &Path, identity: &str, issuer: &str, extra: &[&str]) -> Output {
    let args = [
        &[
            "verify-blob",
            s(file),
            "--bundle",
            s(bundle),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
        ][..],
        extra,
    ]
    .concat();
    run(&args, &[])
}

/// Requests the stack received after the first `since`.
fn new_requests(stack: &SigstoreStack, since: usize) -> Vec<RecordedRequest> {
    stack.requests().into_iter().skip(since).collect()
}

fn count(requests: &[RecordedRequest], service: Service) -> usize {
    requests.iter().filter(|r| r.service == service).count()
}

/// An HTTP endpoint shaped like GitHub's token endpoint that answers every request with
/// `{"value": token}`; returns its URL.
fn token_endpoint(token: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/token?api-version=2.0",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let body = serde_json::json!({ "count": 1, "value": token }).to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = reader.read(&mut [0; 1]);
        }
    });
    url
}

#[test]
fn keyless_sign_blob_with_each_token_source_then_verify_blob() {
    let setup = Setup::new();
    let token_file = setup.path("oidc-token");
    std::fs::write(&token_file, format!("{}\n", setup.token())).unwrap();
    let flag_token = setup.token();
    let env_token = setup.token();
    let token_url = setup.stack.token_url();
    let cases: [(&str, Source); 4] = [
        (
            "flag",
            (vec!["--identity-token", flag_token.as_str()], vec![]),
        ),
        (
            "variable",
            (vec![], vec![("SIGSTORE_ID_TOKEN", env_token.as_str())]),
        ),
        (
            "file",
            (vec!["--identity-token-file", s(&token_file)], vec![]),
        ),
        (
            "github",
            (
                vec![],
                vec![
                    ("GITHUB_ACTIONS", "true"),
                    ("ACTIONS_ID_TOKEN_REQUEST_URL", token_url.as_str()),
                    (
                        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                        setup.stack.request_token(),
                    ),
                ],
            ),
        ),
    ];
    for (index, (source, (args, env))) in cases.iter().enumerate() {
        let bundle = setup.path(&format!("{source}.sigstore.json"));
        let before = setup.stack.requests().len();
        let out = sign(&setup, &bundle, args, env);
        assert_exit(&out, 0);
        assert!(
            text(&out).contains(&format!("keyless, logged at index {index}")),
            "{source}: {}",
            text(&out)
        );
        // One certificate request and one log entry; the GitHub flow also asks the
        // token endpoint once.
        let requests = new_requests(&setup.stack, before);
        let fulcio: Vec<_> = requests
            .iter()
            .filter(|r| r.service == Service::Fulcio)
            .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
            .collect();
        assert_eq!(
            fulcio,
            [("POST", "/api/v2/signingCert", 201)],
            "{source}: {requests:?}"
        );
        let rekor: Vec<_> = requests
            .iter()
            .filter(|r| r.service == Service::Rekor)
            .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
            .collect();
        assert_eq!(
            rekor,
            [("POST", "/api/v1/log/entries", 201)],
            "{source}: {requests:?}"
        );
        let oidc = count(&requests, Service::Oidc);
        assert_eq!(
            oidc,
            usize::from(*source == "github"),
            "{source}: {requests:?}"
        );

        let issuer = setup.stack.issuer_url();
        for root in [
            ["--trust-config", s(&setup.trust_config)],
            ["--trusted-root", s(&setup.trusted_root)],
        ] {
            let out = verify(&setup.file, &bundle, WORKFLOW, issuer, &root);
            assert_exit(&out, 0);
            assert!(
                text(&out).contains(&format!("signed by `{WORKFLOW}` (issuer `{issuer}`)")),
                "{source}: {}",
                text(&out)
            );
        }
        // Verification asks no service anything.
        assert_eq!(setup.stack.requests().len(), before + requests.len());
    }
    assert_eq!(setup.stack.log_size(), 4);
}

/// Signs `setup.file` with a stack token given by flag; returns the bundle path.
fn signed(setup: &Setup) -> PathBuf {
    let bundle = setup.path("release.tar.sigstore.json");
    let out = sign(setup, &bundle, &["--identity-token", &setup.token()], &[]);
    assert_exit(&out, 0);
    bundle
}

#[test]
fn verify_blob_refuses_another_identity_issuer_file_or_root_each_in_its_own_words() {
    let setup = Setup::new();
    let bundle = signed(&setup);
    let issuer = setup.stack.issuer_url();
    let root = ["--trust-config", s(&setup.trust_config)];

    let evil = WORKFLOW.replace("release.yml", "evil.yml");
    let out = verify(&setup.file, &bundle, &evil, issuer, &root);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains(&format!("signed by `{WORKFLOW}`, not by `{evil}`")),
        "{}",
        text(&out)
    );

    let actions = "https://token.actions.githubusercontent.com";
    let out = verify(&setup.file, &bundle, WORKFLOW, actions, &root);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains(&format!(
            "the certificate's OIDC issuer is `{issuer}`, not `{actions}`"
        )),
        "{}",
        text(&out)
    );

    let tampered = setup.path("tampered.tar");
    std::fs::write(&tampered, b"portcullis release artifact, changed\n").unwrap();
    let out = verify(&tampered, &bundle, WORKFLOW, issuer, &root);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains("the bundle signs another artifact"),
        "{}",
        text(&out)
    );

    // Another stack: same identity and issuer text, another root of trust.
    let other = SigstoreStack::start().unwrap();
    let other_files = other.write_trust_files(&setup.path("other")).unwrap();
    for flag in ["--trust-config", "--trusted-root"] {
        let path = if flag == "--trust-config" {
            &other_files.trust_config
        } else {
            &other_files.trusted_root
        };
        let out = verify(&setup.file, &bundle, WORKFLOW, issuer, &[flag, s(path)]);
        assert_exit(&out, 1);
        assert!(
            text(&out).contains("the signing certificate does not chain to the trusted root"),
            "{}",
            text(&out)
        );
    }

    // The embedded public-good root knows nothing of the stack either.
    let out = verify(&setup.file, &bundle, WORKFLOW, issuer, &["--offline"]);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains("does not chain to the trusted root"),
        "{}",
        text(&out)
    );
}

#[test]
fn verify_blob_certificate_extension_flags_accept_and_refuse() {
    let setup = Setup::new();
    let bundle = signed(&setup);
    let issuer = setup.stack.issuer_url();
    let root = ["--trust-config", s(&setup.trust_config)];
    let sha = "8f4e3c2b1a0918273645546372819aabbccddeef";
    let accepted: [(&str, &str); 7] = [
        ("--certificate-github-workflow-repository", "org/repo"),
        (
            "--certificate-github-workflow-repository",
            "https://github.com/org/repo",
        ),
        ("--certificate-github-workflow-ref", "refs/heads/main"),
        ("--certificate-github-workflow-sha", sha),
        ("--certificate-github-workflow-trigger", "push"),
        ("--certificate-build-signer-uri", WORKFLOW),
        ("--certificate-runner-environment", "github-hosted"),
    ];
    for (flag, value) in accepted {
        let out = verify(
            &setup.file,
            &bundle,
            WORKFLOW,
            issuer,
            &[&root[..], &[flag, value]].concat(),
        );
        assert_exit(&out, 0);
    }
    let refused: [(&str, &str, &str); 6] = [
        (
            "--certificate-github-workflow-repository",
            "org/other",
            "Source Repository URI (1.3.6.1.4.1.57264.1.12) is `https://github.com/org/repo`, not `https://github.com/org/other`",
        ),
        (
            "--certificate-github-workflow-ref",
            "refs/heads/dev",
            "Source Repository Ref (1.3.6.1.4.1.57264.1.14) is `refs/heads/main`, not `refs/heads/dev`",
        ),
        (
            "--certificate-github-workflow-sha",
            "0000000000000000000000000000000000000000",
            "Source Repository Digest (1.3.6.1.4.1.57264.1.13) is",
        ),
        (
            "--certificate-github-workflow-trigger",
            "workflow_dispatch",
            "Build Trigger (1.3.6.1.4.1.57264.1.20) is `push`, not `workflow_dispatch`",
        ),
        (
            "--certificate-build-signer-uri",
            "https://github.com/org/repo/.github/workflows/evil.yml@refs/heads/main",
            "Build Signer URI (1.3.6.1.4.1.57264.1.9) is",
        ),
        (
            "--certificate-runner-environment",
            "self-hosted",
            "Runner Environment (1.3.6.1.4.1.57264.1.11) is `github-hosted`, not `self-hosted`",
        ),
    ];
    for (flag, value, message) in refused {
        let out = verify(
            &setup.file,
            &bundle,
            WORKFLOW,
            issuer,
            &[&root[..], &[flag, value]].concat(),
        );
        assert_exit(&out, 1);
        assert!(text(&out).contains(message), "{flag}: {}", text(&out));
    }
}

fn sigstore_python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/sigstore");
    if venv.is_file() {
        return Some(venv);
    }
    let found = portcullis_testkit::have_program("sigstore").then(|| PathBuf::from("sigstore"));
    if found.is_none() {
        // A skipped test says why.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("SKIPPED: sigstore-python not found (`.venv/bin/sigstore`)");
        }
    }
    found
}

fn python(client: &Path, trust: &Path, args: &[&str]) -> Output {
    let out = Command::new(client)
        .env("COLUMNS", "400")
        .arg("--trust-config")
        .arg(trust)
        .args(args)
        .output()
        .expect("running sigstore-python");
    out
}

#[test]
fn sigstore_python_verifies_what_portcullis_signs() {
    let Some(client) = sigstore_python() else {
        return;
    };
    let setup = Setup::new();
    let bundle = signed(&setup);
    let issuer = setup.stack.issuer_url();
    let out = python(
        &client,
        &setup.trust_config,
        &[
            "verify",
            "identity",
            "--bundle",
            s(&bundle),
            "--cert-identity",
            WORKFLOW,
            "--cert-oidc-issuer",
            issuer,
            s(&setup.file),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("OK"), "{}", text(&out));
    // And it refuses another signer, so the OK above is a real check.
    let out = python(
        &client,
        &setup.trust_config,
        &[
            "verify",
            "identity",
            "--bundle",
            s(&bundle),
            "--cert-identity",
            &WORKFLOW.replace("release.yml", "evil.yml"),
            "--cert-oidc-issuer",
            issuer,
            s(&setup.file),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn portcullis_verifies_what_sigstore_python_signs_and_attests() {
    let Some(client) = sigstore_python() else {
        return;
    };
    let setup = Setup::new();
    let issuer = setup.stack.issuer_url();
    let root = ["--trust-config", s(&setup.trust_config)];
    let bundle = setup.path("python.sigstore.json");
    let before = setup.stack.requests().len();
    let out = python(
        &client,
        &setup.trust_config,
        &[
            "sign",
            "--identity-token",
            &setup.token(),
            "--bundle",
            s(&bundle),
            s(&setup.file),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    // sigstore-python asks the same two services once each, as portcullis does.
    let requests = new_requests(&setup.stack, before);
    let calls: Vec<_> = requests
        .iter()
        .map(|r| (r.service, r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            (Service::Fulcio, "POST", "/api/v2/signingCert"),
            (Service::Rekor, "POST", "/api/v1/log/entries"),
        ],
        "{requests:?}"
    );
    let out = verify(&setup.file, &bundle, WORKFLOW, issuer, &root);
    assert_exit(&out, 0);
    let evil = WORKFLOW.replace("release.yml", "evil.yml");
    let out = verify(&setup.file, &bundle, &evil, issuer, &root);
    assert_exit(&out, 1);

    // A DSSE attestation over the file (a Rekor `dsse` entry).
    let predicate = setup.path("provenance.json");
    std::fs::write(
        &predicate,
        br#"{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}"#,
    )
    .unwrap();
    let attestation = setup.path("python.intoto.sigstore.json");
    let out = python(
        &client,
        &setup.trust_config,
        &[
            "attest",
            "--predicate",
            s(&predicate),
            "--predicate-type",
            "https://slsa.dev/provenance/v1",
            "--identity-token",
            &setup.token(),
            "--bundle",
            s(&attestation),
            s(&setup.file),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = verify(&setup.file, &attestation, WORKFLOW, issuer, &root);
    assert_exit(&out, 0);
    let tampered = setup.path("tampered.tar");
    std::fs::write(&tampered, b"something else\n").unwrap();
    let out = verify(&tampered, &attestation, WORKFLOW, issuer, &root);
    assert_exit(&out, 1);
    assert!(
        text(&out).contains("the bundle signs another artifact"),
        "{}",
        text(&out)
    );
}

/// Asserts that no output and no recorded request shows `secret` (or its signature part,
/// for a JWT), apart from requests `allowed` admits.
fn assert_hidden(
    what: &str,
    secret: &str,
    outputs: &[Output],
    requests: &[RecordedRequest],
    allowed: impl Fn(&RecordedRequest) -> bool,
) {
    let needles: Vec<&str> = std::iter::once(secret)
        .chain(secret.rsplit('.').next().filter(|_| secret.contains('.')))
        .collect();
    for out in outputs {
        let shown = text(out);
        for needle in &needles {
            assert!(
                !shown.contains(needle),
                "{what} leaked to the output:\n{shown}"
            );
        }
    }
    for request in requests.iter().filter(|r| !allowed(r)) {
        let mut seen = request.path.clone();
        for (name, value) in &request.headers {
            let _ = write!(seen, "\n{name}: {value}");
        }
        for needle in &needles {
            assert!(
                !seen.contains(needle),
                "{what} sent to {:?} {}:\n{seen}",
                request.service,
                request.path
            );
        }
    }
}

/// Every way a token comes in, logged as loudly as portcullis logs: the token shows in
/// no output, and no request but the Fulcio certificate request carries it.
#[test]
fn identity_tokens_never_show_in_output_or_go_anywhere_but_fulcio() {
    let setup = Setup::new();
    let token = setup.token();
    let token_file = setup.path("oidc-token");
    std::fs::write(&token_file, &token).unwrap();
    let served = token_endpoint(token.clone());
    let github_bearer = setup.stack.request_token().to_owned();
    let stack_url = setup.stack.token_url();
    let sources: [Source; 5] = [
        (vec!["--identity-token", token.as_str()], vec![]),
        (vec![], vec![("SIGSTORE_ID_TOKEN", token.as_str())]),
        (vec!["--identity-token-file", s(&token_file)], vec![]),
        (
            vec![],
            vec![
                ("ACTIONS_ID_TOKEN_REQUEST_URL", served.as_str()),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", github_bearer.as_str()),
            ],
        ),
        (
            vec![],
            vec![
                ("ACTIONS_ID_TOKEN_REQUEST_URL", stack_url.as_str()),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", github_bearer.as_str()),
            ],
        ),
    ];
    let mut outputs = Vec::new();
    for (n, (args, env)) in sources.iter().enumerate() {
        for loud in [&[("RUST_LOG", "trace")][..], &[]] {
            let bundle = setup.path(&format!("b{n}-{}.json", loud.len()));
            let verbosity: &[&str] = if loud.is_empty() { &["-vv"] } else { &[] };
            let env: Vec<(&str, &str)> = env.iter().chain(loud).copied().collect();
            let out = sign(&setup, &bundle, &[verbosity, &args[..]].concat(), &env);
            assert_exit(&out, 0);
            if !loud.is_empty() {
                assert!(stderr(&out).contains("TRACE"), "{}", stderr(&out));
            }
            outputs.push(out);
        }
    }
    let requests = setup.stack.requests();
    assert_eq!(count(&requests, Service::Fulcio), 10);
    assert_hidden("the identity token", &token, &outputs, &requests, |r| {
        r.service == Service::Fulcio && r.path == "/api/v2/signingCert"
    });
    // The GitHub request token goes to the token endpoint only.
    assert_hidden(
        "the request token",
        &github_bearer,
        &outputs,
        &requests,
        |r| r.service == Service::Oidc && r.path.starts_with("/token"),
    );
    assert!(requests.iter().any(|r| r.service == Service::Oidc
        && r.header("authorization") == Some(&format!("bearer {github_bearer}"))));

    // Fulcio refuses a token from another stack's issuer: a service failure (exit 3)
    // that names the refusal and still never shows the token.
    let other = SigstoreStack::start().unwrap();
    let foreign = other.token(&Claims::github("org/repo")).unwrap();
    let mut failed = Vec::new();
    for loud in [&[("RUST_LOG", "trace")][..], &[]] {
        let bundle = setup.path("refused.json");
        let verbosity: &[&str] = if loud.is_empty() { &["-vv"] } else { &[] };
        let out = sign(
            &setup,
            &bundle,
            &[verbosity, &["--identity-token", foreign.as_str()]].concat(),
            loud,
        );
        assert_exit(&out, 3);
        assert!(text(&out).contains("Fulcio"), "{}", text(&out));
        assert!(!bundle.exists());
        failed.push(out);
    }
    assert_hidden(
        "a refused token",
        &foreign,
        &failed,
        &setup.stack.requests(),
        |r| r.service == Service::Fulcio && r.path == "/api/v2/signingCert",
    );
}
