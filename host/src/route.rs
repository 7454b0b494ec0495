//! Picks the route for a request.
//!
//! Rule: among routes whose host matches, whose methods (if any) include the request
//! method and whose `path_prefix` is a byte prefix of the path, the longest prefix wins;
//! on equal prefixes the more specific host wins (exact, then wildcard, then none;
//! between wildcards the longer suffix); remaining ties go to the earliest route in the
//! file.
//!
//! [`Router::new`] sorts routes into exactly that order once, so [`Router::find`] is a
//! plain scan that returns the first match, with no allocation per request.

use std::cmp::Reverse;

use crate::config::RouteConfig;

/// Routes in precedence order, ready for matching.
#[derive(Clone, Debug)]
pub struct Router {
    entries: Box<[Entry]>,
}

#[derive(Clone, Debug)]
struct Entry {
    /// Index into the `routes` slice the router was built from.
    index: usize,
    host: HostMatch,
    prefix: Box<[u8]>,
    methods: Option<Box<[Box<[u8]>]>>,
}

#[derive(Clone, Debug)]
enum HostMatch {
    Any,
    /// `*.example.com`, stored as `.example.com`.
    Suffix(Box<[u8]>),
    Exact(Box<[u8]>),
}

impl HostMatch {
    fn new(host: Option<&str>) -> HostMatch {
        match host {
            None => HostMatch::Any,
            Some(h) => match h.strip_prefix('*') {
                Some(suffix) => HostMatch::Suffix(suffix.as_bytes().into()),
                None => HostMatch::Exact(h.as_bytes().into()),
            },
        }
    }

    /// Higher is more specific: exact beats every wildcard, a longer wildcard suffix
    /// beats a shorter one, and any wildcard beats no host.
    fn specificity(&self) -> (u8, usize) {
        match self {
            HostMatch::Any => (0, 0),
            HostMatch::Suffix(suffix) => (1, suffix.len()),
            HostMatch::Exact(_) => (2, 0),
        }
    }

    /// `*.example.com` matches `a.example.com` and `a.b.example.com`, never the bare
    /// `example.com`: the wildcard stands for at least one label.
    fn matches(&self, host: Option<&[u8]>) -> bool {
        match (self, host) {
            (HostMatch::Any, _) => true,
            (HostMatch::Exact(want), Some(host)) => **want == *host,
            (HostMatch::Suffix(suffix), Some(host)) => host.len() > suffix.len() && host.ends_with(suffix),
            (_, None) => false,
        }
    }
}

impl Entry {
    fn matches(&self, host: Option<&[u8]>, path: &[u8], method: &[u8]) -> bool {
        path.starts_with(&self.prefix)
            && self.host.matches(host)
            && self.methods.as_deref().is_none_or(|ms| ms.iter().any(|m| **m == *method))
    }
}

impl Router {
    /// Builds the router; route `i` in `routes` is reported by [`Router::find`] as `i`.
    /// Expects validated routes (lowercased hosts, uppercased methods), as
    /// [`crate::config::Config`] provides.
    pub fn new(routes: &[RouteConfig]) -> Router {
        let mut entries: Vec<Entry> = routes
            .iter()
            .enumerate()
            .map(|(index, r)| Entry {
                index,
                host: HostMatch::new(r.host.as_deref()),
                prefix: r.path_prefix.as_bytes().into(),
                methods: r.methods.as_ref().map(|ms| ms.iter().map(|m| m.as_bytes().into()).collect()),
            })
            .collect();
        // Stable sort by precedence; `index` keeps file order among equals.
        entries.sort_by_key(|e| (Reverse(e.prefix.len()), Reverse(e.host.specificity()), e.index));
        Router { entries: entries.into_boxed_slice() }
    }

    /// The index of the route for a request, or `None` when no route matches.
    ///
    /// `host` is the request's host, already lowercased and without port (`None` if the
    /// request had none); `path` excludes the query; `method` is compared exactly.
    pub fn find(&self, host: Option<&str>, path: &[u8], method: &[u8]) -> Option<usize> {
        let host = host.map(str::as_bytes);
        self.entries.iter().find(|e| e.matches(host, path, method)).map(|e| e.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: Option<&str>, prefix: &str, methods: Option<&[&str]>) -> RouteConfig {
        RouteConfig {
            host: host.map(str::to_owned),
            path_prefix: prefix.to_owned(),
            methods: methods.map(|ms| ms.iter().map(|m| (*m).to_owned()).collect()),
            upstream: "app".to_owned(),
            allow_upgrade: Vec::new(),
            name: prefix.to_owned(),
            plugins: Vec::new(),
        }
    }

    fn get(router: &Router, host: Option<&str>, path: &str) -> Option<usize> {
        router.find(host, path.as_bytes(), b"GET")
    }

    #[test]
    fn exact_host_beats_wildcard_beats_none() {
        let router = Router::new(&[
            route(None, "/", None),
            route(Some("*.example.com"), "/", None),
            route(Some("api.example.com"), "/", None),
        ]);
        assert_eq!(get(&router, Some("api.example.com"), "/x"), Some(2));
        assert_eq!(get(&router, Some("www.example.com"), "/x"), Some(1));
        assert_eq!(get(&router, Some("a.b.example.com"), "/x"), Some(1));
        assert_eq!(get(&router, Some("example.com"), "/x"), Some(0), "wildcard needs a label");
        assert_eq!(get(&router, Some("other.org"), "/x"), Some(0));
        assert_eq!(get(&router, None, "/x"), Some(0));
    }

    #[test]
    fn host_routes_never_match_a_request_without_host() {
        let router = Router::new(&[route(Some("a.com"), "/", None), route(Some("*.a.com"), "/", None)]);
        assert_eq!(get(&router, None, "/"), None);
        assert_eq!(get(&router, Some("b.com"), "/"), None);
    }

    #[test]
    fn longer_wildcard_suffix_is_more_specific() {
        let router =
            Router::new(&[route(Some("*.example.com"), "/", None), route(Some("*.api.example.com"), "/", None)]);
        assert_eq!(get(&router, Some("v1.api.example.com"), "/"), Some(1));
        assert_eq!(get(&router, Some("www.example.com"), "/"), Some(0));
    }

    #[test]
    fn longest_prefix_wins_over_host_specificity() {
        let router = Router::new(&[
            route(Some("api.example.com"), "/", None),
            route(None, "/static/", None),
            route(None, "/static/img/", None),
        ]);
        assert_eq!(get(&router, Some("api.example.com"), "/static/a.css"), Some(1));
        assert_eq!(get(&router, Some("api.example.com"), "/static/img/a.png"), Some(2));
        assert_eq!(get(&router, Some("api.example.com"), "/other"), Some(0));
        assert_eq!(get(&router, Some("x.org"), "/other"), None);
    }

    #[test]
    fn prefixes_are_plain_byte_prefixes() {
        let router = Router::new(&[route(None, "/api", None)]);
        assert_eq!(get(&router, None, "/api"), Some(0));
        assert_eq!(get(&router, None, "/apix"), Some(0));
        assert_eq!(get(&router, None, "/ap"), None);
    }

    #[test]
    fn methods_filter_and_match_exactly() {
        let router = Router::new(&[route(None, "/", None), route(None, "/api/", Some(&["POST", "PUT"]))]);
        assert_eq!(router.find(None, b"/api/x", b"POST"), Some(1));
        assert_eq!(router.find(None, b"/api/x", b"PUT"), Some(1));
        assert_eq!(router.find(None, b"/api/x", b"GET"), Some(0));
        assert_eq!(router.find(None, b"/api/x", b"post"), Some(0), "methods are case-sensitive");
        assert_eq!(router.find(None, b"/api/x", b"POS"), Some(0));
    }

    #[test]
    fn ties_go_to_the_first_route_in_the_file() {
        let router = Router::new(&[
            route(None, "/a", Some(&["GET"])),
            route(None, "/a", None),
            route(Some("*.x.com"), "/b", None),
            route(Some("*.x.com"), "/b", None),
        ]);
        assert_eq!(get(&router, None, "/a"), Some(0));
        assert_eq!(router.find(None, b"/a", b"DELETE"), Some(1));
        assert_eq!(get(&router, Some("w.x.com"), "/b"), Some(2));
    }

    #[test]
    fn no_routes_match_nothing() {
        assert_eq!(get(&Router::new(&[]), Some("a.com"), "/"), None);
    }
}
