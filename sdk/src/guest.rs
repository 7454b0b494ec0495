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

use bindings::portcullis::gateway::{http as wit_http, types as wit};

thread_local! {
    /// One value per `configure` call; the index is the config handle. Leaked on purpose:
    /// configs live as long as the instance, and a `&'static` lets phases run without
    /// holding a borrow of the registry.
    static CONFIGS: RefCell<Vec<&'static dyn Any>> = const { RefCell::new(Vec::new()) };
}

fn config<P: Plugin>(handle: u32) -> &'static P {
    let found = CONFIGS.with(|configs| configs.borrow().get(handle as usize).copied());
    match found.and_then(|any| any.downcast_ref::<P>()) {
        Some(plugin) => plugin,
        None => panic!("config handle {handle} was not returned by configure"),
    }
}

fn request(req: &wit_http::Request) -> &Request {
    // SAFETY: `Request` is `#[repr(transparent)]` over `wit_http::Request`, so the two
    // references have the same layout and the lifetime is carried over unchanged.
    #[allow(unsafe_code)]
    unsafe {
        &*(req as *const wit_http::Request as *const Request)
    }
}

fn response(resp: &wit_http::Response) -> &Response {
    // SAFETY: as in `request`: `Response` is `#[repr(transparent)]` over `wit_http::Response`.
    #[allow(unsafe_code)]
    unsafe {
        &*(resp as *const wit_http::Response as *const Response)
    }
}

/// Implements the world's exports for any [`Plugin`]; named by `export!`.
pub struct Exports<P>(PhantomData<P>);

impl<P: Plugin> bindings::Guest for Exports<P> {
    fn configure(config_json: String) -> Result<u32, String> {
        install_panic_hook();
        let config = crate::config::parse::<P::Config>(&config_json)?;
        let plugin: &'static dyn Any = Box::leak(Box::new(P::configure(config)?));
        CONFIGS.with(|configs| {
            let mut configs = configs.borrow_mut();
            configs.push(plugin);
            Ok((configs.len() - 1) as u32)
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

    fn on_request(cfg: u32, req: &wit_http::Request) -> wit::Decision {
        decision(config::<P>(cfg).on_request(request(req)))
    }

    fn select_upstream(cfg: u32, req: &wit_http::Request) -> Option<String> {
        config::<P>(cfg).select_upstream(request(req))
    }

    fn on_upstream_request(cfg: u32, req: &wit_http::Request, upstream: String, attempt: u32) -> wit::Decision {
        decision(config::<P>(cfg).on_upstream_request(request(req), &upstream, attempt))
    }

    fn on_response(cfg: u32, req: &wit_http::Request, resp: &wit_http::Response) -> wit::Decision {
        decision(config::<P>(cfg).on_response(request(req), response(resp)))
    }

    fn on_log(cfg: u32, summary: wit::LogSummary) {
        config::<P>(cfg).on_log(&LogSummary {
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
