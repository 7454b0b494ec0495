//! Turning the route's JSON config into the plugin's typed config, with an error that tells
//! the operator which key is wrong. Shared by the component and the native test harness so
//! a unit test sees exactly the message an operator would.

use serde::de::DeserializeOwned;

pub(crate) fn parse<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        // serde_json appends "at line 1 column 57" of a JSON text the operator never wrote.
        let message = inner.to_string();
        let message = match message.rfind(" at line ") {
            Some(cut) => message[..cut].to_owned(),
            None => message,
        };
        if path == "." {
            message
        } else {
            format!("`{path}`: {message}")
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Cfg {
        rules: Vec<Rule>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Rule {
        id: u32,
    }

    #[test]
    fn errors_name_the_key_without_json_positions() {
        let err = super::parse::<Cfg>(r#"{"rules":[{"id":1},{"id":"x"}]}"#).unwrap_err();
        assert_eq!(err, "`rules[1].id`: invalid type: string \"x\", expected u32");
        let err = super::parse::<Cfg>(r#"{"rule":[]}"#).unwrap_err();
        assert_eq!(err, "`rule`: unknown field `rule`, expected `rules`");
    }
}
