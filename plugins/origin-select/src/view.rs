//! The parts of a request the rules and the split read, each fetched at most once per
//! request however many rules look at it. Headers (`Cookie` included) are read by their
//! first field, the value the gateway prefetches for the names in `request_headers`.

use std::cell::OnceCell;

use portcullis_sdk::Request;

use crate::cookie;

pub(crate) struct View<'r> {
    req: &'r Request,
    path: OnceCell<String>,
    cookie: OnceCell<Option<Vec<u8>>>,
}

impl<'r> View<'r> {
    pub(crate) fn new(req: &'r Request) -> View<'r> {
        View { req, path: OnceCell::new(), cookie: OnceCell::new() }
    }

    pub(crate) fn path(&self) -> &str {
        self.path.get_or_init(|| self.req.path())
    }

    /// From the first `Cookie` field: an HTTP/1.1 client sends one (RFC 6265 §5.4).
    pub(crate) fn cookie(&self, name: &str) -> Option<&[u8]> {
        cookie::find(self.cookie.get_or_init(|| self.req.header("cookie")).as_deref()?, name)
    }

    /// The first field of `name`.
    pub(crate) fn header(&self, name: &str) -> Option<Vec<u8>> {
        self.req.header(name)
    }

    pub(crate) fn client_ip(&self) -> String {
        self.req.client_ip()
    }
}

/// An HTTP field name (RFC 9110 token).
pub(crate) fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A cookie name as `Cookie` can carry it: a token (no `=`, `;`, spaces or quotes).
pub(crate) fn is_cookie_name(name: &str) -> bool {
    is_header_name(name)
}
