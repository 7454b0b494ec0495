//! The one error type of config loading: where in which file, which key, and what is wrong.

use std::fmt;

/// A config problem, pinned to a position so the user can jump straight to it.
///
/// Displays as `{file}:{line}:{column}: `{key}`: {message}` with 1-based line and
/// column, the shape editors and terminals turn into links. Two cases print less:
/// a syntax error belongs to no key, so it has an empty `key` and prints no key part;
/// an error about the file as a whole (it could not be read) has `line == 0` and prints
/// no position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `routes[0].match.host`; empty for syntax errors.
    pub key: String,
    pub message: String,
}

/// A place in a config file, kept after parsing for errors found later (plugin loading).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
}

impl Position {
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            key: self.key.clone(),
            message: message.into(),
        }
    }
}

impl ConfigError {
    /// An error about the whole file, e.g. it could not be read.
    pub fn whole_file(file: &str, message: impl Into<String>) -> ConfigError {
        ConfigError { file: file.to_owned(), line: 0, column: 0, key: String::new(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file)?;
        if self.line > 0 {
            write!(f, "{}:{}:", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, " `{}`:", self.key)?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(line: usize, key: &str) -> ConfigError {
        ConfigError {
            file: "gw.toml".to_owned(),
            line,
            column: 12,
            key: key.to_owned(),
            message: "unknown upstream `ap`".to_owned(),
        }
    }

    #[test]
    fn display_names_file_position_and_key() {
        assert_eq!(
            error(7, "routes[0].upstream").to_string(),
            "gw.toml:7:12: `routes[0].upstream`: unknown upstream `ap`"
        );
    }

    #[test]
    fn display_omits_missing_key_and_position() {
        assert_eq!(error(7, "").to_string(), "gw.toml:7:12: unknown upstream `ap`");
        assert_eq!(
            ConfigError::whole_file("gw.toml", "cannot read: denied").to_string(),
            "gw.toml: cannot read: denied"
        );
    }
}
