//! The fault proxy against a real registry: it relays faithfully when no rule fires
//! (blobs by digest, uploads with their `Location` kept on the proxy), and each fault kind
//! is what a plain HTTP client observes.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use portcullis_testkit::{
    sha256_hex, Auth, Fault, FaultKind, FaultProxy, FaultRule, ImageSpec, PathMatch, Registry,
};

/// A layer larger than the proxy's relay blocks, so bodies cross several of them.
fn big_layer() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// A registry holding `app:1.0` with [`big_layer`]; returns the layer's digest.
fn registry() -> (Registry, String) {
    let registry = Registry::start(Auth::None).unwrap();
    let layer = big_layer();
    registry
        .seed_image(
            "app",
            "1.0",
            &ImageSpec::new("linux", "amd64").layers(vec![layer.clone()]),
        )
        .unwrap();
    (registry, format!("sha256:{}", sha256_hex(&layer)))
}

fn client(follow_redirects: bool, timeout: Duration) -> reqwest::blocking::Client {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let redirect = if follow_redirects {
        reqwest::redirect::Policy::limited(5)
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::blocking::Client::builder()
        .redirect(redirect)
        .timeout(timeout)
        .build()
        .unwrap()
}

fn plain() -> reqwest::blocking::Client {
    client(false, Duration::from_secs(30))
}

fn get(url: &str) -> reqwest::blocking::Response {
    plain().get(url).send().unwrap()
}

/// Sends a raw `GET` and reads until the connection ends: (bytes read, how it ended).
fn raw_get(host: &str, path: &str) -> (Vec<u8>, std::io::Result<()>) {
    raw("GET", host, path)
}

/// Sends a raw request without a body and reads until the connection ends.
fn raw(method: &str, host: &str, path: &str) -> (Vec<u8>, std::io::Result<()>) {
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut bytes = Vec::new();
    let mut block = [0; 8192];
    loop {
        match stream.read(&mut block) {
            Ok(0) => return (bytes, Ok(())),
            Ok(read) => bytes.extend_from_slice(&block[..read]),
            Err(error) => return (bytes, Err(error)),
        }
    }
}

/// (head, body) of a raw response.
fn split_head(bytes: &[u8]) -> (String, &[u8]) {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    (
        String::from_utf8_lossy(&bytes[..end]).into_owned(),
        &bytes[end + 4..],
    )
}

fn blob_path(digest: &str) -> String {
    format!("/v2/app/blobs/{digest}")
}

#[test]
fn blob_through_the_proxy_matches_its_digest() {
    let (registry, digest) = registry();
    let proxy = FaultProxy::start(&registry.url(), vec![], 1).unwrap();
    let response = get(&format!("{}{}", proxy.url(), blob_path(&digest)));
    assert_eq!(response.status(), 200);
    let body = response.bytes().unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&body)), digest);

    let requests = proxy.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, blob_path(&digest));
    assert_eq!((requests[0].fault, requests[0].status), (None, Some(200)));
    assert!(proxy.injected().is_empty());
    // The registry really answered it.
    assert!(registry
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path == blob_path(&digest)));
}

#[test]
fn upload_through_the_proxy_keeps_its_location_on_the_proxy_and_lands() {
    let registry = Registry::start(Auth::None).unwrap();
    let proxy = FaultProxy::start(&registry.url(), vec![], 1).unwrap();
    let http = plain();
    let start = http
        .post(format!("{}/v2/up/blobs/uploads/", proxy.url()))
        .send()
        .unwrap();
    assert_eq!(start.status(), 202);
    let location = start.headers()["Location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/v2/up/blobs/uploads/", proxy.url())),
        "upload Location `{location}` does not point at the proxy {}",
        proxy.url()
    );

    let blob = big_layer();
    let (first, second) = blob.split_at(100_000);
    let patched = http
        .patch(&location)
        .header("Content-Type", "application/octet-stream")
        .body(first.to_vec())
        .send()
        .unwrap();
    assert_eq!(patched.status(), 202);
    let location = patched.headers()["Location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&proxy.url()), "{location}");
    // A body of unknown length goes out chunked: the proxy relays chunked requests too.
    let patched = http
        .patch(&location)
        .header("Content-Type", "application/octet-stream")
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(
            second.to_vec(),
        )))
        .send()
        .unwrap();
    assert_eq!(patched.status(), 202, "{:?}", patched.text());
    let location = patched.headers()["Location"].to_str().unwrap().to_owned();
    let digest = format!("sha256:{}", sha256_hex(&blob));
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = http
        .put(format!("{location}{separator}digest={digest}"))
        .send()
        .unwrap();
    assert_eq!(put.status(), 201);

    // Read back from the registry itself, not through the proxy.
    let stored = get(&format!("{}/v2/up/blobs/{digest}", registry.url()));
    assert_eq!(stored.status(), 200);
    assert_eq!(stored.bytes().unwrap().as_ref(), blob.as_slice());
    let methods: Vec<_> = proxy.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["POST", "PATCH", "PATCH", "PUT"]);
}

#[test]
fn status_faults_answer_without_forwarding() {
    let (registry, _) = registry();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![
            FaultRule::new(Fault::Status {
                code: 503,
                retry_after: Some(7),
            })
            .method("GET")
            .path(PathMatch::Manifests)
            .first(1),
            FaultRule::new(Fault::RateLimited {
                retry_after: Some(3),
            })
            .method("HEAD")
            .first(2),
        ],
        1,
    )
    .unwrap();
    let manifest = format!("{}/v2/app/manifests/1.0", proxy.url());
    let accept = "application/vnd.oci.image.manifest.v1+json";
    let refused = plain()
        .get(&manifest)
        .header("Accept", accept)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["Retry-After"], "7");
    let limited = plain().head(&manifest).send().unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["ratelimit-remaining"], "0;w=21600");
    assert_eq!(limited.headers()["Retry-After"], "3");
    // An answer to `HEAD` carries its length but no body.
    let (bytes, end) = raw("HEAD", &proxy.host(), "/v2/app/manifests/1.0");
    end.unwrap();
    let (head, body) = split_head(&bytes);
    assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
    assert!(head.contains("Content-Length: "), "{head}");
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(body));
    let served = plain()
        .get(&manifest)
        .header("Accept", accept)
        .send()
        .unwrap();
    assert_eq!(served.status(), 200);

    let manifest_gets = registry
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v2/app/manifests/1.0" && r.method != "PUT")
        .count();
    assert_eq!(manifest_gets, 1, "faulted requests reached the registry");
    assert_eq!(proxy.injected_of(FaultKind::Status), 1);
    assert_eq!(proxy.injected_of(FaultKind::RateLimited), 2);
    let logged: Vec<_> = proxy
        .requests()
        .into_iter()
        .map(|r| (r.method, r.fault, r.status))
        .collect();
    assert_eq!(
        logged,
        [
            ("GET".to_owned(), Some(FaultKind::Status), Some(503)),
            ("HEAD".to_owned(), Some(FaultKind::RateLimited), Some(429)),
            ("HEAD".to_owned(), Some(FaultKind::RateLimited), Some(429)),
            ("GET".to_owned(), None, Some(200)),
        ]
    );
}

#[test]
fn reset_mid_body_sends_the_head_and_part_of_the_body_then_resets() {
    let (registry, digest) = registry();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![FaultRule::new(Fault::ResetMidBody).path(PathMatch::Blobs)],
        1,
    )
    .unwrap();
    let (bytes, end) = raw_get(&proxy.host(), &blob_path(&digest));
    let (head, body) = split_head(&bytes);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Length: 300000"), "{head}");
    assert!(!body.is_empty() && body.len() < 300_000, "{}", body.len());
    assert_eq!(end.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    // A client that reads the body sees the failure.
    let response = get(&format!("{}{}", proxy.url(), blob_path(&digest)));
    assert_eq!(response.status(), 200);
    assert!(response.bytes().is_err());
    assert_eq!(proxy.injected_of(FaultKind::ResetMidBody), 2);
}

#[test]
fn truncate_promises_the_whole_length_and_closes_early() {
    let (registry, digest) = registry();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![FaultRule::new(Fault::Truncate).method("GET")],
        1,
    )
    .unwrap();
    let (bytes, end) = raw_get(&proxy.host(), &blob_path(&digest));
    end.expect("a clean close, not a reset");
    let (head, body) = split_head(&bytes);
    assert!(head.contains("Content-Length: 300000"), "{head}");
    assert_eq!(body.len(), 150_000);
    assert_eq!(body, &big_layer()[..150_000]);
    let response = get(&format!("{}{}", proxy.url(), blob_path(&digest)));
    assert!(response.bytes().is_err());
    assert_eq!(proxy.injected_of(FaultKind::Truncate), 2);
}

#[test]
fn corrupt_keeps_the_length_and_breaks_the_digest() {
    let (registry, digest) = registry();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![FaultRule::new(Fault::Corrupt).path(PathMatch::Blobs)],
        1,
    )
    .unwrap();
    let response = get(&format!("{}{}", proxy.url(), blob_path(&digest)));
    assert_eq!(response.status(), 200);
    let body = response.bytes().unwrap();
    let original = big_layer();
    assert_eq!(body.len(), original.len());
    assert_ne!(format!("sha256:{}", sha256_hex(&body)), digest);
    let differing = body.iter().zip(&original).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 1);
    assert_eq!(proxy.injected_of(FaultKind::Corrupt), 1);
}

#[test]
fn stall_outlasts_a_client_timeout_then_answers() {
    let (registry, _) = registry();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![FaultRule::new(Fault::Stall { millis: 1_500 })
            .path(PathMatch::Manifests)
            .first(1)],
        1,
    )
    .unwrap();
    let manifest = format!("{}/v2/app/manifests/1.0", proxy.url());
    let started = Instant::now();
    let accept = "application/vnd.oci.image.manifest.v1+json";
    let error = client(false, Duration::from_millis(300))
        .head(&manifest)
        .header("Accept", accept)
        .send()
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() < Duration::from_millis(1_400));
    let started = Instant::now();
    let response = client(false, Duration::from_secs(5))
        .head(&manifest)
        .header("Accept", accept)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(proxy.injected_of(FaultKind::Stall), 1);
}

#[test]
fn redirect_elsewhere_serves_upstream_bytes_and_records_headers() {
    let (registry, digest) = registry();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![FaultRule::new(Fault::RedirectElsewhere).path(PathMatch::Blobs)],
        1,
    )
    .unwrap();
    let url = format!("{}{}", proxy.url(), blob_path(&digest));
    let redirect = plain()
        .get(&url)
        .header("Authorization", "Bearer canary-token")
        .send()
        .unwrap();
    assert_eq!(redirect.status(), 307);
    let location = redirect.headers()["Location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("{}{}", proxy.redirect_url(), blob_path(&digest))
    );
    assert!(proxy.redirected().is_empty());

    // A careless client carries its credentials along: the target records them.
    let careless = plain()
        .get(&location)
        .header("Authorization", "Bearer canary-token")
        .send()
        .unwrap();
    assert_eq!(careless.status(), 200);
    let body = careless.bytes().unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&body)), digest);
    // A client that follows redirects like a browser drops them across origins.
    let careful = client(true, Duration::from_secs(30))
        .get(&url)
        .header("Authorization", "Bearer canary-token")
        .send()
        .unwrap();
    assert_eq!(careful.status(), 200);
    assert_eq!(careful.bytes().unwrap(), body);

    let seen = proxy.redirected();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, blob_path(&digest));
    assert_eq!(seen[0].header("authorization"), Some("Bearer canary-token"));
    assert_eq!(seen[1].header("Authorization"), None);
    assert_eq!(proxy.injected_of(FaultKind::RedirectElsewhere), 2);
}

/// The statuses 24 `GET /v2/` through a proxy failing half of them at random.
fn statuses(registry: &Registry, seed: u64) -> Vec<u16> {
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![FaultRule::new(Fault::Status {
            code: 500,
            retry_after: None,
        })
        .rate(0.5)],
        seed,
    )
    .unwrap();
    (0..24)
        .map(|_| get(&format!("{}/v2/", proxy.url())).status().as_u16())
        .collect()
}

#[test]
fn a_fixed_seed_reproduces_the_same_faults() {
    let registry = Registry::start(Auth::None).unwrap();
    let first = statuses(&registry, 42);
    assert_eq!(first, statuses(&registry, 42));
    assert_ne!(first, statuses(&registry, 43));
    let failed = first.iter().filter(|s| **s == 500).count();
    assert!((4..=20).contains(&failed), "{first:?}");
    assert!(first.iter().all(|s| *s == 500 || *s == 200), "{first:?}");
}

#[test]
fn rate_zero_never_faults() {
    let (registry, digest) = registry();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![FaultRule::new(Fault::Corrupt).rate(0.0)],
        7,
    )
    .unwrap();
    for _ in 0..20 {
        let body = get(&format!("{}{}", proxy.url(), blob_path(&digest)))
            .bytes()
            .unwrap();
        assert_eq!(format!("sha256:{}", sha256_hex(&body)), digest);
    }
    assert!(proxy.injected().is_empty());
    assert!(proxy.requests().iter().all(|r| r.fault.is_none()));
}

#[test]
fn a_refused_upload_is_read_to_the_end_before_the_answer() {
    let registry = Registry::start(Auth::None).unwrap();
    let proxy = FaultProxy::start(
        &registry.url(),
        vec![FaultRule::new(Fault::Status {
            code: 500,
            retry_after: None,
        })
        .method("PUT")
        .path(PathMatch::Uploads)],
        1,
    )
    .unwrap();
    let start = plain()
        .post(format!("{}/v2/up/blobs/uploads/", proxy.url()))
        .send()
        .unwrap();
    assert_eq!(start.status(), 202);
    let location = start.headers()["Location"].to_str().unwrap().to_owned();
    let target = location.strip_prefix(&proxy.url()).unwrap();
    // More than the socket buffers hold: a proxy that answered without reading it all
    // would reset the connection under the client's write.
    let body = vec![7u8; 8 << 20];
    let mut stream = TcpStream::connect(proxy.host()).unwrap();
    write!(
        stream,
        "PUT {target}&digest=sha256:{} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        sha256_hex(&body),
        proxy.host(),
        body.len()
    )
    .unwrap();
    stream.write_all(&body).expect("the whole body is read");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 500 "), "{answer}");
    assert!(!registry.requests().iter().any(|r| r.method == "PUT"));
}

#[test]
fn a_gone_upstream_is_a_bad_gateway() {
    let registry = Registry::start(Auth::None).unwrap();
    let proxy = FaultProxy::start(&registry.url(), vec![], 1).unwrap();
    drop(registry);
    let response = get(&format!("{}/v2/", proxy.url()));
    assert_eq!(response.status(), 502);
    assert_eq!(proxy.requests()[0].status, Some(502));
}
