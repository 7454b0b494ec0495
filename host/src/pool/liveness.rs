//! Is an idle upstream connection still safe to send a request on?
//!
//! We peek one byte with a non-blocking `recv(MSG_PEEK)` straight on the socket:
//! - `WouldBlock`: nothing pending, the origin still holds the connection open: reuse.
//! - `Ok(0)`: the origin sent FIN (its keep-alive timeout fired): discard.
//! - `Ok(n > 0)`: bytes we never asked for (e.g. a late `408`); reading our next
//!   response after them would desync the framing: discard.
//! - any other error (`ECONNRESET`, ...): discard.
//!
//! Why not `tokio::net::TcpStream::try_read`: it answers `WouldBlock` without a syscall
//! whenever tokio's cached readiness says "not readable", and that cache only learns of a
//! FIN when the reactor next turns. A checkout right after the origin closed would then
//! hand out a dead socket. Asking the kernel costs one syscall and sees the truth; it
//! leaves tokio's cache at worst stale-readable, which the next real read corrects.

use std::io;
use std::mem::MaybeUninit;

use socket2::SockRef;
use tokio::net::TcpStream;

/// True when `stream` has nothing to read and has not been closed by the peer.
pub(super) fn is_reusable(stream: &TcpStream) -> bool {
    let mut buf = [MaybeUninit::<u8>::uninit(); 1];
    match SockRef::from(stream).peek(&mut buf) {
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        Ok(_) => false,
    }
}
