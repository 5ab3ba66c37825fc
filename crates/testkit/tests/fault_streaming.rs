//! The fault proxy streams bodies: a 64 MiB blob goes up and comes back through it while
//! this process's resident memory grows by far less than the blob. (Its own test binary,
//! so no other test's allocations blur the measurement.)

use std::io::{BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_testkit::{Auth, FaultProxy, Registry};
use sha2::Digest as _;

const SIZE: u64 = 64 << 20;
const BLOCK: usize = 1 << 16;

/// Block `index` of the blob, generated on the fly so the test never holds the blob.
fn block(index: u64) -> Vec<u8> {
    (0..BLOCK as u64)
        .map(|i| ((index * 131 + i * 7) % 251) as u8)
        .collect()
}

fn blocks() -> u64 {
    SIZE / BLOCK as u64
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Samples resident memory until stopped; returns the peak seen.
fn sample_peak(stop: Arc<AtomicBool>, peak: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            peak.fetch_max(resident_kib(), Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

/// Reads a response head; returns (status line, Location, Content-Length).
fn read_head(reader: &mut impl std::io::BufRead) -> (String, Option<String>, Option<u64>) {
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let (mut location, mut length) = (None, None);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            return (status.trim_end().to_owned(), location, length);
        }
        let (name, value) = line.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("location") {
            location = Some(value.trim().to_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok();
        }
    }
}

fn request(host: &str, head: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(host).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    BufReader::new(stream)
}

/// GETs blob `digest` from `host` and hashes it as it arrives: (bytes, digest).
fn download(host: &str, digest: &str) -> (u64, String) {
    let mut get = request(
        host,
        &format!(
            "GET /v2/big/blobs/{digest} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ),
    );
    let (status, _, length) = read_head(&mut get);
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(length, Some(SIZE));
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0; BLOCK];
    let mut total = 0u64;
    loop {
        let read = get.read(&mut buffer).unwrap();
        if read == 0 {
            break;
        }
        total += read as u64;
        hasher.update(&buffer[..read]);
    }
    (total, format!("sha256:{}", hex::encode(hasher.finalize())))
}

#[test]
#[allow(clippy::print_stderr, clippy::cast_precision_loss)] // it reports its measurements
fn a_64_mib_blob_streams_through_without_being_held() {
    let registry = Registry::start(Auth::None).unwrap();
    let proxy = FaultProxy::start(&registry.url(), vec![], 1).unwrap();
    let host = proxy.host();
    let mut hasher = sha2::Sha256::new();
    for index in 0..blocks() {
        hasher.update(block(index));
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));

    let stop = Arc::new(AtomicBool::new(false));
    let baseline = resident_kib();
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampler = sample_peak(Arc::clone(&stop), Arc::clone(&peak));

    let mut start = request(
        &host,
        &format!(
            "POST /v2/big/blobs/uploads/ HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    let (status, location, _) = read_head(&mut start);
    assert!(status.contains(" 202 "), "{status}");
    let location = location.unwrap();
    let target = location.strip_prefix(&proxy.url()).unwrap();
    let separator = if target.contains('?') { '&' } else { '?' };
    let started = Instant::now();
    let mut put = request(
        &host,
        &format!(
            "PUT {target}{separator}digest={digest} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\nContent-Length: {SIZE}\r\n\r\n"
        ),
    );
    for index in 0..blocks() {
        put.get_mut().write_all(&block(index)).unwrap();
    }
    let (status, _, _) = read_head(&mut put);
    assert!(status.contains(" 201 "), "{status}");
    let upload = started.elapsed();

    let started = Instant::now();
    let read = download(&host, &digest);
    let download_time = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    assert_eq!(read, (SIZE, digest.clone()));

    // The same read straight from the registry, for the proxy's cost.
    let started = Instant::now();
    assert_eq!(download(&registry.host(), &digest), (SIZE, digest.clone()));
    let direct_time = started.elapsed();

    let growth_mib = peak.load(Ordering::SeqCst).saturating_sub(baseline) / 1024;
    let mib_per_s = |elapsed: Duration| (SIZE >> 20) as f64 / elapsed.as_secs_f64();
    eprintln!(
        "64 MiB through the proxy: upload {:.0} MiB/s, download {:.0} MiB/s (direct {:.0} MiB/s), resident growth {growth_mib} MiB",
        mib_per_s(upload),
        mib_per_s(download_time),
        mib_per_s(direct_time)
    );
    assert!(
        growth_mib < 24,
        "resident memory grew {growth_mib} MiB moving a 64 MiB blob"
    );
}
