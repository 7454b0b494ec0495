//! The scenarios every peer implements (its configs in `benches/peers/<peer>/`), the request
//! mix the load generator sends for each, and the checks that a peer really does what the
//! scenario says before it is measured.

use std::net::SocketAddr;

use portcullis_loadgen::{fetch, Protocol, Request};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Forwarding, nothing else.
    Plain,
    /// Scrub three internal request headers, add a request and a response header.
    Rewrite,
    /// 20 substring patterns over path and query; 5% of requests match and get a 403.
    Waf,
    /// `x-backend: b` picks origin B; half the requests carry it.
    OriginSelect,
}

pub const ALL: [Scenario; 4] = [Scenario::Plain, Scenario::Rewrite, Scenario::Waf, Scenario::OriginSelect];

/// Response body sizes: a small API answer, a typical page, a download.
pub const SIZES: [u64; 3] = [100, 16 * 1024, 1024 * 1024];

/// The WAF's patterns, identical in every peer's config (ASCII case-insensitive substrings
/// of the raw request target).
pub const WAF_PATTERNS: [&str; 20] = [
    "../",
    "/etc/passwd",
    "/wp-login.php",
    "/.env",
    "/.git/",
    "phpmyadmin",
    "union+select",
    "%3cscript",
    "sleep(",
    "benchmark(",
    "information_schema",
    "cmd.exe",
    "/bin/sh",
    "base64_decode",
    "eval(",
    "javascript:",
    "onerror=",
    "xp_cmdshell",
    "/proc/self",
    "load_file(",
];

/// The internal headers the rewrite scenario sends and every peer must remove.
const INTERNAL: [(&str, &str); 3] =
    [("X-Internal-User", "alice"), ("X-Internal-Trace", "7f3a9c"), ("X-Internal-Debug", "1")];

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Plain => "plain",
            Scenario::Rewrite => "rewrite",
            Scenario::Waf => "waf",
            Scenario::OriginSelect => "origin-select",
        }
    }

    pub fn from_name(name: &str) -> Result<Scenario, String> {
        ALL.into_iter()
            .find(|scenario| scenario.name() == name)
            .ok_or_else(|| format!("unknown scenario {name:?} (one of {})", ALL.map(Scenario::name).join(", ")))
    }

    /// What the load generator sends, for responses of `size` bytes.
    pub fn mix(self, size: u64) -> Vec<Request> {
        let bytes = format!("/bytes/{size}");
        match self {
            Scenario::Plain => vec![Request::get(bytes)],
            Scenario::Rewrite => {
                let request = INTERNAL.iter().fold(Request::get(bytes), |r, (name, value)| r.header(name, value));
                vec![request.must_carry("x-response-tag")]
            }
            // Blocks of 20: 19 clean requests and one attack, each block with the next
            // pattern (upper case in odd blocks, to test the case folding): 5% malicious.
            Scenario::Waf => WAF_PATTERNS
                .iter()
                .enumerate()
                .flat_map(|(block, pattern)| {
                    let clean = (0..19).map(|page| Request::get(format!("{bytes}?page={page}&sort=name")));
                    clean.chain(std::iter::once(
                        Request::get(format!("{bytes}?q=x{}y", attack(pattern, block))).status(403),
                    ))
                })
                .collect(),
            Scenario::OriginSelect => vec![Request::get(bytes.clone()).header("X-Backend", "b"), Request::get(bytes)],
        }
    }

    /// Checks, over both protocols, that the peer behind `h1` and `h2` does what the scenario
    /// says: the origins' echo (`/echo`) shows what they received and which one served it.
    pub fn verify(self, h1: SocketAddr, h2: SocketAddr, origin_a: u16, origin_b: u16) -> Result<(), String> {
        for (protocol, addr) in [(Protocol::Http1, h1), (Protocol::H2c, h2)] {
            let get = |request: &Request| {
                fetch(addr, protocol, request).map_err(|e| format!("{protocol:?} {}: {e}", request.target))
            };
            let fail = |what: String| Err(format!("{} over {protocol:?}: {what}", self.name()));
            let served_by = |body: &str, port: u16| body.contains(&format!("\"served_by\": \"127.0.0.1:{port}\""));
            let sized = get(&Request::get("/bytes/100"))?;
            if sized.status != 200 || sized.body_len != 100 {
                return fail(format!("/bytes/100 answered {} with {} bytes", sized.status, sized.body_len));
            }
            match self {
                Scenario::Plain => {
                    let echo = get(&Request::get("/echo"))?;
                    if echo.status != 200 || !served_by(&String::from_utf8_lossy(&echo.body), origin_a) {
                        return fail(format!("/echo answered {} and not from origin A", echo.status));
                    }
                }
                Scenario::Rewrite => {
                    let request = INTERNAL.iter().fold(Request::get("/echo"), |r, (name, value)| r.header(name, value));
                    let echo = get(&request)?;
                    let seen = String::from_utf8_lossy(&echo.body).to_ascii_lowercase();
                    if seen.contains("x-internal-") {
                        return fail(format!("an internal header reached the origin: {seen}"));
                    }
                    if echoed(&seen, "x-request-tag") != Some("bench") {
                        return fail(format!("the origin did not get `x-request-tag: bench`: {seen}"));
                    }
                    if echo.header("x-response-tag") != Some("bench") {
                        return fail("the response lacks `x-response-tag: bench`".to_owned());
                    }
                }
                Scenario::Waf => {
                    for request in self.mix(100).iter().filter(|r| r.status == 403).chain(&self.mix(100)[..2]) {
                        let answer = get(request)?;
                        if answer.status != request.status {
                            return fail(format!(
                                "{} answered {}, not {}",
                                request.target, answer.status, request.status
                            ));
                        }
                    }
                }
                Scenario::OriginSelect => {
                    for (request, port, which) in [
                        (Request::get("/echo").header("X-Backend", "b"), origin_b, "B"),
                        (Request::get("/echo"), origin_a, "A"),
                        (Request::get("/echo").header("X-Backend", "c"), origin_a, "A"),
                    ] {
                        let echo = get(&request)?;
                        if !served_by(&String::from_utf8_lossy(&echo.body), port) {
                            return fail(format!("{:?} was not served by origin {which}", request.headers));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The value of field `name` in the origin's JSON echo, whose fields are `[name, value]`
/// pairs (pretty-printed: the two strings on lines of their own).
fn echoed<'a>(echo: &'a str, name: &str) -> Option<&'a str> {
    let (_, rest) = echo.split_once(&format!("\"{name}\""))?;
    let rest = rest.trim_start_matches([',', ' ', '\n']).strip_prefix('"')?;
    rest.split_once('"').map(|(value, _)| value)
}

/// The pattern as an attacker writes it: upper case in odd blocks.
fn attack(pattern: &str, block: usize) -> String {
    if block % 2 == 1 {
        pattern.to_ascii_uppercase()
    } else {
        pattern.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waf_mix_is_five_percent_attacks_using_every_pattern() {
        let mix = Scenario::Waf.mix(100);
        let attacks: Vec<_> = mix.iter().filter(|r| r.status == 403).collect();
        assert_eq!((mix.len(), attacks.len()), (400, 20));
        for pattern in WAF_PATTERNS {
            assert_eq!(attacks.iter().filter(|r| r.target.to_ascii_lowercase().contains(pattern)).count(), 1);
        }
        // No clean request matches a pattern.
        for clean in mix.iter().filter(|r| r.status == 200) {
            assert!(WAF_PATTERNS.iter().all(|p| !clean.target.to_ascii_lowercase().contains(p)), "{}", clean.target);
        }
    }

    #[test]
    fn reads_a_field_from_the_origins_echo() {
        let echo = "{\n  \"headers\": [\n    [\n      \"x-request-tag\",\n      \"bench\"\n    ]\n  ]\n}";
        assert_eq!(echoed(echo, "x-request-tag"), Some("bench"));
        assert_eq!(echoed(echo, "x-other"), None);
    }

    #[test]
    fn half_the_origin_select_mix_asks_for_b() {
        let mix = Scenario::OriginSelect.mix(100);
        assert_eq!(mix.iter().filter(|r| r.headers.iter().any(|(n, v)| n == "X-Backend" && v == "b")).count(), 1);
        assert_eq!(mix.len(), 2);
    }
}
