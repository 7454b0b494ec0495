//! Zero-downtime restart. The running gateway serves handovers on a Unix socket
//! (`server.handover`); a new process started with `run --upgrade` asks it for its listening
//! sockets, which arrive as file descriptors (`SCM_RIGHTS`), starts serving on them, and
//! says it is ready; the old process then drains and exits. The sockets are never closed, so
//! no connection waiting in an accept queue is reset — which rebinding with `SO_REUSEPORT`
//! alone cannot promise: Linux resets what is queued on a listener that closes.
//!
//! The exchange, one request per connection: the new process sends `HELLO`; the old one
//! answers with its configured listen addresses, one per line, and their descriptors in the
//! same message; the new one sends `READY` once it serves; the old one removes the socket
//! file, answers `BYE`, and starts its graceful shutdown; the new one then serves handovers
//! on the same path.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags,
};

const HELLO: &[u8] = b"portcullis-handover/1\n";
const READY: &[u8] = b"ready\n";
const BYE: &[u8] = b"bye\n";
/// More listeners than any config has; bounds the control buffer.
const MAX_LISTENERS: usize = 64;
/// How long either side waits for the other's next message.
const PATIENCE: Duration = Duration::from_secs(30);

/// Listening sockets received from the old process, by the listen address its config gave.
pub(crate) struct Inherited(pub Vec<(SocketAddr, std::net::TcpListener)>);

/// The new process's side: takes the listening sockets of the gateway serving handovers at
/// `path`. `confirm` must follow once the new gateway serves.
pub(crate) fn take(path: &Path) -> anyhow::Result<(Inherited, UnixStream)> {
    let mut stream = UnixStream::connect(path)
        .with_context(|| format!("no gateway serves handovers at {} (`server.handover`)", path.display()))?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.write_all(HELLO)?;
    let mut payload = vec![0u8; 16 * 1024];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_LISTENERS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = recvmsg(&stream, &mut [IoSliceMut::new(&mut payload)], &mut control, RecvFlags::CMSG_CLOEXEC)
        .context("receiving the listening sockets")?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = message {
            fds.extend(rights);
        }
    }
    let text = std::str::from_utf8(&payload[..received.bytes]).context("a handover message that is not text")?;
    let addrs: Vec<SocketAddr> =
        text.lines().map(str::parse).collect::<Result<_, _>>().context("a handover message with a bad address")?;
    if addrs.len() != fds.len() {
        bail!("the old gateway sent {} addresses and {} sockets", addrs.len(), fds.len());
    }
    let listeners = addrs
        .into_iter()
        .zip(fds)
        .map(|(addr, fd)| {
            let listener = std::net::TcpListener::from(fd);
            listener.set_nonblocking(true)?;
            Ok((addr, listener))
        })
        .collect::<std::io::Result<_>>()?;
    Ok((Inherited(listeners), stream))
}

/// The new process's side, once it serves: tells the old one to drain, and waits until it
/// has let go of the handover path.
pub(crate) fn confirm(mut stream: UnixStream) -> anyhow::Result<()> {
    stream.write_all(READY)?;
    let mut bye = [0u8; BYE.len()];
    stream.read_exact(&mut bye).context("the old gateway did not confirm the handover")?;
    if bye != BYE {
        bail!("the old gateway answered the handover with {:?}", String::from_utf8_lossy(&bye));
    }
    Ok(())
}

/// The old process's side: serves handover requests at `path` until a new process has
/// taken over (then returns, and the caller drains). A path that cannot be served is
/// logged once and the gateway runs on without handovers.
pub(crate) async fn serve(path: PathBuf, listeners: Vec<(SocketAddr, OwnedFd)>) {
    let listener = match bind(&path) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(path = %path.display(), error = %format!("{err:#}"), "cannot serve handovers; restarts will not be seamless");
            return std::future::pending().await;
        }
    };
    let listeners = std::sync::Arc::new(listeners);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let (path, listeners) = (path.clone(), listeners.clone());
        let handed = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let stream = stream.into_std()?;
            stream.set_nonblocking(false)?;
            give(stream, &listeners, &path)
        })
        .await;
        match handed {
            Ok(Ok(())) => {
                tracing::info!("a new process took over the listening sockets; draining");
                return;
            }
            Ok(Err(err)) => tracing::warn!(error = %format!("{err:#}"), "a handover failed; still serving"),
            Err(err) => tracing::warn!(error = %err, "a handover failed; still serving"),
        }
    }
}

/// Binds `path`, replacing a socket file no process answers on (left by a crash).
fn bind(path: &Path) -> anyhow::Result<tokio::net::UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            bail!("another process serves handovers there; start this one with `run --upgrade` to take over");
        }
        std::fs::remove_file(path).context("removing a stale handover socket")?;
    }
    tokio::net::UnixListener::bind(path).context("binding the handover socket")
}

fn give(mut stream: UnixStream, listeners: &[(SocketAddr, OwnedFd)], path: &Path) -> anyhow::Result<()> {
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut hello = [0u8; HELLO.len()];
    stream.read_exact(&mut hello)?;
    if hello != HELLO {
        bail!("not a handover request");
    }
    let text: String = listeners.iter().map(|(addr, _)| format!("{addr}\n")).collect();
    let fds: Vec<_> = listeners.iter().map(|(_, fd)| fd.as_fd()).collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_LISTENERS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if fds.len() > MAX_LISTENERS || !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        bail!("too many listeners to hand over ({})", fds.len());
    }
    sendmsg(&stream, &[IoSlice::new(text.as_bytes())], &mut control, SendFlags::empty())
        .context("sending the listening sockets")?;
    let mut ready = [0u8; READY.len()];
    stream.read_exact(&mut ready).context("the new process did not say it was ready")?;
    if ready != READY {
        bail!("the new process answered {:?}", String::from_utf8_lossy(&ready));
    }
    // From here the new process serves; it takes the path over after our goodbye.
    let _ = std::fs::remove_file(path);
    stream.write_all(BYE)?;
    Ok(())
}
