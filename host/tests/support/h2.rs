//! HTTP/2 peers for the tests, all with the `h2` crate: a client, and an origin that echoes
//! what it received (and answers gRPC-style requests with trailers). Plus raw frames, for
//! the attacks a well-behaved client library refuses to send.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// A client on an established connection (TLS with ALPN h2, or cleartext by prior knowledge).
pub async fn client<T>(io: T) -> h2::client::SendRequest<Bytes>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send
}

/// What a test reads back from one exchange.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request (with `body`, and `trailers` after it if given) and reads the whole answer.
pub async fn exchange(
    send: &mut h2::client::SendRequest<Bytes>,
    request: Request<()>,
    body: &[u8],
    trailers: Option<HeaderMap>,
) -> Result<Answer, h2::Error> {
    let mut ready = send.clone().ready().await?;
    let end = body.is_empty() && trailers.is_none();
    let (response, mut stream) = ready.send_request(request, end)?;
    if !body.is_empty() {
        stream.send_data(Bytes::copy_from_slice(body), trailers.is_none())?;
    }
    if let Some(trailers) = trailers {
        stream.send_trailers(trailers)?;
    }
    let response = response.await?;
    read_answer(response).await
}

pub async fn read_answer(response: Response<h2::RecvStream>) -> Result<Answer, h2::Error> {
    let (parts, mut recv) = response.into_parts();
    let mut body = Vec::new();
    while let Some(data) = recv.data().await {
        let data = data?;
        let _ = recv.flow_control().release_capacity(data.len());
        body.extend_from_slice(&data);
    }
    let trailers = recv.trailers().await?;
    Ok(Answer { status: parts.status.as_u16(), headers: parts.headers, body: body.into(), trailers })
}

pub fn get(uri: &str) -> Request<()> {
    Request::builder().uri(uri).body(()).unwrap()
}

/// What the origin saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

/// An HTTP/2 origin (cleartext, or TLS when given an acceptor). Every request is recorded;
/// the answer is 200 with `x-origin-connection` (which connection carried it) and the body
/// echoed; a request with `content-type: application/grpc` gets trailers
/// `grpc-status: 0` and `grpc-message: ok`.
pub struct H2Origin {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for H2Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl H2Origin {
    pub async fn start(tls: Option<tokio_rustls::TlsAcceptor>) -> H2Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count, record) = (connections.clone(), seen.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let number = count.fetch_add(1, Ordering::SeqCst) + 1;
                let record = record.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, number, record).await;
                            }
                        }
                        None => serve(tcp, number, record).await,
                    }
                });
            }
        });
        H2Origin { addr, connections, seen, task }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve<T>(io: T, number: usize, record: Arc<Mutex<Vec<Seen>>>)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let Ok(mut connection) = h2::server::handshake(io).await else { return };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let record = record.clone();
        tokio::spawn(async move {
            let (parts, mut recv) = request.into_parts();
            let mut body = Vec::new();
            while let Some(Ok(data)) = recv.data().await {
                let _ = recv.flow_control().release_capacity(data.len());
                body.extend_from_slice(&data);
            }
            let trailers = recv.trailers().await.ok().flatten();
            let grpc = parts.headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
            record.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts.headers.clone(),
                body: body.clone().into(),
                trailers,
            });
            let mut response = Response::builder().status(200).header("x-origin-connection", number.to_string());
            if grpc {
                response = response.header("content-type", "application/grpc");
            }
            let Ok(mut send) = respond.send_response(response.body(()).unwrap(), false) else { return };
            let _ = send.send_data(body.into(), !grpc);
            if grpc {
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", "0".parse().unwrap());
                trailers.insert("grpc-message", "ok".parse().unwrap());
                let _ = send.send_trailers(trailers);
            }
        });
    }
}

/// Cleartext TCP to `addr` for raw frames.
pub async fn raw(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.unwrap()
}

// === raw frames ===

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const CONTINUATION: u8 = 0x9;
pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK "literal header field without indexing, new name" (RFC 7541 §6.2.2), no
/// Huffman: names keep exactly the bytes given, uppercase included.
pub fn literal(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00];
    integer(&mut out, name.len(), 7, 0);
    out.extend_from_slice(name);
    integer(&mut out, value.len(), 7, 0);
    out.extend_from_slice(value);
    out
}

fn integer(out: &mut Vec<u8>, mut value: usize, prefix_bits: u32, flags: u8) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128 + 128) as u8);
        value /= 128;
    }
    out.push(value as u8);
}

/// A header block for a GET of `/` with `extra` fields (already encoded with `literal`).
pub fn request_block(extra: &[Vec<u8>]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "test")] {
        block.extend(literal(name.as_bytes(), value.as_bytes()));
    }
    for field in extra {
        block.extend_from_slice(field);
    }
    block
}

/// Reads frames until one of `kind` arrives (`Some((flags, stream, payload))`) or the
/// connection closes (`None`), for at most five seconds.
pub async fn until_frame(tcp: &mut TcpStream, kind: u8) -> Option<(u8, u32, Vec<u8>)> {
    until_any(tcp, &[kind]).await.map(|(_, flags, stream, payload)| (flags, stream, payload))
}

/// Like `until_frame` for any of `kinds`; also returns which kind arrived.
pub async fn until_any(tcp: &mut TcpStream, kinds: &[u8]) -> Option<(u8, u8, u32, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let mut head = [0u8; 9];
            tcp.read_exact(&mut head).await.ok()?;
            let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
            let mut payload = vec![0u8; len];
            tcp.read_exact(&mut payload).await.ok()?;
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
            if kinds.contains(&head[3]) {
                return Some((head[3], head[4], stream, payload));
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), read).await.ok().flatten()
}

/// The error code of a RST_STREAM or GOAWAY payload.
pub fn error_code(kind: u8, payload: &[u8]) -> u32 {
    let at = if kind == GOAWAY { 4 } else { 0 };
    u32::from_be_bytes([payload[at], payload[at + 1], payload[at + 2], payload[at + 3]])
}

pub const PROTOCOL_ERROR: u32 = 0x1;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;
