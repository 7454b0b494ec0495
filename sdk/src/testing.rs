//! Unit-test a plugin natively, without a gateway: build a request, run a phase, look at the
//! decision, the edited headers, the variables and the log.
//!
//! ```
//! use portcullis_sdk::prelude::*;
//! use portcullis_sdk::testing::{self, request};
//!
//! #[derive(Deserialize)]
//! struct Tag { name: String }
//! impl Plugin for Tag {
//!     type Config = Self;
//!     const PHASES: &'static [Phase] = &[Phase::OnRequest];
//!     fn configure(config: Self) -> Result<Self, String> { Ok(config) }
//!     fn on_request(&self, req: &Request) -> Decision {
//!         req.set_header("x-tag", &self.name);
//!         Decision::Continue
//!     }
//! }
//!
//! let plugin: Tag = testing::configure(r#"{ "name": "blue" }"#).unwrap();
//! let req = request("GET", "/").header("host", "example.com").build();
//! assert_eq!(plugin.on_request(&req), Decision::Continue);
//! assert_eq!(req.header("x-tag").as_deref(), Some(&b"blue"[..]));
//! ```
//!
//! Host state (variables, counters, clock, log) is per thread, and each test runs on its own
//! thread; call [`reset`] to start over within one test.

use std::cell::RefCell;

use crate::host::Level;
use crate::http::{Request, Response};
use crate::native::{self, host::WORLD, Fields};
use crate::plugin::Plugin;

/// Parses `config_json` exactly as the gateway does and calls `configure`: the `Err` is the
/// message an operator would see.
pub fn configure<P: Plugin>(config_json: &str) -> Result<P, String> {
    P::configure(crate::config::parse::<P::Config>(config_json)?)
}

pub struct RequestBuilder {
    method: String,
    target: String,
    authority: Option<String>,
    client_ip: String,
    headers: Vec<(String, Vec<u8>)>,
}

/// A request as the gateway would hand it to a plugin: client IP `192.0.2.1` unless set.
pub fn request(method: &str, path_and_query: &str) -> RequestBuilder {
    RequestBuilder {
        method: method.to_owned(),
        target: path_and_query.to_owned(),
        authority: None,
        client_ip: "192.0.2.1".to_owned(),
        headers: Vec::new(),
    }
}

impl RequestBuilder {
    /// Adds a field as a client would send it. A `host` field also sets the authority.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        if name.eq_ignore_ascii_case("host") && self.authority.is_none() {
            let host = String::from_utf8_lossy(value.as_ref()).to_ascii_lowercase();
            self.authority = Some(host.split(':').next().unwrap_or_default().to_owned());
        }
        self.headers.push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    pub fn client_ip(mut self, ip: &str) -> Self {
        self.client_ip = ip.to_owned();
        self
    }

    pub fn build(self) -> Request {
        Request {
            inner: native::Request {
                method: self.method,
                target: RefCell::new(self.target),
                authority: self.authority,
                client_ip: self.client_ip,
                headers: RefCell::new(Fields(self.headers)),
            },
        }
    }
}

/// An origin response head.
pub fn response(status: u16, headers: &[(&str, &str)]) -> Response {
    let fields = headers.iter().map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())).collect();
    Response { inner: native::Response { status: RefCell::new(status), headers: RefCell::new(Fields(fields)) } }
}

/// Sets a per-request variable, as an earlier plugin of the chain would.
pub fn set_var(key: &str, value: &str) {
    crate::host::set_var(key, value)
}

/// Sets the clock (milliseconds since the Unix epoch).
pub fn set_now_ms(now: u64) {
    WORLD.with(|w| w.borrow_mut().now_ms = now)
}

pub fn advance_ms(by: u64) {
    WORLD.with(|w| w.borrow_mut().now_ms += by)
}

/// Everything the plugin logged on this thread so far.
pub fn logs() -> Vec<(Level, String)> {
    WORLD.with(|w| w.borrow().logs.clone())
}

/// Forgets variables, counters and logs, and sets the clock back to its start.
pub fn reset() {
    WORLD.with(|w| {
        let mut w = w.borrow_mut();
        w.vars.clear();
        w.counters.clear();
        w.logs.clear();
        w.now_ms = native::host::START_MS;
    })
}

/// Forgets the per-request variables only: what the gateway does between two requests.
pub fn next_request() {
    WORLD.with(|w| w.borrow_mut().vars.clear())
}
