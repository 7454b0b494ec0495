//! The process's one wasmtime `Engine`, and compiling components once: in memory for the
//! life of the process, on disk across restarts and reloads.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, WasmBacktraceDetails};

use crate::config::{Isolation, PER_REQUEST_MAX_MEMORY};

pub(crate) type Sha256Digest = [u8; 32];

pub(crate) struct Runtime {
    pub engine: Engine,
    /// Tag of the engine's code-generation settings; part of every cache file's name.
    engine_tag: u64,
    compiled: Mutex<HashMap<Sha256Digest, Component>>,
}

/// One engine per isolation mode for the whole process: compiled code and the in-memory
/// cache are shared by every snapshot of the config (and by every gateway a test process
/// starts). The per-request engine, with its reserved slots, exists only once a plugin
/// asks for it.
pub(crate) fn runtime(isolation: Isolation) -> Result<&'static Runtime, String> {
    static POOLED: OnceLock<Result<Runtime, String>> = OnceLock::new();
    static PER_REQUEST: OnceLock<Result<Runtime, String>> = OnceLock::new();
    let runtime = match isolation {
        Isolation::Pooled => POOLED.get_or_init(|| Runtime::new(Config::new())),
        Isolation::PerRequest => PER_REQUEST.get_or_init(|| {
            let mut config = Config::new();
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(per_request_slots()));
            Runtime::new(config)
        }),
    };
    runtime.as_ref().map_err(Clone::clone)
}

/// Calls of per-request plugins that can be in flight at once (a suspended cooperative call
/// holds its slot); one more fails as the plugin's failure until a slot frees.
pub(crate) const PER_REQUEST_SLOTS: u32 = 1000;

/// Slots for fresh instances, reused without a system call per instance: a slot keeps the
/// copy-on-write mapping of the component it last held, and on release only the pages a
/// call dirtied are put back.
fn per_request_slots() -> PoolingAllocationConfig {
    // A component built by rustc for wasm32-wasip2 holds a handful of core instances
    // (the program and the adapter shims), one memory, a few tables.
    const CORE_PER_COMPONENT: u32 = 8;
    let mut slots = PoolingAllocationConfig::new();
    slots
        .total_component_instances(PER_REQUEST_SLOTS)
        .total_core_instances(PER_REQUEST_SLOTS * CORE_PER_COMPONENT)
        .total_memories(PER_REQUEST_SLOTS)
        .total_tables(PER_REQUEST_SLOTS * CORE_PER_COMPONENT)
        .total_stacks(PER_REQUEST_SLOTS)
        .max_core_instances_per_component(CORE_PER_COMPONENT)
        .max_tables_per_component(CORE_PER_COMPONENT)
        .max_memory_size(PER_REQUEST_MAX_MEMORY);
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        // Linux 6.7+: the kernel lists the pages a call wrote, and wasmtime copies just
        // those back from the image. No `madvise` (and no TLB shootdown across cores), and
        // the pages stay mapped for the next call. A Rust guest's stack (1 MiB), data and
        // first heap pages sit in the low megabytes.
        slots.pagemap_scan(wasmtime::Enabled::Yes).linear_memory_keep_resident(4 << 20).table_keep_resident(64 << 10);
    }
    slots
}

impl Runtime {
    fn new(mut config: Config) -> Result<Runtime, String> {
        config.cranelift_opt_level(OptLevel::Speed);
        // Traps are reported by plugin and phase; DWARF-based frames would cost memory for
        // every module and are of no use to an operator.
        config.wasm_backtrace_details(WasmBacktraceDetails::Disable);
        // CPU deadlines: compiled code checks an epoch counter at function entries and loop
        // headers; one ticker thread advances it, so a call over its deadline traps.
        config.epoch_interruption(true);
        // Fails when this CPU is not supported or the per-request slots cannot be reserved
        // (a `ulimit -v`, say).
        let engine = Engine::new(&config).map_err(|err| format!("cannot start the WebAssembly engine: {err:#}"))?;
        spawn_epoch_ticker(engine.clone());
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Runtime { engine_tag: hasher.finish(), engine, compiled: Mutex::new(HashMap::new()) })
    }
}

/// How often the epoch advances: the granularity of CPU deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Advances the engine's epoch every `EPOCH_TICK` for the life of the process. If the
/// thread cannot be started, deadlines never fire: said loudly, since plugins then run
/// unbounded.
fn spawn_epoch_ticker(engine: Engine) {
    let ticker = std::thread::Builder::new().name("portcullis-epoch".into()).spawn(move || {
        crate::sched::run_promptly();
        loop {
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
        }
    });
    if let Err(err) = ticker {
        tracing::error!(error = %err, "cannot start the epoch ticker: plugin CPU deadlines are off");
    }
}

impl Runtime {
    /// The compiled component for `wasm`, from memory, the disk cache (if there is one), or
    /// Cranelift. Cache problems are logged and never fail a load: the cache only saves time.
    pub fn compile(&self, wasm: &[u8], digest: &Sha256Digest, cache_dir: Option<&Path>) -> wasmtime::Result<Component> {
        if let Some(component) = self.memo().get(digest) {
            return Ok(component.clone());
        }
        let path = cache_dir.map(|dir| dir.join(format!("{}-{:016x}.cwasm", hex(digest), self.engine_tag)));
        let component = match path.as_deref().and_then(|path| self.read_cached(path)) {
            Some(component) => component,
            None => {
                let component = Component::new(&self.engine, wasm)?;
                if let Some(path) = &path {
                    if let Err(err) = write_cached(&component, path) {
                        tracing::warn!(path = %path.display(), error = %err, "cannot cache a compiled plugin");
                    }
                }
                component
            }
        };
        self.memo().insert(*digest, component.clone());
        Ok(component)
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, HashMap<Sha256Digest, Component>> {
        // A panic while holding this lock leaves a map that is still valid.
        self.compiled.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_cached(&self, path: &Path) -> Option<Component> {
        let file = std::fs::read(path).ok()?;
        // The file is `sha256(artifact) ++ artifact`: a truncated or altered file is
        // recompiled instead of being handed to the deserialiser.
        let (sum, artifact) = file.split_at_checked(32)?;
        if Sha256::digest(artifact).as_slice() != sum {
            tracing::warn!(path = %path.display(), "ignoring a corrupt compiled-plugin cache file");
            return None;
        }
        // SAFETY: `deserialize` trusts its input to be wasmtime's own output for a
        // compatible engine. Ours is: the bytes were produced by `Component::serialize` in
        // `write_cached` (the checksum above proves they are unchanged since), the file name
        // carries this engine's compatibility hash, and wasmtime itself re-checks its
        // version and settings header before using the code. The cache directory is as
        // trusted as the plugin directory it mirrors.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(&self.engine, artifact) };
        match component {
            Ok(component) => Some(component),
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "ignoring an unusable compiled-plugin cache file");
                None
            }
        }
    }
}

/// Writes to a fresh temporary file and renames it into place, so concurrent loaders (two
/// gateways, parallel tests) never see a half-written file. The directory is created
/// private to this user, and the temporary file must not exist yet (no following a link
/// someone planted).
fn write_cached(component: &Component, path: &Path) -> std::io::Result<()> {
    let artifact = component.serialize().map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), unique()));
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    file.write_all(&Sha256::digest(&artifact))?;
    file.write_all(&artifact)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(())
}

fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn sha256(bytes: &[u8]) -> Sha256Digest {
    Sha256::digest(bytes).into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `$XDG_CACHE_HOME/portcullis/components`, else `~/.cache/portcullis/components`; `None`
/// (no disk cache) when neither is set. Never the shared temp directory: a cache file is
/// native code the gateway will run, and anyone can write there.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("portcullis").join("components"))
}
