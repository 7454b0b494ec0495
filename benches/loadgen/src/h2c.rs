//! Cleartext HTTP/2 by prior knowledge: one connection carries `streams` lanes, each with
//! one request in flight. Windows are large (1 MiB per stream, 16 MiB per connection, as
//! browsers use), so a 1 MiB body is not paced by window updates.

use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use h2::client::SendRequest;
use tokio::net::TcpStream;

use crate::{drive, Answer, Lane, Outcome, Request, Schedule};

const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// One connection and its lanes `first_lane..first_lane + streams`.
pub(crate) async fn connection(
    addr: SocketAddr,
    first_lane: u64,
    streams: usize,
    schedule: Schedule,
    mix: Rc<Vec<Request>>,
) -> Outcome {
    let sender = match open(addr).await {
        Ok(sender) => sender,
        Err(e) => return Outcome::failed(e),
    };
    let mut lanes = Vec::new();
    for stream in 0..streams {
        let mut lane = H2Lane { sender: sender.clone(), mix: mix.clone() };
        let (schedule, mix) = (schedule.clone(), mix.clone());
        lanes.push(tokio::task::spawn_local(async move {
            drive(first_lane + stream as u64, &schedule, &mix, &mut lane).await
        }));
    }
    let mut outcome = Outcome { connections: 1, ..Outcome::default() };
    for lane in lanes {
        match lane.await {
            Ok(part) => outcome.merge(part),
            Err(e) => outcome.merge(Outcome::failed(format!("lane panicked: {e}"))),
        }
    }
    outcome
}

/// One request on a fresh connection, the body kept.
pub(crate) async fn fetch(addr: SocketAddr, request: &Request) -> Result<Answer, String> {
    exchange(open(addr).await?, request, true).await
}

/// Connects, agrees on settings, and drives the connection in the background.
async fn open(addr: SocketAddr) -> Result<SendRequest<Bytes>, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let (sender, connection) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake(stream)
        .await
        .map_err(|e| format!("HTTP/2 handshake with {addr} failed: {e}"))?;
    tokio::task::spawn_local(async move {
        // Its error, if any, reaches every stream as theirs.
        let _ = connection.await;
    });
    Ok(sender)
}

struct H2Lane {
    sender: SendRequest<Bytes>,
    mix: Rc<Vec<Request>>,
}

impl Lane for H2Lane {
    async fn exchange(&mut self, index: usize) -> Result<Answer, String> {
        exchange(self.sender.clone(), &self.mix[index], false).await
    }
}

async fn exchange(sender: SendRequest<Bytes>, request: &Request, keep_body: bool) -> Result<Answer, String> {
    let mut builder = http::Request::get(format!("http://bench{}", request.target));
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let head = builder.body(()).map_err(|e| format!("cannot build a request for {}: {e}", request.target))?;
    let mut sender = sender.ready().await.map_err(|e| format!("connection unusable: {e}"))?;
    let (response, _) = sender.send_request(head, true).map_err(|e| format!("cannot open a stream: {e}"))?;
    let (parts, mut body) = response.await.map_err(|e| format!("stream failed: {e}"))?.into_parts();
    let mut answer = Answer {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        ..Answer::default()
    };
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| format!("body failed: {e}"))?;
        answer.body_len += chunk.len() as u64;
        // Flow control: what is read may be sent again.
        let _ = body.flow_control().release_capacity(chunk.len());
        if keep_body {
            answer.body.extend_from_slice(&chunk);
        }
    }
    Ok(answer)
}
