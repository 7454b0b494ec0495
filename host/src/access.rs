//! The access log and the request id: one structured line per request (target
//! `portcullis::access`), carrying an id that also travels to the origin and back to the
//! client (`x-request-id`) and appears on the request's error lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::http1::Headers;

pub const REQUEST_ID: &str = "x-request-id";
/// A client's id longer than this, or with bytes outside visible ASCII, is replaced.
const MAX_ID_LEN: usize = 128;

/// The request's id: the client's (or an upstream proxy's) `x-request-id` when it is sane,
/// else a new one, which is then set on the request.
pub(crate) fn request_id(headers: &mut Headers) -> Bytes {
    if let Some(id) = headers.get(REQUEST_ID) {
        if !id.is_empty() && id.len() <= MAX_ID_LEN && id.iter().all(|b| b.is_ascii_graphic()) {
            return id.clone();
        }
    }
    let id = new_id();
    headers.replace(Bytes::from_static(REQUEST_ID.as_bytes()), id.clone());
    id
}

/// 32 hex digits, unique in this process and not guessable from the previous ones: a
/// counter mixed with a per-process random key (splitmix64 finaliser, twice).
fn new_id() -> Bytes {
    static KEY: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let key = *KEY.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
        );
        hasher.write_u32(std::process::id());
        hasher.finish()
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let (hi, lo) = (mix(n ^ key), mix(n.wrapping_add(key.rotate_left(32))));
    Bytes::from(format!("{hi:016x}{lo:016x}"))
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where a request's time went, besides the body transfer.
#[derive(Default)]
pub(crate) struct Timings {
    /// In plugin phase calls.
    pub plugins: Duration,
    /// Connecting to the upstream (all attempts).
    pub connect: Duration,
    /// From sending the request head upstream to having the response head.
    pub upstream: Duration,
}

/// Runs `future`, adding the time it took to `total` (a field of `Timings`).
pub(crate) async fn timed<T>(total: &mut Duration, future: impl std::future::Future<Output = T>) -> T {
    let since = Instant::now();
    let output = future.await;
    *total += since.elapsed();
    output
}

/// What the access line says about one request, filled in as the request goes.
pub(crate) struct AccessRecord {
    pub started: Instant,
    pub request_id: Bytes,
    pub method: Bytes,
    pub target: Bytes,
    /// The client's protocol: `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
    pub route: Option<std::sync::Arc<str>>,
    pub upstream: Option<String>,
    pub status: u16,
    pub bytes_sent: u64,
    pub timings: Timings,
}

impl AccessRecord {
    pub fn new(started: Instant) -> AccessRecord {
        AccessRecord {
            started,
            request_id: Bytes::new(),
            method: Bytes::new(),
            target: Bytes::new(),
            protocol: "-",
            route: None,
            upstream: None,
            status: 0,
            bytes_sent: 0,
            timings: Timings::default(),
        }
    }

    /// Writes the line. `status` 0 means no response was sent (the client left, or the
    /// response broke off after its head).
    pub fn log(&self, client_ip: &Bytes) {
        let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
        tracing::info!(
            target: "portcullis::access",
            request_id = %text(&self.request_id),
            client = %text(client_ip),
            method = %text(&self.method),
            path = %text(&self.target),
            protocol = self.protocol,
            route = self.route.as_deref().unwrap_or("-"),
            upstream = self.upstream.as_deref().unwrap_or("-"),
            status = self.status,
            bytes = self.bytes_sent,
            duration_us = self.started.elapsed().as_micros() as u64,
            plugin_us = self.timings.plugins.as_micros() as u64,
            connect_us = self.timings.connect.as_micros() as u64,
            upstream_us = self.timings.upstream.as_micros() as u64,
        );
    }
}
