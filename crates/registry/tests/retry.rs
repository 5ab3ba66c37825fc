//! Retries: a local TCP front answers the first requests with 429 (`Retry-After: 1`) and
//! 503, then passes connections through to the real registry.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_reference::ImageRef;
use portcullis_registry::{Client, Keychain, RegistryError};
use portcullis_testkit::{Auth, ImageSpec, Registry};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Starts the front; `failures` are the canned answers given before passing through.
async fn flaky_front(upstream: String, failures: Vec<&'static str>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let canned = failures.get(n).copied();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Some(answer) = canned {
                    let mut buffer = vec![0u8; 8192];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        let Ok(read) = inbound.read(&mut buffer).await else {
                            return;
                        };
                        if read == 0 {
                            return;
                        }
                        seen.extend_from_slice(&buffer[..read]);
                    }
                    let _ = inbound.write_all(answer.as_bytes()).await;
                    let _ = inbound.shutdown().await;
                    return;
                }
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (host, served)
}

const TOO_MANY: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const UNAVAILABLE: &str =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn retries_429_and_503_then_succeeds() {
    let registry = Registry::start(Auth::None).unwrap();
    let digest = registry
        .seed_image("app", "1", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let (front, _) = flaky_front(registry.host(), vec![TOO_MANY, UNAVAILABLE]).await;
    let options = portcullis_registry::ClientOptions {
        backoff: Duration::from_millis(50),
        ..common::options()
    };
    let client = Client::with_keychain(options, Keychain::empty()).unwrap();
    let started = Instant::now();
    let resolved = client
        .resolve(&ImageRef::parse(&format!("{front}/app:1")).unwrap())
        .await
        .unwrap();
    assert_eq!(resolved.digest, digest);
    assert_eq!(client.stats().retries, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
}

#[tokio::test]
async fn gives_up_after_max_retries() {
    let registry = Registry::start(Auth::None).unwrap();
    let (front, served) = flaky_front(registry.host(), vec![UNAVAILABLE; 10]).await;
    let options = portcullis_registry::ClientOptions {
        backoff: Duration::from_millis(10),
        max_retries: 2,
        ..common::options()
    };
    let client = Client::with_keychain(options, Keychain::empty()).unwrap();
    let error = client
        .resolve(&ImageRef::parse(&format!("{front}/app:1")).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Http { status: 503, .. }),
        "{error}"
    );
    assert_eq!(client.stats().retries, 2);
    assert_eq!(served.load(Ordering::SeqCst), 3, "first try + 2 retries");
}
