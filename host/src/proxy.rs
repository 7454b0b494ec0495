//! The request path. `connection::serve` owns one client connection; `exchange::exchange`
//! handles one request through the phase chart of ARCHITECTURE.md, top to bottom.

mod accept;
mod body;
mod call;
mod connection;
pub(crate) mod downstream;
pub(crate) mod exchange;
mod forwarding;
pub(crate) mod io;
mod multiplexed;
mod relay;
mod reply;
mod scrub;
mod state;
pub(crate) mod stream;
mod tunnel;

pub(crate) use accept::accept;
pub(crate) use connection::{account, note_failure, reject_overloaded};
pub use scrub::Scrubber;
pub use state::Proxy;
