//! An in-process implementation of Docker's token protocol (the `auth.token` side of a
//! Distribution registry): `GET realm?service=…&scope=repository:NAME:pull,push` with
//! optional basic credentials answers a JWT signed ES256 whose self-signed certificate is
//! the registry's `rootcertbundle` and travels in the JWT header's `x5c`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The basic-auth user, `None` for an anonymous request.
    pub user: Option<String>,
    /// `scope` parameters as sent, e.g. `repository:app:pull`.
    pub scopes: Vec<String>,
    /// The `service` parameter.
    pub service: Option<String>,
    /// HTTP status answered (401 for wrong credentials).
    pub status: u16,
}

/// Signs registry tokens.
pub(crate) struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    cert_der: Vec<u8>,
    pub cert_pem: String,
    pub issuer: String,
    pub service: String,
    serial: AtomicU64,
}

impl Signer {
    pub fn new(issuer: &str, service: &str) -> Result<Self> {
        let key_pair = rcgen::KeyPair::generate()?;
        let cert = rcgen::CertificateParams::new(vec!["portcullis-testkit-token".to_owned()])?
            .self_signed(&key_pair)?;
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key_pair.serialize_der(),
            &rng,
        )
        .map_err(|e| anyhow::anyhow!("loading the token key: {e}"))?;
        Ok(Self {
            key,
            rng,
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            issuer: issuer.to_owned(),
            service: service.to_owned(),
            serial: AtomicU64::new(1),
        })
    }

    /// A token for `subject` granting `actions` on each repository.
    pub fn mint(&self, subject: &str, access: &[(String, Vec<String>)]) -> Result<String> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = serde_json::json!({
            "typ": "JWT",
            "alg": "ES256",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let now = unix_now();
        let access: Vec<_> = access
            .iter()
            .map(|(name, actions)| {
                serde_json::json!({ "type": "repository", "name": name, "actions": actions })
            })
            .collect();
        let claims = serde_json::json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("testkit-{}", self.serial.fetch_add(1, Ordering::Relaxed)),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64.encode(serde_json::to_vec(&header)?),
            b64.encode(serde_json::to_vec(&claims)?)
        );
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|e| anyhow::anyhow!("signing a token: {e}"))?;
        Ok(format!(
            "{signing_input}.{}",
            b64.encode(signature.as_ref())
        ))
    }
}

/// Who may get which token.
#[derive(Clone)]
pub(crate) struct Policy {
    pub user: String,
    pub password: String,
    pub anonymous_pull: bool,
}

/// The running token server; stops on drop.
pub(crate) struct TokenServer {
    port: u16,
    shutdown: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<TokenRequest>>>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    pub fn start(signer: Arc<Signer>, policy: Policy) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the token server")?;
        let port = listener.local_addr()?.port();
        let shutdown = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let shutdown = Arc::clone(&shutdown);
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if shutdown.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (signer, policy, log) =
                        (Arc::clone(&signer), policy.clone(), Arc::clone(&log));
                    std::thread::spawn(move || {
                        let _ = serve(stream, &signer, &policy, &log);
                    });
                }
            })
        };
        Ok(Self {
            port,
            shutdown,
            log,
            thread: Some(thread),
        })
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    signer: &Signer,
    policy: &Policy,
    log: &Mutex<Vec<TokenRequest>>,
) -> Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_owned());
            }
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "GET" || path != "/token" {
        return respond(stream, 404, r#"{"error":"not found"}"#);
    }
    let mut scopes = Vec::new();
    let mut service = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match key {
            "scope" => scopes.extend(value.split(' ').map(str::to_owned)),
            "service" => service = Some(value),
            _ => {}
        }
    }
    let user = authorization.as_deref().and_then(basic_credentials);
    let authenticated = match &user {
        Some((name, password)) => name == &policy.user && password == &policy.password,
        None => false,
    };
    let status = if user.is_some() && !authenticated {
        401
    } else {
        200
    };
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(TokenRequest {
            user: user.as_ref().map(|(name, _)| name.clone()),
            scopes: scopes.clone(),
            service,
            status,
        });
    if status == 401 {
        return respond(
            stream,
            401,
            r#"{"details":"incorrect username or password"}"#,
        );
    }
    let access: Vec<(String, Vec<String>)> = scopes
        .iter()
        .filter_map(|scope| {
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            if kind != "repository" {
                return None;
            }
            let granted: Vec<String> = actions
                .split(',')
                .filter(|a| authenticated || (policy.anonymous_pull && *a == "pull"))
                .map(str::to_owned)
                .collect();
            Some((name.to_owned(), granted))
        })
        .collect();
    let subject = user.map_or_else(String::new, |(name, _)| name);
    let token = signer.mint(&subject, &access)?;
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": 300,
        "issued_at": rfc3339(unix_now()),
    });
    respond(stream, 200, &body.to_string())
}

fn respond(mut stream: TcpStream, status: u16, body: &str) -> Result<()> {
    let reason = if status == 200 { "OK" } else { "Error" };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    Ok(())
}

fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match text
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (civil-from-days, proleptic Gregorian).
pub(crate) fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn percent_decode_scopes() {
        assert_eq!(
            percent_decode("repository%3Aapp%3Apull%2Cpush"),
            "repository:app:pull,push"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a+b"), "a b");
    }
}
