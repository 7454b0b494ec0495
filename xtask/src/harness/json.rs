//! Just enough JSON to write the results file, so xtask needs no serde (and the lock file,
//! shared with concurrent work, stays as it is).

pub enum Json {
    Null,
    Bool(bool),
    Int(u64),
    /// Written with at most 3 decimals; NaN and infinities as `null`.
    Num(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    pub fn str(text: impl Into<String>) -> Json {
        Json::Str(text.into())
    }

    /// Pretty-printed, two spaces per level, with a final newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, depth: usize| out.extend(std::iter::repeat_n("  ", depth));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => out.push_str(&n.to_string()),
            Json::Num(x) if x.is_finite() => out.push_str(&((x * 1000.0).round() / 1000.0).to_string()),
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => string(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    indent(out, depth + 1);
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Object(fields) => {
                out.push_str("{\n");
                for (i, (key, value)) in fields.iter().enumerate() {
                    indent(out, depth + 1);
                    string(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn renders_nested_values_and_escapes() {
        let value = Json::Object(vec![
            ("name", Json::str("a \"b\"\\\n\u{1}")),
            ("list", Json::Array(vec![Json::Int(1), Json::Num(0.12345), Json::Num(f64::NAN), Json::Null])),
            ("empty", Json::Object(Vec::new())),
            ("ok", Json::Bool(true)),
        ]);
        let expected = "{\n  \"name\": \"a \\\"b\\\"\\\\\\n\\u0001\",\n  \"list\": [\n    1,\n    0.123,\n    null,\n    null\n  ],\n  \"empty\": {},\n  \"ok\": true\n}\n";
        assert_eq!(value.render(), expected);
    }
}
