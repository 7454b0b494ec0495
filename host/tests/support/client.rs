//! A raw HTTP/1.1 client for tests. It writes exactly the bytes a test gives it and parses
//! responses with its own small decoder, so the tests do not trust the codec under test.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous: only a hung gateway hits it, and then the test should fail, not hang.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The demo origin's JSON echo of the request head it received.
    pub fn echo(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not an echo ({e}): {}", self.text()))
    }

    /// Header values the origin saw, from the echo.
    pub fn echoed_header(&self, name: &str) -> Vec<String> {
        echoed_header(&self.echo(), name)
    }
}

/// The values of `name` in a demo origin's echo (`{"headers": [[name, value], …]}`).
pub fn echoed_header(echo: &serde_json::Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|pair| pair[1].as_str().unwrap().to_owned())
        .collect()
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Set when the request was HEAD, so the next response is read without a body.
    pub head_request: bool,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).await.unwrap())
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_nodelay(true).unwrap();
        Client { stream, buf: Vec::new(), head_request: false }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        tokio::time::timeout(IO_TIMEOUT, self.stream.write_all(bytes)).await.expect("send timed out").unwrap();
    }

    /// `send` that tolerates the peer having closed (for refusal tests).
    pub async fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 64 * 1024];
        let n =
            tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut chunk)).await.expect("read timed out").unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads one response (skipping nothing: a 1xx is returned as its own response).
    pub async fn response(&mut self) -> Response {
        self.try_response().await.expect("connection closed before a complete response")
    }

    /// `None` if the connection closed before a complete response head.
    pub async fn try_response(&mut self) -> Option<Response> {
        let (status, reason, headers) = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                break parse_head(&head);
            }
            if self.fill().await == 0 {
                return None;
            }
        };
        let mut resp = Response { status, reason, headers, body: Vec::new(), trailers: Vec::new() };
        let no_body = self.head_request || (100..200).contains(&status) || status == 204 || status == 304;
        if no_body {
            return Some(resp);
        }
        let chunked = resp.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            self.read_chunked(&mut resp).await?;
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                if self.fill().await == 0 {
                    return None;
                }
            }
            resp.body = self.buf.drain(..len).collect();
        } else {
            while self.fill().await > 0 {}
            resp.body = std::mem::take(&mut self.buf);
        }
        Some(resp)
    }

    async fn read_chunked(&mut self, resp: &mut Response) -> Option<()> {
        loop {
            let line = self.line().await?;
            let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16).unwrap();
            if size == 0 {
                loop {
                    let line = self.line().await?;
                    if line.is_empty() {
                        return Some(());
                    }
                    let (n, v) = line.split_once(':').unwrap();
                    resp.trailers.push((n.to_owned(), v.trim().to_owned()));
                }
            }
            while self.buf.len() < size + 2 {
                if self.fill().await == 0 {
                    return None;
                }
            }
            resp.body.extend(self.buf.drain(..size));
            assert_eq!(self.buf.drain(..2).collect::<Vec<_>>(), b"\r\n");
        }
    }

    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Some(line);
            }
            if self.fill().await == 0 {
                return None;
            }
        }
    }

    /// True if the peer closes the connection (EOF or reset) with no further bytes.
    pub async fn closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut byte)).await.expect("waiting for close timed out"),
            Ok(0) | Err(_)
        )
    }

    /// Everything until the peer closes.
    pub async fn read_to_close(&mut self) -> Vec<u8> {
        while self.fill().await > 0 {}
        std::mem::take(&mut self.buf)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &str) -> (u16, String, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    assert!(parts.next().unwrap().starts_with("HTTP/1."), "bad status line {status_line:?}");
    let status = parts.next().unwrap().parse().unwrap();
    let reason = parts.next().unwrap_or("").to_owned();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap_or_else(|| panic!("bad header line {l:?}"));
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    (status, reason, headers)
}

// === streaming helpers (large bodies, raw tunnels) ===

impl Client {
    /// Reads exactly `n` bytes past whatever response was last parsed (tunnelled bytes).
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill().await > 0, "connection closed after {} of {n} bytes", self.buf.len());
        }
        self.buf.drain(..n).collect()
    }

    /// Hands the socket and any bytes already read to a [`Wire`], for bodies too large to buffer.
    pub fn into_wire(self) -> Wire {
        let mut wire = Wire::new(self.stream);
        wire.buf[..self.buf.len()].copy_from_slice(&self.buf);
        wire.hi = self.buf.len();
        wire
    }
}

/// Byte `i` of every large test body is `i % 251`: a prime period, so a dropped,
/// duplicated or reordered piece of any power-of-two size shows up as a mismatch.
pub fn pattern_at(offset: u64, len: usize) -> &'static [u8] {
    static PATTERN: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| (0..WIRE_BUF + 251).map(|i| (i % 251) as u8).collect());
    assert!(len <= WIRE_BUF);
    let start = (offset % 251) as usize;
    &pattern[start..start + len]
}

/// Largest piece a [`Wire`] reads (and hands to a body sink) at once.
pub const WIRE_BUF: usize = 1 << 20;

/// A socket with a fixed read buffer that parses heads and streams Content-Length or
/// chunked bodies through a callback, so gigabyte bodies never sit in test memory.
pub struct Wire {
    pub stream: TcpStream,
    buf: Vec<u8>,
    lo: usize,
    hi: usize,
}

impl Wire {
    pub fn new(stream: TcpStream) -> Wire {
        Wire { stream, buf: vec![0; WIRE_BUF], lo: 0, hi: 0 }
    }

    async fn fill(&mut self) -> usize {
        if self.lo == self.hi {
            (self.lo, self.hi) = (0, 0);
        } else if self.hi == self.buf.len() {
            self.buf.copy_within(self.lo..self.hi, 0);
            (self.lo, self.hi) = (0, self.hi - self.lo);
        }
        let n = tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut self.buf[self.hi..]))
            .await
            .expect("read timed out")
            .unwrap_or(0);
        self.hi += n;
        n
    }

    /// The next head (through its blank line), or `None` on a clean close before one.
    pub async fn head(&mut self) -> Option<String> {
        loop {
            if let Some(end) = find(&self.buf[self.lo..self.hi], b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[self.lo..self.lo + end + 4]).into_owned();
                self.lo += end + 4;
                return Some(head);
            }
            if self.fill().await == 0 {
                return None;
            }
        }
    }

    /// The next response head, parsed (1xx included, as its own response).
    pub async fn response_head(&mut self) -> Response {
        let head = self.head().await.expect("connection closed before a response head");
        let (status, reason, headers) = parse_head(head.trim_end_matches("\r\n"));
        Response { status, reason, headers, body: Vec::new(), trailers: Vec::new() }
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(end) = find(&self.buf[self.lo..self.hi], b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.lo..self.lo + end]).into_owned();
                self.lo += end + 2;
                return line;
            }
            assert!(self.fill().await > 0, "connection closed inside chunk framing");
        }
    }

    /// Streams exactly `n` body bytes into `sink`; returns how many arrived before a close.
    pub async fn length_body(&mut self, n: u64, mut sink: impl FnMut(&[u8])) -> u64 {
        let mut left = n;
        while left > 0 {
            if self.lo == self.hi && self.fill().await == 0 {
                break;
            }
            let take = (self.hi - self.lo).min(usize::try_from(left).unwrap_or(usize::MAX));
            sink(&self.buf[self.lo..self.lo + take]);
            self.lo += take;
            left -= take as u64;
        }
        n - left
    }

    /// Streams a chunked body into `sink` and returns its trailer fields.
    pub async fn chunked_body(&mut self, mut sink: impl FnMut(&[u8])) -> Vec<(String, String)> {
        loop {
            let line = self.line().await;
            let size = u64::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
            if size == 0 {
                let mut trailers = Vec::new();
                loop {
                    let line = self.line().await;
                    if line.is_empty() {
                        return trailers;
                    }
                    let (n, v) = line.split_once(':').unwrap_or_else(|| panic!("bad trailer line {line:?}"));
                    trailers.push((n.to_owned(), v.trim().to_owned()));
                }
            }
            assert_eq!(self.length_body(size, &mut sink).await, size, "connection closed inside a chunk");
            assert_eq!(self.line().await, "", "chunk data not followed by CRLF");
        }
    }

    /// Writes `len` pattern bytes (see [`pattern_at`]) raw, in pieces of up to `piece` bytes.
    pub async fn send_pattern(&mut self, len: u64, piece: usize) {
        let mut sent = 0;
        while sent < len {
            let take = (len - sent).min(piece as u64) as usize;
            self.write(pattern_at(sent, take)).await;
            sent += take as u64;
        }
    }

    /// Writes `len` pattern bytes as chunks of varying sizes (up to about `piece`), then the
    /// last chunk with `trailers` (each a full `Name: value` line without CRLF).
    pub async fn send_pattern_chunked(&mut self, len: u64, piece: usize, trailers: &[&str]) {
        let mut frame = Vec::with_capacity(piece + 32);
        let mut sent = 0;
        let mut i = 0u64;
        while sent < len {
            // Uneven sizes, so the gateway cannot get away with echoing our chunk boundaries.
            let size = piece - (i % 7) as usize * (piece / 11);
            let take = (len - sent).min(size as u64) as usize;
            frame.clear();
            frame.extend_from_slice(format!("{take:x}\r\n").as_bytes());
            frame.extend_from_slice(pattern_at(sent, take));
            frame.extend_from_slice(b"\r\n");
            self.write(&frame).await;
            sent += take as u64;
            i += 1;
        }
        let mut last = String::from("0\r\n");
        for t in trailers {
            last.push_str(t);
            last.push_str("\r\n");
        }
        last.push_str("\r\n");
        self.write(last.as_bytes()).await;
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        tokio::time::timeout(IO_TIMEOUT, self.stream.write_all(bytes)).await.expect("write timed out").unwrap();
    }
}

/// Checks streamed body pieces against [`pattern_at`], remembering the first mismatch.
#[derive(Default)]
pub struct PatternCheck {
    pub received: u64,
    pub first_mismatch: Option<u64>,
}

impl PatternCheck {
    pub fn feed(&mut self, piece: &[u8]) {
        if self.first_mismatch.is_none() && piece != pattern_at(self.received, piece.len()) {
            let at = piece.iter().zip(pattern_at(self.received, piece.len())).position(|(a, b)| a != b);
            self.first_mismatch = Some(self.received + at.unwrap_or(0) as u64);
        }
        self.received += piece.len() as u64;
    }
}
