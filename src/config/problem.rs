//! Config errors that point at the file, line, column and key.

use std::fmt;
use std::path::PathBuf;

use serde_saphyr::Location;

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// The key path, e.g. `routes[2].secrets[0]`; empty when it is the whole file.
    pub key: String,
    /// What is wrong, for an operator. Never contains a secret.
    pub message: String,
}

impl Problem {
    /// A problem at `at` (if known) about `key`.
    pub fn new(
        at: Option<Location>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Problem {
        let (line, column) = at.map_or((0, 0), |l| (l.line(), l.column()));
        Problem {
            line,
            column,
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Everything wrong with a config file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file as the operator named it.
    pub file: PathBuf,
    /// At least one problem.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}", self.file.display())?;
            if p.line > 0 {
                write!(f, ":{}:{}", p.line, p.column)?;
            }
            if p.key.is_empty() {
                write!(f, ": {}", p.message)?;
            } else {
                write!(f, ": {}: {}", p.key, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
