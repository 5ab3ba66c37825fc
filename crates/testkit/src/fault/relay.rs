//! The fault proxy's connections: one request each, answered by the proxy itself (injected
//! statuses and redirects) or forwarded to the upstream with the body relayed in blocks,
//! faults applied on the way.

use std::io::{BufReader, BufWriter, Read as _, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use anyhow::Result;

use super::wire::{self, Framing, RequestHead};
use super::{lock, Fault, ProxiedRequest, RedirectedRequest, Shared};

const IO_TIMEOUT: Duration = Duration::from_mins(2);

/// The client's side of one connection.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    out: BufWriter<TcpStream>,
}

impl Client {
    fn new(stream: TcpStream) -> Result<Self> {
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone()?),
            out: BufWriter::with_capacity(wire::BLOCK, stream.try_clone()?),
            stream,
        })
    }

    /// Reads and drops the request body, so answering early never resets an upload.
    fn drain(&mut self, head: &RequestHead) -> Result<()> {
        let framing = wire::request_framing(head)?;
        std::io::copy(
            &mut wire::BodyReader::new(&mut self.reader, framing),
            &mut std::io::sink(),
        )?;
        Ok(())
    }

    /// Answers with a short JSON error body (only its length for `HEAD`).
    fn answer(
        &mut self,
        head: &RequestHead,
        status: u16,
        headers: &[(String, String)],
    ) -> Result<()> {
        let body = format!(
            "{{\"errors\":[{{\"code\":\"UNAVAILABLE\",\"message\":\"{status} injected by the portcullis fault proxy\"}}]}}"
        );
        let mut all = headers.to_vec();
        all.extend([
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("Content-Length".to_owned(), body.len().to_string()),
            ("Connection".to_owned(), "close".to_owned()),
        ]);
        write!(self.out, "HTTP/1.1 {status} {}\r\n", reason(status))?;
        wire::write_headers(&mut self.out, &all)?;
        if !head.method.eq_ignore_ascii_case("HEAD") {
            self.out.write_all(body.as_bytes())?;
        }
        self.out.flush()?;
        let _ = self.stream.shutdown(Shutdown::Write);
        Ok(())
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected Fault",
    }
}

pub(super) fn serve_proxy(stream: TcpStream, shared: &Shared) -> Result<()> {
    let mut client = Client::new(stream)?;
    let Some(head) = wire::read_request_head(&mut client.reader)? else {
        return Ok(());
    };
    let path = head.target.split('?').next().unwrap_or("");
    let length = match wire::request_framing(&head)? {
        wire::Framing::Length(length) => Some(length),
        _ => None,
    };
    let fault = shared.decide(&head.method, path, length);
    let index = shared.record(ProxiedRequest {
        method: head.method.clone(),
        path: head.target.clone(),
        fault: fault.as_ref().map(Fault::kind),
        status: None,
    });
    match fault {
        Some(Fault::Status { code, retry_after }) => {
            client.drain(&head)?;
            let headers: Vec<_> = retry_after
                .map(|seconds| ("Retry-After".to_owned(), seconds.to_string()))
                .into_iter()
                .collect();
            shared.set_status(index, code);
            client.answer(&head, code, &headers)?;
        }
        Some(Fault::RateLimited { retry_after }) => {
            client.drain(&head)?;
            let mut headers = vec![
                ("ratelimit-limit".to_owned(), "100;w=21600".to_owned()),
                ("ratelimit-remaining".to_owned(), "0;w=21600".to_owned()),
            ];
            headers.extend(retry_after.map(|s| ("Retry-After".to_owned(), s.to_string())));
            shared.set_status(index, 429);
            client.answer(&head, 429, &headers)?;
        }
        Some(Fault::RedirectElsewhere) => {
            client.drain(&head)?;
            let location = format!("{}{}", shared.redirect_base, head.target);
            shared.set_status(index, 307);
            client.answer(&head, 307, &[("Location".to_owned(), location)])?;
        }
        Some(Fault::Stall { millis }) => {
            shared.stall(millis);
            forward(shared, &head, &mut client, None, Some(index))?;
        }
        body_fault => forward(shared, &head, &mut client, body_fault.as_ref(), Some(index))?,
    }
    Ok(())
}

pub(super) fn serve_redirect(stream: TcpStream, shared: &Shared) -> Result<()> {
    let mut client = Client::new(stream)?;
    let Some(head) = wire::read_request_head(&mut client.reader)? else {
        return Ok(());
    };
    lock(&shared.redirected).push(RedirectedRequest {
        method: head.method.clone(),
        path: head.target.clone(),
        headers: head.headers.clone(),
    });
    forward(shared, &head, &mut client, None, None)?;
    Ok(())
}

/// Headers that describe one connection, not the message: never forwarded.
const HOP_BY_HOP: [&str; 7] = [
    "Host",
    "Connection",
    "Keep-Alive",
    "Proxy-Connection",
    "TE",
    "Upgrade",
    "Expect",
];

/// Forwards the request to the upstream and relays the answer, applying a body `fault`
/// (`Truncate`, `ResetMidBody` or `Corrupt`). With `log`, the proxy's own log entry gets
/// the status before the client does; without, this is the redirect target, which
/// forwards no credentials.
fn forward(
    shared: &Shared,
    head: &RequestHead,
    client: &mut Client,
    fault: Option<&Fault>,
    log: Option<usize>,
) -> Result<()> {
    let drop_credentials = log.is_none();
    let set_status = |status| {
        if let Some(index) = log {
            shared.set_status(index, status);
        }
    };
    let Ok(upstream) = TcpStream::connect(&shared.upstream) else {
        // What a gateway answers when its upstream is gone.
        client.drain(head)?;
        set_status(502);
        return client.answer(head, 502, &[]);
    };
    upstream.set_read_timeout(Some(IO_TIMEOUT))?;
    upstream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut up_out = BufWriter::with_capacity(wire::BLOCK, upstream.try_clone()?);
    let mut headers: Vec<(String, String)> = head
        .headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name)))
        .filter(|(name, _)| !(drop_credentials && name.eq_ignore_ascii_case("Authorization")))
        .cloned()
        .collect();
    headers.push(("Host".to_owned(), shared.upstream.clone()));
    headers.push(("Connection".to_owned(), "close".to_owned()));
    write!(up_out, "{} {} HTTP/1.1\r\n", head.method, head.target)?;
    wire::write_headers(&mut up_out, &headers)?;
    if wire::header(&head.headers, "Expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        client.out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        client.out.flush()?;
    }
    wire::relay_body(
        &mut client.reader,
        &mut up_out,
        wire::request_framing(head)?,
    )?;
    drop(up_out);

    let mut up_reader = BufReader::with_capacity(wire::BLOCK, upstream);
    let response = wire::read_response_head(&mut up_reader)?;
    let framing = wire::response_framing(&head.method, &response)?;
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name)))
        .map(|(name, value)| {
            let value = match value.strip_prefix(&shared.upstream_base) {
                Some(rest) if name.eq_ignore_ascii_case("Location") => {
                    format!("{}{rest}", shared.proxy_base)
                }
                _ => value.clone(),
            };
            (name.clone(), value)
        })
        .collect();
    headers.push(("Connection".to_owned(), "close".to_owned()));
    set_status(response.status);
    write!(
        client.out,
        "HTTP/1.1 {} {}\r\n",
        response.status, response.reason
    )?;
    wire::write_headers(&mut client.out, &headers)?;
    match fault {
        Some(fault @ (Fault::Truncate | Fault::ResetMidBody | Fault::Corrupt)) => {
            relay_faulty(&mut up_reader, client, framing, fault)?;
        }
        _ => wire::relay_body(&mut up_reader, &mut client.out, framing)?,
    }
    if fault != Some(&Fault::ResetMidBody) {
        // A clean end; a reset must not be preceded by a FIN the client would read as EOF.
        let _ = client.stream.shutdown(Shutdown::Write);
    }
    Ok(())
}

/// Relays a body with `fault`: cut at half the body (`Truncate` closes, `ResetMidBody`
/// resets), or one byte flipped in its middle (`Corrupt`). Without a known length, the
/// first block read stands for the body.
fn relay_faulty(
    up_reader: &mut BufReader<TcpStream>,
    client: &mut Client,
    framing: Framing,
    fault: &Fault,
) -> Result<()> {
    let mut body = wire::BodyReader::new(up_reader, framing);
    let mut at = match framing {
        Framing::Length(length) => Some(length / 2),
        _ => None,
    };
    let mut block = vec![0; wire::BLOCK];
    let mut offset = 0u64;
    loop {
        let read = body.read(&mut block)?;
        if read == 0 {
            break;
        }
        let point = *at.get_or_insert(offset + read as u64 / 2);
        let end = offset + read as u64;
        if *fault == Fault::Corrupt {
            if (offset..end).contains(&point) {
                block[(point - offset) as usize] ^= 0xFF;
            }
            wire::write_payload(&mut client.out, framing, &block[..read])?;
        } else if point < end {
            let keep = (point - offset) as usize;
            wire::write_payload(&mut client.out, framing, &block[..keep])?;
            client.out.flush()?;
            if *fault == Fault::ResetMidBody {
                // Let the bytes reach the client, then close with a zero linger: an RST.
                std::thread::sleep(Duration::from_millis(50));
                socket2::SockRef::from(&client.stream).set_linger(Some(Duration::ZERO))?;
            } else {
                let _ = client.stream.shutdown(Shutdown::Write);
            }
            return Ok(());
        } else {
            wire::write_payload(&mut client.out, framing, &block[..read])?;
        }
        offset = end;
    }
    wire::finish_payload(&mut client.out, framing)
}
