//! The benchmark plugin of the no-copy design: reads the headers named in its config and
//! sets one, pulling only those values across the sandbox.

use portcullis_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Touch {
    read: Vec<String>,
    set: String,
}

impl Plugin for Touch {
    type Config = Self;
    const PHASES: &'static [Phase] = &[Phase::OnRequest];

    fn configure(config: Self) -> Result<Self, String> {
        Ok(config)
    }

    fn request_headers(&self) -> Vec<String> {
        self.read.clone()
    }

    fn on_request(&self, req: &Request) -> Decision {
        let seen: usize = self.read.iter().map(|name| req.header(name).map_or(0, |v| v.len())).sum();
        req.set_header(&self.set, seen.to_string());
        Decision::Continue
    }
}

export!(Touch);
