//! Write [portcullis](https://github.com/) gateway plugins in plain Rust.
//!
//! A plugin is a type that implements [`Plugin`]: its config is deserialised from the
//! route's `config = { … }` table, and each phase it lists in [`Plugin::PHASES`] is called
//! with a *handle* to the request the gateway holds. Reading a header copies that one value
//! into the plugin; nothing else crosses the sandbox.
//!
//! ```ignore
//! use portcullis_sdk::prelude::*;
//!
//! #[derive(Deserialize)]
//! struct DenyPaths { prefixes: Vec<String> }
//!
//! impl Plugin for DenyPaths {
//!     type Config = Self;
//!     const PHASES: &'static [Phase] = &[Phase::OnRequest];
//!     fn configure(config: Self) -> Result<Self, String> { Ok(config) }
//!     fn on_request(&self, req: &Request) -> Decision {
//!         let path = req.path();
//!         if self.prefixes.iter().any(|p| path.starts_with(p.as_str())) { return Decision::reply(403, "denied\n"); }
//!         Decision::Continue
//!     }
//! }
//! export!(DenyPaths);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2` and drop the `.wasm` into
//! the gateway's plugin directory. Test it natively with [`testing`] and plain `cargo test`.

mod config;
pub mod host;
mod http;
mod plugin;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod guest;
#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use http::{Request, Response};
pub use plugin::{Decision, LogSummary, Phase, Plugin, Reply};
pub use serde::Deserialize;

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::host::{self, Level};
    pub use crate::{export, Decision, LogSummary, Phase, Plugin, Reply, Request, Response};
    pub use serde::Deserialize;
}

/// Exports a [`Plugin`] as the component's `portcullis:gateway/plugin` world.
///
/// On native targets (where `cargo test` runs) it expands to nothing, so the same crate
/// builds as a component and as a unit-testable library.
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type PortcullisPluginExports = $crate::guest::Exports<$plugin>;
            $crate::guest::bindings::__export_plugin_world!(PortcullisPluginExports with_types_in $crate::guest::bindings);
        };
    };
}
