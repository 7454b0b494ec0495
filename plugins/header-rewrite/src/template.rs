//! Header values with variables: `${client_ip}`, `${method}`, `${path}`, `${host}`,
//! `${header.NAME}` (a request header) and `${var.NAME}` (a per-request variable set by an
//! earlier plugin). Parsed once at configure; a missing value renders as empty.

use portcullis_sdk::{host, Request};

#[derive(Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    ClientIp,
    Method,
    Path,
    Host,
    Header(String),
    Var(String),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Template(Vec<Part>);

impl Template {
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| format!("unclosed `${{` in {text:?}"))?;
            parts.push(variable(&after[..end])?);
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template(parts))
    }

    /// The request headers this template reads.
    pub(crate) fn headers(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().filter_map(|part| match part {
            Part::Header(name) => Some(name.to_ascii_lowercase()),
            _ => None,
        })
    }

    pub(crate) fn render(&self, req: &Request) -> Vec<u8> {
        if let [Part::Text(text)] = self.0.as_slice() {
            return text.as_bytes().to_vec();
        }
        let mut out = Vec::new();
        for part in &self.0 {
            match part {
                Part::Text(text) => out.extend_from_slice(text.as_bytes()),
                Part::ClientIp => out.extend_from_slice(req.client_ip().as_bytes()),
                Part::Method => out.extend_from_slice(req.method().as_bytes()),
                Part::Path => out.extend_from_slice(req.path().as_bytes()),
                Part::Host => out.extend_from_slice(req.authority().unwrap_or_default().as_bytes()),
                Part::Header(name) => out.extend_from_slice(&req.header(name).unwrap_or_default()),
                Part::Var(name) => out.extend_from_slice(host::var(name).unwrap_or_default().as_bytes()),
            }
        }
        out
    }
}

fn variable(name: &str) -> Result<Part, String> {
    Ok(match name {
        "client_ip" => Part::ClientIp,
        "method" => Part::Method,
        "path" => Part::Path,
        "host" => Part::Host,
        _ => match name.split_once('.') {
            Some(("header", header)) if !header.is_empty() => Part::Header(header.to_owned()),
            Some(("var", var)) if !var.is_empty() => Part::Var(var.to_owned()),
            _ => {
                return Err(format!(
                    "unknown variable `${{{name}}}` (use client_ip, method, path, host, header.NAME or var.NAME)"
                ))
            }
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_and_variables() {
        let t = Template::parse("ip=${client_ip}; ua=${header.user-agent}!").unwrap();
        assert_eq!(
            t.0,
            vec![
                Part::Text("ip=".into()),
                Part::ClientIp,
                Part::Text("; ua=".into()),
                Part::Header("user-agent".into()),
                Part::Text("!".into())
            ]
        );
    }

    #[test]
    fn rejects_unknown_and_unclosed_variables() {
        assert!(Template::parse("${nope}").unwrap_err().contains("unknown variable `${nope}`"));
        assert!(Template::parse("a ${client_ip").unwrap_err().contains("unclosed"));
        assert!(Template::parse("${header.}").is_err());
    }
}
