//! A route's plugin chain: runs one phase over the plugins that declared it, in order,
//! applying each plugin's `on_error` policy. Reads like the phase chart: the request path
//! calls one method per phase.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use wasmtime::Result;

use super::bindings::portcullis::gateway::types as wit;
use super::instance::{CallCtx, LoadedPlugin};
use super::{Decision, Phase, PhaseSet, PluginReply};
use crate::config::OnError;
use crate::error::ProxyError;
use crate::http1::ResponseHead;
use crate::metrics::{metrics, PluginFailureLabels};

pub(crate) struct Link {
    pub plugin: Arc<LoadedPlugin>,
    /// Index into the plugin's configs.
    pub config: usize,
    pub on_error: OnError,
}

/// The chain of one route. Empty for routes without plugins, which then cost one branch
/// per phase.
#[derive(Default)]
pub struct Chain {
    pub(crate) links: Vec<Link>,
    /// Union of the links' phases, to skip a phase without looking at each link.
    pub(crate) phases: PhaseSet,
    pub(crate) route: Arc<str>,
}

/// What the proxy does after a phase: go on, or send the plugin's reply.
pub type Outcome = Result<Option<PluginReply>, ProxyError>;

impl Chain {
    pub fn has(&self, phase: Phase) -> bool {
        self.phases.contains(phase)
    }

    pub fn route(&self) -> &Arc<str> {
        &self.route
    }

    fn links(&self, phase: Phase) -> impl Iterator<Item = &Link> {
        self.links.iter().filter(move |link| link.plugin.phases.contains(phase))
    }

    /// Counts the failure and applies `link`'s policy: `Ok` skips the plugin (fail-open).
    fn failed(&self, link: &Link, phase: Phase, err: wasmtime::Error) -> Result<(), ProxyError> {
        let policy = match link.on_error {
            OnError::FailClosed => "fail-closed",
            OnError::FailOpen => "fail-open",
        };
        count_failure(link, phase, &err, policy);
        let plugin = &*link.plugin.name;
        let route = &*self.route;
        match link.on_error {
            OnError::FailClosed => {
                tracing::error!(plugin, route, phase = phase.name(), error = %format!("{err:#}"), "plugin failed; failing the request (fail-closed)");
                Err(ProxyError::PluginFailed { plugin: plugin.to_owned(), phase: phase.name() })
            }
            OnError::FailOpen => {
                tracing::warn!(plugin, route, phase = phase.name(), error = %format!("{err:#}"), "plugin failed; skipping it (fail-open)");
                Ok(())
            }
        }
    }

    /// Judges one plugin's answer in a decision phase: a reply to send, or go on (after a
    /// failure the policy allowed). A reply that cannot be sent is the plugin's failure like
    /// a trap.
    fn judge(&self, link: &Link, phase: Phase, answer: Result<Decision>) -> Outcome {
        match answer {
            Ok(Decision::Continue) => Ok(None),
            Ok(Decision::Reply(reply)) => match reply.problem() {
                None => Ok(Some(reply)),
                Some(problem) => self.failed(link, phase, wasmtime::format_err!("{problem}")).map(|()| None),
            },
            Err(err) => self.failed(link, phase, err).map(|()| None),
        }
    }

    /// The first reply short-circuits the rest of the chain.
    pub async fn on_request(&self, ctx: &mut CallCtx<'_>) -> Outcome {
        for link in self.links(Phase::OnRequest) {
            let answer = link.plugin.on_request(link.config, ctx).await;
            if let Some(reply) = self.judge(link, Phase::OnRequest, answer)? {
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }

    /// The first upstream a plugin names, as `resolve` finds it among the configured ones,
    /// or `None` for the route's own. A name `resolve` does not know is the plugin's failure
    /// like a trap.
    pub async fn select_upstream<T>(
        &self,
        ctx: &mut CallCtx<'_>,
        resolve: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ProxyError> {
        for link in self.links(Phase::SelectUpstream) {
            match link.plugin.select_upstream(link.config, ctx).await {
                Ok(Some(name)) => {
                    if let Some(upstream) = resolve(&name) {
                        return Ok(Some(upstream));
                    }
                    let err = wasmtime::format_err!("selected upstream `{name}`, which is not configured");
                    self.failed(link, Phase::SelectUpstream, err)?;
                }
                Ok(None) => {}
                Err(err) => {
                    self.failed(link, Phase::SelectUpstream, err)?;
                }
            }
        }
        Ok(None)
    }

    pub async fn on_upstream_request(&self, ctx: &mut CallCtx<'_>, upstream: &str, attempt: u32) -> Outcome {
        for link in self.links(Phase::OnUpstreamRequest) {
            let answer = link.plugin.on_upstream_request(link.config, ctx, upstream, attempt).await;
            if let Some(reply) = self.judge(link, Phase::OnUpstreamRequest, answer)? {
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }

    pub async fn on_response(&self, ctx: &mut CallCtx<'_>, resp: &mut ResponseHead) -> Outcome {
        for link in self.links(Phase::OnResponse) {
            let answer = link.plugin.on_response(link.config, ctx, resp).await;
            if let Some(reply) = self.judge(link, Phase::OnResponse, answer)? {
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }

    /// After the last byte: failures can only be logged.
    pub async fn on_log(&self, ctx: &mut CallCtx<'_>, summary: &LogSummary) {
        let summary = wit::LogSummary {
            route: self.route.to_string(),
            method: String::from_utf8_lossy(&ctx.req.method).into_owned(),
            path_and_query: String::from_utf8_lossy(&ctx.req.target).into_owned(),
            client_ip: String::from_utf8_lossy(ctx.client_ip).into_owned(),
            upstream: summary.upstream.clone(),
            status: summary.status,
            bytes_sent: summary.bytes_sent,
            duration_us: summary.duration_us,
        };
        for link in self.links(Phase::OnLog) {
            if let Err(err) = link.plugin.on_log(link.config, ctx, summary.clone()).await {
                count_failure(link, Phase::OnLog, &err, "logged");
                let (plugin, route) = (&*link.plugin.name, &*self.route);
                tracing::warn!(plugin, route, phase = "on-log", error = %format!("{err:#}"), "plugin failed");
            }
        }
    }
}

/// What the request path knows at the end of a request; the rest of the log record comes
/// from the request itself.
pub struct LogSummary {
    pub upstream: Option<String>,
    pub status: u16,
    pub bytes_sent: u64,
    pub duration_us: u64,
}

/// Counts a failed call on the plugin and in the metrics.
fn count_failure(link: &Link, phase: Phase, err: &wasmtime::Error, policy: &'static str) {
    link.plugin.failures.fetch_add(1, Ordering::Relaxed);
    let labels = PluginFailureLabels {
        plugin: link.plugin.name.to_string(),
        phase: phase.name(),
        kind: failure_kind(err),
        policy,
    };
    metrics().plugin_failures.get_or_create(&labels).inc();
}

/// How a call failed, for the failure counter: a trap at the CPU deadline, any other trap,
/// or a broken rule of the contract (no trap: the host refused what the plugin did).
fn failure_kind(err: &wasmtime::Error) -> &'static str {
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "deadline",
        Some(_) => "trap",
        None if err.chain().any(|cause| cause.downcast_ref::<wasmtime::Trap>().is_some()) => "trap",
        None => "contract",
    }
}
