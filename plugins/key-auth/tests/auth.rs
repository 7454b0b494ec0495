#![allow(clippy::unwrap_used)]

use key_auth::KeyAuth;
use portcullis_sdk::testing::{self, request};
use portcullis_sdk::{host, Decision, Phase, Plugin, Reply};

// `printf %s "$KEY" | sha256sum` of each key, as the README tells operators to compute them.
const ALICE_KEY: &str = "alice-key-0001";
const ALICE_SHA256: &str = "0264b8205526ceea6fff4c7d3d3b6cf383d579553a931736819eb39ec6dd9a04";
const BOB_KEY: &str = "bob-key-0002";
const BOB_SHA256: &str = "d54508c124109e1bbf7d7dffd3aa872b9364dc9f0232ca9b32d74a42b570cd7d";

fn consumers() -> String {
    format!(
        r#"[ {{ "name": "alice", "key_sha256": "{ALICE_SHA256}" }}, {{ "name": "bob", "key_sha256": "{BOB_SHA256}" }} ]"#
    )
}

fn plugin(extra: &str) -> KeyAuth {
    testing::configure(&format!(r#"{{ "consumers": {} {extra} }}"#, consumers())).unwrap()
}

fn reply(decision: Decision) -> Reply {
    match decision {
        Decision::Reply(reply) => reply,
        Decision::Continue => panic!("expected a reply"),
    }
}

fn text(bytes: Option<&[u8]>) -> Option<&str> {
    bytes.map(|b| std::str::from_utf8(b).unwrap())
}

#[test]
fn declares_only_on_request() {
    assert_eq!(KeyAuth::PHASES, &[Phase::OnRequest]);
}

#[test]
fn a_known_key_names_the_consumer_and_is_hidden_from_the_origin() {
    let p = plugin("");
    let req = request("GET", "/orders").header("X-Api-Key", BOB_KEY).header("accept", "*/*").build();
    assert_eq!(p.on_request(&req), Decision::Continue);
    assert_eq!(host::var("consumer").as_deref(), Some("bob"));
    assert_eq!(req.header("x-api-key"), None);
    assert_eq!(req.header_names(), vec!["accept".to_owned()]);
}

#[test]
fn every_consumer_is_recognised() {
    let p = plugin("");
    for (key, name) in [(ALICE_KEY, "alice"), (BOB_KEY, "bob")] {
        testing::reset();
        assert_eq!(p.on_request(&request("GET", "/").header("x-api-key", key).build()), Decision::Continue);
        assert_eq!(host::var("consumer").as_deref(), Some(name));
    }
}

#[test]
fn the_key_header_is_declared_as_interest() {
    assert_eq!(plugin("").request_headers(), ["x-api-key"]);
    assert_eq!(plugin(r#", "header": "X-Partner-Key""#).request_headers(), ["x-partner-key"]);
}

#[test]
fn hide_credentials_false_passes_the_key_on() {
    let p = plugin(r#", "hide_credentials": false"#);
    let req = request("GET", "/").header("x-api-key", ALICE_KEY).build();
    assert_eq!(p.on_request(&req), Decision::Continue);
    assert_eq!(req.header_str("x-api-key").as_deref(), Some(ALICE_KEY));
    assert_eq!(host::var("consumer").as_deref(), Some("alice"));
}

#[test]
fn a_missing_key_gets_401_with_a_challenge() {
    let p = plugin("");
    let req = request("GET", "/").header("authorization", format!("Bearer {ALICE_KEY}")).build();
    let r = reply(p.on_request(&req));
    assert_eq!(r.status, 401);
    assert_eq!(text(r.get_header("www-authenticate")), Some(r#"ApiKey realm="portcullis""#));
    assert_eq!(text(r.get_header("content-type")), Some("text/plain; charset=utf-8"));
    assert_eq!(r.body, b"missing API key\n");
    assert_eq!(host::var("consumer"), None);
}

#[test]
fn an_unknown_key_gets_401_and_sets_no_variable() {
    let p = plugin(r#", "realm": "orders api""#);
    for key in ["nope", "ALICE-KEY-0001", "alice-key-0001 ", "", ALICE_SHA256] {
        let r = reply(p.on_request(&request("GET", "/").header("x-api-key", key).build()));
        assert_eq!(r.status, 401, "key {key:?}");
        assert_eq!(text(r.get_header("www-authenticate")), Some(r#"ApiKey realm="orders api""#));
        assert_eq!(r.body, b"invalid API key\n");
    }
    assert_eq!(host::var("consumer"), None);
}

#[test]
fn header_and_variable_are_configurable() {
    let p = plugin(r#", "header": "X-Partner-Key", "variable": "partner""#);
    let req = request("GET", "/").header("x-partner-key", ALICE_KEY).header("x-api-key", BOB_KEY).build();
    assert_eq!(p.on_request(&req), Decision::Continue);
    assert_eq!(host::var("partner").as_deref(), Some("alice"));
    assert_eq!(host::var("consumer"), None);
    assert_eq!(req.header("x-partner-key"), None);
    assert_eq!(req.header_str("x-api-key").as_deref(), Some(BOB_KEY), "other headers are left alone");

    let r = reply(p.on_request(&request("GET", "/").header("x-api-key", ALICE_KEY).build()));
    assert_eq!(r.status, 401);
}

#[test]
fn every_copy_of_the_key_header_is_hidden() {
    let p = plugin("");
    let req = request("GET", "/").header("x-api-key", ALICE_KEY).header("x-api-key", "second").build();
    assert_eq!(p.on_request(&req), Decision::Continue, "the first field carries the key");
    assert_eq!(req.header_all("x-api-key"), Vec::<Vec<u8>>::new());
}

#[test]
fn digests_may_be_given_in_upper_case() {
    let config =
        format!(r#"{{ "consumers": [ {{ "name": "alice", "key_sha256": "{}" }} ] }}"#, ALICE_SHA256.to_uppercase());
    let p: KeyAuth = testing::configure(&config).unwrap();
    assert_eq!(p.on_request(&request("GET", "/").header("x-api-key", ALICE_KEY).build()), Decision::Continue);
}

#[test]
fn keys_never_reach_the_log() {
    let p = plugin(r#", "hide_credentials": false"#);
    for key in [ALICE_KEY, "wrong-key-123"] {
        p.on_request(&request("GET", "/").header("x-api-key", key).build());
    }
    p.on_request(&request("GET", "/").build());
    let logs = testing::logs();
    assert!(!logs.is_empty());
    for (_, line) in logs {
        assert!(!line.contains(ALICE_KEY) && !line.contains("wrong-key-123") && !line.contains(ALICE_SHA256), "{line}");
    }
}

fn config_error(config: &str) -> String {
    match testing::configure::<KeyAuth>(config) {
        Ok(_) => panic!("config accepted: {config}"),
        Err(err) => err,
    }
}

#[test]
fn config_errors_name_the_key() {
    let alice = format!(r#"{{ "name": "alice", "key_sha256": "{ALICE_SHA256}" }}"#);
    let cases = [
        (r#"{}"#.to_owned(), "missing field `consumers`".to_owned()),
        (r#"{ "consumers": [] }"#.to_owned(), "`consumers`: give at least one consumer".to_owned()),
        (
            format!(r#"{{ "consumers": [ {alice}, {{ "name": "alice", "key_sha256": "{BOB_SHA256}" }} ] }}"#),
            r#"`consumers[1].name`: "alice" is already the name of consumers[0]"#.to_owned(),
        ),
        (
            format!(r#"{{ "consumers": [ {alice}, {{ "name": "alice2", "key_sha256": "{}" }} ] }}"#, ALICE_SHA256.to_uppercase()),
            r#"`consumers[1].key_sha256`: the same key as consumers[0] ("alice")"#.to_owned(),
        ),
        (
            r#"{ "consumers": [ { "name": "carol", "key_sha256": "s3cr3t" } ] }"#.to_owned(),
            "`consumers[0].key_sha256`: must be the key's SHA-256 as 64 hex digits (`printf %s \"$KEY\" | sha256sum`), found 6 characters".to_owned(),
        ),
        (
            format!(r#"{{ "consumers": [ {{ "name": "carol", "key_sha256": "{}" }} ] }}"#, ALICE_SHA256.replace('a', "x")),
            "`consumers[0].key_sha256`: must be the key's SHA-256 as 64 hex digits (`printf %s \"$KEY\" | sha256sum`), found 64 characters".to_owned(),
        ),
        (
            format!(r#"{{ "consumers": [ {{ "name": "", "key_sha256": "{ALICE_SHA256}" }} ] }}"#),
            "`consumers[0].name`: must not be empty".to_owned(),
        ),
        (
            format!(r#"{{ "consumers": [ {{ "name": "a\nb", "key_sha256": "{ALICE_SHA256}" }} ] }}"#),
            r#"`consumers[0].name`: "a\nb" contains control characters"#.to_owned(),
        ),
        (r#"{ "consumers": [ { "name": "carol" } ] }"#.to_owned(), "`consumers[0]`: missing field `key_sha256`".to_owned()),
        (format!(r#"{{ "consumers": [ {alice} ], "header": "x api key" }}"#), r#"`header`: "x api key" is not a valid header name"#.to_owned()),
        (format!(r#"{{ "consumers": [ {alice} ], "header": "Host" }}"#), "`header`: `Host` cannot carry an API key".to_owned()),
        (format!(r#"{{ "consumers": [ {alice} ], "variable": "" }}"#), "`variable`: must be 1 to 256 bytes".to_owned()),
        (format!(r#"{{ "consumers": [ {alice} ], "realm": "say \"hi\"" }}"#), r#"`realm`: "say \"hi\"" must be printable ASCII without `"` or `\`"#.to_owned()),
        (format!(r#"{{ "consumers": [ {alice} ], "hide_credentials": "yes" }}"#), "`hide_credentials`: invalid type: string \"yes\", expected a boolean".to_owned()),
        (
            format!(r#"{{ "consumers": [ {alice} ], "key": "x" }}"#),
            "`key`: unknown field `key`, expected one of `consumers`, `header`, `hide_credentials`, `variable`, `realm`".to_owned(),
        ),
    ];
    for (config, want) in cases {
        assert_eq!(config_error(&config), want, "config: {config}");
    }
}
