//! A connection (TCP or TLS) with its read buffer and per-operation deadlines.

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::stream::Stream;

/// How much we ask the kernel for per read. Also the largest body piece we forward at once,
/// which bounds per-connection memory while streaming.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug)]
pub(crate) enum ReadFault {
    Timeout,
    Io(io::Error),
}

pub(crate) struct Conn {
    pub(crate) stream: Stream,
    pub(crate) buf: BytesMut,
}

impl Conn {
    pub(crate) fn new(stream: impl Into<Stream>) -> Conn {
        Conn { stream: stream.into(), buf: BytesMut::with_capacity(8 * 1024) }
    }

    /// Reads more bytes into the buffer; `Ok(0)` is end of stream. Heads are read into a
    /// small buffer (8 KiB, grown only as a head needs), which is what an idle keep-alive
    /// connection keeps.
    pub(crate) async fn read_more(&mut self, within: Duration) -> Result<usize, ReadFault> {
        self.read_into_room(READ_CHUNK.min(self.buf.len().max(8 * 1024)), within).await
    }

    /// Reads more of a body being relayed, up to `READ_CHUNK` at once. Each piece is split
    /// off and handed on, leaving no room behind; reserving only 8 KiB again made a 1 MiB
    /// body cost 128 reads, 128 writes and 128 allocations (`cargo xtask bench`: 1.9× nginx's
    /// CPU per request at 16 KiB over HTTP/1.1), where 64 KiB makes it 16.
    pub(crate) async fn read_body(&mut self, within: Duration) -> Result<usize, ReadFault> {
        self.read_into_room(READ_CHUNK, within).await
    }

    /// Makes `room` bytes of space when less than 1 KiB is left, then reads once.
    async fn read_into_room(&mut self, room: usize, within: Duration) -> Result<usize, ReadFault> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(room);
        }
        match tokio::time::timeout(within, self.stream.read_buf(&mut self.buf)).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(ReadFault::Io(e)),
            Err(_) => Err(ReadFault::Timeout),
        }
    }

    pub(crate) async fn write_all(&mut self, data: &[u8], within: Duration) -> io::Result<()> {
        write_all(&mut self.stream, data, within).await
    }
}

/// Writes everything (and flushes: TLS may hold the end of a record) or fails; a peer that
/// stops reading for `within` is given up on, so a client that never reads cannot pin an
/// upstream connection forever.
pub(crate) async fn write_all(stream: &mut Stream, data: &[u8], within: Duration) -> io::Result<()> {
    let write = async {
        stream.write_all(data).await?;
        stream.flush().await
    };
    match tokio::time::timeout(within, write).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write stalled")),
    }
}

/// Writes a sequence of buffers (vectored where the socket supports it).
pub(crate) async fn write_buf(stream: &mut Stream, mut data: impl Buf, within: Duration) -> io::Result<()> {
    let write = async {
        stream.write_all_buf(&mut data).await?;
        stream.flush().await
    };
    match tokio::time::timeout(within, write).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "write stalled")),
    }
}
