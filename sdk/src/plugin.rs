//! The `Plugin` trait and the values that cross the sandbox.

use serde::de::DeserializeOwned;

use crate::http::{Request, Response};

/// A gateway plugin. Every phase has a no-op default; list the ones you implement in
/// [`PHASES`](Plugin::PHASES) — the gateway calls only those, so an unlisted phase costs
/// nothing per request.
///
/// One value of the type exists per route config that names the plugin; methods take
/// `&self` because the same value serves every request of that route.
pub trait Plugin: Sized + 'static {
    /// The route's `config = { … }` table, deserialised with serde. Use `Self` when the
    /// plugin needs nothing more than its config.
    type Config: DeserializeOwned;

    const PHASES: &'static [Phase];

    /// Validates and prepares a config (compile patterns here, not per request). An `Err`
    /// stops the gateway from loading with this message, shown with the route's location.
    fn configure(config: Self::Config) -> Result<Self, String>;

    /// Request fields this config reads in most calls. Their values arrive with each call
    /// (on-request, select-upstream, on-upstream-request), so reading them costs no trip to
    /// the host; any other field still works, one host call each.
    fn request_headers(&self) -> Vec<String> {
        Vec::new()
    }

    /// The same for response fields read in on-response.
    fn response_headers(&self) -> Vec<String> {
        Vec::new()
    }

    fn on_request(&self, _req: &Request) -> Decision {
        Decision::Continue
    }

    /// The name of a configured upstream for this request, or `None` to leave the choice
    /// to later plugins and then the route.
    fn select_upstream(&self, _req: &Request) -> Option<String> {
        None
    }

    /// Once per attempt; `attempt` counts from 1, so a retry can carry other headers.
    fn on_upstream_request(&self, _req: &Request, _upstream: &str, _attempt: u32) -> Decision {
        Decision::Continue
    }

    fn on_response(&self, _req: &Request, _resp: &Response) -> Decision {
        Decision::Continue
    }

    fn on_log(&self, _summary: &LogSummary) {}
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    OnRequest,
    SelectUpstream,
    OnUpstreamRequest,
    OnResponse,
    OnLog,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Continue,
    /// Answer the client now: later plugins of the phase and the origin are skipped.
    Reply(Reply),
}

impl Decision {
    /// A plain-text reply.
    pub fn reply(status: u16, body: impl Into<Vec<u8>>) -> Decision {
        Decision::Reply(Reply::new(status).header("content-type", "text/plain; charset=utf-8").body(body))
    }

    /// The status of the reply, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Decision::Continue => None,
            Decision::Reply(reply) => Some(reply.status),
        }
    }
}

/// A complete response made by the plugin. The gateway adds the framing
/// (`Content-Length`) itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: Vec::new() }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    /// The first value of `name` (case-insensitive).
    pub fn get_header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }
}

/// What happened to a request, given to `on_log` after its last byte was sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSummary {
    pub route: String,
    pub method: String,
    pub path_and_query: String,
    pub client_ip: String,
    /// `None` for replies made by a plugin or the gateway itself.
    pub upstream: Option<String>,
    pub status: u16,
    pub bytes_sent: u64,
    pub duration_us: u64,
}
