//! Starts a token-auth Distribution registry for the `pin` benchmark, seeds it with
//! `--repos × --tags` distinct images, writes a tree of Dockerfiles that reference every tag
//! and a Docker `config.json` with the credentials, then serves commands on stdin:
//! `count` prints the manifest and token requests since the previous `count` as JSON;
//! end of input stops the registry.
//!
//! Usage: `bench-registry OUT_DIR [REPOS] [TAGS]`

use std::fmt::Write as _;
use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use portcullis_testkit::{Auth, ImageSpec, Registry};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .context("usage: bench-registry OUT_DIR [REPOS] [TAGS]")?,
    );
    let repos: usize = args.next().map_or(Ok(30), |a| a.parse())?;
    let tags: usize = args.next().map_or(Ok(10), |a| a.parse())?;

    let password = format!("pw-{}", std::process::id());
    let registry = Registry::start(Auth::Token {
        user: "bench".into(),
        password,
    })?;
    let host = registry.host();
    let mut refs = Vec::new();
    for r in 0..repos {
        let mut dockerfile = String::from("# generated for the pin benchmark\n");
        for t in 0..tags {
            let repo = format!("bench/r{r}");
            let tag = format!("1.{t}");
            let spec =
                ImageSpec::new("linux", "amd64").layers(vec![format!("{repo}:{tag}").into_bytes()]);
            registry.seed_image(&repo, &tag, &spec)?;
            let image = format!("{host}/{repo}:{tag}");
            writeln!(dockerfile, "FROM {image} AS s{t}\nRUN true")?;
            refs.push(image);
        }
        let dir = out.join(format!("repo/services/r{r}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("Dockerfile"), dockerfile)?;
    }
    std::fs::create_dir_all(out.join("docker"))?;
    registry.write_docker_config(&out.join("docker"))?;
    std::fs::write(out.join("refs.txt"), refs.join("\n") + "\n")?;

    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        serde_json::json!({ "host": host, "refs": refs.len() })
    )?;
    stdout.flush()?;

    let (mut seen_requests, mut seen_tokens) =
        (registry.requests().len(), registry.token_requests().len());
    for line in std::io::stdin().lock().lines() {
        if line?.trim() != "count" {
            continue;
        }
        let requests = registry.requests();
        let tokens = registry.token_requests();
        let new = &requests[seen_requests..];
        let manifests = new
            .iter()
            .filter(|r| r.path.contains("/manifests/"))
            .count();
        let blobs = new.iter().filter(|r| r.path.contains("/blobs/")).count();
        let unauthorized = new.iter().filter(|r| r.status == 401).count();
        writeln!(
            stdout,
            "{}",
            serde_json::json!({
                "requests": new.len(),
                "manifest_requests": manifests,
                "blob_requests": blobs,
                "unauthorized": unauthorized,
                "token_requests": tokens.len() - seen_tokens,
            })
        )?;
        stdout.flush()?;
        seen_requests = requests.len();
        seen_tokens = tokens.len();
    }
    Ok(())
}
