//! The YAML shape of a scheme, shared by `scheme:` blocks in the config and by the preset table.

use http::HeaderName;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::{
    Algorithm, Encoding, Field, Handshake, KeyKind, ListFormat, Scheme, SecretEncoding,
    SignatureFormat, SignatureSource, Template, TimestampFormat, TimestampSource,
};

/// A scheme as written in YAML. Every key is optional where a sensible default exists.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeSpec {
    /// Hash under the HMAC; default `sha256`.
    pub algorithm: Option<Algorithm>,
    /// Signature encoding; default `hex`.
    pub encoding: Option<Encoding>,
    /// The header carrying the signature, or a list of headers that each may (Box).
    pub signature_header: Option<Spanned<OneOrMany>>,
    /// A body field carrying the signature instead: `json:a.b` or `form:name`.
    pub signature_field: Option<Spanned<String>>,
    /// Optional prefix before the signature, e.g. `sha256=`.
    pub prefix: Option<Spanned<String>>,
    /// The header carrying the timestamp.
    pub timestamp_header: Option<Spanned<String>>,
    /// A body field carrying the timestamp instead: `json:a.b` or `form:name`.
    pub timestamp_field: Option<Spanned<String>>,
    /// How the timestamp is written; default `unix`.
    pub timestamp_format: Option<TimestampFormat>,
    /// The signed payload template; default `{body}`.
    pub signed_payload: Option<Spanned<String>>,
    /// The structured form for `t=..,v1=..` headers.
    pub signature_list: Option<Spanned<ListSpec>>,
    /// What identifies a delivery for replay protection, e.g. `{header:webhook-id}`;
    /// default: the delivery's MAC.
    pub replay_key: Option<Spanned<String>>,
    /// How secrets are encoded: `raw` (default), `base64` or `hex`.
    pub secret_encoding: Option<SecretEncoding>,
    /// Stripped from each secret before decoding, when present, e.g. `whsec_`.
    pub secret_prefix: Option<String>,
    /// A query parameter that must carry the hex SHA-256 of the body.
    pub body_digest_param: Option<Spanned<String>>,
    /// The sender's timestamp tolerance, when it documents one; routes may override.
    pub tolerance_seconds: Option<Spanned<u64>>,
    /// A request the route answers itself.
    pub handshake: Option<Handshake>,
}

/// A header name, or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One header.
    One(String),
    /// Several headers.
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(&self) -> &[String] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }
}

/// The YAML shape of a key/value list signature header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSpec {
    /// Between items; default `,`.
    pub separator: Option<String>,
    /// Between key and value; default `=`.
    pub pair_separator: Option<String>,
    /// Key of the timestamp item, if the timestamp travels in this header.
    pub timestamp_key: Option<String>,
    /// Key of each signature item (required).
    pub signature_key: String,
}

/// A scheme description that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SchemeError {
    /// The offending key, relative to the scheme block.
    pub key: &'static str,
    /// Where that key is, when known.
    pub at: Option<Location>,
    /// What is wrong, for an operator.
    pub message: String,
}

fn fail(key: &'static str, at: Option<Location>, message: impl Into<String>) -> SchemeError {
    SchemeError {
        key,
        at,
        message: message.into(),
    }
}

fn header_name(key: &'static str, value: &Spanned<String>) -> Result<HeaderName, SchemeError> {
    named_header(key, value.referenced, &value.value)
}

fn named_header(key: &'static str, at: Location, name: &str) -> Result<HeaderName, SchemeError> {
    HeaderName::try_from(name.trim()).map_err(|_| {
        fail(
            key,
            Some(at),
            format!("`{name}` is not a valid HTTP header name"),
        )
    })
}

fn field(key: &'static str, value: &Spanned<String>) -> Result<Field, SchemeError> {
    Field::parse(&value.value).map_err(|e| fail(key, Some(value.referenced), e))
}

fn template(key: &'static str, value: &Spanned<String>) -> Result<Template, SchemeError> {
    Template::parse(&value.value).map_err(|e| fail(key, Some(value.referenced), e.to_string()))
}

/// A list separator: one ASCII character, optionally followed by the spaces the sender
/// writes after it (`", "`). Returns the character and the number of spaces.
fn separator(at: Location, value: Option<&str>) -> Result<(u8, u8), SchemeError> {
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

fn one_byte(
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
    /// Fills every key this spec leaves unset from `base` (a preset under route overrides).
    pub fn or(self, base: &SchemeSpec) -> SchemeSpec {
        SchemeSpec {
            algorithm: self.algorithm.or(base.algorithm),
            encoding: self.encoding.or(base.encoding),
            signature_header: self
                .signature_header
                .or_else(|| base.signature_header.clone()),
            signature_field: self
                .signature_field
                .or_else(|| base.signature_field.clone()),
            timestamp_field: self
                .timestamp_field
                .or_else(|| base.timestamp_field.clone()),
            replay_key: self.replay_key.or_else(|| base.replay_key.clone()),
            secret_encoding: self.secret_encoding.or(base.secret_encoding),
            secret_prefix: self.secret_prefix.or_else(|| base.secret_prefix.clone()),
            body_digest_param: self
                .body_digest_param
                .or_else(|| base.body_digest_param.clone()),
            tolerance_seconds: self.tolerance_seconds.or(base.tolerance_seconds.clone()),
            prefix: self.prefix.or_else(|| base.prefix.clone()),
            timestamp_header: self
                .timestamp_header
                .or_else(|| base.timestamp_header.clone()),
            timestamp_format: self.timestamp_format.or(base.timestamp_format),
            signed_payload: self.signed_payload.or_else(|| base.signed_payload.clone()),
            signature_list: self.signature_list.or_else(|| base.signature_list.clone()),
            handshake: self.handshake.or(base.handshake),
        }
    }

    /// Validates the description into a [`Scheme`].
    ///
    /// # Errors
    /// The first inconsistency, with the key and its location.
    pub fn build(&self) -> Result<Scheme, SchemeError> {
        let signature = match (&self.signature_header, &self.signature_field) {
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
        };
        let format = match (&self.signature_list, &self.prefix) {
            (Some(_), Some(prefix)) => {
                return Err(fail(
                    "prefix",
                    Some(prefix.referenced),
                    "cannot be combined with signature_list",
                ));
            }
            (Some(list), None) => {
                let at = list.referenced;
                let spec = &list.value;
                if spec.signature_key.is_empty() {
                    return Err(fail(
                        "signature_list.signature_key",
                        Some(at),
                        "must not be empty",
                    ));
                }
                let (separator, spaces_after_separator) = separator(at, spec.separator.as_deref())?;
                SignatureFormat::List(ListFormat {
                    separator,
                    spaces_after_separator,
                    pair_separator: one_byte(
                        "signature_list.pair_separator",
                        at,
                        spec.pair_separator.as_deref(),
                        b'=',
                    )?,
                    timestamp_key: spec.timestamp_key.as_ref().map(|k| k.as_bytes().into()),
                    signature_key: spec.signature_key.as_bytes().into(),
                })
            }
            (None, prefix) => SignatureFormat::Plain {
                prefix: prefix
                    .as_ref()
                    .map(|p| p.value.as_bytes().into())
                    .unwrap_or_default(),
            },
        };
        let list_has_timestamp =
            matches!(&format, SignatureFormat::List(l) if l.timestamp_key.is_some());
        let timestamp = match (
            &self.timestamp_header,
            &self.timestamp_field,
            list_has_timestamp,
        ) {
            (Some(h), None, false) => {
                Some(TimestampSource::Header(header_name("timestamp_header", h)?))
            }
            (None, Some(f), false) => Some(TimestampSource::Field(field("timestamp_field", f)?)),
            (None, None, true) => Some(TimestampSource::SignatureList),
            (None, None, false) => None,
            (h, f, _) => {
                let at = h.as_ref().or(f.as_ref()).map(|s| s.referenced);
                return Err(fail(
                    "timestamp_header",
                    at,
                    "the timestamp comes from one place: timestamp_header, timestamp_field or signature_list.timestamp_key; set only one",
                ));
            }
        };
        let signed_payload = match &self.signed_payload {
            Some(t) => template("signed_payload", t)?,
            None => Template::body_only(),
        };
        let replay_key = self
            .replay_key
            .as_ref()
            .map(|t| template("replay_key", t))
            .transpose()?;
        if let Some(p) = &self.body_digest_param
            && (p.value.is_empty() || p.value.contains(['&', '=', '#', '?']))
        {
            return Err(fail(
                "body_digest_param",
                Some(p.referenced),
                "must be a plain query parameter name",
            ));
        }
        if let Some(t) = &self.tolerance_seconds {
            if t.value == 0 {
                return Err(fail(
                    "tolerance_seconds",
                    Some(t.referenced),
                    "must be at least 1",
                ));
            }
            if timestamp.is_none() {
                return Err(fail(
                    "tolerance_seconds",
                    Some(t.referenced),
                    "has no effect: this scheme has no timestamp",
                ));
            }
        }
        let algorithm = self.algorithm.unwrap_or(Algorithm::Sha256);
        if algorithm.key_kind() == KeyKind::Token
            && !matches!(format, SignatureFormat::Plain { .. })
        {
            let at = self.signature_list.as_ref().map(|l| l.referenced);
            return Err(fail(
                "signature_list",
                at,
                "a token scheme carries the token itself, not a list",
            ));
        }
        if timestamp.is_none() && signed_payload.uses(&super::Piece::Timestamp) {
            let at = self.signed_payload.as_ref().map(|t| t.referenced);
            return Err(fail(
                "signed_payload",
                at,
                "uses {timestamp} but the scheme has no timestamp_header or signature_list.timestamp_key",
            ));
        }
        Ok(Scheme {
            algorithm,
            encoding: self.encoding.unwrap_or(Encoding::Hex),
            signature,
            format,
            timestamp,
            timestamp_format: self.timestamp_format.unwrap_or_default(),
            signed_payload,
            replay_key,
            secret_encoding: self.secret_encoding.unwrap_or_default(),
            secret_prefix: self
                .secret_prefix
                .as_deref()
                .unwrap_or_default()
                .as_bytes()
                .into(),
            body_digest_param: self
                .body_digest_param
                .as_ref()
                .map(|p| p.value.as_str().into()),
            tolerance_seconds: self.tolerance_seconds.as_ref().map(|t| t.value),
            handshake: self.handshake,
        })
    }
}

#[cfg(test)]
mod tests;
