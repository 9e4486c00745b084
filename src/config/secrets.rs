//! Resolving secret references: `env:NAME`, `file:PATH` or a literal.

use std::path::Path;

use crate::secret::Secret;

/// Resolves one reference. `env` looks up environment variables; `base` is the directory that
/// relative `file:` paths are relative to (the config file's).
///
/// # Errors
/// A message for an operator. It names the variable or file, never the secret.
pub(crate) fn resolve(
    reference: &str,
    env: &dyn Fn(&str) -> Option<String>,
    base: &Path,
) -> Result<Secret, String> {
    let bytes = if let Some(name) = reference.strip_prefix("env:") {
        env(name)
            .ok_or_else(|| format!("environment variable {name} is not set"))?
            .into_bytes()
    } else if let Some(file) = reference.strip_prefix("file:") {
        let path = base.join(file);
        let mut bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?;
        // Files written by `echo` or editors end in a newline that is not part of the secret.
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        bytes
    } else {
        reference.as_bytes().to_vec()
    };
    if bytes.is_empty() {
        let source = match reference.split_once(':') {
            Some(("env", name)) => format!("environment variable {name}"),
            Some(("file", file)) => format!("secret file {}", base.join(file).display()),
            _ => "literal".to_owned(),
        };
        return Err(format!("{source} is empty"));
    }
    Ok(Secret::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("from-env".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn env_file_and_literal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), "from-file\n").unwrap();
        assert_eq!(
            resolve("env:SET", &env, dir.path()).unwrap().expose(),
            b"from-env"
        );
        assert_eq!(
            resolve("file:s", &env, dir.path()).unwrap().expose(),
            b"from-file"
        );
        assert_eq!(
            resolve("plain", &env, dir.path()).unwrap().expose(),
            b"plain"
        );
    }

    #[test]
    fn errors_name_the_source_not_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            resolve("env:FLOW_SECRET", &env, dir.path()).unwrap_err(),
            "environment variable FLOW_SECRET is not set"
        );
        assert_eq!(
            resolve("env:EMPTY", &env, dir.path()).unwrap_err(),
            "environment variable EMPTY is empty"
        );
        assert!(
            resolve("file:missing", &env, dir.path())
                .unwrap_err()
                .starts_with("cannot read secret file")
        );
        assert_eq!(
            resolve("", &env, dir.path()).unwrap_err(),
            "literal is empty"
        );
    }
}
