//! A fault-injecting HTTP/1.1 proxy in front of a real registry, so registry tests show that
//! a client retries what it should and refuses what it must.
//!
//! The proxy forwards every request (any method, bodies streamed by `Content-Length` or
//! `chunked`) to the upstream and relays the answer, rewriting absolute `Location` headers
//! that point at the upstream so an upload keeps going through the proxy
//! (`WWW-Authenticate` realms are left alone). [`FaultRule`]s pick requests by method and
//! path and inject a [`Fault`] at a rate drawn from a seeded generator, and/or on the first
//! N matching requests. The decision for the n-th request a rule matches depends only on the
//! seed, the rule's position and n, so a run is reproducible whatever the threads do.
//!
//! One thread per connection, one request per connection (`Connection: close`), blocking
//! std I/O: usable from inside tokio tests like the rest of the testkit.

mod relay;
mod wire;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use relay::{serve_proxy, serve_redirect};

/// Which request paths a rule applies to (the path without its query).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PathMatch {
    /// Every path.
    #[default]
    Any,
    /// Blob reads and writes by digest (`/blobs/`), not uploads.
    Blobs,
    /// Blob uploads (`/blobs/uploads/`).
    Uploads,
    /// Manifests (`/manifests/`).
    Manifests,
    /// Paths containing this text.
    Contains(String),
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Blobs => path.contains("/blobs/") && !path.contains("/blobs/uploads/"),
            Self::Uploads => path.contains("/blobs/uploads/"),
            Self::Manifests => path.contains("/manifests/"),
            Self::Contains(text) => path.contains(text.as_str()),
        }
    }
}

/// What the proxy does to a request a rule picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `code` (400–599) without forwarding, with `Retry-After: SECONDS` when given.
    Status { code: u16, retry_after: Option<u64> },
    /// Answer `429` without forwarding, with Docker Hub's `ratelimit-limit` and
    /// `ratelimit-remaining: 0` headers and `Retry-After: SECONDS` when given.
    RateLimited { retry_after: Option<u64> },
    /// Forward, send the head and half of the body, then reset the connection (`RST`).
    ResetMidBody,
    /// Wait this long, then forward (to exercise timeouts).
    Stall { millis: u64 },
    /// Forward, send the head with its full `Content-Length` and half of the body, then
    /// close the connection cleanly.
    Truncate,
    /// Forward with one body byte flipped (length kept), so the body no longer matches
    /// its digest.
    Corrupt,
    /// Answer `307` to the proxy's second listener, another origin (another port), which
    /// serves the upstream's answer for the same target without credentials and records
    /// the headers it received.
    RedirectElsewhere,
}

/// A [`Fault`] without its parameters, to count injections by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    Status,
    RateLimited,
    ResetMidBody,
    Stall,
    Truncate,
    Corrupt,
    RedirectElsewhere,
}

impl Fault {
    /// Which kind of fault this is.
    #[must_use]
    pub fn kind(&self) -> FaultKind {
        match self {
            Self::Status { .. } => FaultKind::Status,
            Self::RateLimited { .. } => FaultKind::RateLimited,
            Self::ResetMidBody => FaultKind::ResetMidBody,
            Self::Stall { .. } => FaultKind::Stall,
            Self::Truncate => FaultKind::Truncate,
            Self::Corrupt => FaultKind::Corrupt,
            Self::RedirectElsewhere => FaultKind::RedirectElsewhere,
        }
    }
}

/// Which requests get which fault, how often.
///
/// A request is checked against the rules in order; each rule it matches counts it, and the
/// first rule that fires decides its fault. A rule fires on a matching request when the
/// request is among its first `first` matches (if set) and a draw from the seeded generator
/// is below `rate` (default 1.0: always).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    method: Option<String>,
    path: PathMatch,
    fault: Fault,
    rate: f64,
    first: Option<u64>,
    larger_than: Option<u64>,
}

impl FaultRule {
    /// `fault` on every request, until narrowed.
    #[must_use]
    pub fn new(fault: Fault) -> Self {
        Self {
            method: None,
            path: PathMatch::Any,
            fault,
            rate: 1.0,
            first: None,
            larger_than: None,
        }
    }

    /// Only requests with this method (`GET`, `HEAD`, `PUT`, ...).
    #[must_use]
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    /// Only requests whose path matches.
    #[must_use]
    pub fn path(mut self, path: PathMatch) -> Self {
        self.path = path;
        self
    }

    /// The share of matching requests that get the fault, 0.0 to 1.0.
    #[must_use]
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate;
        self
    }

    /// Only the first `count` matching requests.
    #[must_use]
    pub fn first(mut self, count: u64) -> Self {
        self.first = Some(count);
        self
    }

    /// Only requests whose `Content-Length` is over `bytes` (a proxy's body size limit:
    /// `Fault::Status { code: 413, .. }`).
    #[must_use]
    pub fn larger_than(mut self, bytes: u64) -> Self {
        self.larger_than = Some(bytes);
        self
    }

    fn matches(&self, method: &str, path: &str, length: Option<u64>) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.matches(path)
            && self
                .larger_than
                .is_none_or(|limit| length.is_some_and(|length| length > limit))
    }

    fn validate(&self, index: usize) -> Result<()> {
        if !(0.0..=1.0).contains(&self.rate) {
            bail!(
                "fault rule {index}: rate `{}` is not between 0.0 and 1.0",
                self.rate
            );
        }
        if let Fault::Status { code, .. } = self.fault {
            if !(400..=599).contains(&code) {
                bail!("fault rule {index}: status `{code}` is not an error status (400-599)");
            }
        }
        Ok(())
    }
}

/// One request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    pub method: String,
    /// The request target as sent: path and query.
    pub path: String,
    /// The fault injected, if any.
    pub fault: Option<FaultKind>,
    /// The status the client was sent; `None` when no head was sent (upstream unreachable).
    pub status: Option<u16>,
}

/// One request the redirect target received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectedRequest {
    pub method: String,
    /// The request target as sent: path and query.
    pub path: String,
    /// Every header as received, in order.
    pub headers: Vec<(String, String)>,
}

impl RedirectedRequest {
    /// The first header named `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        wire::header(&self.headers, name)
    }
}

/// State shared by the listeners and their connection threads.
struct Shared {
    /// `HOST:PORT` of the upstream.
    upstream: String,
    /// `http://HOST:PORT` of the upstream, as `Location` headers spell it.
    upstream_base: String,
    proxy_base: String,
    redirect_base: String,
    rules: Vec<FaultRule>,
    seed: u64,
    matched: Mutex<Vec<u64>>,
    log: Mutex<Vec<ProxiedRequest>>,
    counts: Mutex<BTreeMap<FaultKind, usize>>,
    redirected: Mutex<Vec<RedirectedRequest>>,
    shutdown: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fault proxy; both listeners stop on drop.
pub struct FaultProxy {
    shared: Arc<Shared>,
    port: u16,
    redirect_port: u16,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("host", &self.host())
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream_base_url`
    /// (`http://HOST:PORT`, e.g. [`crate::Registry::url`]), injecting faults by `rules`
    /// with decisions drawn from `seed`.
    pub fn start(upstream_base_url: &str, rules: Vec<FaultRule>, seed: u64) -> Result<Self> {
        let upstream = upstream_authority(upstream_base_url)?;
        for (index, rule) in rules.iter().enumerate() {
            rule.validate(index)?;
        }
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the fault proxy")?;
        let redirect =
            TcpListener::bind("127.0.0.1:0").context("binding the fault proxy's redirect")?;
        let port = listener.local_addr()?.port();
        let redirect_port = redirect.local_addr()?.port();
        let shared = Arc::new(Shared {
            upstream_base: format!("http://{upstream}"),
            upstream,
            proxy_base: format!("http://127.0.0.1:{port}"),
            redirect_base: format!("http://127.0.0.1:{redirect_port}"),
            matched: Mutex::new(vec![0; rules.len()]),
            rules,
            seed,
            log: Mutex::default(),
            counts: Mutex::default(),
            redirected: Mutex::default(),
            shutdown: AtomicBool::new(false),
        });
        let threads = vec![
            accept_loop(listener, Arc::clone(&shared), serve_proxy),
            accept_loop(redirect, Arc::clone(&shared), serve_redirect),
        ];
        Ok(Self {
            shared,
            port,
            redirect_port,
            threads,
        })
    }

    /// `127.0.0.1:PORT`.
    #[must_use]
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        self.shared.proxy_base.clone()
    }

    /// `127.0.0.1:PORT/REPO:TAG`, a reference to an image through the proxy.
    #[must_use]
    pub fn image(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.host())
    }

    /// The port the proxy listens on.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` of the redirect target [`Fault::RedirectElsewhere`] sends to.
    #[must_use]
    pub fn redirect_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.redirect_port)
    }

    /// Every request the proxy received so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        lock(&self.shared.log).clone()
    }

    /// How many faults of each kind were injected (kinds never injected are absent).
    #[must_use]
    pub fn injected(&self) -> BTreeMap<FaultKind, usize> {
        lock(&self.shared.counts).clone()
    }

    /// How many faults of `kind` were injected.
    #[must_use]
    pub fn injected_of(&self, kind: FaultKind) -> usize {
        lock(&self.shared.counts).get(&kind).copied().unwrap_or(0)
    }

    /// Every request the redirect target received, with its headers.
    #[must_use]
    pub fn redirected(&self) -> Vec<RedirectedRequest> {
        lock(&self.shared.redirected).clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for port in [self.port, self.redirect_port] {
            let _ = TcpStream::connect(("127.0.0.1", port));
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// `HOST:PORT` of an `http://HOST:PORT[/]` base URL.
fn upstream_authority(url: &str) -> Result<String> {
    let authority = url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        .with_context(|| format!("fault proxy upstream `{url}` is not `http://HOST:PORT`"))?;
    Ok(if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    })
}

fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    serve: fn(TcpStream, &Shared) -> Result<()>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if shared.shutdown.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                let _ = serve(stream, &shared);
            });
        }
    })
}

/// A uniform draw in [0, 1) for the `n`-th request `rule` matched (`SplitMix64` finalizer
/// over the seed, rule and count).
fn draw(seed: u64, rule: usize, n: u64) -> f64 {
    let mut x = seed
        ^ (rule as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03);
    for _ in 0..2 {
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
    }
    #[allow(clippy::cast_precision_loss)] // 53 bits fit an f64 exactly
    let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
    unit
}

impl Shared {
    /// The fault for this request, if a rule fires; counts the match either way.
    fn decide(&self, method: &str, path: &str, length: Option<u64>) -> Option<Fault> {
        let mut matched = lock(&self.matched);
        for (index, rule) in self.rules.iter().enumerate() {
            if !rule.matches(method, path, length) {
                continue;
            }
            let n = matched[index];
            matched[index] += 1;
            if rule.first.is_some_and(|first| n >= first) {
                continue;
            }
            if draw(self.seed, index, n) < rule.rate {
                return Some(rule.fault.clone());
            }
        }
        None
    }

    fn record(&self, request: ProxiedRequest) -> usize {
        if let Some(kind) = request.fault {
            *lock(&self.counts).entry(kind).or_default() += 1;
        }
        let mut log = lock(&self.log);
        log.push(request);
        log.len() - 1
    }

    fn set_status(&self, index: usize, status: u16) {
        if let Some(entry) = lock(&self.log).get_mut(index) {
            entry.status = Some(status);
        }
    }

    /// Sleeps `millis`, waking early when the proxy stops.
    fn stall(&self, millis: u64) {
        let deadline = Instant::now() + Duration::from_millis(millis);
        while Instant::now() < deadline && !self.shutdown.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10).min(deadline - Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_by_kind() {
        assert!(PathMatch::Blobs.matches("/v2/app/blobs/sha256:abc"));
        assert!(!PathMatch::Blobs.matches("/v2/app/blobs/uploads/123"));
        assert!(PathMatch::Uploads.matches("/v2/app/blobs/uploads/"));
        assert!(PathMatch::Manifests.matches("/v2/app/manifests/1.0"));
        assert!(!PathMatch::Manifests.matches("/v2/app/blobs/sha256:abc"));
        assert!(PathMatch::Contains("/tags/".into()).matches("/v2/app/tags/list"));
        assert!(PathMatch::Any.matches("/v2/"));
    }

    #[test]
    fn rules_match_method_case_insensitively() {
        let rule = FaultRule::new(Fault::Corrupt).method("get");
        assert!(rule.matches("GET", "/v2/", None));
        assert!(!rule.matches("HEAD", "/v2/", None));
        let limit = FaultRule::new(Fault::Status {
            code: 413,
            retry_after: None,
        })
        .larger_than(10);
        assert!(limit.matches("PUT", "/v2/a/blobs/uploads/1", Some(11)));
        assert!(!limit.matches("PUT", "/v2/a/blobs/uploads/1", Some(10)));
        assert!(!limit.matches("PUT", "/v2/a/blobs/uploads/1", None));
    }

    #[test]
    fn draws_are_uniform_enough_and_fixed_by_seed() {
        let draws: Vec<f64> = (0..10_000).map(|n| draw(7, 0, n)).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let below: usize = draws.iter().filter(|d| **d < 0.25).count();
        assert!(
            (2_200..2_800).contains(&below),
            "{below} of 10000 below 0.25"
        );
        assert_eq!(draw(7, 0, 42).to_bits(), draw(7, 0, 42).to_bits());
        assert_ne!(draw(7, 0, 42).to_bits(), draw(8, 0, 42).to_bits());
        assert_ne!(draw(7, 0, 42).to_bits(), draw(7, 1, 42).to_bits());
    }

    fn shared(rules: Vec<FaultRule>, seed: u64) -> Shared {
        Shared {
            upstream: "127.0.0.1:1".into(),
            upstream_base: "http://127.0.0.1:1".into(),
            proxy_base: String::new(),
            redirect_base: String::new(),
            matched: Mutex::new(vec![0; rules.len()]),
            rules,
            seed,
            log: Mutex::default(),
            counts: Mutex::default(),
            redirected: Mutex::default(),
            shutdown: AtomicBool::new(false),
        }
    }

    #[test]
    fn first_n_fires_exactly_n_times_then_later_rules_apply() {
        let shared = shared(
            vec![
                FaultRule::new(Fault::Truncate).first(2),
                FaultRule::new(Fault::Corrupt).method("GET"),
            ],
            1,
        );
        let kinds: Vec<_> = (0..4)
            .map(|_| shared.decide("GET", "/v2/", None).map(|f| f.kind()))
            .collect();
        assert_eq!(
            kinds,
            [
                Some(FaultKind::Truncate),
                Some(FaultKind::Truncate),
                Some(FaultKind::Corrupt),
                Some(FaultKind::Corrupt)
            ]
        );
        assert_eq!(shared.decide("HEAD", "/v2/", None), None);
    }

    #[test]
    fn bad_rules_and_upstreams_are_refused_naming_the_value() {
        let error = FaultProxy::start(
            "http://127.0.0.1:5000",
            vec![FaultRule::new(Fault::Corrupt).rate(1.5)],
            0,
        )
        .unwrap_err();
        assert!(error.to_string().contains("`1.5`"), "{error}");
        let error = FaultProxy::start(
            "http://127.0.0.1:5000",
            vec![
                FaultRule::new(Fault::Corrupt),
                FaultRule::new(Fault::Status {
                    code: 200,
                    retry_after: None,
                }),
            ],
            0,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("rule 1: status `200`"),
            "{error}"
        );
        let error = FaultProxy::start("https://127.0.0.1:5000/v2", vec![], 0).unwrap_err();
        assert!(
            error.to_string().contains("`https://127.0.0.1:5000/v2`"),
            "{error}"
        );
        assert_eq!(
            upstream_authority("http://127.0.0.1:5000/").unwrap(),
            "127.0.0.1:5000"
        );
    }
}
