#![allow(clippy::unwrap_used)]

use portcullis_sdk::testing::{self, request, response};
use portcullis_sdk::{Decision, Phase, Plugin, Reply, Request};
use rate_limit::RateLimit;

/// A minute boundary (the epoch-aligned start of a "1m" window, and of a "1s" one).
const MINUTE: u64 = 1_700_000_040_000;

fn plugin(config: &str) -> RateLimit {
    testing::configure(config).unwrap()
}

fn from(ip: &str) -> Request {
    request("GET", "/").client_ip(ip).build()
}

fn reply(decision: Decision) -> Reply {
    match decision {
        Decision::Reply(reply) => reply,
        Decision::Continue => panic!("expected a reply"),
    }
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.get_header(name).map(|v| std::str::from_utf8(v).unwrap())
}

#[test]
fn declares_on_request_and_on_response() {
    assert_eq!(RateLimit::PHASES, &[Phase::OnRequest, Phase::OnResponse]);
}

#[test]
fn a_header_key_is_declared_as_interest() {
    assert_eq!(plugin(r#"{ "limit": 1, "window": "1s", "key": "header:X-User" }"#).request_headers(), ["x-user"]);
    assert!(plugin(r#"{ "limit": 1, "window": "1s" }"#).request_headers().is_empty());
    assert!(plugin(r#"{ "limit": 1, "window": "1s", "key": "var:consumer" }"#).request_headers().is_empty());
    assert!(plugin(r#"{ "limit": 1, "window": "1s", "headers": true }"#).response_headers().is_empty());
}

#[test]
fn allows_the_limit_then_replies_429_until_the_window_turns() {
    let p = plugin(r#"{ "limit": 3, "window": "1m" }"#);
    testing::set_now_ms(MINUTE + 15_500);
    for i in 0..3 {
        assert_eq!(p.on_request(&from("10.0.0.1")), Decision::Continue, "request {i}");
    }
    let r = reply(p.on_request(&from("10.0.0.1")));
    assert_eq!(r.status, 429);
    assert_eq!(header(&r, "retry-after"), Some("45"), "44.5 s left, rounded up");
    assert_eq!(header(&r, "x-ratelimit-limit"), Some("3"));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(header(&r, "x-ratelimit-reset"), Some("45"));
    assert_eq!(header(&r, "content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.body, b"too many requests\n");

    // Still limited at the window's last millisecond, with at least one second to wait.
    testing::set_now_ms(MINUTE + 59_999);
    let r = reply(p.on_request(&from("10.0.0.1")));
    assert_eq!(header(&r, "retry-after"), Some("1"));

    // The next minute starts a fresh count.
    testing::advance_ms(1);
    for i in 0..3 {
        assert_eq!(p.on_request(&from("10.0.0.1")), Decision::Continue, "request {i} of the new window");
    }
    assert_eq!(reply(p.on_request(&from("10.0.0.1"))).status, 429);
}

#[test]
fn retry_after_counts_down_to_the_epoch_aligned_window_end() {
    let p = plugin(r#"{ "limit": 1, "window": "1h" }"#);
    let hour = 1_699_999_200_000; // a multiple of 3,600,000
    for (offset, want) in
        [(0, "3600"), (1, "3600"), (1_000, "3599"), (1_001, "3599"), (3_599_000, "1"), (3_599_999, "1")]
    {
        testing::reset();
        testing::set_now_ms(hour + offset);
        assert_eq!(p.on_request(&from("10.0.0.1")), Decision::Continue);
        let r = reply(p.on_request(&from("10.0.0.1")));
        assert_eq!(header(&r, "retry-after"), Some(want), "at +{offset} ms");
    }
}

#[test]
fn sub_second_windows_still_say_retry_after_1() {
    let p = plugin(r#"{ "limit": 1, "window": "250ms" }"#);
    testing::set_now_ms(MINUTE + 100);
    assert_eq!(p.on_request(&from("10.0.0.1")), Decision::Continue);
    assert_eq!(header(&reply(p.on_request(&from("10.0.0.1"))), "retry-after"), Some("1"));
    testing::advance_ms(150); // MINUTE + 250: the next window
    assert_eq!(p.on_request(&from("10.0.0.1")), Decision::Continue);
}

#[test]
fn each_client_ip_has_its_own_budget() {
    let p = plugin(r#"{ "limit": 2, "window": "10s" }"#);
    testing::set_now_ms(MINUTE);
    for ip in ["10.0.0.1", "10.0.0.2", "2001:db8::1"] {
        assert_eq!(p.on_request(&from(ip)), Decision::Continue);
        assert_eq!(p.on_request(&from(ip)), Decision::Continue);
        assert_eq!(reply(p.on_request(&from(ip))).status, 429, "{ip}");
    }
}

#[test]
fn header_keys_count_per_value_and_let_keyless_requests_through_by_default() {
    let p = plugin(r#"{ "limit": 1, "window": "1s", "key": "header:X-User" }"#);
    testing::set_now_ms(MINUTE);
    let user = |u: &str| request("GET", "/").header("x-user", u).build();
    assert_eq!(p.on_request(&user("a")), Decision::Continue);
    assert_eq!(reply(p.on_request(&user("a"))).status, 429);
    assert_eq!(p.on_request(&user("b")), Decision::Continue, "another value, another budget");
    for _ in 0..10 {
        assert_eq!(p.on_request(&request("GET", "/").build()), Decision::Continue, "no header: not limited");
        assert_eq!(p.on_request(&user("")), Decision::Continue, "an empty value counts as missing");
    }
}

#[test]
fn when_key_missing_deny_replies_with_the_status() {
    let p =
        plugin(r#"{ "limit": 5, "window": "1s", "key": "header:x-user", "when_key_missing": "deny", "status": 503 }"#);
    let r = reply(p.on_request(&request("GET", "/").build()));
    assert_eq!(r.status, 503);
    assert_eq!(r.body, b"rate limit key missing\n");
    assert_eq!(r.get_header("retry-after"), None);
    assert_eq!(p.on_request(&request("GET", "/").header("x-user", "a").build()), Decision::Continue);
}

#[test]
fn var_keys_pair_with_key_auth() {
    let p = plugin(r#"{ "limit": 2, "window": "1m", "key": "var:consumer", "when_key_missing": "deny" }"#);
    testing::set_now_ms(MINUTE);
    let req = || request("GET", "/").client_ip("10.0.0.1").build();
    testing::set_var("consumer", "alice");
    assert_eq!(p.on_request(&req()), Decision::Continue);
    assert_eq!(p.on_request(&req()), Decision::Continue);
    assert_eq!(reply(p.on_request(&req())).status, 429);
    testing::set_var("consumer", "bob"); // same IP, another consumer
    assert_eq!(p.on_request(&req()), Decision::Continue);
}

#[test]
fn custom_status_is_used_over_the_limit() {
    let p = plugin(r#"{ "limit": 1, "window": "1s", "status": 503 }"#);
    p.on_request(&from("10.0.0.1"));
    let r = reply(p.on_request(&from("10.0.0.1")));
    assert_eq!(r.status, 503);
    assert!(r.get_header("retry-after").is_some());
}

#[test]
fn headers_true_reports_the_remaining_budget_on_the_response() {
    let p = plugin(r#"{ "limit": 3, "window": "1m", "headers": true }"#);
    testing::set_now_ms(MINUTE + 20_000);
    for remaining in ["2", "1", "0"] {
        let req = from("10.0.0.1");
        assert_eq!(p.on_request(&req), Decision::Continue);
        testing::advance_ms(1_000); // the origin takes a second
        let resp = response(200, &[("x-ratelimit-remaining", "99")]);
        assert_eq!(p.on_response(&req, &resp), Decision::Continue);
        assert_eq!(resp.header_str("x-ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(resp.header_all("x-ratelimit-remaining"), vec![remaining.as_bytes().to_vec()]);
        let reset: u64 = resp.header_str("x-ratelimit-reset").unwrap().parse().unwrap();
        assert!((37..=39).contains(&reset), "reset {reset}");
    }
    assert_eq!(reply(p.on_request(&from("10.0.0.1"))).status, 429);
}

#[test]
fn headers_default_to_off_and_uncounted_requests_get_none() {
    let p = plugin(r#"{ "limit": 3, "window": "1m" }"#);
    let req = from("10.0.0.1");
    p.on_request(&req);
    let resp = response(200, &[("server", "origin")]);
    assert_eq!(p.on_response(&req, &resp), Decision::Continue);
    assert_eq!(resp.header_names(), vec!["server".to_owned()]);

    let p = plugin(r#"{ "limit": 3, "window": "1m", "key": "header:x-user", "headers": true }"#);
    let req = request("GET", "/").build();
    assert_eq!(p.on_request(&req), Decision::Continue);
    let resp = response(200, &[]);
    p.on_response(&req, &resp);
    assert_eq!(resp.header("x-ratelimit-remaining"), None);
}

#[test]
fn configs_with_different_limits_keep_separate_counters() {
    // Two routes, one plugin: counters are per plugin, so the scope keeps them apart.
    let strict = plugin(r#"{ "limit": 1, "window": "1m" }"#);
    let loose = plugin(r#"{ "limit": 3, "window": "1m" }"#);
    testing::set_now_ms(MINUTE);
    assert_eq!(strict.on_request(&from("10.0.0.1")), Decision::Continue);
    assert_eq!(reply(strict.on_request(&from("10.0.0.1"))).status, 429);
    for _ in 0..3 {
        assert_eq!(loose.on_request(&from("10.0.0.1")), Decision::Continue);
    }
    assert_eq!(reply(loose.on_request(&from("10.0.0.1"))).status, 429);
}

#[test]
fn scope_names_the_budget() {
    let login = plugin(r#"{ "limit": 2, "window": "1m", "scope": "login" }"#);
    let signup = plugin(r#"{ "limit": 2, "window": "1m", "scope": "signup" }"#);
    let login_too = plugin(r#"{ "limit": 2, "window": "1m", "scope": "login" }"#);
    testing::set_now_ms(MINUTE);
    assert_eq!(login.on_request(&from("10.0.0.1")), Decision::Continue);
    assert_eq!(login_too.on_request(&from("10.0.0.1")), Decision::Continue);
    assert_eq!(reply(login.on_request(&from("10.0.0.1"))).status, 429, "one scope, one budget");
    assert_eq!(signup.on_request(&from("10.0.0.1")), Decision::Continue);
    assert_eq!(signup.on_request(&from("10.0.0.1")), Decision::Continue);

    // Without a scope, the same limit, window and key share a budget.
    let a = plugin(r#"{ "limit": 2, "window": "1m", "key": "header:x-user" }"#);
    let b = plugin(r#"{ "limit": 2, "window": "1m", "key": "header:X-User" }"#);
    let req = || request("GET", "/").header("x-user", "u").build();
    assert_eq!(a.on_request(&req()), Decision::Continue);
    assert_eq!(b.on_request(&req()), Decision::Continue);
    assert_eq!(reply(a.on_request(&req())).status, 429);
}

#[test]
fn long_and_binary_keys_are_still_counted_apart() {
    let p = plugin(r#"{ "limit": 1, "window": "1m", "key": "header:x-token" }"#);
    testing::set_now_ms(MINUTE);
    let long_a = "a".repeat(4000);
    let long_b = format!("{}b", "a".repeat(3999));
    for value in [long_a.as_bytes(), long_b.as_bytes(), &[0xff, 0x01][..], &[0xfe, 0x01][..]] {
        let req = || request("GET", "/").header("x-token", value).build();
        assert_eq!(p.on_request(&req()), Decision::Continue);
        assert_eq!(reply(p.on_request(&req())).status, 429);
    }
}

#[test]
fn limited_requests_are_logged_without_the_key() {
    let p = plugin(r#"{ "limit": 1, "window": "1m", "key": "header:x-api-key" }"#);
    let req = || request("GET", "/").header("x-api-key", "s3cr3t-value").build();
    p.on_request(&req());
    p.on_request(&req());
    let logs = testing::logs();
    assert_eq!(logs.len(), 1);
    assert!(logs[0].1.contains("header:x-api-key") && !logs[0].1.contains("s3cr3t"), "{:?}", logs[0]);
}

fn config_error(config: &str) -> String {
    match testing::configure::<RateLimit>(config) {
        Ok(_) => panic!("config accepted: {config}"),
        Err(err) => err,
    }
}

#[test]
fn config_errors_name_the_key() {
    let cases = [
        (r#"{ "window": "1s" }"#, "missing field `limit`"),
        (r#"{ "limit": 10 }"#, "missing field `window`"),
        (r#"{ "limit": 0, "window": "1s" }"#, "`limit`: must be at least 1 request per window"),
        (r#"{ "limit": -5, "window": "1s" }"#, "`limit`: invalid value: integer `-5`, expected u32"),
        (r#"{ "limit": 10, "window": 1000 }"#, "`window`: invalid type: integer `1000`, expected a string"),
        (
            r#"{ "limit": 10, "window": "1 minute" }"#,
            "`window`: \"1 minute\" is not a duration: use a whole number with ms, s, m or h, such as \"1s\" or \"10m\"",
        ),
        (r#"{ "limit": 10, "window": "0s" }"#, "`window`: \"0s\" is empty: a window lasts at least 1ms"),
        (
            r#"{ "limit": 10, "window": "1s", "key": "ip" }"#,
            "`key`: unknown key \"ip\": use \"client_ip\", \"header:NAME\" or \"var:NAME\"",
        ),
        (r#"{ "limit": 10, "window": "1s", "key": "header:x y" }"#, "`key`: \"x y\" is not a valid header name"),
        (r#"{ "limit": 10, "window": "1s", "key": "var:" }"#, "`key`: a variable name is 1 to 128 bytes"),
        (
            r#"{ "limit": 10, "window": "1s", "when_key_missing": "block" }"#,
            "`when_key_missing`: unknown variant `block`, expected `allow` or `deny`",
        ),
        (r#"{ "limit": 10, "window": "1s", "status": 200 }"#, "`status`: 200 is not a 4xx or 5xx status"),
        (r#"{ "limit": 10, "window": "1s", "scope": "" }"#, "`scope`: \"\" must be 1 to 128 bytes without `|`"),
        (r#"{ "limit": 10, "window": "1s", "scope": "a|b" }"#, "`scope`: \"a|b\" must be 1 to 128 bytes without `|`"),
        (
            r#"{ "limit": 10, "window": "1s", "window_ms": 5 }"#,
            "`window_ms`: unknown field `window_ms`, expected one of `limit`, `window`, `key`, `when_key_missing`, `status`, `headers`, `scope`",
        ),
    ];
    for (config, want) in cases {
        assert_eq!(config_error(config), want, "config: {config}");
    }
}
