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
        let echo = self.echo();
        echo["headers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|pair| pair[0].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|pair| pair[1].as_str().unwrap().to_owned())
            .collect()
    }
}

pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Set when the request was HEAD, so the next response is read without a body.
    pub head_request: bool,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
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
        let n = tokio::time::timeout(IO_TIMEOUT, self.stream.read(&mut chunk))
            .await
            .expect("read timed out")
            .unwrap_or(0);
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
