//! Just enough HTTP/1.1 for the fault proxy: request and response heads, and bodies framed
//! by `Content-Length`, `chunked` or the end of the connection, streamed in blocks so a
//! multi-hundred-megabyte blob never sits in memory.

use std::io::{self, BufRead, Read, Write};

use anyhow::{bail, Context as _, Result};

/// Size of the blocks bodies are relayed in.
pub(super) const BLOCK: usize = 64 * 1024;

/// Longest head line accepted (request line, status line or header).
const MAX_LINE: usize = 64 * 1024;

/// A request line and its headers, as received.
#[derive(Debug, Clone)]
pub(super) struct RequestHead {
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
}

/// A status line and its headers, as received.
#[derive(Debug, Clone)]
pub(super) struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body at all (a `HEAD` answer, `204`, `304`, a request without length).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the peer closes (responses only).
    UntilClose,
}

/// The first header named `name` (case-insensitive).
pub(super) fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn read_line(reader: &mut impl BufRead) -> Result<Option<String>> {
    let mut line = Vec::new();
    let read = reader.take(MAX_LINE as u64).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        bail!("HTTP head line longer than {MAX_LINE} bytes or cut off");
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(Some(
        String::from_utf8(line).context("HTTP head line is not UTF-8")?,
    ))
}

fn read_headers(reader: &mut impl BufRead) -> Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.context("connection closed inside the HTTP head")?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("HTTP header line without `:`: `{line}`"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

/// Reads a request head; `None` when the client closed before sending one.
pub(super) fn read_request_head(reader: &mut impl BufRead) -> Result<Option<RequestHead>> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("HTTP request line `{line}` is not `METHOD TARGET VERSION`");
    };
    if !version.starts_with("HTTP/1.") {
        bail!("HTTP request line `{line}`: version `{version}` is not HTTP/1.x");
    }
    Ok(Some(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: read_headers(reader)?,
    }))
}

/// Reads a response head, skipping interim `1xx` answers.
pub(super) fn read_response_head(reader: &mut impl BufRead) -> Result<ResponseHead> {
    loop {
        let line = read_line(reader)?.context("upstream closed before answering")?;
        let mut parts = line.splitn(3, ' ');
        let (_version, status, reason) = (parts.next(), parts.next(), parts.next());
        let status: u16 = status
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("upstream status line `{line}` has no status code"))?;
        let headers = read_headers(reader)?;
        if (100..200).contains(&status) {
            continue;
        }
        return Ok(ResponseHead {
            status,
            reason: reason.unwrap_or("").to_owned(),
            headers,
        });
    }
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    header(headers, "Transfer-Encoding").is_some_and(|te| {
        te.rsplit(',')
            .next()
            .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
    })
}

fn content_length(headers: &[(String, String)]) -> Result<Option<u64>> {
    header(headers, "Content-Length")
        .map(|value| {
            value
                .parse()
                .with_context(|| format!("`Content-Length: {value}` is not a byte count"))
        })
        .transpose()
}

/// How a request's body is delimited.
pub(super) fn request_framing(head: &RequestHead) -> Result<Framing> {
    if is_chunked(&head.headers) {
        return Ok(Framing::Chunked);
    }
    Ok(match content_length(&head.headers)? {
        Some(0) | None => Framing::Empty,
        Some(length) => Framing::Length(length),
    })
}

/// How the body of a response to `method` is delimited.
pub(super) fn response_framing(method: &str, head: &ResponseHead) -> Result<Framing> {
    if method.eq_ignore_ascii_case("HEAD") || matches!(head.status, 204 | 304) {
        return Ok(Framing::Empty);
    }
    if is_chunked(&head.headers) {
        return Ok(Framing::Chunked);
    }
    Ok(match content_length(&head.headers)? {
        Some(0) => Framing::Empty,
        Some(length) => Framing::Length(length),
        None => Framing::UntilClose,
    })
}

/// Reads the payload of a body (chunked framing removed).
pub(super) struct BodyReader<'r, R> {
    reader: &'r mut R,
    framing: Framing,
    /// Bytes left in the current chunk or the whole `Length` body.
    left: u64,
    done: bool,
}

impl<'r, R: BufRead> BodyReader<'r, R> {
    pub fn new(reader: &'r mut R, framing: Framing) -> Self {
        let (left, done) = match framing {
            Framing::Empty => (0, true),
            Framing::Length(length) => (length, false),
            Framing::Chunked | Framing::UntilClose => (0, false),
        };
        Self {
            reader,
            framing,
            left,
            done,
        }
    }

    /// Reads the next chunk-size line; at the last chunk, the trailers too.
    fn next_chunk(&mut self) -> io::Result<()> {
        let line = read_line(self.reader)
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let size = line.split(';').next().unwrap_or("").trim();
        self.left = u64::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("chunk size `{size}` is not hexadecimal"),
            )
        })?;
        if self.left == 0 {
            read_headers(self.reader).map_err(io::Error::other)?;
            self.done = true;
        }
        Ok(())
    }
}

impl<R: BufRead> Read for BodyReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::Empty => Ok(0),
            Framing::UntilClose => self.reader.read(buf),
            Framing::Length(_) => {
                let want = buf
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                let read = self.reader.read(&mut buf[..want])?;
                if read == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                self.left -= read as u64;
                self.done = self.left == 0;
                Ok(read)
            }
            Framing::Chunked => {
                if self.left == 0 {
                    self.next_chunk()?;
                    if self.done {
                        return Ok(0);
                    }
                }
                let want = buf
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                let read = self.reader.read(&mut buf[..want])?;
                if read == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                self.left -= read as u64;
                if self.left == 0 {
                    let mut crlf = [0; 2];
                    self.reader.read_exact(&mut crlf)?;
                }
                Ok(read)
            }
        }
    }
}

/// Writes a body's payload with `framing` (chunks for `Chunked`, raw bytes otherwise).
pub(super) fn write_payload(out: &mut impl Write, framing: Framing, bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    if framing == Framing::Chunked {
        write!(out, "{:x}\r\n", bytes.len())?;
        out.write_all(bytes)?;
        out.write_all(b"\r\n")?;
    } else {
        out.write_all(bytes)?;
    }
    Ok(())
}

/// Ends a body written with `framing`.
pub(super) fn finish_payload(out: &mut impl Write, framing: Framing) -> Result<()> {
    if framing == Framing::Chunked {
        out.write_all(b"0\r\n\r\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Copies a whole body from `reader` to `out`, keeping its framing.
pub(super) fn relay_body(
    reader: &mut impl BufRead,
    out: &mut impl Write,
    framing: Framing,
) -> Result<()> {
    let mut body = BodyReader::new(reader, framing);
    let mut block = vec![0; BLOCK];
    loop {
        let read = body.read(&mut block)?;
        if read == 0 {
            break;
        }
        write_payload(out, framing, &block[..read])?;
    }
    finish_payload(out, framing)
}

/// Writes `headers` and the blank line that ends a head.
pub(super) fn write_headers(out: &mut impl Write, headers: &[(String, String)]) -> Result<()> {
    for (name, value) in headers {
        write!(out, "{name}: {value}\r\n")?;
    }
    out.write_all(b"\r\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(raw: &[u8], framing: Framing) -> io::Result<Vec<u8>> {
        let mut reader = io::BufReader::new(raw);
        let mut out = Vec::new();
        BodyReader::new(&mut reader, framing).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn chunked_bodies_decode_with_extensions_and_trailers() {
        let raw = b"4;name=x\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: yes\r\n\r\nNEXT";
        assert_eq!(payload(raw, Framing::Chunked).unwrap(), b"Wikipedia");
    }

    #[test]
    fn bad_chunk_size_is_an_error_naming_it() {
        let error = payload(b"zz\r\nabc\r\n", Framing::Chunked).unwrap_err();
        assert!(error.to_string().contains("`zz`"), "{error}");
    }

    #[test]
    fn length_bodies_stop_at_the_length_and_refuse_a_short_one() {
        assert_eq!(payload(b"abcdef", Framing::Length(3)).unwrap(), b"abc");
        assert_eq!(
            payload(b"ab", Framing::Length(3)).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn relayed_chunked_body_is_chunked_again() {
        let mut reader = io::BufReader::new(&b"3\r\nabc\r\n0\r\n\r\n"[..]);
        let mut out = Vec::new();
        relay_body(&mut reader, &mut out, Framing::Chunked).unwrap();
        assert_eq!(out, b"3\r\nabc\r\n0\r\n\r\n");
    }

    #[test]
    fn head_answers_and_no_content_have_no_body() {
        let head = ResponseHead {
            status: 200,
            reason: "OK".into(),
            headers: vec![("Content-Length".into(), "10".into())],
        };
        assert_eq!(response_framing("HEAD", &head).unwrap(), Framing::Empty);
        assert_eq!(response_framing("GET", &head).unwrap(), Framing::Length(10));
        let no_length = ResponseHead {
            headers: vec![],
            ..head
        };
        assert_eq!(
            response_framing("GET", &no_length).unwrap(),
            Framing::UntilClose
        );
    }

    #[test]
    fn request_heads_parse_and_bad_ones_are_named() {
        let mut reader = io::BufReader::new(
            &b"PATCH /v2/a/blobs/uploads/x?_state=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        );
        let head = read_request_head(&mut reader).unwrap().unwrap();
        assert_eq!(head.method, "PATCH");
        assert_eq!(head.target, "/v2/a/blobs/uploads/x?_state=1");
        assert_eq!(request_framing(&head).unwrap(), Framing::Chunked);

        let mut reader = io::BufReader::new(&b"GARBAGE\r\n\r\n"[..]);
        let error = read_request_head(&mut reader).unwrap_err();
        assert!(error.to_string().contains("`GARBAGE`"), "{error}");
    }
}
