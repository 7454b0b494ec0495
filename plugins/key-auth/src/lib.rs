//! `key-auth`: lets a request through only with a known API key, names its consumer in a
//! per-request variable for later plugins, and by default hides the key from the origin.
//! See README.md for the config.

mod config;
mod digest;

use portcullis_sdk::prelude::*;

pub use config::{Config, ConsumerConfig};

use config::Consumer;

pub struct KeyAuth {
    consumers: Vec<Consumer>,
    header: String,
    hide_credentials: bool,
    variable: String,
    challenge: String,
}

impl Plugin for KeyAuth {
    type Config = Config;
    const PHASES: &'static [Phase] = &[Phase::OnRequest];

    fn configure(config: Config) -> Result<Self, String> {
        config::variable(&config.variable)?;
        Ok(KeyAuth {
            consumers: config::consumers(config.consumers)?,
            header: config::header(&config.header)?,
            hide_credentials: config.hide_credentials,
            variable: config.variable,
            challenge: config::challenge(&config.realm)?,
        })
    }

    /// The key arrives with the call.
    fn request_headers(&self) -> Vec<String> {
        vec![self.header.clone()]
    }

    fn on_request(&self, req: &Request) -> Decision {
        let Some(key) = req.header(&self.header) else {
            host::log(Level::Debug, &format!("rejected: no `{}` header", self.header));
            return self.unauthorized("missing API key\n");
        };
        let Some(consumer) = self.find(&key) else {
            // The key itself is never logged.
            host::log(Level::Debug, &format!("rejected: unknown key in `{}`", self.header));
            return self.unauthorized("invalid API key\n");
        };
        host::set_var(&self.variable, &consumer.name);
        if self.hide_credentials {
            req.remove_header(&self.header);
        }
        Decision::Continue
    }
}

impl KeyAuth {
    /// Compares the key's digest with every consumer's, without stopping at a match.
    fn find(&self, key: &[u8]) -> Option<&Consumer> {
        let digest = digest::sha256(key);
        let mut found = None;
        for consumer in &self.consumers {
            if digest::ct_eq(&consumer.digest, &digest) {
                found = Some(consumer);
            }
        }
        found
    }

    fn unauthorized(&self, body: &str) -> Decision {
        Decision::Reply(
            Reply::new(401)
                .header("www-authenticate", self.challenge.as_str())
                .header("content-type", "text/plain; charset=utf-8")
                .body(body),
        )
    }
}

export!(KeyAuth);
