//! Internal-header scrubbing: what `[scrub]` lists is removed from every request head before
//! routing and plugins see it (clients cannot spoof internal headers), and from responses
//! where configured. Removal is `Vec::retain` on the field list: in place, no reallocation.

use portcullis_scrub::NameMatcher;

use crate::config::ScrubConfig;
use crate::http1::Headers;

pub struct Scrubber {
    request: Option<NameMatcher>,
    response: Option<NameMatcher>,
}

impl Scrubber {
    pub fn new(cfg: &ScrubConfig) -> Scrubber {
        let build = |patterns: &[portcullis_scrub::Pattern]| {
            (!patterns.is_empty()).then(|| NameMatcher::from_patterns(patterns))
        };
        Scrubber { request: build(&cfg.request_headers), response: build(&cfg.response_headers) }
    }

    pub fn request(&self, headers: &mut Headers) {
        if let Some(matcher) = &self.request {
            headers.retain(|h| !matcher.is_match(&h.name));
        }
    }

    pub fn response(&self, headers: &mut Headers) {
        if let Some(matcher) = &self.response {
            headers.retain(|h| !matcher.is_match(&h.name));
        }
    }
}
