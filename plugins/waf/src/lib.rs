//! `waf`: a web application firewall for the request phase. Built-in and custom rules match
//! the path, the query (raw and percent-decoded) and request headers; each match adds its
//! score, and a request whose total reaches the threshold is refused (`block`) or logged
//! (`detect`). See README.md for the config.

mod builtin;
mod config;
mod decode;
mod rules;

use portcullis_sdk::prelude::*;

pub use config::{Config, Mode, RuleConfig};
use decode::Target;
use rules::Compiled;

/// How much of the request target a log line quotes: enough to recognise the attack without
/// letting one request write kilobytes to the log.
const LOGGED_TARGET_BYTES: usize = 256;

pub struct Waf {
    mode: Mode,
    threshold: u32,
    rules: Compiled,
}

impl Plugin for Waf {
    type Config = Config;
    const PHASES: &'static [Phase] = &[Phase::OnRequest];

    fn configure(config: Config) -> Result<Self, String> {
        let rules = Compiled::new(config.rules()?)?;
        Ok(Waf { mode: config.mode, threshold: config.threshold, rules })
    }

    fn on_request(&self, req: &Request) -> Decision {
        let rules = &self.rules;
        // Stays empty, without allocating, for the requests that match nothing.
        let mut hits = Vec::new();
        let mut target_text = None;
        if rules.path.is_some() || rules.query.is_some() || rules.path_and_query.is_some() {
            let text = req.path_and_query();
            let target = Target::new(&text);
            if let Some(scanner) = &rules.path {
                scanner.scan(target.path().iter(), &mut hits);
            }
            if let (Some(scanner), Some(query)) = (&rules.query, target.query()) {
                scanner.scan(query.iter(), &mut hits);
            }
            if let Some(scanner) = &rules.path_and_query {
                scanner.scan(target.path_and_query().iter(), &mut hits);
            }
            target_text = Some(text);
        }
        for (name, scanner) in &rules.headers {
            // Every value, so a payload in a repeated field is not missed: one host call each.
            // Not declared as `request_headers` interest, which would prefetch the first value
            // only and leave the rest unread.
            let values = req.header_all(name);
            scanner.scan(values.iter().map(Vec::as_slice), &mut hits);
        }
        if hits.is_empty() {
            return Decision::Continue;
        }

        // A rule counts once however many forms or values it matched.
        hits.sort_unstable();
        hits.dedup();
        let score = hits.iter().map(|&i| rules.scores[i]).fold(0, u32::saturating_add);
        let ids = hits.iter().map(|&i| rules.ids[i].as_str()).collect::<Vec<_>>().join(",");
        // Only header rules ran: the target is fetched now, for the log line alone.
        let target = target_text.unwrap_or_else(|| req.path_and_query());
        let report = |verdict: &str| {
            format!(
                "{verdict}: rules {ids} matched (score {score}, threshold {}): {} {:?} from {}",
                self.threshold,
                req.method(),
                truncate(&target, LOGGED_TARGET_BYTES),
                req.client_ip()
            )
        };
        if score < self.threshold {
            host::log(Level::Debug, &report("below threshold"));
            return Decision::Continue;
        }
        match self.mode {
            Mode::Detect => {
                host::log(Level::Warn, &report("detected"));
                Decision::Continue
            }
            Mode::Block => {
                host::log(Level::Info, &report("blocked"));
                Decision::Reply(
                    Reply::new(403)
                        .header("content-type", "text/plain; charset=utf-8")
                        .header("x-waf-rule", ids)
                        .body("forbidden: request blocked by the web application firewall\n"),
                )
            }
        }
    }
}

/// The longest prefix of `text` within `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

export!(Waf);
