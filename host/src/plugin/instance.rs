//! One loaded plugin: its instantiation recipe, its configs, and a pool of ready instances
//! that phase calls check out (any worker thread may take any instance) and put back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use wasmtime::component::InstancePre;
use wasmtime::{format_err, Result};
use wasmtime::{Store, StoreLimitsBuilder};

use super::bindings::{self, portcullis::gateway::types as wit, yielding};
use super::cooperation::Cooperation;
use super::counters::Counters;
use super::dispatch::{Args, Call, Returned};
use super::engine::{Runtime, Sha256Digest};
use super::host_api::{CallState, Target};
use super::load::Checked;
use super::vars::Vars;
use super::{Decision, Phase, PhaseSet, PluginReply};
use crate::config::{Isolation, PluginSandbox};
use crate::http1::{RequestHead, ResponseHead};
use crate::metrics::{metrics, PluginPhaseLabels};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;

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
    runtime: &'static Runtime,
    pre: InstancePre<CallState>,
    /// Where the exports are, for calls that block their thread and for calls that yield.
    blocking_exports: bindings::PluginIndices,
    yielding_exports: yielding::PluginIndices,
    /// The JSON of every route config naming this plugin; index = config index of a link.
    configs: Vec<String>,
    /// Per config and phase: its last cooperative call yielded, so the next one starts on
    /// the slow lane instead of spending a first slice on a request worker.
    slow: Vec<[AtomicBool; Phase::ALL.len()]>,
    /// Boxed: an instance moves (out of the pool, into a call, onto the slow lane and
    /// back) on every call, and its exports alone are hundreds of bytes.
    #[allow(clippy::vec_box, reason = "moving the box, not the instance, saved ~0.15 µs per call")]
    idle: Mutex<Vec<Box<Instance>>>,
    counters: Arc<Counters>,
    sandbox: PluginSandbox,
    /// Calls that failed (a trap, a broken rule, an unusable result); counted by the chain,
    /// which handles every failure.
    pub failures: AtomicU64,
    /// Call latency per phase (`Phase as usize`), handles into the metrics family.
    call_seconds: [Histogram; Phase::ALL.len()],
    /// Cooperative calls that yielded, per phase.
    slow_calls: [Counter; Phase::ALL.len()],
}

pub(crate) struct Instance {
    pub store: Store<CallState>,
    pub exports: Exports,
    /// What `configure` answered for the configs `first_config..` of `LoadedPlugin::configs`:
    /// all of them in a pooled instance, the one a call needs in a per-request instance.
    first_config: usize,
    configured: Vec<Configured>,
    /// Reused buffer for the packed values of the declared headers.
    pub prefetch: Vec<u8>,
}

/// One config as this instance's `configure` took it.
struct Configured {
    handle: u32,
    /// The headers the config reads in every call: values are packed in the order the
    /// guest will look them up in.
    interest: Interest,
}

/// One instance's exports, called either way.
pub(crate) struct Exports {
    pub blocking: bindings::Plugin,
    pub yielding: yielding::Plugin,
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
    pub fn new(checked: Checked, configs: Vec<String>, sandbox: PluginSandbox) -> Result<LoadedPlugin, LoadFailure> {
        let pre = checked.pre.instance_pre().clone();
        let indices =
            bindings::PluginIndices::new(&pre).and_then(|blocking| Ok((blocking, yielding::PluginIndices::new(&pre)?)));
        let (blocking_exports, yielding_exports) = indices.map_err(|e| LoadFailure::Trap(e.to_string()))?;
        let labels = Phase::ALL.map(|phase| PluginPhaseLabels { plugin: checked.name.clone(), phase: phase.name() });
        let mut plugin = LoadedPlugin {
            name: Arc::from(checked.name.as_str()),
            file: checked.file,
            sha256: checked.sha256,
            phases: PhaseSet::default(),
            runtime: checked.runtime,
            pre,
            blocking_exports,
            yielding_exports,
            slow: configs.iter().map(|_| Default::default()).collect(),
            configs,
            idle: Mutex::new(Vec::new()),
            counters: Arc::new(Counters::default()),
            sandbox,
            failures: AtomicU64::new(0),
            call_seconds: labels.clone().map(|labels| metrics().plugin_call_seconds.get_or_create(&labels).clone()),
            slow_calls: labels.map(|labels| metrics().plugin_slow_calls.get_or_create(&labels).clone()),
        };
        let mut first = plugin.instantiate(0..plugin.configs.len())?;
        let phases =
            first.exports.blocking.call_phases(&mut first.store).map_err(|e| LoadFailure::Trap(e.to_string()))?;
        plugin.phases = phases.into_iter().map(super::Phase::from).collect();
        plugin.checkin(first);
        Ok(plugin)
    }

    /// A fresh instance with the configs `configs` applied.
    fn instantiate(&self, configs: std::ops::Range<usize>) -> Result<Box<Instance>, LoadFailure> {
        let state = CallState {
            plugin: self.name.clone(),
            route: Arc::from(""),
            req: None,
            client_ip: Bytes::new(),
            resp: None,
            vars: Vars::default(),
            counters: self.counters.clone(),
            cooperation: None,
            // Tables live in host memory: bound them too (a Rust guest needs a few hundred).
            limits: StoreLimitsBuilder::new()
                .memory_size(self.sandbox.memory)
                .table_elements(TABLE_ELEMENTS_LIMIT)
                .build(),
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(super::cooperation::at_epoch_deadline);
        store.set_epoch_deadline(ticks(LOAD_DEADLINE));
        let exports = self
            .pre
            .instantiate(&mut store)
            .and_then(|instance| {
                let blocking = self.blocking_exports.load(&mut store, &instance)?;
                Ok(Exports { blocking, yielding: self.yielding_exports.load(&mut store, &instance)? })
            })
            .map_err(|e| LoadFailure::Trap(e.to_string()))?;
        let first_config = configs.start;
        let mut configured = Vec::with_capacity(configs.len());
        for (index, json) in self.configs.iter().enumerate().skip(first_config).take(configs.len()) {
            match exports.blocking.call_configure(&mut store, json) {
                Ok(Ok(answer)) => configured.push(Configured {
                    handle: answer.handle,
                    interest: Interest { request: answer.request_headers, response: answer.response_headers },
                }),
                Ok(Err(message)) => return Err(LoadFailure::Rejected(Rejected { config: index, message })),
                Err(trap) => return Err(LoadFailure::Trap(format!("configure trapped: {trap:#}"))),
            }
        }
        Ok(Box::new(Instance { store, exports, first_config, configured, prefetch: Vec::new() }))
    }

    #[allow(clippy::vec_box, reason = "see `idle`")]
    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Box<Instance>>> {
        // Instances in the list are whole even if a holder panicked.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An instance that has `config` applied: an idle one if the plugin's instances are
    /// pooled, else a fresh one.
    fn checkout(&self, config: usize) -> Result<Box<Instance>> {
        let configs = match self.sandbox.isolation {
            Isolation::Pooled => {
                if let Some(instance) = self.idle_list().pop() {
                    return Ok(instance);
                }
                0..self.configs.len()
            }
            Isolation::PerRequest => config..config + 1,
        };
        self.instantiate(configs).map_err(|err| match err {
            LoadFailure::Rejected(r) => {
                format_err!("configure rejected config {} on a new instance: {}", r.config, r.message)
            }
            LoadFailure::Trap(message) => format_err!("{message}"),
        })
    }

    fn checkin(&self, instance: Box<Instance>) {
        if self.sandbox.isolation == Isolation::PerRequest {
            // Dropping the store hands its slot back, memory reset to the component's image.
            return;
        }
        let mut idle = self.idle_list();
        if idle.len() < MAX_IDLE {
            idle.push(instance);
        }
    }

    /// Checks out an instance and moves the request (and response) into its store for a
    /// call; `finish` moves them back whatever happened. The declared headers of the
    /// response (when there is one) or of the request are packed for the call.
    fn start(&self, config: usize, ctx: &mut CallCtx<'_>, resp: Option<&mut ResponseHead>) -> Result<Call> {
        let mut instance = self.checkout(config)?;
        let configured = config.checked_sub(instance.first_config).and_then(|i| instance.configured.get(i));
        let Some(Configured { handle, interest }) = configured else {
            return Err(format_err!("no config {config}"));
        };
        let handle = *handle;
        match resp.as_deref() {
            Some(resp) => prefetch(&mut instance.prefetch, &interest.response, &resp.headers),
            None => prefetch(&mut instance.prefetch, &interest.request, &ctx.req.headers),
        }
        let state = instance.store.data_mut();
        if !Arc::ptr_eq(&state.route, ctx.route) {
            state.route = ctx.route.clone();
        }
        state.req = Some(std::mem::take(ctx.req));
        state.client_ip = ctx.client_ip.clone();
        state.vars = std::mem::take(ctx.vars);
        state.resp = resp.map(std::mem::take);

        let budget = ticks(self.sandbox.cpu_deadline);
        if self.sandbox.cooperative {
            // Back to the scheduler at every tick; the budget counts only ticks spent running.
            instance.store.data_mut().cooperation = Some(Cooperation::new(budget));
            instance.store.set_epoch_deadline(1);
        } else {
            instance.store.set_epoch_deadline(budget);
        }
        Ok(Call { instance, handle })
    }

    /// Moves the request (and response) back out of the store. An instance whose call
    /// failed is dropped: a trap can leave guest memory in any state.
    fn finish<R>(
        &self,
        call: Call,
        ctx: &mut CallCtx<'_>,
        resp: Option<&mut ResponseHead>,
        result: Result<R>,
    ) -> Result<R> {
        let mut instance = call.instance;
        let state = instance.store.data_mut();
        state.cooperation = None;
        *ctx.req = state.req.take().unwrap_or_default();
        *ctx.vars = std::mem::take(&mut state.vars);
        if let Some(resp) = resp {
            *resp = state.resp.take().unwrap_or_default();
        }
        match result {
            Ok(value) => {
                self.checkin(instance);
                Ok(value)
            }
            Err(err) => Err(self.explain(err)),
        }
    }

    /// One phase call, start to finish: cooperative calls yield at every tick and finish on
    /// the slow lane if they outlive the first one.
    async fn invoke(
        &self,
        config: usize,
        ctx: &mut CallCtx<'_>,
        mut resp: Option<&mut ResponseHead>,
        args: Args,
    ) -> Result<Returned> {
        let since = Instant::now();
        let phase = args.phase() as usize;
        let mut call = self.start(config, ctx, resp.as_deref_mut())?;
        let slow = self.slow.get(config).map(|phases| &phases[phase]);
        let result = if let (true, Some(slow)) = (self.sandbox.cooperative, slow) {
            let (back, result) = super::lane::run(call, args, slow.load(Ordering::Relaxed)).await;
            call = back;
            let yielded = call.instance.store.data().cooperation.as_ref().is_some_and(|c| c.yielded);
            slow.store(yielded, Ordering::Relaxed);
            if yielded {
                self.slow_calls[phase].inc();
            }
            result
        } else {
            call.blocking(&args)
        };
        let finished = self.finish(call, ctx, resp, result);
        self.call_seconds[phase].observe(since.elapsed().as_secs_f64());
        finished
    }

    pub async fn on_request(&self, config: usize, ctx: &mut CallCtx<'_>) -> Result<Decision> {
        let returned = self.invoke(config, ctx, None, Args::OnRequest).await?;
        self.applied(returned, Target::Request(ctx.req))
    }

    pub async fn select_upstream(&self, config: usize, ctx: &mut CallCtx<'_>) -> Result<Option<String>> {
        match self.invoke(config, ctx, None, Args::SelectUpstream).await? {
            Returned::Upstream(name) => Ok(name),
            _ => Err(format_err!("select-upstream returned no upstream choice")),
        }
    }

    pub async fn on_upstream_request(
        &self,
        config: usize,
        ctx: &mut CallCtx<'_>,
        upstream: &str,
        attempt: u32,
    ) -> Result<Decision> {
        let args = Args::OnUpstreamRequest { upstream: upstream.to_owned(), attempt };
        let returned = self.invoke(config, ctx, None, args).await?;
        self.applied(returned, Target::Request(ctx.req))
    }

    pub async fn on_response(&self, config: usize, ctx: &mut CallCtx<'_>, resp: &mut ResponseHead) -> Result<Decision> {
        let returned = self.invoke(config, ctx, Some(&mut *resp), Args::OnResponse).await?;
        self.applied(returned, Target::Response(&mut resp.headers))
    }

    pub async fn on_log(&self, config: usize, ctx: &mut CallCtx<'_>, summary: wit::LogSummary) -> Result<()> {
        self.invoke(config, ctx, None, Args::OnLog(summary)).await.map(drop)
    }

    /// Applies the edits a decision phase returned; a rule broken there fails the call like
    /// a trap.
    fn applied(&self, returned: Returned, target: Target<'_>) -> Result<Decision> {
        let Returned::Outcome(outcome) = returned else {
            return Err(format_err!("the phase returned no outcome"));
        };
        super::host_api::apply_edits(target, outcome.edits)?;
        Ok(Decision::from(outcome.decision))
    }
}

impl LoadedPlugin {
    /// Names the limit a trap came from, when it came from one.
    fn explain(&self, err: wasmtime::Error) -> wasmtime::Error {
        match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => {
                err.context(format!("exceeded its CPU deadline of {:?}", self.sandbox.cpu_deadline))
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
