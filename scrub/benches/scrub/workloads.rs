//! Deterministic inputs: internal-name sets and requests of realistic shape.

use portcullis_testkit::Rng;

pub struct Workload {
    pub name: &'static str,
    pub patterns: Vec<String>,
    pub requests: Vec<Request>,
}

/// A request head as the gateway holds it: one contiguous buffer of `Name: value` lines,
/// with the names located by offset (names are never separate allocations there either).
pub struct Request {
    head: Vec<u8>,
    names: Vec<(u32, u32)>,
}

impl Request {
    fn new(names: Vec<Vec<u8>>, rng: &mut Rng) -> Request {
        let mut head = Vec::with_capacity(names.len() * 48);
        let mut spans = Vec::with_capacity(names.len());
        for name in names {
            spans.push((head.len() as u32, (head.len() + name.len()) as u32));
            head.extend_from_slice(&name);
            head.extend_from_slice(b": ");
            head.extend((0..8 + rng.below(40)).map(|i| b'a' + (i % 26) as u8));
            head.extend_from_slice(b"\r\n");
        }
        Request { head, names: spans }
    }

    /// Header names in the case the client sent them.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.names.iter().map(|&(s, e)| &self.head[s as usize..e as usize])
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    fn lowercased(&self) -> Request {
        let mut head = self.head.clone();
        for &(s, e) in &self.names {
            head[s as usize..e as usize].make_ascii_lowercase();
        }
        Request { head, names: self.names.clone() }
    }
}

const WORDS: &[&str] = &[
    "trace",
    "auth",
    "user",
    "tenant",
    "zone",
    "colo",
    "route",
    "cache",
    "origin",
    "shield",
    "bot",
    "score",
    "geo",
    "asn",
    "tls",
    "cert",
    "worker",
    "token",
    "debug",
    "request-id",
    "client-ip",
    "pop",
    "edge",
    "tier",
    "plan",
    "account",
    "ray",
    "deploy",
    "version",
    "canary",
];
const VENDORS: &[&str] = &["akamai", "fastly", "envoy", "amzn", "goog", "ms", "cdn", "lb"];
const MISC: &[&str] = &[
    "x-forwarded-internal",
    "x-real-ip-internal",
    "x-origin-secret",
    "x-debug-token",
    "x-backend-server",
    "x-upstream-addr",
    "x-gateway-auth",
    "x-service-mesh-id",
    "x-trusted-proxy",
    "x-waf-score",
    "x-bot-score",
    "x-edge-location",
    "x-cache-key",
    "x-origin-shield",
    "x-tenant-id",
    "x-customer-plan",
    "x-feature-flags",
    "x-internal",
    "cdn-loop-internal",
    "surrogate-key-internal",
];

/// Common request fields in the case browsers (Title-Case) and API clients (lowercase) send.
const BROWSER: &[&str] = &[
    "Host",
    "User-Agent",
    "Accept",
    "Accept-Language",
    "Accept-Encoding",
    "Connection",
    "Cookie",
    "Referer",
    "Upgrade-Insecure-Requests",
    "Sec-Fetch-Dest",
    "Sec-Fetch-Mode",
    "Sec-Fetch-Site",
    "Sec-Fetch-User",
    "Sec-Ch-Ua",
    "Sec-Ch-Ua-Mobile",
    "Sec-Ch-Ua-Platform",
    "Cache-Control",
    "Pragma",
    "If-None-Match",
    "If-Modified-Since",
    "Origin",
    "DNT",
    "Priority",
    "TE",
];
const API: &[&str] = &[
    "host",
    "user-agent",
    "accept",
    "accept-encoding",
    "content-type",
    "content-length",
    "authorization",
    "x-request-id",
    "x-correlation-id",
    "x-api-key",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-real-ip",
    "traceparent",
    "tracestate",
    "idempotency-key",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-client-version",
    "x-requested-with",
    "baggage",
    "if-match",
];

/// ~120 internal names: `x-internal-*`, vendor `cf-*`-like families of varying length,
/// `x-<vendor>-*`, and a few one-offs.
fn internal_names() -> Vec<String> {
    let mut names = Vec::new();
    for w in WORDS {
        names.push(format!("x-internal-{w}"));
        names.push(format!("cf-{w}"));
    }
    for (i, v) in VENDORS.iter().enumerate() {
        for w in WORDS.iter().skip(i * 3).take(5) {
            names.push(format!("x-{v}-{w}"));
        }
    }
    names.extend(MISC.iter().map(|s| s.to_string()));
    names
}

fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// 256 requests of 10–30 fields; one in five carries one or two internal names (in
/// random case) that a client tried to smuggle in.
fn requests(internal: &[String], seed: u64) -> Vec<Request> {
    let mut rng = Rng(seed);
    (0..256)
        .map(|_| {
            let pool = if rng.below(2) == 0 { BROWSER } else { API };
            let count = 10 + rng.below(21);
            let mut fields: Vec<Vec<u8>> = Vec::with_capacity(count);
            for i in 0..count {
                let name = match pool.get(i) {
                    Some(name) => name.to_string(),
                    None => format!("X-App-Field-{}", rng.below(1000)),
                };
                fields.push(name.into_bytes());
            }
            if rng.below(5) == 0 {
                for _ in 0..1 + rng.below(2) {
                    let name = &internal[rng.below(internal.len())];
                    let name = if rng.below(2) == 0 { title_case(name) } else { name.clone() };
                    let at = rng.below(fields.len());
                    fields[at] = name.into_bytes();
                }
            }
            Request::new(fields, &mut rng)
        })
        .collect()
}

impl Workload {
    /// (a) ~120 exact internal names against realistic requests.
    pub fn realistic() -> Workload {
        let patterns = internal_names();
        let requests = requests(&patterns, 7);
        Workload { name: "a-exact", patterns, requests }
    }

    /// (b) The same requests, with five prefixes standing in for the families they cover.
    pub fn with_prefixes() -> Workload {
        let names = internal_names();
        let requests = requests(&names, 7);
        let prefixes = ["x-internal-", "cf-", "x-envoy-", "x-amzn-", "x-goog-"];
        let mut patterns: Vec<String> = prefixes.iter().map(|p| format!("{p}*")).collect();
        patterns.extend(names.into_iter().filter(|n| !prefixes.iter().any(|p| n.starts_with(p))));
        Workload { name: "b-prefixes", patterns, requests }
    }

    /// (c) Worst case: every field is an internal name with its last byte changed, so every
    /// lookup walks a long shared prefix before missing.
    pub fn near_misses() -> Workload {
        let patterns = internal_names();
        let mut rng = Rng(11);
        let requests = (0..256)
            .map(|_| {
                let names = (0..10 + rng.below(21))
                    .map(|_| {
                        let mut name = title_case(&patterns[rng.below(patterns.len())]).into_bytes();
                        if let Some(last) = name.last_mut() {
                            *last = if *last == b'z' { b'y' } else { b'z' };
                        }
                        name
                    })
                    .collect();
                Request::new(names, &mut rng)
            })
            .collect();
        Workload { name: "c-near-misses", patterns, requests }
    }

    pub fn lowercased_requests(&self) -> Vec<Request> {
        self.requests.iter().map(Request::lowercased).collect()
    }
}
