//! `rate-limit`: a fixed-window request limit per client IP, header or variable, counted
//! in the gateway's counters so every worker and instance shares one budget. See README.md
//! for the config.

mod config;
mod key;
mod window;

use portcullis_sdk::prelude::*;

pub use config::{Config, WhenKeyMissing};

use key::Source;

pub struct RateLimit {
    limit: u32,
    window_ms: u32,
    source: Source,
    when_key_missing: WhenKeyMissing,
    status: u16,
    headers: bool,
    /// `scope|spec|`: starts every counter key of this config.
    prefix: String,
    /// Carries what `on_response` reports from `on_request` (with `headers = true`).
    var: String,
}

const MAX_SCOPE_BYTES: usize = 128;

impl Plugin for RateLimit {
    type Config = Config;
    /// `on_response` only adds the `x-ratelimit-*` headers of `headers = true`; for the
    /// other configs it returns at once.
    const PHASES: &'static [Phase] = &[Phase::OnRequest, Phase::OnResponse];

    fn configure(config: Config) -> Result<Self, String> {
        if config.limit == 0 {
            return Err("`limit`: must be at least 1 request per window".into());
        }
        let window_ms = window::parse(&config.window).map_err(|why| format!("`window`: {why}"))?;
        let source = Source::parse(&config.key)?;
        if !(400..=599).contains(&config.status) {
            return Err(format!("`status`: {} is not a 4xx or 5xx status", config.status));
        }
        let scope = match config.scope {
            Some(scope) if scope.is_empty() || scope.len() > MAX_SCOPE_BYTES || scope.contains('|') => {
                return Err(format!("`scope`: {scope:?} must be 1 to {MAX_SCOPE_BYTES} bytes without `|`"))
            }
            Some(scope) => scope,
            None => format!("{}/{window_ms}", config.limit),
        };
        let prefix = format!("{scope}|{}|", source.spec());
        let var = format!("rate-limit/{:016x}", key::fnv1a(prefix.as_bytes()));
        Ok(RateLimit {
            limit: config.limit,
            window_ms,
            source,
            when_key_missing: config.when_key_missing,
            status: config.status,
            headers: config.headers,
            prefix,
            var,
        })
    }

    /// A `header:` key arrives with the call.
    fn request_headers(&self) -> Vec<String> {
        self.source.header().map(str::to_owned).into_iter().collect()
    }

    fn on_request(&self, req: &Request) -> Decision {
        let Some(value) = self.source.value(req) else {
            return match self.when_key_missing {
                WhenKeyMissing::Allow => Decision::Continue,
                WhenKeyMissing::Deny => {
                    host::log(Level::Debug, &format!("rejected: no `{}` to count by", self.source.spec()));
                    Decision::Reply(
                        Reply::new(self.status).header("content-type", TEXT).body("rate limit key missing\n"),
                    )
                }
            };
        };
        let count = host::counter_add(&key::counter_key(&self.prefix, &value), 1, self.window_ms);
        let now = host::now_ms();
        let end = window::end(now, self.window_ms);
        if count > i64::from(self.limit) {
            // The key is not logged: it may be a credential (`header:x-api-key`).
            host::log(Level::Debug, &format!("limited: {count} requests by `{}` this window", self.source.spec()));
            return self.too_many(window::seconds_until(end, now).max(1));
        }
        if self.headers {
            let remaining = i64::from(self.limit) - count;
            host::set_var(&self.var, &format!("{remaining} {end}"));
        }
        Decision::Continue
    }

    fn on_response(&self, _req: &Request, resp: &Response) -> Decision {
        if !self.headers {
            return Decision::Continue;
        }
        let Some(state) = host::var(&self.var) else {
            return Decision::Continue; // not counted: the key was missing
        };
        let Some((remaining, end)) = state.split_once(' ') else {
            return Decision::Continue;
        };
        let reset = end.parse().map_or(0, |end| window::seconds_until(end, host::now_ms()));
        resp.set_header("x-ratelimit-limit", self.limit.to_string());
        resp.set_header("x-ratelimit-remaining", remaining);
        resp.set_header("x-ratelimit-reset", reset.to_string());
        Decision::Continue
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

impl RateLimit {
    fn too_many(&self, retry_after: u64) -> Decision {
        let seconds = retry_after.to_string();
        Decision::Reply(
            Reply::new(self.status)
                .header("retry-after", seconds.as_str())
                .header("x-ratelimit-limit", self.limit.to_string())
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", seconds)
                .header("content-type", TEXT)
                .body("too many requests\n"),
        )
    }
}

export!(RateLimit);
