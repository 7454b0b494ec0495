//! `header-rewrite`: edits request headers before they go upstream and response headers
//! before they go to the client. See README.md for the config.

mod template;

use std::collections::BTreeMap;

use portcullis_sdk::prelude::*;

use template::Template;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub request: EditsConfig,
    #[serde(default)]
    pub response: EditsConfig,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EditsConfig {
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub append: BTreeMap<String, String>,
}

/// One direction's edits, applied in this order: remove, rename, set, append.
struct Edits {
    remove: Vec<String>,
    rename: Vec<(String, String)>,
    set: Vec<(String, Template)>,
    append: Vec<(String, Template)>,
}

impl Edits {
    fn new(config: EditsConfig, direction: &str) -> Result<Edits, String> {
        let templates = |map: BTreeMap<String, String>, op: &str| {
            map.into_iter()
                .map(|(name, value)| {
                    Template::parse(&value)
                        .map(|t| (name.clone(), t))
                        .map_err(|e| format!("`{direction}.{op}.{name}`: {e}"))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        Ok(Edits {
            remove: config.remove,
            rename: config.rename.into_iter().collect(),
            set: templates(config.set, "set")?,
            append: templates(config.append, "append")?,
        })
    }

    fn templates(&self) -> impl Iterator<Item = &Template> {
        self.set.iter().chain(&self.append).map(|(_, template)| template)
    }

    fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.rename.is_empty() && self.set.is_empty() && self.append.is_empty()
    }

    /// `fields` is the request or the response; `req` supplies the template variables.
    fn apply(&self, fields: &dyn Fields, req: &Request) {
        for name in &self.remove {
            fields.remove(name);
        }
        for (from, to) in &self.rename {
            let values = fields.all(from);
            if !values.is_empty() {
                fields.remove(from);
                for value in values {
                    fields.append(to, &value);
                }
            }
        }
        for (name, value) in &self.set {
            fields.set(name, &value.render(req));
        }
        for (name, value) in &self.append {
            fields.append(name, &value.render(req));
        }
    }
}

/// The header methods requests and responses share.
trait Fields {
    fn all(&self, name: &str) -> Vec<Vec<u8>>;
    fn set(&self, name: &str, value: &[u8]);
    fn append(&self, name: &str, value: &[u8]);
    fn remove(&self, name: &str);
}

/// Both messages implement `Fields` with their own header methods.
macro_rules! fields {
    ($message:ty) => {
        impl Fields for $message {
            fn all(&self, name: &str) -> Vec<Vec<u8>> {
                self.header_all(name)
            }
            fn set(&self, name: &str, value: &[u8]) {
                self.set_header(name, value)
            }
            fn append(&self, name: &str, value: &[u8]) {
                self.append_header(name, value)
            }
            fn remove(&self, name: &str) {
                self.remove_header(name)
            }
        }
    };
}

fields!(Request);
fields!(Response);

pub struct HeaderRewrite {
    request: Edits,
    response: Edits,
}

impl Plugin for HeaderRewrite {
    type Config = Config;
    const PHASES: &'static [Phase] = &[Phase::OnRequest, Phase::OnResponse];

    fn configure(config: Config) -> Result<Self, String> {
        let plugin = HeaderRewrite {
            request: Edits::new(config.request, "request")?,
            response: Edits::new(config.response, "response")?,
        };
        if plugin.request.is_empty() && plugin.response.is_empty() {
            return Err("nothing to do: give `request` or `response` edits".into());
        }
        Ok(plugin)
    }

    /// The request headers the templates read arrive with each call.
    fn request_headers(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.request.templates().chain(self.response.templates()).flat_map(Template::headers).collect();
        names.sort();
        names.dedup();
        names
    }

    fn on_request(&self, req: &Request) -> Decision {
        self.request.apply(req, req);
        Decision::Continue
    }

    fn on_response(&self, req: &Request, resp: &Response) -> Decision {
        self.response.apply(resp, req);
        Decision::Continue
    }
}

export!(HeaderRewrite);
