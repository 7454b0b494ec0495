//! The WASI a plugin gets: real randomness and clocks (a Rust `HashMap` or `Instant` needs
//! them), and trapping stand-ins for the stdio, environment and filesystem functions that
//! Rust's standard library links but a plugin has no business calling. Anything else —
//! sockets, HTTP, other packages — is refused at load: a plugin reaches the world only
//! through the gateway's own interfaces.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::component::{Component, ComponentType, Linker, Lower, ResourceType};
use wasmtime::Result;

use super::host_api::{CallState, RequestHandle, ResponseHandle};

/// WASI packages whose functions are linked (for real or as traps).
const TOLERATED: &[&str] = &["wasi:random/", "wasi:clocks/", "wasi:cli/", "wasi:io/", "wasi:filesystem/"];

pub(crate) fn tolerated(import: &str) -> bool {
    TOLERATED.iter().any(|prefix| import.starts_with(prefix))
}

/// Defines the real functions for the component's WASI imports, then traps for the rest.
pub(crate) fn link(linker: &mut Linker<CallState>, component: &Component, imports: &[String]) -> Result<()> {
    for name in imports {
        let interface = name.split('@').next().unwrap_or(name);
        match interface {
            "wasi:random/random" | "wasi:random/insecure" => {
                let mut instance = linker.instance(name)?;
                let (bytes_fn, u64_fn) = match interface {
                    "wasi:random/random" => ("get-random-bytes", "get-random-u64"),
                    _ => ("get-insecure-random-bytes", "get-insecure-random-u64"),
                };
                instance.func_wrap(bytes_fn, |_, (len,): (u64,)| random_bytes(len).map(|bytes| (bytes,)))?;
                instance.func_wrap(u64_fn, |_, (): ()| Ok((random_u64(),)))?;
            }
            "wasi:random/insecure-seed" => {
                linker.instance(name)?.func_wrap("insecure-seed", |_, (): ()| Ok(((random_u64(), random_u64()),)))?;
            }
            "wasi:clocks/monotonic-clock" => {
                let mut instance = linker.instance(name)?;
                instance.func_wrap("now", |_, (): ()| Ok((monotonic_ns(),)))?;
                instance.func_wrap("resolution", |_, (): ()| Ok((1u64,)))?;
            }
            "wasi:clocks/wall-clock" => {
                let mut instance = linker.instance(name)?;
                instance.func_wrap("now", |_, (): ()| Ok((Datetime::now(),)))?;
                instance.func_wrap("resolution", |_, (): ()| Ok((Datetime { seconds: 0, nanoseconds: 1 },)))?;
            }
            _ => {}
        }
    }
    // The world `use`s the request and response resources, which makes them top-level
    // imports too; they must be the very types of the `http` interface, not trap stand-ins.
    let mut root = linker.root();
    root.resource("request", ResourceType::host::<RequestHandle>(), |_, _| Ok(()))?;
    root.resource("response", ResourceType::host::<ResponseHandle>(), |_, _| Ok(()))?;
    linker.define_unknown_imports_as_traps(component)?;
    Ok(())
}

#[derive(ComponentType, Lower, Clone, Copy)]
#[component(record)]
struct Datetime {
    seconds: u64,
    nanoseconds: u32,
}

impl Datetime {
    fn now() -> Datetime {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Datetime { seconds: since.as_secs(), nanoseconds: since.subsec_nanos() }
    }
}

/// Keyed SipHash of a counter: std's per-process random keys make this unpredictable,
/// which is all a guest's hash-map seed needs.
fn random_u64() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    thread_local!(static STATE: RandomState = RandomState::new());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    STATE.with(|state| {
        let mut hasher = state.build_hasher();
        hasher.write_u64(n);
        hasher.finish()
    })
}

fn random_bytes(len: u64) -> Result<Vec<u8>> {
    const MAX: u64 = 1 << 16;
    if len > MAX {
        wasmtime::bail!("get-random-bytes({len}): at most {MAX} bytes per call");
    }
    let len = len as usize;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        out.extend_from_slice(&random_u64().to_le_bytes());
    }
    out.truncate(len);
    Ok(out)
}

fn monotonic_ns() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}
