//! `rules = [ { header = "x-canary", equals = "1", upstream = "canary" }, … ]`: tried in
//! order, the first that matches picks its upstream.

use portcullis_sdk::Deserialize;

use crate::view::{is_cookie_name, is_header_name, View};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub header: Option<String>,
    pub cookie: Option<String>,
    pub path_prefix: Option<String>,
    /// For `header` and `cookie`: the exact value. Absent: present with any value.
    pub equals: Option<String>,
    pub upstream: String,
}

enum Selector {
    Header(String),
    Cookie(String),
    PathPrefix(String),
}

pub(crate) struct Rule {
    selector: Selector,
    equals: Option<Vec<u8>>,
    pub(crate) upstream: String,
}

impl Rule {
    /// Validates `rules[index]`; errors name it.
    pub(crate) fn new(config: RuleConfig, index: usize) -> Result<Rule, String> {
        let at = format!("rules[{index}]");
        let selector = match (config.header, config.cookie, config.path_prefix) {
            (Some(name), None, None) => {
                if !is_header_name(&name) {
                    return Err(format!("`{at}.header`: {name:?} is not a valid header name"));
                }
                Selector::Header(name)
            }
            (None, Some(name), None) => {
                if !is_cookie_name(&name) {
                    return Err(format!("`{at}.cookie`: {name:?} is not a valid cookie name"));
                }
                Selector::Cookie(name)
            }
            (None, None, Some(prefix)) => {
                if !prefix.starts_with('/') {
                    return Err(format!("`{at}.path_prefix`: {prefix:?} must start with `/`"));
                }
                Selector::PathPrefix(prefix)
            }
            (header, cookie, path_prefix) => {
                let given: Vec<&str> = [
                    ("`header`", header.is_some()),
                    ("`cookie`", cookie.is_some()),
                    ("`path_prefix`", path_prefix.is_some()),
                ]
                .iter()
                .filter_map(|&(key, set)| set.then_some(key))
                .collect();
                let found = if given.is_empty() { "none".to_owned() } else { given.join(" and ") };
                return Err(format!("`{at}`: give exactly one of `header`, `cookie` or `path_prefix` (found {found})"));
            }
        };
        if config.equals.is_some() && matches!(selector, Selector::PathPrefix(_)) {
            return Err(format!("`{at}.equals`: only `header` and `cookie` rules take `equals`"));
        }
        if config.upstream.is_empty() {
            return Err(format!("`{at}.upstream`: must name an upstream"));
        }
        Ok(Rule { selector, equals: config.equals.map(String::into_bytes), upstream: config.upstream })
    }

    /// The request header this rule reads, lowercased.
    pub(crate) fn header(&self) -> Option<String> {
        match &self.selector {
            Selector::Header(name) => Some(name.to_ascii_lowercase()),
            Selector::Cookie(_) => Some("cookie".into()),
            Selector::PathPrefix(_) => None,
        }
    }

    /// Header and cookie rules look at the first field of their header.
    pub(crate) fn matches(&self, view: &View<'_>) -> bool {
        match (&self.selector, &self.equals) {
            (Selector::Header(name), None) => view.header(name).is_some(),
            (Selector::Header(name), Some(want)) => view.header(name).as_ref() == Some(want),
            (Selector::Cookie(name), None) => view.cookie(name).is_some(),
            (Selector::Cookie(name), Some(want)) => view.cookie(name) == Some(want.as_slice()),
            (Selector::PathPrefix(prefix), _) => view.path().starts_with(prefix.as_str()),
        }
    }
}
