//! `sign-blob` and `verify-blob` through the built binary.

use std::process::Command;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/crates/trust/tests/data");
const IDENTITY: &str =
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn portcullis(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap(), text)
}

#[test]
fn verify_blob_offline_accepts_the_production_bundle_and_refuses_other_signers() {
    let wheel = format!("{DATA}/rfc8785-0.1.2-py3-none-any.whl");
    let bundle = format!("{DATA}/rfc8785-0.1.2-py3-none-any.whl.sigstore.json");
    let base = [
        "verify-blob",
        &wheel,
        "--bundle",
        &bundle,
        "--offline",
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    let (code, text) = portcullis(
        &[
            &base[..],
            &[
                "--certificate-identity",
                IDENTITY,
                "--certificate-github-workflow-sha",
                "d8b4a6445f38c48b9137a8099706d9b8073146e4",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("verified"), "{text}");
    let (code, text) = portcullis(
        &[
            &base[..],
            &["--certificate-identity", "https://github.com/evil/x"],
        ]
        .concat(),
    );
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("signature-invalid") && text.contains("not by `https://github.com/evil/x`"),
        "{text}"
    );
    let (code, text) = portcullis(
        &[
            &base[..],
            &[
                "--certificate-identity",
                IDENTITY,
                "--certificate-github-workflow-sha",
                "0000000000000000000000000000000000000000",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("Source Repository Digest"), "{text}");
    let (code, text) = portcullis(&[
        "verify-blob",
        "--digest",
        "sha256:zz",
        "--bundle",
        &bundle,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("`sha256:zz`"), "{text}");
}

#[test]
fn key_based_sign_blob_then_verify_blob() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let public = dir.path().join("key.pub");
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "release notes\n").unwrap();
    let ok = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public)
        .status()
        .unwrap();
    assert!(ok.success());
    let bundle = dir.path().join("notes.sigstore.json");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let (code, text) = portcullis(&[
        "sign-blob",
        &s(&file),
        "--key",
        &s(&key),
        "--bundle",
        &s(&bundle),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("key-based, not logged"), "{text}");
    let (code, text) = portcullis(&[
        "verify-blob",
        &s(&file),
        "--bundle",
        &s(&bundle),
        "--key",
        &s(&public),
        "--insecure-ignore-tlog",
    ]);
    assert_eq!(code, 0, "{text}");
    // Without accepting a bundle with no log entry, it is refused.
    let (code, text) = portcullis(&[
        "verify-blob",
        &s(&file),
        "--bundle",
        &s(&bundle),
        "--key",
        &s(&public),
    ]);
    assert_eq!(code, 1, "{text}");
    std::fs::write(&file, "changed\n").unwrap();
    let (code, text) = portcullis(&[
        "verify-blob",
        &s(&file),
        "--bundle",
        &s(&bundle),
        "--key",
        &s(&public),
        "--insecure-ignore-tlog",
    ]);
    assert_eq!(code, 1, "{text}");
    let (code, text) = portcullis(&[
        "sign-blob",
        &s(&file),
        "--key",
        &s(&dir.path().join("missing.pem")),
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("missing.pem"), "{text}");
}
