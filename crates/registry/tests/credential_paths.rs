//! Where a registry's credentials may go: only to challenges from the registry's own origin,
//! never to a redirect target that asks for them. A second origin on loopback records every
//! header it receives and must receive no credential.

mod common;

use std::sync::{Arc, Mutex};

use portcullis_reference::ImageRef;
use portcullis_registry::{Client, Credentials, Keychain, RegistryError};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const CANARY: &str = "canary-pass-7f3a9";

/// Serves canned answers: `answer(request head)` gives the response; every head is kept.
async fn server(
    seen: Arc<Mutex<Vec<String>>>,
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (seen, answer) = (Arc::clone(&seen), Arc::clone(&answer));
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => head.push(byte[0]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                seen.lock().unwrap().push(text.clone());
                let _ = stream.write_all(answer(&text).as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    host
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
}

/// After a cross-origin 307, the target's `Bearer realm=http://target/token` challenge was
/// answered with the original registry's Basic credentials.
#[tokio::test]
async fn a_redirect_targets_challenge_gets_no_credentials() {
    // The target's challenge names its own address: set it once the server is up.
    let target_seen = Arc::new(Mutex::new(Vec::new()));
    let target = {
        let listener_host = Arc::new(Mutex::new(String::new()));
        let host_for_answer = Arc::clone(&listener_host);
        let host = server(Arc::clone(&target_seen), move |_| {
            let host = host_for_answer.lock().unwrap().clone();
            format!("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{host}/token\",service=\"t\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        })
        .await;
        *listener_host.lock().unwrap() = host.clone();
        host
    };
    let registry_seen = Arc::new(Mutex::new(Vec::new()));
    let redirect_to = target.clone();
    let registry = server(Arc::clone(&registry_seen), move |head| {
        if head.starts_with("GET /v2/ ") {
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"r\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
        } else {
            let path = head.split(' ').nth(1).unwrap_or("/");
            format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{redirect_to}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        }
    })
    .await;
    let mut keychain = Keychain::empty();
    keychain.insert(&registry, Credentials::new("ci", CANARY));
    let client = Client::with_keychain(common::options(), keychain).unwrap();
    let image = ImageRef::parse(&format!("{registry}/app:1")).unwrap();
    let error = client.resolve_digest(&image).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::ForeignChallenge { .. }),
        "{error}"
    );
    assert!(error.to_string().contains(&target), "{error}");
    // The registry itself got its credentials; the target never saw them, in any form.
    let encoded = basic("ci", CANARY);
    let registry_heads = registry_seen.lock().unwrap().join("\n");
    assert!(registry_heads.contains(&encoded), "{registry_heads}");
    let target_heads = target_seen.lock().unwrap().join("\n");
    assert!(!target_heads.is_empty(), "the redirect was followed");
    assert!(
        !target_heads.contains(&encoded) && !target_heads.contains(CANARY),
        "{target_heads}"
    );
    assert!(
        !target_heads.contains("/token"),
        "no token request: {target_heads}"
    );
    assert!(!error.to_string().contains(CANARY));
}
