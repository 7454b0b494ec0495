//! The route's `config = { … }` table and its checks. Serde reports type errors with the key
//! path; the checks here name the rule's id too, since that is what an operator searches for.

use serde::Deserialize;

use crate::builtin::{self, Input};
use crate::rules::{Match, Rule, Target};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub mode: Mode,
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    #[serde(default = "default_true")]
    pub default_rules: bool,
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    #[serde(default)]
    pub disable: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Answer 403 when the score reaches the threshold.
    #[default]
    Block,
    /// Log and let the request through: for trying rules on live traffic.
    Detect,
}

/// `target` and `match` are strings here, parsed in [`Config::rules`], so an unknown value is
/// reported with the rule's id rather than only its position in the list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub id: String,
    pub target: String,
    #[serde(rename = "match")]
    pub kind: String,
    pub pattern: String,
    #[serde(default = "default_score")]
    pub score: u32,
}

fn default_score() -> u32 {
    builtin::SCORE
}

/// One built-in rule's worth: a single built-in match blocks.
fn default_threshold() -> u32 {
    builtin::SCORE
}

fn default_true() -> bool {
    true
}

impl Config {
    /// The active rules in reporting order: built-ins (minus `disable`), then custom rules.
    pub(crate) fn rules(&self) -> Result<Vec<Rule>, String> {
        if self.threshold == 0 {
            return Err("`threshold`: must be at least 1 (0 would block every request)".into());
        }
        for id in &self.disable {
            if builtin::find(id).is_none() {
                return Err(format!("`disable`: unknown built-in rule {id:?} (custom rules are removed from `rules`)"));
            }
        }
        let mut rules = Vec::new();
        if self.default_rules {
            for rule in builtin::RULES.iter().filter(|r| !self.disable.iter().any(|id| id == r.id)) {
                let target = match rule.input {
                    Input::PathAndQuery => Target::PathAndQuery,
                    Input::UserAgent => Target::Header("user-agent".into()),
                };
                rules.push(Rule { id: rule.id.to_owned(), target, regex: rule.regex(), score: builtin::SCORE });
            }
        }
        for (index, custom) in self.rules.iter().enumerate() {
            let rule = custom.compile().map_err(|e| format!("`rules[{index}]` (id {:?}): {e}", custom.id))?;
            if self.rules[..index].iter().any(|other| other.id == custom.id) {
                return Err(format!("`rules[{index}]` (id {:?}): the id is used by an earlier rule", custom.id));
            }
            rules.push(rule);
        }
        if rules.is_empty() {
            return Err("nothing to do: every built-in rule is off and `rules` is empty".into());
        }
        Ok(rules)
    }
}

impl RuleConfig {
    fn compile(&self) -> Result<Rule, String> {
        // Ids are sent in the `x-waf-rule` response header and written to logs.
        let id_ok = (1..=64).contains(&self.id.len())
            && self.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if !id_ok {
            return Err("the id must be 1 to 64 ASCII letters, digits, `-`, `_`, `.` or `:`".into());
        }
        if builtin::find(&self.id).is_some() {
            return Err("the id is the id of a built-in rule".into());
        }
        if self.score == 0 {
            return Err("`score` must be at least 1".into());
        }
        if self.pattern.is_empty() {
            return Err("`pattern` is empty (it would match every request)".into());
        }
        let target = Target::parse(&self.target)?;
        let kind = Match::parse(&self.kind)?;
        let regex = kind.to_regex(&self.pattern);
        // Compiled alone once so that a bad pattern is reported with this rule's id; the set
        // that runs per request is built from all of a target's patterns afterwards.
        if let Err(e) = regex::bytes::Regex::new(&regex) {
            return Err(format!("invalid regex: {e}"));
        }
        Ok(Rule { id: self.id.clone(), target, regex, score: self.score })
    }
}
