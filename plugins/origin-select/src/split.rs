//! `split = { upstreams = { stable = 95, canary = 5 }, sticky = "cookie:session" }`: a
//! weighted choice for the requests no rule matched.
//!
//! The sticky key is hashed (see `hash`) to a point in `0..total weight`; the upstreams own
//! consecutive ranges of that line in name order, each as wide as its weight. The same key
//! therefore always lands on the same upstream, on every worker and every instance, and a
//! weight change moves only the keys whose point changes owner. Without a sticky key (none
//! configured, or absent from the request) the point comes from the clock mixed with a
//! per-config sequence number: a fresh pick per request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_sdk::{host, Deserialize};

use crate::hash;
use crate::view::{is_cookie_name, is_header_name, View};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Upstream name → weight (> 0).
    pub upstreams: BTreeMap<String, u32>,
    /// `header:NAME`, `cookie:NAME` or `client_ip`.
    pub sticky: Option<String>,
}

enum Sticky {
    Header(String),
    Cookie(String),
    ClientIp,
}

pub(crate) struct Split {
    /// (end of the upstream's range, upstream), ranges in name order.
    ranges: Vec<(u64, String)>,
    total: u64,
    sticky: Option<Sticky>,
    /// Makes requests in the same millisecond pick independently.
    sequence: AtomicU64,
}

impl Split {
    pub(crate) fn new(config: SplitConfig) -> Result<Split, String> {
        if config.upstreams.is_empty() {
            return Err("`split.upstreams`: give at least one upstream with a weight".into());
        }
        let mut total = 0u64;
        let mut ranges = Vec::with_capacity(config.upstreams.len());
        for (name, weight) in config.upstreams {
            if name.is_empty() {
                return Err("`split.upstreams`: an upstream name must not be empty".into());
            }
            if weight == 0 {
                return Err(format!("`split.upstreams.{name}`: weight must be greater than 0"));
            }
            total += u64::from(weight);
            ranges.push((total, name));
        }
        let sticky = config.sticky.as_deref().map(parse_sticky).transpose()?;
        Ok(Split { ranges, total, sticky, sequence: AtomicU64::new(0) })
    }

    /// The request header the sticky key comes from, lowercased.
    pub(crate) fn header(&self) -> Option<String> {
        match self.sticky.as_ref()? {
            Sticky::Header(name) => Some(name.to_ascii_lowercase()),
            Sticky::Cookie(_) => Some("cookie".into()),
            Sticky::ClientIp => None,
        }
    }

    pub(crate) fn pick(&self, view: &View<'_>) -> &str {
        let hash = match self.sticky_key(view) {
            Some(key) => hash::stable(&key),
            None => self.random(),
        };
        let point = hash::scale(hash, self.total);
        let owner = self.ranges.iter().find(|(end, _)| point < *end).or(self.ranges.last());
        owner.map_or("", |(_, name)| name.as_str())
    }

    /// The request's sticky key; `None` (or empty) falls back to a random pick.
    fn sticky_key(&self, view: &View<'_>) -> Option<Vec<u8>> {
        let key = match self.sticky.as_ref()? {
            Sticky::Header(name) => view.header(name)?,
            Sticky::Cookie(name) => view.cookie(name)?.to_vec(),
            Sticky::ClientIp => view.client_ip().into_bytes(),
        };
        (!key.is_empty()).then_some(key)
    }

    fn random(&self) -> u64 {
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        hash::mix(host::now_ms().rotate_left(32) ^ sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

fn parse_sticky(spec: &str) -> Result<Sticky, String> {
    let bad = |why: &str| format!("`split.sticky`: {why}");
    match spec.split_once(':') {
        None if spec == "client_ip" => Ok(Sticky::ClientIp),
        Some(("header", name)) if is_header_name(name) => Ok(Sticky::Header(name.to_owned())),
        Some(("header", name)) => Err(bad(&format!("{name:?} is not a valid header name"))),
        Some(("cookie", name)) if is_cookie_name(name) => Ok(Sticky::Cookie(name.to_owned())),
        Some(("cookie", name)) => Err(bad(&format!("{name:?} is not a valid cookie name"))),
        _ => Err(bad(&format!("unknown key {spec:?}: use \"header:NAME\", \"cookie:NAME\" or \"client_ip\""))),
    }
}
