//! The component side: the generated bindings (private to the SDK) and the glue that turns
//! the `plugin` world's exports into calls on a [`Plugin`].

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;

use crate::http::{Request, Response};
use crate::plugin::{Decision, LogSummary, Phase, Plugin};

pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "portcullis_sdk::guest::bindings",
    });
}

pub(crate) mod http;
mod scope;

use bindings::portcullis::gateway::{http as wit_http, types as wit};
use scope::Target;

/// One configured plugin value and the header interest it declared.
struct Entry {
    plugin: &'static dyn Any,
    request_headers: Vec<String>,
    response_headers: Vec<String>,
}

thread_local! {
    /// One entry per `configure` call; the index is the config handle. Leaked on purpose:
    /// configs live as long as the instance, and a `&'static` lets phases run without
    /// holding a borrow of the registry.
    static CONFIGS: RefCell<Vec<&'static Entry>> = const { RefCell::new(Vec::new()) };
}

fn entry(handle: u32) -> &'static Entry {
    match CONFIGS.with(|configs| configs.borrow().get(handle as usize).copied()) {
        Some(entry) => entry,
        None => panic!("config handle {handle} was not returned by configure"),
    }
}

fn config<P: Plugin>(entry: &'static Entry) -> &'static P {
    match entry.plugin.downcast_ref::<P>() {
        Some(plugin) => plugin,
        None => panic!("config of another plugin type"),
    }
}

fn request(req: &wit_http::Request) -> &Request {
    // SAFETY: `Request` is `#[repr(transparent)]` over `http::Request`, which is
    // `#[repr(transparent)]` over `wit_http::Request`: the references have the same layout,
    // and the lifetime is carried over unchanged.
    #[allow(unsafe_code)]
    unsafe {
        &*(req as *const wit_http::Request as *const Request)
    }
}

fn response(resp: &wit_http::Response) -> &Response {
    // SAFETY: as in `request`, two `#[repr(transparent)]` layers over `wit_http::Response`.
    #[allow(unsafe_code)]
    unsafe {
        &*(resp as *const wit_http::Response as *const Response)
    }
}

/// Runs one phase with its prefetched headers in scope; returns the edits it buffered.
fn phase<T>(
    target: Target,
    buffered: Option<Target>,
    names: &'static [String],
    headers: Vec<u8>,
    run: impl FnOnce() -> T,
) -> (Vec<u8>, T) {
    scope::begin(target, buffered, names, headers);
    let value = run();
    (scope::end(), value)
}

/// Implements the world's exports for any [`Plugin`]; named by `export!`.
pub struct Exports<P>(PhantomData<P>);

impl<P: Plugin> bindings::Guest for Exports<P> {
    fn configure(config_json: String) -> Result<wit::Configured, String> {
        install_panic_hook();
        let config = crate::config::parse::<P::Config>(&config_json)?;
        let plugin: &'static P = Box::leak(Box::new(P::configure(config)?));
        let entry: &'static Entry = Box::leak(Box::new(Entry {
            plugin,
            request_headers: plugin.request_headers(),
            response_headers: plugin.response_headers(),
        }));
        CONFIGS.with(|configs| {
            let mut configs = configs.borrow_mut();
            configs.push(entry);
            Ok(wit::Configured {
                handle: (configs.len() - 1) as u32,
                request_headers: entry.request_headers.clone(),
                response_headers: entry.response_headers.clone(),
            })
        })
    }

    fn phases() -> Vec<wit::Phase> {
        P::PHASES
            .iter()
            .map(|phase| match phase {
                Phase::OnRequest => wit::Phase::OnRequest,
                Phase::SelectUpstream => wit::Phase::SelectUpstream,
                Phase::OnUpstreamRequest => wit::Phase::OnUpstreamRequest,
                Phase::OnResponse => wit::Phase::OnResponse,
                Phase::OnLog => wit::Phase::OnLog,
            })
            .collect()
    }

    fn on_request(cfg: u32, req: &wit_http::Request, headers: Vec<u8>) -> wit::Outcome {
        let entry = entry(cfg);
        let (edits, d) = phase(Target::Request, Some(Target::Request), &entry.request_headers, headers, || {
            config::<P>(entry).on_request(request(req))
        });
        wit::Outcome { edits, decision: decision(d) }
    }

    fn select_upstream(cfg: u32, req: &wit_http::Request, headers: Vec<u8>) -> Option<String> {
        let entry = entry(cfg);
        // Edits here go to the host at once: this phase returns no edit list.
        let (_, upstream) = phase(Target::Request, None, &entry.request_headers, headers, || {
            config::<P>(entry).select_upstream(request(req))
        });
        upstream
    }

    fn on_upstream_request(
        cfg: u32,
        req: &wit_http::Request,
        headers: Vec<u8>,
        upstream: String,
        attempt: u32,
    ) -> wit::Outcome {
        let entry = entry(cfg);
        let (edits, d) = phase(Target::Request, Some(Target::Request), &entry.request_headers, headers, || {
            config::<P>(entry).on_upstream_request(request(req), &upstream, attempt)
        });
        wit::Outcome { edits, decision: decision(d) }
    }

    fn on_response(cfg: u32, req: &wit_http::Request, resp: &wit_http::Response, headers: Vec<u8>) -> wit::Outcome {
        let entry = entry(cfg);
        let (edits, d) = phase(Target::Response, Some(Target::Response), &entry.response_headers, headers, || {
            config::<P>(entry).on_response(request(req), response(resp))
        });
        wit::Outcome { edits, decision: decision(d) }
    }

    fn on_log(cfg: u32, summary: wit::LogSummary) {
        config::<P>(entry(cfg)).on_log(&LogSummary {
            route: summary.route,
            method: summary.method,
            path_and_query: summary.path_and_query,
            client_ip: summary.client_ip,
            upstream: summary.upstream,
            status: summary.status,
            bytes_sent: summary.bytes_sent,
            duration_us: summary.duration_us,
        })
    }
}

fn decision(decision: Decision) -> wit::Decision {
    match decision {
        Decision::Continue => wit::Decision::Continue,
        Decision::Reply(reply) => {
            wit::Decision::Reply(wit::Reply { status: reply.status, headers: reply.headers, body: reply.body })
        }
    }
}

/// A panic becomes an error line in the gateway's log (with the plugin's name) before the
/// instance traps, instead of a message to a stderr nobody reads.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            host::log(crate::host::Level::Error, &format!("plugin panicked: {info}"));
        }))
    });
}

/// The host imports, in the SDK's own types.
pub mod host {
    use super::bindings::portcullis::gateway::{host as wit_host, types as wit};
    use crate::host::Level;

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => wit::Level::Trace,
            Level::Debug => wit::Level::Debug,
            Level::Info => wit::Level::Info,
            Level::Warn => wit::Level::Warn,
            Level::Error => wit::Level::Error,
        };
        wit_host::log(level, message)
    }

    pub use wit_host::{counter_add, now_ms, var_get, var_set};
}
