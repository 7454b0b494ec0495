//! Config templates: the peers' configs live in `benches/` as text with `{{name}}`
//! placeholders, filled in per run.

use std::path::Path;

/// `template` with every `{{name}}` replaced by its value; an error if one is left over.
pub fn fill(template: &str, values: &[(&str, String)]) -> Result<String, String> {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    match text.find("{{") {
        Some(at) => Err(format!("config template: unfilled placeholder at {:?}", &text[at..(at + 20).min(text.len())])),
        None => Ok(text),
    }
}

/// A file in `dir` for a process's stderr, appended to across restarts.
pub fn log_file(dir: &Path, name: &str) -> Result<std::fs::File, String> {
    let path = dir.join(name);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn fills_every_occurrence_and_refuses_leftovers() {
        assert_eq!(fill("{{a}}-{{b}}-{{a}}", &[("a", "1".into()), ("b", "2".into())]).as_deref(), Ok("1-2-1"));
        assert!(fill("a {{b}} c", &[]).is_err());
    }
}
