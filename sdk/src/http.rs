//! The request and response a phase works on. Both are handles to the gateway's own copy:
//! every getter fetches just what it names, every setter sends just what it changes.

#[cfg(target_arch = "wasm32")]
use crate::guest::http as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::native as imp;

/// The request being proxied.
#[repr(transparent)]
pub struct Request {
    pub(crate) inner: imp::Request,
}

/// The origin's response head (in `on_response`).
#[repr(transparent)]
pub struct Response {
    pub(crate) inner: imp::Response,
}

/// The header methods requests and responses share, with one set of docs.
macro_rules! header_methods {
    () => {
        /// The first value of `name` (case-insensitive).
        pub fn header(&self, name: &str) -> Option<Vec<u8>> {
            self.inner.header(name)
        }

        /// The first value of `name` as text (invalid UTF-8 replaced).
        pub fn header_str(&self, name: &str) -> Option<String> {
            self.inner.header(name).map(|v| String::from_utf8(v).unwrap_or_else(|e| lossy(e.as_bytes())))
        }

        /// Every value of `name`, in order.
        pub fn header_all(&self, name: &str) -> Vec<Vec<u8>> {
            self.inner.header_all(name)
        }

        /// Replaces every `name` field with one. Framing and connection fields belong to the
        /// gateway: setting them traps.
        pub fn set_header(&self, name: &str, value: impl AsRef<[u8]>) {
            self.inner.set_header(name, value.as_ref())
        }

        pub fn append_header(&self, name: &str, value: impl AsRef<[u8]>) {
            self.inner.append_header(name, value.as_ref())
        }

        pub fn remove_header(&self, name: &str) {
            self.inner.remove_header(name)
        }

        /// Every field name in order: a copy of the whole list, so only when you need it.
        pub fn header_names(&self) -> Vec<String> {
            self.inner.header_names()
        }
    };
}

impl Request {
    pub fn method(&self) -> String {
        self.inner.method()
    }

    /// Origin-form target: `/path?query`.
    pub fn path_and_query(&self) -> String {
        self.inner.path_and_query()
    }

    /// The target without its query.
    pub fn path(&self) -> String {
        let mut target = self.inner.path_and_query();
        if let Some(q) = target.find('?') {
            target.truncate(q);
        }
        target
    }

    /// The query without the `?`, if there is one.
    pub fn query(&self) -> Option<String> {
        let target = self.inner.path_and_query();
        target.find('?').map(|q| target[q + 1..].to_owned())
    }

    /// Replaces the target sent upstream; must start with `/` (the gateway traps otherwise).
    pub fn set_path_and_query(&self, value: &str) {
        self.inner.set_path_and_query(value)
    }

    /// The host the client asked for, lowercased, without port.
    pub fn authority(&self) -> Option<String> {
        self.inner.authority()
    }

    pub fn client_ip(&self) -> String {
        self.inner.client_ip()
    }

    header_methods!();
}

impl Response {
    pub fn status(&self) -> u16 {
        self.inner.status()
    }

    /// 200..=999 except 204 and 304 (the gateway traps otherwise).
    pub fn set_status(&self, status: u16) {
        self.inner.set_status(status)
    }

    header_methods!();
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
