//! The request path. `connection::serve` owns one client connection; `exchange::exchange`
//! handles one request through the phase chart of ARCHITECTURE.md, top to bottom.

mod call;
mod connection;
mod exchange;
mod forwarding;
pub(crate) mod io;
mod relay;
mod reply;
mod scrub;
mod state;
mod tunnel;

pub(crate) use connection::{reject_overloaded, serve};
pub use scrub::Scrubber;
pub use state::Proxy;
