//! `origin-select`: picks the upstream per request, by the first matching rule (a header,
//! a cookie or a path prefix) or else by a weighted split that can stick to a key. See
//! README.md for the config.

mod cookie;
mod hash;
mod rules;
mod split;
mod view;

use portcullis_sdk::prelude::*;

pub use rules::RuleConfig;
pub use split::SplitConfig;

use rules::Rule;
use split::Split;
use view::View;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    pub split: Option<SplitConfig>,
}

pub struct OriginSelect {
    rules: Vec<Rule>,
    split: Option<Split>,
}

impl Plugin for OriginSelect {
    type Config = Config;
    const PHASES: &'static [Phase] = &[Phase::SelectUpstream];

    fn configure(config: Config) -> Result<Self, String> {
        let rules =
            config.rules.into_iter().enumerate().map(|(i, rule)| Rule::new(rule, i)).collect::<Result<_, _>>()?;
        let split = config.split.map(Split::new).transpose()?;
        let plugin = OriginSelect { rules, split };
        if plugin.rules.is_empty() && plugin.split.is_none() {
            return Err("nothing to do: give `rules` or `split`".into());
        }
        Ok(plugin)
    }

    /// Every header a rule or the sticky key reads comes with the call.
    fn request_headers(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.rules.iter().filter_map(Rule::header).chain(self.split.as_ref().and_then(Split::header)).collect();
        names.sort();
        names.dedup();
        names
    }

    fn select_upstream(&self, req: &Request) -> Option<String> {
        let view = View::new(req);
        if let Some(rule) = self.rules.iter().find(|rule| rule.matches(&view)) {
            return Some(rule.upstream.clone());
        }
        self.split.as_ref().map(|split| split.pick(&view).to_owned())
    }
}

export!(OriginSelect);
