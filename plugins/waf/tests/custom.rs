//! Custom rules, scoring, modes and config errors.

mod support;

use portcullis_sdk::host::Level;
use portcullis_sdk::testing::{self, request};
use portcullis_sdk::{Decision, Plugin};
use support::{config_error, get, verdict, waf};

/// A config with the built-ins off and these custom rules.
fn only(rules: &str) -> waf::Waf {
    waf(&format!(r#"{{ "default_rules": false, "rules": [ {rules} ] }}"#))
}

#[test]
fn literal_path_rules_are_case_sensitive_and_see_the_decoded_path() {
    let waf = only(r#"{ "id": "no-admin", "target": "path", "match": "literal", "pattern": "/admin/" }"#);
    assert_eq!(get(&waf, "/admin/users").as_deref(), Some("no-admin"));
    assert_eq!(get(&waf, "/%61dmin/users").as_deref(), Some("no-admin"));
    assert_eq!(get(&waf, "/ADMIN/users"), None);
    // The path target does not read the query.
    assert_eq!(get(&waf, "/login?next=/admin/"), None);
}

#[test]
fn contains_query_rules_ignore_ascii_case_and_decode_plus() {
    let waf = only(r#"{ "id": "no-debug", "target": "query", "match": "contains", "pattern": "debug mode" }"#);
    assert_eq!(get(&waf, "/?Debug+Mode=on").as_deref(), Some("no-debug"));
    assert_eq!(get(&waf, "/?x=DEBUG%20MODE").as_deref(), Some("no-debug"));
    assert_eq!(get(&waf, "/debug%20mode"), None);
    assert_eq!(get(&waf, "/"), None);
}

#[test]
fn regex_path_and_query_rules_see_both_parts() {
    let waf = only(
        r#"{ "id": "internal-export", "target": "path_and_query", "match": "regex", "pattern": "^/api/v[0-9]+/internal/.*[?&]format=csv" }"#,
    );
    assert_eq!(get(&waf, "/api/v2/internal/users?format=csv").as_deref(), Some("internal-export"));
    assert_eq!(get(&waf, "/api/v2/internal/users?page=1&format=csv").as_deref(), Some("internal-export"));
    assert_eq!(get(&waf, "/api/v2/internal/users?format=json"), None);
    assert_eq!(get(&waf, "/api/vx/internal/users?format=csv"), None);
}

#[test]
fn header_rules_of_each_kind_read_every_value_of_their_header() {
    let waf = only(
        r#"{ "id": "old-client", "target": "header:X-Client-Version", "match": "regex", "pattern": "^0\\.[0-9]+$" },
           { "id": "test-key", "target": "header:x-api-key", "match": "literal", "pattern": "sk_test_" },
           { "id": "evil-ref", "target": "header:referer", "match": "contains", "pattern": "EVIL.example" }"#,
    );
    let req = |name: &str, values: &[&str]| {
        let mut builder = request("GET", "/");
        for value in values {
            builder = builder.header(name, value);
        }
        builder.build()
    };
    assert_eq!(verdict(&waf, &req("x-client-version", &["0.9"])).as_deref(), Some("old-client"));
    assert_eq!(verdict(&waf, &req("x-client-version", &["1.2", "0.3"])).as_deref(), Some("old-client"));
    assert_eq!(verdict(&waf, &req("x-client-version", &["10.9"])), None);
    assert_eq!(verdict(&waf, &req("X-Api-Key", &["sk_test_123"])).as_deref(), Some("test-key"));
    assert_eq!(verdict(&waf, &req("X-Api-Key", &["SK_TEST_123"])), None);
    assert_eq!(verdict(&waf, &req("referer", &["https://www.evil.EXAMPLE/page"])).as_deref(), Some("evil-ref"));
    assert_eq!(verdict(&waf, &req("referer", &["https://good.example/"])), None);
    assert_eq!(verdict(&waf, &request("GET", "/sk_test_/evil.example").build()), None);
}

#[test]
fn custom_header_rules_share_the_user_agent_with_the_built_ins() {
    let waf = waf(
        r#"{ "rules": [ { "id": "old-curl", "target": "header:user-agent", "match": "regex", "pattern": "^curl/[0-7]\\." } ] }"#,
    );
    let ua = |value: &str| verdict(&waf, &request("GET", "/").header("user-agent", value).build());
    assert_eq!(ua("curl/7.88.1").as_deref(), Some("old-curl"));
    assert_eq!(ua("curl/8.7.1"), None);
    assert_eq!(ua("sqlmap/1.8").as_deref(), Some("scanner-sqlmap"));
}

#[test]
fn weak_rules_block_together_but_not_alone() {
    let waf = waf(r#"{ "default_rules": false, "threshold": 5, "rules": [
              { "id": "weak-a", "target": "query", "match": "contains", "pattern": "cmd=", "score": 3 },
              { "id": "weak-b", "target": "header:user-agent", "match": "literal", "pattern": "python", "score": 2 }
           ] }"#);
    let run = |target: &str, ua: &str| verdict(&waf, &request("GET", target).header("user-agent", ua).build());
    assert_eq!(run("/?cmd=ls", "Mozilla/5.0"), None);
    assert_eq!(run("/", "python-requests/2.32"), None);
    assert_eq!(run("/?cmd=ls", "python-requests/2.32").as_deref(), Some("weak-a,weak-b"));
}

#[test]
fn a_rule_counts_once_however_many_forms_or_values_match() {
    let waf = only(r#"{ "id": "x", "target": "path_and_query", "match": "literal", "pattern": "zz", "score": 3 }"#);
    // Matches the raw and the decoded target, and twice within each: still 3 < 5.
    assert_eq!(get(&waf, "/zz/%7a%7a?zz"), None);
}

#[test]
fn a_higher_threshold_needs_two_built_in_matches() {
    let waf = waf(r#"{ "threshold": 10 }"#);
    assert_eq!(get(&waf, "/products?id=1+union+select+2"), None);
    assert_eq!(get(&waf, "/products?id=1+union+select+2--+").as_deref(), Some("sqli-union,sqli-comment"));
}

#[test]
fn a_block_is_a_plain_text_403_and_is_logged_at_info() {
    let waf = waf("{}");
    let req = request("GET", "/p?id=1+union+select+2").client_ip("198.51.100.7").build();
    let Decision::Reply(reply) = waf.on_request(&req) else { panic!("not blocked") };
    assert_eq!(reply.status, 403);
    assert_eq!(reply.get_header("x-waf-rule"), Some(&b"sqli-union"[..]));
    assert_eq!(reply.get_header("content-type"), Some(&b"text/plain; charset=utf-8"[..]));
    assert_eq!(reply.body, b"forbidden: request blocked by the web application firewall\n");
    assert_eq!(
        testing::logs(),
        vec![(
            Level::Info,
            r#"blocked: rules sqli-union matched (score 5, threshold 5): GET "/p?id=1+union+select+2" from 198.51.100.7"#
                .to_owned()
        )]
    );
}

#[test]
fn detect_mode_logs_a_warning_and_lets_the_request_through() {
    let waf = waf(r#"{ "mode": "detect" }"#);
    let req = request("POST", "/login?user=admin%27--").header("user-agent", "sqlmap/1.8").build();
    assert_eq!(waf.on_request(&req), Decision::Continue);
    assert_eq!(
        testing::logs(),
        vec![(
            Level::Warn,
            r#"detected: rules sqli-comment,scanner-sqlmap matched (score 10, threshold 5): POST "/login?user=admin%27--" from 192.0.2.1"#
                .to_owned()
        )]
    );
    testing::reset();
    assert_eq!(waf.on_request(&request("GET", "/products?sort=union_date").build()), Decision::Continue);
    assert_eq!(testing::logs(), vec![]);
}

#[test]
fn matches_below_the_threshold_are_logged_at_debug() {
    let waf = only(r#"{ "id": "weak", "target": "path", "match": "literal", "pattern": "/old", "score": 1 }"#);
    assert_eq!(get(&waf, "/old/page"), None);
    assert_eq!(
        testing::logs(),
        vec![(
            Level::Debug,
            r#"below threshold: rules weak matched (score 1, threshold 5): GET "/old/page" from 192.0.2.1"#.to_owned()
        )]
    );
}

#[test]
fn logged_targets_are_cut_and_escaped() {
    let waf = waf(r#"{ "mode": "detect" }"#);
    let target = format!("/p?id=1+union+select+\"x{}", "é".repeat(200));
    assert_eq!(waf.on_request(&request("GET", &target).build()), Decision::Continue);
    let logs = testing::logs();
    let quoted = format!("{:?}", &target[..255]);
    assert!(logs[0].1.contains(&format!("GET {quoted} from")), "{}", logs[0].1);
    assert!(quoted.contains(r#"\""#));
}

#[test]
fn config_errors_name_the_rule() {
    let rule = |fields: &str| {
        format!(
            r#"{{ "rules": [ {{ "id": "ok", "target": "path", "match": "literal", "pattern": "x" }}, {{ {fields} }} ] }}"#
        )
    };

    let err = config_error(&rule(r#""id": "bad-re", "target": "path", "match": "regex", "pattern": "(unclosed""#));
    assert!(err.starts_with("`rules[1]` (id \"bad-re\"): invalid regex: "), "{err}");
    assert!(err.contains("unclosed group"), "{err}");

    let err = config_error(&rule(r#""id": "to-body", "target": "body", "match": "literal", "pattern": "x""#));
    assert_eq!(
        err,
        "`rules[1]` (id \"to-body\"): unknown target \"body\" (use path, query, path_and_query or header:NAME)"
    );

    let err = config_error(&rule(r#""id": "bad-header", "target": "header:a b", "match": "literal", "pattern": "x""#));
    assert_eq!(err, "`rules[1]` (id \"bad-header\"): invalid header name \"a b\" in target \"header:a b\"");

    let err = config_error(&rule(r#""id": "globber", "target": "path", "match": "glob", "pattern": "*""#));
    assert_eq!(err, "`rules[1]` (id \"globber\"): unknown match \"glob\" (use literal, contains or regex)");

    let err = config_error(&rule(r#""id": "ok", "target": "query", "match": "literal", "pattern": "y""#));
    assert_eq!(err, "`rules[1]` (id \"ok\"): the id is used by an earlier rule");

    let err = config_error(&rule(r#""id": "sqli-union", "target": "query", "match": "literal", "pattern": "y""#));
    assert_eq!(err, "`rules[1]` (id \"sqli-union\"): the id is the id of a built-in rule");

    let err = config_error(&rule(r#""id": "a b", "target": "query", "match": "literal", "pattern": "y""#));
    assert!(err.starts_with("`rules[1]` (id \"a b\"): the id must be"), "{err}");

    let err = config_error(&rule(r#""id": "empty", "target": "query", "match": "literal", "pattern": """#));
    assert_eq!(err, "`rules[1]` (id \"empty\"): `pattern` is empty (it would match every request)");

    let err = config_error(&rule(r#""id": "free", "target": "query", "match": "literal", "pattern": "y", "score": 0"#));
    assert_eq!(err, "`rules[1]` (id \"free\"): `score` must be at least 1");

    // Unicode classes beyond \w, \d, \s are left out of the component to keep it small.
    let err = config_error(&rule(r#""id": "greek", "target": "query", "match": "regex", "pattern": "\\p{Greek}""#));
    assert!(err.starts_with("`rules[1]` (id \"greek\"): invalid regex: "), "{err}");
}

#[test]
fn config_errors_for_disable_threshold_and_unknown_keys() {
    let err = config_error(r#"{ "disable": ["sqli-union", "sqli-nope"] }"#);
    assert_eq!(err, "`disable`: unknown built-in rule \"sqli-nope\" (custom rules are removed from `rules`)");
    assert_eq!(config_error(r#"{ "threshold": 0 }"#), "`threshold`: must be at least 1 (0 would block every request)");
    assert!(config_error(r#"{ "threshold": -1 }"#).starts_with("`threshold`: invalid value: integer `-1`"));
    assert_eq!(config_error(r#"{ "mode": "blok" }"#), "`mode`: unknown variant `blok`, expected `block` or `detect`");
    assert!(config_error(r#"{ "modes": "block" }"#).starts_with("`modes`: unknown field `modes`"));
    assert!(config_error(
        r#"{ "rules": [ { "id": "x", "target": "path", "match": "literal", "pattern": "x", "scor": 1 } ] }"#
    )
    .starts_with("`rules[0].scor`: unknown field `scor`"));
    assert_eq!(
        config_error(r#"{ "default_rules": false }"#),
        "nothing to do: every built-in rule is off and `rules` is empty"
    );
}

/// The README's example, as the gateway hands it over (TOML turned into JSON).
#[test]
fn the_readme_example_works_as_described() {
    let waf = waf(r#"{"mode": "block", "threshold": 5, "disable": ["xss-javascript-uri"], "rules": [
            {"id": "no-internal", "target": "path", "match": "literal", "pattern": "/internal/"},
            {"id": "debug-flag", "target": "query", "match": "contains", "pattern": "debug=true", "score": 3},
            {"id": "old-client", "target": "header:x-client-version", "match": "regex", "pattern": "^0\\.", "score": 3}]}"#);
    let run = |target: &str, version: &str| {
        verdict(&waf, &request("GET", target).header("x-client-version", version).build())
    };
    assert_eq!(run("/api/internal/stats", "2.1").as_deref(), Some("no-internal"));
    assert_eq!(run("/api/items?DEBUG=TRUE", "2.1"), None);
    assert_eq!(run("/api/items?debug=true", "0.9").as_deref(), Some("debug-flag,old-client"));
    assert_eq!(run("/api/go?next=javascript:alert(1)", "2.1"), None);
    assert_eq!(run("/api/items?id=1+union+select+2", "2.1").as_deref(), Some("sqli-union"));
}

#[test]
fn the_plugin_runs_only_on_request() {
    assert_eq!(waf::Waf::PHASES, &[portcullis_sdk::Phase::OnRequest]);
}
