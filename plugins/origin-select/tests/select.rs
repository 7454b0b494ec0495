#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use origin_select::OriginSelect;
use portcullis_sdk::testing::{self, request};
use portcullis_sdk::{Phase, Plugin};

fn plugin(config: &str) -> OriginSelect {
    testing::configure(config).unwrap()
}

fn config_error(config: &str) -> String {
    match testing::configure::<OriginSelect>(config) {
        Ok(_) => panic!("config accepted: {config}"),
        Err(err) => err,
    }
}

const RULES: &str = r#"{ "rules": [
    { "header": "x-canary", "equals": "1", "upstream": "canary" },
    { "cookie": "beta", "equals": "yes", "upstream": "beta" },
    { "path_prefix": "/v2/", "upstream": "v2" }
] }"#;

#[test]
fn declares_only_select_upstream() {
    assert_eq!(OriginSelect::PHASES, &[Phase::SelectUpstream]);
}

#[test]
fn header_rule_matches_the_exact_value() {
    let p = plugin(RULES);
    let pick = |value: &str| p.select_upstream(&request("GET", "/").header("X-Canary", value).build());
    assert_eq!(pick("1").as_deref(), Some("canary"));
    assert_eq!(pick("0"), None);
    assert_eq!(pick("11"), None);
    assert_eq!(p.select_upstream(&request("GET", "/").build()), None);
}

#[test]
fn header_rules_read_the_first_field_of_the_name() {
    let p = plugin(RULES);
    let req = request("GET", "/").header("x-canary", "1").header("x-canary", "0").build();
    assert_eq!(p.select_upstream(&req).as_deref(), Some("canary"));
    let req = request("GET", "/").header("x-canary", "0").header("x-canary", "1").build();
    assert_eq!(p.select_upstream(&req), None);
}

#[test]
fn the_headers_rules_and_sticky_keys_read_are_declared_as_interest() {
    assert_eq!(plugin(RULES).request_headers(), ["cookie", "x-canary"]);
    let p = plugin(
        r#"{ "rules": [ { "header": "X-Debug", "upstream": "d" }, { "path_prefix": "/", "upstream": "p" } ],
             "split": { "upstreams": { "a": 1 }, "sticky": "header:X-User-Id" } }"#,
    );
    assert_eq!(p.request_headers(), ["x-debug", "x-user-id"]);
    let p = plugin(r#"{ "split": { "upstreams": { "a": 1 }, "sticky": "client_ip" } }"#);
    assert!(p.request_headers().is_empty());
}

#[test]
fn rule_without_equals_matches_presence() {
    let p = plugin(
        r#"{ "rules": [ { "header": "x-debug", "upstream": "debug" }, { "cookie": "preview", "upstream": "preview" } ] }"#,
    );
    assert_eq!(p.select_upstream(&request("GET", "/").header("x-debug", "").build()).as_deref(), Some("debug"));
    assert_eq!(
        p.select_upstream(&request("GET", "/").header("cookie", "preview=; a=1").build()).as_deref(),
        Some("preview")
    );
    assert_eq!(p.select_upstream(&request("GET", "/").header("cookie", "previewx=1").build()), None);
}

#[test]
fn cookie_rule_parses_the_cookie_header() {
    let p = plugin(RULES);
    let pick = |cookie: &str| p.select_upstream(&request("GET", "/").header("cookie", cookie).build());
    assert_eq!(pick("a=1; beta=yes").as_deref(), Some("beta"));
    assert_eq!(pick("beta=yes").as_deref(), Some("beta"));
    assert_eq!(pick("a=1;beta=yes ;c=3").as_deref(), Some("beta"));
    assert_eq!(pick("beta=no; beta=yes"), None, "the first cookie of a name wins");
    assert_eq!(pick("xbeta=yes; Beta=yes"), None, "names are exact and case-sensitive");
    assert_eq!(pick("a=beta=yes"), None);
    // Only the first Cookie field counts: an HTTP/1.1 client sends one.
    let req = request("GET", "/").header("cookie", "beta=yes").header("cookie", "a=1").build();
    assert_eq!(p.select_upstream(&req).as_deref(), Some("beta"));
    let req = request("GET", "/").header("cookie", "a=1").header("cookie", "beta=yes").build();
    assert_eq!(p.select_upstream(&req), None);
}

#[test]
fn path_prefix_rule_looks_at_the_path_only() {
    let p = plugin(RULES);
    assert_eq!(p.select_upstream(&request("GET", "/v2/users?id=1").build()).as_deref(), Some("v2"));
    assert_eq!(p.select_upstream(&request("GET", "/v2/").build()).as_deref(), Some("v2"));
    assert_eq!(p.select_upstream(&request("GET", "/v2").build()), None);
    assert_eq!(p.select_upstream(&request("GET", "/v1/x?next=/v2/").build()), None);
}

#[test]
fn first_matching_rule_wins() {
    let p = plugin(RULES);
    let req = request("GET", "/v2/a").header("cookie", "beta=yes").header("x-canary", "1").build();
    assert_eq!(p.select_upstream(&req).as_deref(), Some("canary"));
    let req = request("GET", "/v2/a").header("cookie", "beta=yes").build();
    assert_eq!(p.select_upstream(&req).as_deref(), Some("beta"));
}

#[test]
fn rules_take_precedence_over_the_split() {
    let p = plugin(
        r#"{ "rules": [ { "header": "x-canary", "upstream": "canary" } ],
             "split": { "upstreams": { "stable": 1 } } }"#,
    );
    assert_eq!(p.select_upstream(&request("GET", "/").header("x-canary", "1").build()).as_deref(), Some("canary"));
    assert_eq!(p.select_upstream(&request("GET", "/").build()).as_deref(), Some("stable"));
}

fn sticky_header_split() -> OriginSelect {
    plugin(r#"{ "split": { "upstreams": { "stable": 60, "canary": 30, "beta": 10 }, "sticky": "header:x-user-id" } }"#)
}

#[test]
fn sticky_key_always_lands_on_the_same_upstream() {
    let p = sticky_header_split();
    for user in ["alice", "bob", "carol", "1234", "a-much-longer-user-identifier-0001"] {
        let first = p.select_upstream(&request("GET", "/").header("x-user-id", user).build()).unwrap();
        for i in 0..1000 {
            testing::advance_ms(7);
            let req = request("GET", &format!("/page/{i}")).header("x-user-id", user).client_ip("10.0.0.9").build();
            assert_eq!(p.select_upstream(&req).unwrap(), first, "user {user} moved on call {i}");
        }
    }
}

#[test]
fn sticky_assignment_is_the_same_in_every_instance() {
    // Two instances (or two workers) configured alike agree without sharing state.
    let a = sticky_header_split();
    let b = sticky_header_split();
    for i in 0..200 {
        let user = format!("user-{i}");
        let req = || request("GET", "/").header("x-user-id", &user).build();
        assert_eq!(a.select_upstream(&req()), b.select_upstream(&req()));
    }
}

fn distribution(mut pick: impl FnMut(usize) -> String, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for i in 0..n {
        *seen.entry(pick(i)).or_insert(0) += 1;
    }
    seen
}

/// Each share within 2 percentage points of its weight (≥ 4 standard deviations at n = 10,000).
fn assert_shares(seen: &BTreeMap<String, usize>, weights: &[(&str, f64)], n: usize) {
    assert_eq!(seen.len(), weights.len(), "{seen:?}");
    for (name, weight) in weights {
        let share = seen.get(*name).copied().unwrap_or(0) as f64 / n as f64;
        assert!((share - weight).abs() < 0.02, "{name}: {share:.4} vs {weight} ({seen:?})");
    }
}

const WEIGHTS: &[(&str, f64)] = &[("stable", 0.6), ("canary", 0.3), ("beta", 0.1)];

#[test]
fn distinct_sticky_keys_follow_the_weights() {
    let p = sticky_header_split();
    let n = 10_000;
    let seen = distribution(
        |i| p.select_upstream(&request("GET", "/").header("x-user-id", format!("user-{i}")).build()).unwrap(),
        n,
    );
    assert_shares(&seen, WEIGHTS, n);
}

#[test]
fn client_ip_stickiness_follows_the_weights() {
    let p = plugin(r#"{ "split": { "upstreams": { "stable": 95, "canary": 5 }, "sticky": "client_ip" } }"#);
    let n = 10_000;
    let ip = |i: usize| format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
    let seen = distribution(|i| p.select_upstream(&request("GET", "/").client_ip(&ip(i)).build()).unwrap(), n);
    assert_shares(&seen, &[("stable", 0.95), ("canary", 0.05)], n);
    let first = p.select_upstream(&request("GET", "/a").client_ip("203.0.113.7").build());
    for _ in 0..1000 {
        assert_eq!(p.select_upstream(&request("GET", "/b").client_ip("203.0.113.7").build()), first);
    }
}

#[test]
fn cookie_stickiness_reads_the_named_cookie() {
    let p = plugin(r#"{ "split": { "upstreams": { "a": 1, "b": 1 }, "sticky": "cookie:session" } }"#);
    let mut seen = BTreeMap::new();
    for i in 0..200 {
        let session = format!("s{i}");
        let pick =
            p.select_upstream(&request("GET", "/").header("cookie", format!("theme=dark; session={session}")).build());
        for _ in 0..20 {
            let again =
                p.select_upstream(&request("GET", "/").header("cookie", format!("session={session}; x=1")).build());
            assert_eq!(again, pick, "session {session}");
        }
        *seen.entry(pick.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn without_a_sticky_key_each_request_picks_afresh_by_weight() {
    let p = sticky_header_split();
    let n = 10_000;
    // Same client, same path, same millisecond: only the per-request sequence differs.
    let seen = distribution(|_| p.select_upstream(&request("GET", "/same").build()).unwrap(), n);
    assert_shares(&seen, WEIGHTS, n);
    // An empty key counts as absent.
    let seen = distribution(|_| p.select_upstream(&request("GET", "/").header("x-user-id", "").build()).unwrap(), 1000);
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn unsticky_split_follows_the_weights_as_the_clock_moves() {
    let p = plugin(r#"{ "split": { "upstreams": { "stable": 95, "canary": 5 } } }"#);
    let n = 10_000;
    let seen = distribution(
        |_| {
            testing::advance_ms(1);
            p.select_upstream(&request("GET", "/").build()).unwrap()
        },
        n,
    );
    assert_shares(&seen, &[("stable", 0.95), ("canary", 0.05)], n);
}

#[test]
fn raising_a_weight_only_moves_keys_towards_it() {
    // Ranges are laid out in name order, so growing the first one ("canary") keeps every
    // key it already had.
    let before = plugin(r#"{ "split": { "upstreams": { "stable": 95, "canary": 5 }, "sticky": "header:u" } }"#);
    let after = plugin(r#"{ "split": { "upstreams": { "stable": 95, "canary": 10 }, "sticky": "header:u" } }"#);
    let mut kept = 0;
    for i in 0..5000 {
        let req = || request("GET", "/").header("u", format!("{i}")).build();
        if before.select_upstream(&req()).as_deref() == Some("canary") {
            assert_eq!(after.select_upstream(&req()).as_deref(), Some("canary"), "key {i}");
            kept += 1;
        }
    }
    assert!(kept > 150, "only {kept} canary keys");
}

#[test]
fn sticky_assignment_is_pinned() {
    // "alice" hashes to 0x3507… → point 20 of 0..100: beta owns 0..10, canary 10..40,
    // stable 40..100. A change here reshuffles every user on upgrade.
    let p = sticky_header_split();
    assert_eq!(p.select_upstream(&request("GET", "/").header("x-user-id", "alice").build()).as_deref(), Some("canary"));
}

#[test]
fn nothing_matched_and_no_split_leaves_the_route_upstream() {
    let p = plugin(RULES);
    assert_eq!(p.select_upstream(&request("POST", "/v1/").header("cookie", "beta=no").build()), None);
}

#[test]
fn config_errors_name_the_key() {
    let cases = [
        (r#"{}"#, "nothing to do: give `rules` or `split`"),
        (
            r#"{ "rules": [ { "path_prefix": "/", "upstream": "a" }, { "upstream": "b" } ] }"#,
            "`rules[1]`: give exactly one of `header`, `cookie` or `path_prefix` (found none)",
        ),
        (
            r#"{ "rules": [ { "header": "x", "cookie": "y", "upstream": "b" } ] }"#,
            "`rules[0]`: give exactly one of `header`, `cookie` or `path_prefix` (found `header` and `cookie`)",
        ),
        (r#"{ "rules": [ { "header": "x", "upstream": "" } ] }"#, "`rules[0].upstream`: must name an upstream"),
        (r#"{ "rules": [ { "header": "x y", "upstream": "a" } ] }"#, "`rules[0].header`: \"x y\" is not a valid header name"),
        (r#"{ "rules": [ { "cookie": "a=b", "upstream": "a" } ] }"#, "`rules[0].cookie`: \"a=b\" is not a valid cookie name"),
        (r#"{ "rules": [ { "path_prefix": "v2", "upstream": "a" } ] }"#, "`rules[0].path_prefix`: \"v2\" must start with `/`"),
        (
            r#"{ "rules": [ { "path_prefix": "/v2", "equals": "x", "upstream": "a" } ] }"#,
            "`rules[0].equals`: only `header` and `cookie` rules take `equals`",
        ),
        (r#"{ "rules": [ { "header": "x" } ] }"#, "`rules[0]`: missing field `upstream`"),
        (
            r#"{ "rules": [ { "header": "x", "upstream": "a", "equal": "1" } ] }"#,
            "`rules[0].equal`: unknown field `equal`, expected one of `header`, `cookie`, `path_prefix`, `equals`, `upstream`",
        ),
        (r#"{ "split": { "upstreams": {} } }"#, "`split.upstreams`: give at least one upstream with a weight"),
        (r#"{ "split": { "upstreams": { "a": 1, "b": 0 } } }"#, "`split.upstreams.b`: weight must be greater than 0"),
        (r#"{ "split": { "upstreams": { "a": -1 } } }"#, "`split.upstreams.a`: invalid value: integer `-1`, expected u32"),
        (r#"{ "split": { "upstreams": { "": 1 } } }"#, "`split.upstreams`: an upstream name must not be empty"),
        (
            r#"{ "split": { "upstreams": { "a": 1 }, "sticky": "session" } }"#,
            "`split.sticky`: unknown key \"session\": use \"header:NAME\", \"cookie:NAME\" or \"client_ip\"",
        ),
        (r#"{ "split": { "upstreams": { "a": 1 }, "sticky": "header:" } }"#, "`split.sticky`: \"\" is not a valid header name"),
        (r#"{ "split": { "upstreams": { "a": 1 }, "sticky": "cookie:a b" } }"#, "`split.sticky`: \"a b\" is not a valid cookie name"),
    ];
    for (config, want) in cases {
        assert_eq!(config_error(config), want, "config: {config}");
    }
}
