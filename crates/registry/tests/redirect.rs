//! A registry that redirects a blob to another host must not see our credentials follow:
//! the `Authorization` header is dropped when the origin changes.

mod common;

use std::sync::{Arc, Mutex};

use portcullis_registry::{Credentials, Keychain};
use portcullis_testkit::{Auth, ImageSpec, Registry};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Forwards to `upstream`, except blob GETs, which are redirected to `elsewhere`.
async fn redirecting_front(upstream: String, elsewhere: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let (upstream, elsewhere) = (upstream.clone(), elsewhere.clone());
            tokio::spawn(async move {
                // One request per upstream connection (`Connection: close`), so every
                // request on a kept-alive client connection is looked at.
                loop {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match inbound.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => head.push(buffer[0]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).to_string();
                    let target = text.split(' ').nth(1).unwrap_or("").to_owned();
                    if text.starts_with("GET ") && target.contains("/blobs/") {
                        let answer = format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{elsewhere}{target}\r\nContent-Length: 0\r\n\r\n");
                        let _ = inbound.write_all(answer.as_bytes()).await;
                        continue;
                    }
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let head = text.replacen("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1);
                    let _ = outbound.write_all(head.as_bytes()).await;
                    let mut response = Vec::new();
                    let _ = outbound.read_to_end(&mut response).await;
                    let response =
                        String::from_utf8_lossy(&response).replacen("Connection: close\r\n", "", 1);
                    let _ = inbound.write_all(response.as_bytes()).await;
                }
            });
        }
    });
    host
}

/// Records the request heads it sees, then forwards to `upstream`.
async fn recording_proxy(upstream: String, seen: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let (upstream, seen) = (upstream.clone(), Arc::clone(&seen));
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match inbound.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).to_string());
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = outbound.write_all(&head).await;
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    host
}

#[tokio::test]
async fn credentials_do_not_follow_a_cross_host_redirect() {
    // The blob host is an open registry holding the same blobs (a stand-in for a CDN).
    let auth = Registry::start(Auth::Htpasswd {
        user: "dave".into(),
        password: "pw-dave".into(),
    })
    .unwrap();
    let open = Registry::start(Auth::None).unwrap();
    let spec = ImageSpec::new("linux", "riscv64");
    let digest = auth.seed_image("app", "1", &spec).unwrap();
    assert_eq!(open.seed_image("app", "1", &spec).unwrap(), digest);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let cdn = recording_proxy(open.host(), Arc::clone(&seen)).await;
    // `localhost` vs `127.0.0.1`: another origin for the client.
    let cdn = cdn.replace("127.0.0.1", "localhost");
    let front = redirecting_front(auth.host(), cdn).await;

    let mut keychain = Keychain::empty();
    keychain.insert(&front, Credentials::new("dave", "pw-dave"));
    let client = portcullis_registry::Client::with_keychain(common::options(), keychain).unwrap();
    let image = portcullis_reference::ImageRef::parse(&format!("{front}/app:1")).unwrap();
    let platform = client
        .platform_of(&image.with_digest(digest))
        .await
        .unwrap();
    assert_eq!(platform.unwrap().to_string(), "linux/riscv64");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("/blobs/sha256:"));
    assert!(
        !seen[0].to_ascii_lowercase().contains("authorization"),
        "credentials leaked: {}",
        seen[0]
    );
}
