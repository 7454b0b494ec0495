//! The curated rules `default_rules = true` turns on. Each scores 5, so with the default
//! threshold one match blocks.
//!
//! Patterns are ASCII case-insensitive and byte-oriented (`(?i-u)` is added when they are
//! compiled): the attacks are ASCII, and leaving Unicode out keeps the automata small and lets
//! them run over decoded bytes that are not UTF-8. Each one is written against a benign
//! look-alike as much as an attack: SQL words and comment marks are common in ordinary URLs,
//! so a rule fires only on the *combination* SQL needs (a keyword and a separator, a quote and
//! a comparison, a function name and its argument list).

/// What a built-in rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// The path and query, raw and decoded.
    PathAndQuery,
    /// The `user-agent` request header.
    UserAgent,
}

pub(crate) struct Builtin {
    pub id: &'static str,
    pub input: Input,
    pattern: &'static str,
}

impl Builtin {
    /// The pattern as the rule set compiles it: ASCII case-insensitive, bytes, `~` expanded.
    pub fn regex(&self) -> String {
        format!("(?i-u){}", self.pattern.replace('~', SEP))
    }
}

pub(crate) const SCORE: u32 = 5;

/// What SQL accepts between tokens: whitespace, a raw `+` (a space once a query is decoded)
/// and inline comments such as `/**/`. Patterns write it as `~`, which no rule otherwise
/// uses, so that they stay readable.
pub(crate) const SEP: &str = r"(?:[\s+]|/\*[^*]*\*/)";

const fn rule(id: &'static str, input: Input, pattern: &'static str) -> Builtin {
    Builtin { id, input, pattern }
}

use Input::{PathAndQuery as PQ, UserAgent as UA};

pub(crate) const RULES: &[Builtin] = &[
    // `union select`, `union all select`, `union/**/select`, `union (select`; not `union_date`.
    rule("sqli-union", PQ, r"\bunion~+(?:(?:all|distinct)~+)?\(?~*select\b"),
    // `' or 1=1`, `' or 'a'='a`, `") or ("x"="x`, `' or true`, and unquoted `or 1=1`.
    rule(
        "sqli-tautology",
        PQ,
        r#"['"\)]~*(?:\bor\b|\band\b|\|\|)~*\(?~*(?:['"]?\w*['"]?~*(?:=|<>|!=|<|>|\blike\b)|true\b)|\b(?:or|and)~+\d+~*=~*\d+\b"#,
    ),
    // Time-based blind injection: `sleep(5)`, `pg_sleep(5)`, `benchmark(1000000,`, `waitfor delay '`.
    rule("sqli-sleep", PQ, r#"\b(?:pg_)?sleep~*\(~*\d+(?:\.\d+)?~*\)|\bbenchmark~*\(~*\d+~*,|\bwaitfor~+delay~+['"]"#),
    // Schema discovery.
    rule(
        "sqli-schema",
        PQ,
        r"\binformation_schema\b|\bpg_catalog\b|\bsys(?:objects|columns|databases)\b|\bmysql\.user\b",
    ),
    // A comment that cuts off the rest of a query, after a quote (`admin'--`, MySQL's
    // `admin'#`) or a SQL keyword (`drop table users--`). `--` must be followed by a space or
    // end the value (MySQL's rule, and what keeps `a--b` in a slug harmless); `#` only counts
    // right after a quote and at the end of a value, so `?color='#fff'` passes.
    rule(
        "sqli-comment",
        PQ,
        r#"['"][\s+)]*(?:(?:--|#)(?:[\s+&]|$)|/\*)|\b(?:select|insert|update|delete|drop|union|where|having|exec)\b[^&]{0,40}(?:--(?:[\s+&]|$)|/\*)"#,
    ),
    // A second statement: `; drop table`, `; insert into`, `; shutdown`, `; exec xp_`.
    rule(
        "sqli-stacked",
        PQ,
        r";~*(?:(?:drop|truncate|alter|create)~+(?:table|database|schema|user)\b|insert~+into\b|delete~+from\b|shutdown\b|declare~+@|exec(?:ute)?~+(?:xp|sp)_)",
    ),
    rule("xss-script", PQ, r"<[\s/]*script\b"),
    rule("xss-javascript-uri", PQ, r"\b(?:java|vb)script\s*:"),
    // An event handler attribute: it follows whitespace (or a raw `+`), a quote, `/`
    // (`<svg/onload=`) or `;`, so a query parameter named `onload` (`?onload=1`,
    // `&onerror=x`) is not one.
    rule(
        "xss-event-handler",
        PQ,
        r#"[\s"'/+;]on(?:error|load|mouseover|mouseenter|focus|blur|click|toggle|begin|animationstart|pointerover)\s*="#,
    ),
    rule("xss-iframe", PQ, r"<[\s/]*(?:i?frame|object|embed|applet)\b"),
    rule("xss-cookie", PQ, r"\bdocument\s*\.\s*cookie"),
    // `../` and `..\` with any mix of encoded dots and slashes (`%2e%2e/`, `..%2f`, `%c0%ae`),
    // and a path that ends in `/..`.
    rule("traversal-dotdot", PQ, r"(?:\.|%2e|%c0%ae){2}(?:[/\\]|%2f|%5c|%c0%af)|[/\\](?:\.|%2e){2}$"),
    rule(
        "traversal-system-file",
        PQ,
        r"/etc/(?:passwd|shadow|group)\b|/proc/(?:self|\d+)/(?:environ|cmdline|mem|fd)\b|\b(?:win|boot)\.ini\b",
    ),
    rule("scanner-sqlmap", UA, r"\bsqlmap\b"),
    rule("scanner-nikto", UA, r"\bnikto\b"),
    rule("scanner-nmap", UA, r"\bnmap\b"),
    rule("scanner-masscan", UA, r"\bmasscan\b"),
    rule("scanner-acunetix", UA, r"\bacunetix\b"),
    rule("scanner-wpscan", UA, r"\bwpscan\b"),
    rule("scanner-dirbuster", UA, r"\bdirbuster\b"),
    rule("scanner-gobuster", UA, r"\bgobuster\b"),
    rule("scanner-zgrab", UA, r"\bzgrab\b"),
];

pub(crate) fn find(id: &str) -> Option<&'static Builtin> {
    RULES.iter().find(|rule| rule.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_patterns_compile() {
        for (i, rule) in RULES.iter().enumerate() {
            assert!(RULES[..i].iter().all(|r| r.id != rule.id), "duplicate id {}", rule.id);
            let regex = regex::bytes::Regex::new(&rule.regex());
            assert!(regex.is_ok(), "{}: {:?}", rule.id, regex.err());
        }
    }
}
