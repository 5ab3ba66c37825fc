//! Test services by hand. `portcullis-testkit sigstore-stack --dir DIR` starts a local
//! Sigstore (OIDC issuer, Fulcio, Rekor) on free loopback ports, writes its trusted root,
//! signing config and client trust config into DIR, prints one JSON line with the URLs
//! and paths, and serves until killed.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use portcullis_testkit::sigstore::SigstoreStack;

const USAGE: &str = "usage: portcullis-testkit sigstore-stack --dir DIR";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = match args.as_slice() {
        [command, flag, dir] if command == "sigstore-stack" && flag == "--dir" => {
            PathBuf::from(dir)
        }
        [command, flag] if command == "sigstore-stack" && flag.starts_with("--dir=") => {
            PathBuf::from(&flag["--dir=".len()..])
        }
        _ => bail!("{USAGE}"),
    };
    let stack = SigstoreStack::start()?;
    let files = stack.write_trust_files(&dir)?;
    let line = serde_json::json!({
        "issuer_url": stack.issuer_url(),
        "fulcio_url": stack.fulcio_url(),
        "rekor_url": stack.rekor_url(),
        "token_url": stack.token_url(),
        "request_token": stack.request_token(),
        "trusted_root": files.trusted_root,
        "signing_config": files.signing_config,
        "trust_config": files.trust_config,
    });
    #[allow(clippy::print_stdout)] // the one line a caller reads
    {
        println!("{line}");
    }
    std::io::Write::flush(&mut std::io::stdout()).context("writing to stdout")?;
    loop {
        std::thread::park();
    }
}
