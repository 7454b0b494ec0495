//! Rules compiled for matching: one `RegexSet` per input (path, query, path and query, each
//! header), so a request costs one automaton pass per input and form however many rules
//! there are. Literal and case-insensitive rules become escaped patterns in the same set, so
//! the lazy DFA looks for all of them in that one pass.

use regex::bytes::{RegexSet, RegexSetBuilder};

/// What a rule reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The path, raw and percent-decoded.
    Path,
    /// The query without `?`, raw and decoded (`%XX` and `+`); nothing when there is no `?`.
    Query,
    /// Both, raw and decoded.
    PathAndQuery,
    /// Every value of a request header (lowercased name), raw.
    Header(String),
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        Ok(match text {
            "path" => Target::Path,
            "query" => Target::Query,
            "path_and_query" => Target::PathAndQuery,
            _ => match text.strip_prefix("header:") {
                Some(name) if is_token(name) => Target::Header(name.to_ascii_lowercase()),
                Some(name) => return Err(format!("invalid header name {name:?} in target {text:?}")),
                None => {
                    return Err(format!("unknown target {text:?} (use path, query, path_and_query or header:NAME)"))
                }
            },
        })
    }
}

/// How a custom rule's `pattern` is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    /// An exact, case-sensitive substring.
    Literal,
    /// A substring, ASCII case-insensitive.
    Contains,
    /// A `regex` crate expression, searched anywhere in the value.
    Regex,
}

impl Match {
    pub fn parse(text: &str) -> Result<Match, String> {
        match text {
            "literal" => Ok(Match::Literal),
            "contains" => Ok(Match::Contains),
            "regex" => Ok(Match::Regex),
            _ => Err(format!("unknown match {text:?} (use literal, contains or regex)")),
        }
    }

    /// The pattern as a regex for the set. Literals are escaped; the non-Unicode flag makes
    /// `contains` fold ASCII only, as documented, without pulling in case tables.
    pub fn to_regex(self, pattern: &str) -> String {
        match self {
            Match::Literal => regex::escape(pattern),
            Match::Contains => format!("(?i-u:{})", regex::escape(pattern)),
            Match::Regex => pattern.to_owned(),
        }
    }
}

/// A rule ready to compile: where it looks and what it looks for.
pub(crate) struct Rule {
    pub id: String,
    pub target: Target,
    pub regex: String,
    pub score: u32,
}

/// The rules of one input, as a set whose pattern `i` is rule `rules[i]`.
pub(crate) struct Scanner {
    set: RegexSet,
    rules: Vec<usize>,
}

impl Scanner {
    /// Adds the index of every rule that matches any of `haystacks`. The common case, no
    /// match, runs one `is_match` per haystack and allocates nothing.
    pub fn scan<'h>(&self, haystacks: impl Iterator<Item = &'h [u8]>, hits: &mut Vec<usize>) {
        for haystack in haystacks {
            if self.set.is_match(haystack) {
                hits.extend(self.set.matches(haystack).iter().map(|i| self.rules[i]));
            }
        }
    }
}

/// Every active rule's id and score (indexed as in the scanners) and the scanners by input.
pub(crate) struct Compiled {
    pub ids: Vec<String>,
    pub scores: Vec<u32>,
    pub path: Option<Scanner>,
    pub query: Option<Scanner>,
    pub path_and_query: Option<Scanner>,
    /// One per header name some rule targets; only these headers are ever fetched.
    pub headers: Vec<(String, Scanner)>,
}

impl Compiled {
    pub fn new(rules: Vec<Rule>) -> Result<Compiled, String> {
        let mut path = Group::default();
        let mut query = Group::default();
        let mut path_and_query = Group::default();
        let mut headers: Vec<(String, Group)> = Vec::new();
        let mut ids = Vec::with_capacity(rules.len());
        let mut scores = Vec::with_capacity(rules.len());
        for (index, rule) in rules.into_iter().enumerate() {
            let group = match rule.target {
                Target::Path => &mut path,
                Target::Query => &mut query,
                Target::PathAndQuery => &mut path_and_query,
                Target::Header(name) => match headers.iter().position(|(n, _)| *n == name) {
                    Some(at) => &mut headers[at].1,
                    None => {
                        headers.push((name, Group::default()));
                        let last = headers.len() - 1;
                        &mut headers[last].1
                    }
                },
            };
            group.patterns.push(rule.regex);
            group.rules.push(index);
            ids.push(rule.id);
            scores.push(rule.score);
        }
        let mut compiled_headers = Vec::with_capacity(headers.len());
        for (name, group) in headers {
            let scanner = group.compile(&format!("header:{name}"))?;
            compiled_headers.extend(scanner.map(|s| (name, s)));
        }
        Ok(Compiled {
            ids,
            scores,
            path: path.compile("path")?,
            query: query.compile("query")?,
            path_and_query: path_and_query.compile("path_and_query")?,
            headers: compiled_headers,
        })
    }
}

#[derive(Default)]
struct Group {
    patterns: Vec<String>,
    rules: Vec<usize>,
}

impl Group {
    fn compile(self, target: &str) -> Result<Option<Scanner>, String> {
        if self.patterns.is_empty() {
            return Ok(None);
        }
        // Each pattern already compiled alone (so a bad one was reported with its rule id);
        // what can still fail here is the combined size.
        let set = RegexSetBuilder::new(&self.patterns)
            .build()
            .map_err(|e| format!("the rules for target `{target}` do not compile together: {e}"))?;
        Ok(Some(Scanner { set, rules: self.rules }))
    }
}

/// An HTTP field name (RFC 9110 token).
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_header_names_are_lowercased() {
        assert_eq!(Target::parse("path"), Ok(Target::Path));
        assert_eq!(Target::parse("query"), Ok(Target::Query));
        assert_eq!(Target::parse("path_and_query"), Ok(Target::PathAndQuery));
        assert_eq!(Target::parse("header:X-Api-Key"), Ok(Target::Header("x-api-key".into())));
        assert!(Target::parse("header:").is_err());
        assert!(Target::parse("header:a b").is_err());
        assert!(Target::parse("body").is_err_and(|e| e.contains("unknown target \"body\"")));
    }

    #[test]
    fn literal_and_contains_escape_the_pattern() {
        let contains = regex::bytes::Regex::new(&Match::Contains.to_regex("a.B(é")).expect("compiles");
        assert!(contains.is_match("xA.b(é".as_bytes()));
        assert!(!contains.is_match("xA-b(é".as_bytes()));
        let literal = regex::bytes::Regex::new(&Match::Literal.to_regex("a.B")).expect("compiles");
        assert!(literal.is_match(b"a.B") && !literal.is_match(b"a.b"));
    }

    #[test]
    fn a_set_reports_every_matching_rule_once_per_haystack() {
        let rule =
            |id: &str, target: Target, regex: &str| Rule { id: id.into(), target, regex: regex.into(), score: 1 };
        let compiled = Compiled::new(vec![
            rule("a", Target::Path, "x"),
            rule("b", Target::Header("ua".into()), "y"),
            rule("c", Target::Path, "z"),
        ])
        .expect("compiles");
        assert!(compiled.query.is_none() && compiled.path_and_query.is_none());
        let mut hits = Vec::new();
        compiled.path.as_ref().expect("path rules").scan([&b"xz"[..], b"--", b"z"].into_iter(), &mut hits);
        assert_eq!(hits, vec![0, 2, 2]);
        assert_eq!(compiled.headers.len(), 1);
        assert_eq!(compiled.headers[0].0, "ua");
    }
}
