//! One loaded plugin: its instantiation recipe, its configs, and a pool of ready instances
//! that phase calls check out (any worker thread may take any instance) and put back.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use wasmtime::component::Resource;
use wasmtime::{format_err, Result};
use wasmtime::{Store, StoreLimitsBuilder};

use super::bindings::{self, portcullis::gateway::types as wit};
use super::counters::Counters;
use super::engine::{runtime, Sha256Digest};
use super::host_api::{CallState, Target};
use super::load::Checked;
use super::vars::Vars;
use super::{Decision, PhaseSet, PluginReply};
use crate::config::PluginLimits;
use crate::http1::{RequestHead, ResponseHead};

/// Idle instances kept per plugin; more than this after a burst are dropped.
const MAX_IDLE: usize = 64;
const TABLE_ELEMENTS_LIMIT: usize = 64 * 1024;
/// Instantiation and `configure` (compiling a WAF's rules, say) may take longer than a
/// request phase, but not forever.
const LOAD_DEADLINE: Duration = Duration::from_secs(5);

pub(crate) struct LoadedPlugin {
    pub name: Arc<str>,
    pub file: std::path::PathBuf,
    pub sha256: Sha256Digest,
    pub phases: PhaseSet,
    pre: bindings::PluginPre<CallState>,
    /// The JSON of every route config naming this plugin; index = config index of a link.
    configs: Vec<String>,
    idle: Mutex<Vec<Instance>>,
    counters: Arc<Counters>,
    limits: PluginLimits,
    /// Calls that failed (a trap, a broken rule, an unusable result); counted by the chain,
    /// which handles every failure.
    pub failures: AtomicU64,
}

struct Instance {
    store: Store<CallState>,
    exports: bindings::Plugin,
    /// `configure`'s handle for each entry of `LoadedPlugin::configs`.
    handles: Vec<u32>,
    /// The headers each config reads in every call, as this instance's `configure` declared
    /// them: values are packed in the order the guest will look them up in.
    interest: Vec<Interest>,
    /// Reused buffer for the packed values of the declared headers.
    prefetch: Vec<u8>,
}

/// Header names a config reads in every call.
#[derive(Default)]
struct Interest {
    request: Vec<String>,
    response: Vec<String>,
}

/// Why a plugin's `configure` refused a config: the plugin's own message, and which one.
pub(crate) struct Rejected {
    pub config: usize,
    pub message: String,
}

/// What a phase call may touch, lent by the request path for the duration of the call.
pub struct CallCtx<'a> {
    pub route: &'a Arc<str>,
    pub req: &'a mut RequestHead,
    pub client_ip: &'a Bytes,
    pub vars: &'a mut Vars,
}

impl LoadedPlugin {
    /// Instantiates once to learn the phases and to run `configure` on every config, so a
    /// rejected config stops the load instead of failing the first request.
    pub fn new(checked: Checked, configs: Vec<String>, limits: PluginLimits) -> Result<LoadedPlugin, LoadFailure> {
        let mut plugin = LoadedPlugin {
            name: Arc::from(checked.name.as_str()),
            file: checked.file,
            sha256: checked.sha256,
            phases: PhaseSet::default(),
            pre: checked.pre,
            configs,
            idle: Mutex::new(Vec::new()),
            counters: Arc::new(Counters::default()),
            limits,
            failures: AtomicU64::new(0),
        };
        let mut first = plugin.instantiate()?;
        let phases = first.exports.call_phases(&mut first.store).map_err(|e| LoadFailure::Trap(e.to_string()))?;
        plugin.phases = phases.into_iter().map(super::Phase::from).collect();
        plugin.idle_list().push(first);
        Ok(plugin)
    }

    fn instantiate(&self) -> Result<Instance, LoadFailure> {
        let state = CallState {
            plugin: self.name.clone(),
            route: Arc::from(""),
            req: None,
            client_ip: Bytes::new(),
            resp: None,
            vars: Vars::default(),
            counters: self.counters.clone(),
            // Tables live in host memory: bound them too (a Rust guest needs a few hundred).
            limits: StoreLimitsBuilder::new()
                .memory_size(self.limits.memory)
                .table_elements(TABLE_ELEMENTS_LIMIT)
                .build(),
        };
        let mut store = Store::new(&runtime().engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(ticks(LOAD_DEADLINE));
        let exports = self.pre.instantiate(&mut store).map_err(|e| LoadFailure::Trap(e.to_string()))?;
        let mut handles = Vec::with_capacity(self.configs.len());
        let mut interest = Vec::new();
        for (index, json) in self.configs.iter().enumerate() {
            match exports.call_configure(&mut store, json) {
                Ok(Ok(configured)) => {
                    handles.push(configured.handle);
                    interest
                        .push(Interest { request: configured.request_headers, response: configured.response_headers });
                }
                Ok(Err(message)) => return Err(LoadFailure::Rejected(Rejected { config: index, message })),
                Err(trap) => return Err(LoadFailure::Trap(format!("configure trapped: {trap:#}"))),
            }
        }
        Ok(Instance { store, exports, handles, interest, prefetch: Vec::new() })
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        // Instances in the list are whole even if a holder panicked.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn checkout(&self) -> Result<Instance> {
        if let Some(instance) = self.idle_list().pop() {
            return Ok(instance);
        }
        self.instantiate().map_err(|err| match err {
            LoadFailure::Rejected(r) => {
                format_err!("configure rejected config {} on a new instance: {}", r.config, r.message)
            }
            LoadFailure::Trap(message) => format_err!("{message}"),
        })
    }

    fn checkin(&self, instance: Instance) {
        let mut idle = self.idle_list();
        if idle.len() < MAX_IDLE {
            idle.push(instance);
        }
    }

    /// Runs `call` on an instance with the request (and response) moved into its store,
    /// and moves them back whatever happens. `prefetch` says whose declared headers are
    /// sent along. An instance whose call failed is dropped: a trap can leave guest memory
    /// in any state.
    fn call<R>(
        &self,
        config: usize,
        ctx: &mut CallCtx<'_>,
        mut resp: Option<&mut ResponseHead>,
        call: impl FnOnce(&bindings::Plugin, &mut Store<CallState>, u32, &Vec<u8>) -> Result<R>,
    ) -> Result<R> {
        let mut instance = self.checkout()?;
        let handle = instance.handles.get(config).copied().ok_or_else(|| format_err!("no config {config}"))?;
        let interest = instance.interest.get(config);
        match (interest, resp.as_deref()) {
            (Some(i), Some(resp)) => prefetch(&mut instance.prefetch, &i.response, &resp.headers),
            (Some(i), None) => prefetch(&mut instance.prefetch, &i.request, &ctx.req.headers),
            (None, _) => instance.prefetch.clear(),
        }
        let state = instance.store.data_mut();
        if !Arc::ptr_eq(&state.route, ctx.route) {
            state.route = ctx.route.clone();
        }
        state.req = Some(std::mem::take(ctx.req));
        state.client_ip = ctx.client_ip.clone();
        state.vars = std::mem::take(ctx.vars);
        state.resp = resp.as_deref_mut().map(std::mem::take);

        instance.store.set_epoch_deadline(ticks(self.limits.cpu_deadline));
        let result =
            call(&instance.exports, &mut instance.store, handle, &instance.prefetch).map_err(|err| self.explain(err));

        let state = instance.store.data_mut();
        *ctx.req = state.req.take().unwrap_or_default();
        *ctx.vars = std::mem::take(&mut state.vars);
        if let Some(resp) = resp {
            *resp = state.resp.take().unwrap_or_default();
        }
        // A failed instance is dropped here instead: its memory may be in any state.
        if result.is_ok() {
            self.checkin(instance);
        }
        result
    }

    pub fn on_request(&self, config: usize, ctx: &mut CallCtx<'_>) -> Result<Decision> {
        let outcome = self.call(config, ctx, None, |exports, store, handle, headers| {
            exports.call_on_request(store, handle, Resource::new_borrow(0), headers)
        })?;
        self.applied(outcome, Target::Request(ctx.req))
    }

    pub fn select_upstream(&self, config: usize, ctx: &mut CallCtx<'_>) -> Result<Option<String>> {
        self.call(config, ctx, None, |exports, store, handle, headers| {
            exports.call_select_upstream(store, handle, Resource::new_borrow(0), headers)
        })
    }

    /// Applies the edits a phase returned; a rule broken there fails the call like a trap.
    fn applied(&self, outcome: wit::Outcome, target: Target<'_>) -> Result<Decision> {
        super::host_api::apply_edits(target, outcome.edits)?;
        Ok(Decision::from(outcome.decision))
    }

    pub fn on_upstream_request(
        &self,
        config: usize,
        ctx: &mut CallCtx<'_>,
        upstream: &str,
        attempt: u32,
    ) -> Result<Decision> {
        let outcome = self.call(config, ctx, None, |exports, store, handle, headers| {
            exports.call_on_upstream_request(store, handle, Resource::new_borrow(0), headers, upstream, attempt)
        })?;
        self.applied(outcome, Target::Request(ctx.req))
    }

    pub fn on_response(&self, config: usize, ctx: &mut CallCtx<'_>, resp: &mut ResponseHead) -> Result<Decision> {
        let outcome = self.call(config, ctx, Some(&mut *resp), |exports, store, handle, headers| {
            exports.call_on_response(store, handle, Resource::new_borrow(0), Resource::new_borrow(0), headers)
        })?;
        self.applied(outcome, Target::Response(&mut resp.headers))
    }

    pub fn on_log(&self, config: usize, ctx: &mut CallCtx<'_>, summary: &wit::LogSummary) -> Result<()> {
        self.call(config, ctx, None, |exports, store, handle, _| exports.call_on_log(store, handle, summary))
    }
}

impl LoadedPlugin {
    /// Names the limit a trap came from, when it came from one.
    fn explain(&self, err: wasmtime::Error) -> wasmtime::Error {
        match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => {
                err.context(format!("exceeded its CPU deadline of {:?}", self.limits.cpu_deadline))
            }
            _ => err,
        }
    }
}

/// Epoch ticks covering `deadline`, rounded up, plus the tick already under way.
fn ticks(deadline: Duration) -> u64 {
    let tick = super::engine::EPOCH_TICK.as_nanos().max(1);
    u64::try_from(deadline.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX).saturating_add(1)
}

/// Packs the first value of each name into `out` (reused from the last call).
fn prefetch(out: &mut Vec<u8>, names: &[String], fields: &crate::http1::Headers) {
    out.clear();
    let mut writer = portcullis_abi::ValuesWriter(out);
    for name in names {
        writer.push(fields.get(name).map(|v| &v[..]));
    }
}

/// Why a plugin could not be loaded.
pub(crate) enum LoadFailure {
    Rejected(Rejected),
    Trap(String),
}

impl From<wit::Decision> for Decision {
    fn from(decision: wit::Decision) -> Decision {
        match decision {
            wit::Decision::Continue => Decision::Continue,
            wit::Decision::Reply(r) => {
                Decision::Reply(PluginReply { status: r.status, headers: r.headers, body: Bytes::from(r.body) })
            }
        }
    }
}
