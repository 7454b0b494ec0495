//! HTTP/1.1 keep-alive: one request at a time per connection, answers read with `httparse`
//! and bodies framed by `Content-Length`, chunked coding or the connection's end.

use std::net::SocketAddr;
use std::rc::Rc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{drive, Answer, Lane, Outcome, Request, Schedule};

/// Response heads larger than this are refused (no peer sends one anywhere near it).
const MAX_HEAD: usize = 64 * 1024;

/// One lane: a connection, reopened when the server closes it.
pub(crate) async fn lane(addr: SocketAddr, id: u64, schedule: Schedule, mix: Rc<Vec<Request>>) -> Outcome {
    let rendered = mix.iter().map(render).collect();
    let mut lane = Http1Lane { addr, rendered, connection: None, opened: 0 };
    let mut outcome = drive(id, &schedule, &mix, &mut lane).await;
    outcome.connections += lane.opened;
    outcome
}

struct Http1Lane {
    addr: SocketAddr,
    /// The mix's requests as bytes, rendered once.
    rendered: Vec<Vec<u8>>,
    connection: Option<Connection>,
    opened: u64,
}

impl Lane for Http1Lane {
    async fn exchange(&mut self, index: usize) -> Result<Answer, String> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => {
                self.opened += 1;
                Connection::open(self.addr).await?
            }
        };
        let answer = connection.exchange(&self.rendered[index], false).await?;
        if connection.open {
            self.connection = Some(connection);
        }
        Ok(answer)
    }
}

/// One request on a fresh connection, the body kept.
pub(crate) async fn fetch(addr: SocketAddr, request: &Request) -> Result<Answer, String> {
    Connection::open(addr).await?.exchange(&render(request), true).await
}

fn render(request: &Request) -> Vec<u8> {
    let mut head = format!("GET {} HTTP/1.1\r\nhost: bench\r\n", request.target);
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    /// False once the server said `Connection: close` or framed a body by closing.
    open: bool,
}

/// How the body of an answer ends.
enum Framing {
    Length(u64),
    Chunked,
    Close,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
        Ok(Connection { stream, buf: BytesMut::with_capacity(64 * 1024), open: true })
    }

    async fn exchange(&mut self, request: &[u8], keep_body: bool) -> Result<Answer, String> {
        self.stream.write_all(request).await.map_err(|e| format!("cannot send: {e}"))?;
        let (mut answer, framing) = self.head().await?;
        let mut body = Vec::new();
        let kept = keep_body.then_some(&mut body);
        answer.body_len = match framing {
            Framing::Length(n) => self.skip(n, kept).await?,
            Framing::Chunked => self.chunked(kept).await?,
            Framing::Close => {
                self.open = false;
                self.until_close(kept).await?
            }
        };
        answer.body = body;
        Ok(answer)
    }

    /// Reads more into the buffer; an error at the connection's end.
    async fn fill(&mut self) -> Result<(), String> {
        self.buf.reserve(16 * 1024);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("the server closed the connection mid-answer".to_owned()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("read failed: {e}")),
        }
    }

    async fn head(&mut self) -> Result<(Answer, Framing), String> {
        loop {
            let mut fields = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut fields);
            match response.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = response.code.unwrap_or_default();
                    let headers: Vec<(String, String)> = response
                        .headers
                        .iter()
                        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
                        .collect();
                    // 1xx answers are not the answer: drop them and read on.
                    if (100..200).contains(&status) {
                        self.buf.advance(len);
                        continue;
                    }
                    self.buf.advance(len);
                    let answer = Answer { status, headers, ..Answer::default() };
                    let framing = framing(&answer)?;
                    if answer.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
                        self.open = false;
                    }
                    return Ok((answer, framing));
                }
                Ok(httparse::Status::Partial) if self.buf.len() < MAX_HEAD => self.fill().await?,
                Ok(httparse::Status::Partial) => return Err(format!("a response head over {MAX_HEAD} bytes")),
                Err(e) => return Err(format!("unparsable response head: {e}")),
            }
        }
    }

    /// Consumes `n` body bytes; returns `n`.
    async fn skip(&mut self, n: u64, mut kept: Option<&mut Vec<u8>>) -> Result<u64, String> {
        let mut left = n;
        while left > 0 {
            if self.buf.is_empty() {
                self.fill().await?;
            }
            let take = left.min(self.buf.len() as u64) as usize;
            if let Some(kept) = kept.as_deref_mut() {
                kept.extend_from_slice(&self.buf[..take]);
            }
            self.buf.advance(take);
            left -= take as u64;
        }
        Ok(n)
    }

    /// One line (without its CRLF) from the buffer, reading more as needed.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.buf.advance(at + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err("a chunk-size line without end".to_owned());
            }
            self.fill().await?;
        }
    }

    async fn chunked(&mut self, mut kept: Option<&mut Vec<u8>>) -> Result<u64, String> {
        let mut total = 0;
        loop {
            let line = self.line().await?;
            let digits = line.split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(digits, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
            if size == 0 {
                // Trailer fields, then the empty line.
                while !self.line().await?.is_empty() {}
                return Ok(total);
            }
            total += self.skip(size, kept.as_deref_mut()).await?;
            if !self.line().await?.is_empty() {
                return Err("a chunk not followed by CRLF".to_owned());
            }
        }
    }

    async fn until_close(&mut self, mut kept: Option<&mut Vec<u8>>) -> Result<u64, String> {
        let mut total = 0;
        loop {
            total += self.buf.len() as u64;
            if let Some(kept) = kept.as_deref_mut() {
                kept.extend_from_slice(&self.buf);
            }
            self.buf.clear();
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return Ok(total),
                Ok(_) => {}
                Err(e) => return Err(format!("read failed: {e}")),
            }
        }
    }
}

fn framing(answer: &Answer) -> Result<Framing, String> {
    if answer.status == 204 || answer.status == 304 {
        return Ok(Framing::Length(0));
    }
    if answer.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return Ok(Framing::Chunked);
    }
    match answer.header("content-length") {
        Some(value) => value.trim().parse().map(Framing::Length).map_err(|_| format!("bad Content-Length {value:?}")),
        None => Ok(Framing::Close),
    }
}
