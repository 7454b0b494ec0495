//! Origins on real sockets: the demo echo origin, and scripted raw-TCP origins for the
//! misbehaviours a well-written server never shows (garbage, conflicting framing, stalls).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub struct Origin {
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// Raw request heads received (scripted origins that use `read_head` report here).
    pub heads: mpsc::UnboundedReceiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Origin {
    pub fn accepted(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The demo origin from the crate itself (echoes the head as JSON), counting connections.
    pub async fn echo() -> Origin {
        // The demo origin listens privately; each accepted connection here is spliced to it
        // one-to-one, so `connections` counts exactly the gateway's origin connections.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let inner = listener.local_addr().unwrap();
        tokio::spawn(portcullis::demo::serve_origin(listener));
        Origin::scripted(move |mut stream, _heads| async move {
            let mut upstream = TcpStream::connect(inner).await.unwrap();
            let _ = tokio::io::copy_bidirectional(&mut stream, &mut upstream).await;
        })
        .await
    }

    /// Runs `handler` for every accepted connection.
    pub async fn scripted<F, Fut>(handler: F) -> Origin
    where
        F: Fn(TcpStream, mpsc::UnboundedSender<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let (tx, heads) = mpsc::unbounded_channel();
        let counter = connections.clone();
        let handler = Arc::new(handler);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let tx = tx.clone();
                tokio::spawn(async move { handler(stream, tx).await });
            }
        });
        Origin { addr, connections, heads, task }
    }

    /// An origin that never answers and reports, per connection, every byte the gateway sent
    /// once the gateway closes it (for checking what was, or was not, forwarded).
    pub async fn recording() -> Origin {
        Origin::scripted(|mut stream, report| async move {
            let mut got = Vec::new();
            let _ = stream.read_to_end(&mut got).await;
            let _ = report.send(String::from_utf8_lossy(&got).into_owned());
        })
        .await
    }

    /// An origin that reads one request head per connection and answers with `response`
    /// verbatim, then closes.
    pub async fn replying(response: &'static [u8]) -> Origin {
        Origin::scripted(move |mut stream, heads| async move {
            if let Some(head) = read_head(&mut stream).await {
                let _ = heads.send(head);
                let _ = stream.write_all(response).await;
            }
        })
        .await
    }
}

/// Reads bytes up to and including the blank line that ends a head.
pub async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// An address nothing listens on (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

impl Origin {
    /// A keep-alive origin for requests without bodies: every head it reads is reported on
    /// `heads` and answered with `respond(head)` verbatim, until the gateway closes.
    pub async fn answering(respond: fn(&str) -> Vec<u8>) -> Origin {
        Origin::scripted(move |mut stream, heads| async move {
            while let Some(head) = read_head(&mut stream).await {
                let reply = respond(&head);
                let _ = heads.send(head);
                if stream.write_all(&reply).await.is_err() {
                    return;
                }
            }
        })
        .await
    }
}

/// The value of the first `name` field in a raw head, trimmed.
pub fn head_field(head: &str, name: &str) -> Option<String> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// The request target from a raw head's request line.
pub fn head_target(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or_default()
}

// === stalls and black holes (upstream timeouts) ===

impl Origin {
    /// Accepts, reads one request head (reported on `heads`), then holds the connection
    /// open without ever answering.
    pub async fn stalled() -> Origin {
        Origin::scripted(|mut stream, heads| async move {
            if let Some(head) = read_head(&mut stream).await {
                let _ = heads.send(head);
            }
            let _held = stream;
            std::future::pending::<()>().await;
        })
        .await
    }
}

/// An endpoint whose SYNs the kernel drops, so a connect to `addr` hangs until the
/// connector gives up: a listener with backlog 0 that never accepts, its accept queue
/// already full of our own connections.
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _queued: Vec<TcpStream>,
}

impl Blackhole {
    /// `None` when the queue never filled (a platform that answers SYNs anyway): the
    /// caller cannot test connect timeouts there.
    pub async fn new() -> Option<Blackhole> {
        use socket2::{Domain, Protocol, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        listener.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let mut queued = Vec::new();
        // A loopback handshake the kernel answers completes at once; one still pending
        // after this long had its SYN dropped, so the queue is full.
        let patience = std::time::Duration::from_millis(500);
        for _ in 0..16 {
            match tokio::time::timeout(patience, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => queued.push(stream),
                Ok(Err(_)) => return None,
                Err(_) => return Some(Blackhole { addr, _listener: listener, _queued: queued }),
            }
        }
        None
    }
}
