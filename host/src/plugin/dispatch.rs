//! One phase call on a checked-out instance, either way: blocking (the call holds its thread
//! to the end) or yielding (on a fiber, back to the scheduler at every epoch tick). The
//! call owns everything it touches, so a yielding call can finish on another thread.

use wasmtime::component::Resource;
use wasmtime::Result;

use super::bindings::portcullis::gateway::types as wit;
use super::instance::Instance;

/// A phase and its arguments beyond the request (and response) in the store.
pub(crate) enum Args {
    OnRequest,
    SelectUpstream,
    OnUpstreamRequest { upstream: String, attempt: u32 },
    OnResponse,
    OnLog(wit::LogSummary),
}

impl Args {
    pub fn phase(&self) -> super::Phase {
        use super::Phase;
        match self {
            Args::OnRequest => Phase::OnRequest,
            Args::SelectUpstream => Phase::SelectUpstream,
            Args::OnUpstreamRequest { .. } => Phase::OnUpstreamRequest,
            Args::OnResponse => Phase::OnResponse,
            Args::OnLog(_) => Phase::OnLog,
        }
    }
}

/// What a phase returned.
pub(crate) enum Returned {
    Outcome(wit::Outcome),
    Upstream(Option<String>),
    Nothing,
}

/// An instance checked out for one call, with the handle of the call's config.
pub(crate) struct Call {
    pub instance: Box<Instance>,
    pub handle: u32,
}

impl Call {
    pub fn blocking(&mut self, args: &Args) -> Result<Returned> {
        let Instance { store, exports, prefetch, .. } = &mut *self.instance;
        let (exports, handle, req) = (&exports.blocking, self.handle, Resource::new_borrow(0));
        Ok(match args {
            Args::OnRequest => Returned::Outcome(exports.call_on_request(store, handle, req, prefetch)?),
            Args::SelectUpstream => Returned::Upstream(exports.call_select_upstream(store, handle, req, prefetch)?),
            Args::OnUpstreamRequest { upstream, attempt } => {
                Returned::Outcome(exports.call_on_upstream_request(store, handle, req, prefetch, upstream, *attempt)?)
            }
            Args::OnResponse => {
                Returned::Outcome(exports.call_on_response(store, handle, req, Resource::new_borrow(0), prefetch)?)
            }
            Args::OnLog(summary) => {
                exports.call_on_log(store, handle, summary)?;
                Returned::Nothing
            }
        })
    }

    pub async fn yielding(&mut self, args: &Args) -> Result<Returned> {
        let Instance { store, exports, prefetch, .. } = &mut *self.instance;
        let (exports, handle, req) = (&exports.yielding, self.handle, Resource::new_borrow(0));
        Ok(match args {
            Args::OnRequest => Returned::Outcome(exports.call_on_request(store, handle, req, prefetch).await?),
            Args::SelectUpstream => {
                Returned::Upstream(exports.call_select_upstream(store, handle, req, prefetch).await?)
            }
            Args::OnUpstreamRequest { upstream, attempt } => Returned::Outcome(
                exports.call_on_upstream_request(store, handle, req, prefetch, upstream, *attempt).await?,
            ),
            Args::OnResponse => Returned::Outcome(
                exports.call_on_response(store, handle, req, Resource::new_borrow(0), prefetch).await?,
            ),
            Args::OnLog(summary) => {
                exports.call_on_log(store, handle, summary).await?;
                Returned::Nothing
            }
        })
    }
}
