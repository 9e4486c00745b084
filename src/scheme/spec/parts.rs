//! Reading single keys of a scheme (header names, body fields, templates, separators) and
//! the `jwt:` block, each refusal naming its key and location.

use http::HeaderName;
use serde_saphyr::{Location, Spanned};

use super::super::{
    Algorithm, Field, JwtRule, JwtSpec, SignatureFormat, SignatureSource, Template,
};
use super::{SchemeError, SchemeSpec};

pub(super) fn fail(
    key: &'static str,
    at: Option<Location>,
    message: impl Into<String>,
) -> SchemeError {
    SchemeError {
        key,
        at,
        message: message.into(),
    }
}

pub(super) fn header_name(
    key: &'static str,
    value: &Spanned<String>,
) -> Result<HeaderName, SchemeError> {
    named_header(key, value.referenced, &value.value)
}

pub(super) fn named_header(
    key: &'static str,
    at: Location,
    name: &str,
) -> Result<HeaderName, SchemeError> {
    HeaderName::try_from(name.trim()).map_err(|_| {
        fail(
            key,
            Some(at),
            format!("`{name}` is not a valid HTTP header name"),
        )
    })
}

pub(super) fn field(key: &'static str, value: &Spanned<String>) -> Result<Field, SchemeError> {
    Field::parse(&value.value).map_err(|e| fail(key, Some(value.referenced), e))
}

pub(super) fn template(
    key: &'static str,
    value: &Spanned<String>,
) -> Result<Template, SchemeError> {
    Template::parse(&value.value).map_err(|e| fail(key, Some(value.referenced), e.to_string()))
}

/// A list separator: one ASCII character, optionally followed by the spaces the sender
/// writes after it (`", "`). Returns the character and the number of spaces.
pub(super) fn separator(at: Location, value: Option<&str>) -> Result<(u8, u8), SchemeError> {
    let Some(text) = value else {
        return Ok((b',', 0));
    };
    let spaces = text.len().saturating_sub(1);
    match text.as_bytes() {
        [first, rest @ ..]
            if first.is_ascii()
                && rest.iter().all(|&b| b == b' ')
                && (*first != b' ' || rest.is_empty())
                && spaces <= 8 =>
        {
            Ok((*first, u8::try_from(spaces).unwrap_or(0)))
        }
        _ => Err(fail(
            "signature_list.separator",
            Some(at),
            format!("must be one ASCII character, optionally followed by spaces, got `{text}`"),
        )),
    }
}

pub(super) fn one_byte(
    key: &'static str,
    at: Location,
    value: Option<&str>,
    default: u8,
) -> Result<u8, SchemeError> {
    match value {
        None => Ok(default),
        Some(s) if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        Some(s) => Err(fail(
            key,
            Some(at),
            format!("must be one ASCII character, got `{s}`"),
        )),
    }
}

impl SchemeSpec {
    /// Builds the `jwt:` block, refusing the keys a JWT scheme has no use for: the token
    /// carries its own times, signed bytes and encoding.
    pub(super) fn jwt_rule(
        &self,
        spec: &Spanned<JwtSpec>,
        algorithm: Algorithm,
        format: &SignatureFormat,
    ) -> Result<JwtRule, SchemeError> {
        let at = Some(spec.referenced);
        let stray = [
            ("signed_payload", self.signed_payload.is_some()),
            ("timestamp_header", self.timestamp_header.is_some()),
            ("timestamp_field", self.timestamp_field.is_some()),
            ("signature_field", self.signature_field.is_some()),
            ("signature_query", self.signature_query.is_some()),
            ("encoding", self.encoding.is_some()),
            ("body_digest_param", self.body_digest_param.is_some()),
            ("tolerance_seconds", self.tolerance_seconds.is_some()),
        ];
        if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
            return Err(fail(
                key,
                at,
                "has no effect in a jwt scheme: the token carries it",
            ));
        }
        if !matches!(format, SignatureFormat::Plain { .. }) {
            return Err(fail(
                "signature_list",
                at,
                "a jwt scheme carries one token, not a list",
            ));
        }
        spec.value.build(algorithm).map_err(|e| fail("jwt", at, e))
    }
}

impl SchemeSpec {
    /// Where the signature is read: headers, a body field or a query parameter, exactly one.
    pub(super) fn signature_source(&self) -> Result<SignatureSource, SchemeError> {
        if let Some(q) = &self.signature_query {
            if self.signature_header.is_some() || self.signature_field.is_some() {
                return Err(fail(
                    "signature_query",
                    Some(q.referenced),
                    "set one of signature_header, signature_field or signature_query",
                ));
            }
            return Ok(SignatureSource::Query(
                query_name("signature_query", q)?.into(),
            ));
        }
        Ok(match (&self.signature_header, &self.signature_field) {
            (Some(h), None) => {
                let names = h.value.items();
                if names.is_empty() {
                    return Err(fail(
                        "signature_header",
                        Some(h.referenced),
                        "lists no header",
                    ));
                }
                SignatureSource::Headers(
                    names
                        .iter()
                        .map(|n| named_header("signature_header", h.referenced, n))
                        .collect::<Result<_, _>>()?,
                )
            }
            (None, Some(f)) => SignatureSource::Field(field("signature_field", f)?),
            (Some(_), Some(f)) => {
                return Err(fail(
                    "signature_field",
                    Some(f.referenced),
                    "set signature_header or signature_field, not both",
                ));
            }
            (None, None) => {
                return Err(fail(
                    "signature_header",
                    None,
                    "is required (or signature_field, for a signature in the body)",
                ));
            }
        })
    }
}

/// A plain query parameter name (no `&`, `=`, `#` or `?`).
pub(super) fn query_name<'a>(
    key: &'static str,
    value: &'a Spanned<String>,
) -> Result<&'a str, SchemeError> {
    if value.value.is_empty() || value.value.contains(['&', '=', '#', '?']) {
        return Err(fail(
            key,
            Some(value.referenced),
            "must be a plain query parameter name",
        ));
    }
    Ok(&value.value)
}
