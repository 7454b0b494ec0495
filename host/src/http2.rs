//! HTTP/2 with the `h2` crate: serving clients (`server`), talking to origins (`client`),
//! and the mapping between its `http` types and our heads (`convert`).

pub(crate) mod client;
pub(crate) mod convert;
pub(crate) mod server;
