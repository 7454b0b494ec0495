//! The route's config as the operator writes it; `Limiter::new` checks it.

use portcullis_sdk::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Requests allowed per window and key (> 0).
    pub limit: u32,
    /// `"500ms"`, `"1s"`, `"10s"`, `"1m"`, `"1h"`…
    pub window: String,
    /// `client_ip`, `header:NAME` or `var:NAME`.
    #[serde(default = "default_key")]
    pub key: String,
    #[serde(default)]
    pub when_key_missing: WhenKeyMissing,
    /// The status of the reply over the limit (400..=599).
    #[serde(default = "default_status")]
    pub status: u16,
    /// Also tell clients under the limit how much is left (`x-ratelimit-*` on the response).
    #[serde(default)]
    pub headers: bool,
    /// Names the budget. Default: `<limit>/<window ms>`, so routes with the same limit,
    /// window and key share one; give a route its own name to keep its own.
    pub scope: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WhenKeyMissing {
    /// Let the request through uncounted.
    #[default]
    Allow,
    /// Reply with `status`.
    Deny,
}

fn default_key() -> String {
    "client_ip".into()
}

fn default_status() -> u16 {
    429
}
