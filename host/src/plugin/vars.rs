//! Per-request variables: set by one plugin, read by the later ones (key-auth names the
//! consumer, rate-limit counts per consumer). Lives with the request and moves into each
//! store for the call, like the request itself.

use wasmtime::{bail, Result};

const MAX_VARS: usize = 64;
const MAX_KEY_BYTES: usize = 256;
const MAX_VALUE_BYTES: usize = 8 * 1024;

/// A handful of pairs: a `Vec` scan beats hashing at this size, and an empty one costs
/// no allocation for the requests whose plugins set none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn set(&mut self, key: String, value: String) -> Result<()> {
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            bail!("var-set({key:?}): key or value too long (limits {MAX_KEY_BYTES} and {MAX_VALUE_BYTES} bytes)");
        }
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else if self.0.len() >= MAX_VARS {
            bail!("var-set({key:?}): more than {MAX_VARS} variables");
        } else {
            self.0.push((key, value));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_and_limits_hold() {
        let mut vars = Vars::default();
        vars.set("consumer".into(), "alice".into()).unwrap();
        vars.set("consumer".into(), "bob".into()).unwrap();
        assert_eq!(vars.get("consumer"), Some("bob"));
        assert_eq!(vars.get("other"), None);
        for i in 1..MAX_VARS {
            vars.set(format!("k{i}"), String::new()).unwrap();
        }
        assert!(vars.set("one-too-many".into(), String::new()).is_err());
        assert!(vars.set("consumer".into(), "x".repeat(MAX_VALUE_BYTES + 1)).is_err());
    }
}
