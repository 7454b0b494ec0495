#![allow(clippy::unwrap_used)]

use header_rewrite::HeaderRewrite;
use portcullis_sdk::testing::{self, request, response};
use portcullis_sdk::{Decision, Plugin};

fn plugin(config: &str) -> HeaderRewrite {
    testing::configure(config).unwrap()
}

#[test]
fn request_edits_apply_in_order_remove_rename_set_append() {
    let p = plugin(
        r#"{ "request": {
            "remove": ["x-debug"],
            "rename": { "x-old": "x-new" },
            "set": { "x-gateway": "portcullis", "x-old": "set-after-rename" },
            "append": { "x-trace": "a" }
        } }"#,
    );
    let req = request("GET", "/")
        .header("X-Debug", "1")
        .header("x-old", "v1")
        .header("x-old", "v2")
        .header("x-gateway", "spoofed")
        .header("x-trace", "z")
        .build();
    assert_eq!(p.on_request(&req), Decision::Continue);
    assert_eq!(req.header("x-debug"), None);
    assert_eq!(req.header_all("x-new"), vec![b"v1".to_vec(), b"v2".to_vec()]);
    assert_eq!(req.header_all("x-old"), vec![b"set-after-rename".to_vec()]);
    assert_eq!(req.header_all("x-gateway"), vec![b"portcullis".to_vec()]);
    assert_eq!(req.header_all("x-trace"), vec![b"z".to_vec(), b"a".to_vec()]);
}

#[test]
fn values_interpolate_client_ip_request_headers_and_variables() {
    let p = plugin(
        r#"{ "request": { "set": { "x-who": "${var.consumer}@${client_ip} via ${header.user-agent} ${method} ${path} ${host}" } } }"#,
    );
    testing::set_var("consumer", "alice");
    let req = request("POST", "/a/b?c=d")
        .header("Host", "Api.Example:8080")
        .header("User-Agent", "curl/8")
        .client_ip("10.1.2.3")
        .build();
    p.on_request(&req);
    assert_eq!(req.header_str("x-who").as_deref(), Some("alice@10.1.2.3 via curl/8 POST /a/b api.example"));
}

#[test]
fn response_edits_leave_the_request_alone() {
    let p = plugin(r#"{ "response": { "set": { "server": "portcullis" }, "remove": ["x-powered-by"] } }"#);
    let req = request("GET", "/").header("server", "client-sent").build();
    let resp = response(200, &[("Server", "nginx"), ("X-Powered-By", "PHP")]);
    assert_eq!(p.on_request(&req), Decision::Continue);
    assert_eq!(p.on_response(&req, &resp), Decision::Continue);
    assert_eq!(resp.header_str("server").as_deref(), Some("portcullis"));
    assert_eq!(resp.header("x-powered-by"), None);
    assert_eq!(req.header_str("server").as_deref(), Some("client-sent"));
}

#[test]
fn config_errors_name_the_key() {
    let err = testing::configure::<HeaderRewrite>(r#"{ "request": { "set": { "x-a": "${bogus}" } } }"#).err().unwrap();
    assert!(err.starts_with("`request.set.x-a`: unknown variable `${bogus}`"), "{err}");
    let err = testing::configure::<HeaderRewrite>(r#"{ "request": { "sett": {} } }"#).err().unwrap();
    assert!(err.contains("unknown field `sett`"), "{err}");
    let err = testing::configure::<HeaderRewrite>("{}").err().unwrap();
    assert!(err.contains("nothing to do"), "{err}");
}

#[test]
#[should_panic(expected = "belongs to the gateway")]
fn framing_headers_are_off_limits() {
    let p = plugin(r#"{ "request": { "set": { "content-length": "0" } } }"#);
    p.on_request(&request("GET", "/").build());
}

#[test]
fn headers_read_by_templates_are_declared_as_interest() {
    let p = plugin(
        r#"{ "request": { "set": { "a": "${header.User-Agent} ${header.accept}" } },
             "response": { "append": { "b": "${header.accept}" } } }"#,
    );
    assert_eq!(p.request_headers(), ["accept", "user-agent"]);
}
