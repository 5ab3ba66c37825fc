//! A registry that lies in its `HEAD` answer: what `pin` would write must be a manifest
//! named by `sha256`, or the lookup fails naming what was wrong.

mod common;

use portcullis_reference::ImageRef;
use portcullis_registry::{Client, Keychain};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// Answers `/v2/` with 200 and every manifest `HEAD` with `content_type` and `digest`.
async fn liar(content_type: &'static str, digest: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let digest = digest.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buffer[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&seen);
                let answer = if request.starts_with("GET /v2/ ") {
                    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nDocker-Content-Digest: {digest}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
                    )
                };
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    host
}

async fn resolve(content_type: &'static str, digest: String) -> String {
    let host = liar(content_type, digest).await;
    let client = Client::with_keychain(common::options(), Keychain::empty()).unwrap();
    let image = ImageRef::parse(&format!("{host}/app:1")).unwrap();
    match client.resolve_digest(&image).await {
        Ok(resolved) => format!("resolved {}", resolved.digest),
        Err(error) => error.to_string(),
    }
}

/// `pin` wrote a HEAD digest with an unexpected algorithm or a non-manifest `Content-Type`.
#[tokio::test]
async fn a_head_answer_that_is_no_sha256_manifest_is_refused() {
    let sha256 = format!("sha256:{}", "a".repeat(64));
    let sha512 = format!("sha512:{}", "b".repeat(128));
    let html = resolve("text/html", sha256.clone()).await;
    assert!(
        html.contains("`text/html`") && html.contains("not a manifest media type"),
        "{html}"
    );
    let long = resolve("application/vnd.oci.image.index.v1+json", sha512).await;
    assert!(long.contains("is not `sha256`"), "{long}");
    let honest = resolve("application/vnd.oci.image.index.v1+json", sha256.clone()).await;
    assert_eq!(honest, format!("resolved {sha256}"));
}
