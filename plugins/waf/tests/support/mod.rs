//! Shared by the test files: configure the plugin, run a request, read the verdict.

#![allow(dead_code)]

use portcullis_sdk::testing::{self, request};
use portcullis_sdk::{Decision, Plugin, Request};
use waf::Waf;

pub const BROWSER_UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

pub fn waf(config: &str) -> Waf {
    testing::configure(config).expect("the config is valid")
}

pub fn config_error(config: &str) -> String {
    match testing::configure::<Waf>(config) {
        Ok(_) => panic!("config was accepted: {config}"),
        Err(err) => err,
    }
}

/// The rule ids of a block (`x-waf-rule`), or `None` when the request goes through.
pub fn verdict(waf: &Waf, req: &Request) -> Option<String> {
    match waf.on_request(req) {
        Decision::Continue => None,
        Decision::Reply(reply) => {
            assert_eq!(reply.status, 403);
            let ids = reply.get_header("x-waf-rule").expect("a block names its rules");
            Some(String::from_utf8(ids.to_vec()).expect("ids are ASCII"))
        }
    }
}

/// `verdict` for a GET of `target` with a browser's user agent.
pub fn get(waf: &Waf, target: &str) -> Option<String> {
    verdict(waf, &request("GET", target).header("user-agent", BROWSER_UA).build())
}

/// `verdict` for a GET of `/` with this user agent.
pub fn with_ua(waf: &Waf, user_agent: &str) -> Option<String> {
    verdict(waf, &request("GET", "/").header("user-agent", user_agent).build())
}
