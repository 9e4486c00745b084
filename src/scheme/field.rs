//! Values read from inside the body: `json:a.b.0.c` (a path into a JSON document) or
//! `form:name` (a field of an `application/x-www-form-urlencoded` body).

use std::fmt;

/// Where in the body a value sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A dotted path into a JSON body; a segment of digits also indexes an array, and `*`
    /// stands for every item of an array: the value is the one every item holds, so a batch
    /// (Microsoft Graph's `value.*.clientState`) is read whole, never by its first item.
    Json(Box<[Box<str>]>),
    /// A form-encoded body field.
    Form(Box<str>),
}

impl Field {
    /// Parses `json:a.b` or `form:name`.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(text: &str) -> Result<Field, String> {
        if let Some(path) = text.strip_prefix("json:") {
            let segments: Vec<Box<str>> = path.split('.').map(Into::into).collect();
            if segments.iter().any(|s| s.is_empty()) {
                return Err(format!(
                    "`{text}`: a JSON path is dot-separated names, none empty"
                ));
            }
            Ok(Field::Json(segments.into()))
        } else if let Some(name) = text.strip_prefix("form:") {
            if name.is_empty() {
                return Err(format!("`{text}`: names no form field"));
            }
            Ok(Field::Form(name.into()))
        } else {
            Err(format!(
                "`{text}` is not a body field; write `json:path.to.value` or `form:name`"
            ))
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Json(path) => write!(f, "json:{}", path.join(".")),
            Field::Form(name) => write!(f, "form:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_kinds() {
        for text in [
            "json:signature.timestamp",
            "json:value.0.clientState",
            "json:value.*.clientState",
            "form:token",
        ] {
            assert_eq!(Field::parse(text).unwrap().to_string(), text);
        }
        for bad in ["json:", "json:a..b", "form:", "header:x", "signature"] {
            assert!(Field::parse(bad).is_err(), "{bad}");
        }
    }
}
