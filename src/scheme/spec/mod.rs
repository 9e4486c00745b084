//! The YAML shape of a scheme, shared by `scheme:` blocks in the config and by the preset table.

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::{
    Algorithm, CertSpec, Encoding, Handshake, JwksSpec, JwtSpec, KeyKind, ListFormat, Scheme,
    SecretEncoding, SignatureFormat, SnsSpec, Template, TimestampFormat, TimestampSource,
};
use parts::{fail, field, header_name, one_byte, query_name, separator, template};

mod parts;

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
    /// A query parameter carrying the signature instead (PandaDoc's `?signature=`).
    pub signature_query: Option<Spanned<String>>,
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
    /// The signature header carries a JWT or detached JWS, checked by these rules.
    pub jwt: Option<Spanned<JwtSpec>>,
    /// A header naming which of the route's `public_keys` signed.
    pub key_id_header: Option<Spanned<String>>,
    /// The body is an Amazon SNS message, signed under the certificate it names.
    pub sns: Option<Spanned<SnsSpec>>,
    /// The public key is the certificate at the URL a header names (PayPal).
    pub signing_cert: Option<Spanned<CertSpec>>,
    /// The JWT's key is in the JSON Web Key Set published at this URL (Fireblocks).
    pub jwks: Option<Spanned<JwksSpec>>,
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
    /// Key of each signature item; without it the list is positional: every item is a
    /// signature, after the timestamp when `timestamp_first` is set.
    pub signature_key: Option<String>,
    /// In a positional list, the first item is the timestamp (Recurly).
    pub timestamp_first: Option<bool>,
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
            signature_query: self
                .signature_query
                .or_else(|| base.signature_query.clone()),
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
            jwt: self.jwt.or_else(|| base.jwt.clone()),
            key_id_header: self.key_id_header.or_else(|| base.key_id_header.clone()),
            sns: self.sns.or_else(|| base.sns.clone()),
            signing_cert: self.signing_cert.or_else(|| base.signing_cert.clone()),
            jwks: self.jwks.or_else(|| base.jwks.clone()),
        }
    }

    /// Validates the description into a [`Scheme`].
    ///
    /// # Errors
    /// The first inconsistency, with the key and its location.
    pub fn build(&self) -> Result<Scheme, SchemeError> {
        if let Some(sns) = &self.sns {
            return self.sns_scheme(sns);
        }
        if self.handshake == Some(Handshake::SnsSubscription) {
            return Err(fail(
                "handshake",
                None,
                "sns_subscription answers Amazon SNS messages; it needs an sns scheme",
            ));
        }
        let signature = self.signature_source()?;
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
                let positional = spec.signature_key.is_none();
                if spec.signature_key.as_deref() == Some("") {
                    return Err(fail(
                        "signature_list.signature_key",
                        Some(at),
                        "must not be empty (leave it out for a positional list)",
                    ));
                }
                if positional && (spec.timestamp_key.is_some() || spec.pair_separator.is_some()) {
                    return Err(fail(
                        "signature_list.signature_key",
                        Some(at),
                        "is needed with timestamp_key or pair_separator: a list without it has bare items (use timestamp_first)",
                    ));
                }
                if !positional && spec.timestamp_first.is_some() {
                    return Err(fail(
                        "signature_list.timestamp_first",
                        Some(at),
                        "is for positional lists; a keyed list names its timestamp with timestamp_key",
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
                    signature_key: spec
                        .signature_key
                        .as_deref()
                        .unwrap_or("")
                        .as_bytes()
                        .into(),
                    timestamp_first: spec.timestamp_first.unwrap_or(false),
                })
            }
            (None, prefix) => SignatureFormat::Plain {
                prefix: prefix
                    .as_ref()
                    .map(|p| p.value.as_bytes().into())
                    .unwrap_or_default(),
            },
        };
        let list_has_timestamp = matches!(&format, SignatureFormat::List(l) if l.timestamp_key.is_some() || l.timestamp_first);
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
        if let Some(p) = &self.body_digest_param {
            query_name("body_digest_param", p)?;
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
        let secret_at = self.signed_payload.as_ref().map(|t| t.referenced);
        match (
            algorithm == Algorithm::Sha256Digest,
            signed_payload.uses(&super::Piece::Secret),
        ) {
            (true, false) => {
                return Err(fail(
                    "signed_payload",
                    secret_at,
                    "a sha256_digest scheme hashes the secret with the payload: put {secret} where the sender does",
                ));
            }
            (false, true) => {
                return Err(fail(
                    "signed_payload",
                    secret_at,
                    "{secret} belongs only in a sha256_digest scheme (an HMAC is keyed with the secret already)",
                ));
            }
            _ => {}
        }
        if let (Some(key), Some(t)) = (&replay_key, &self.replay_key)
            && key.uses(&super::Piece::Secret)
        {
            return Err(fail(
                "replay_key",
                Some(t.referenced),
                "must not contain {secret}",
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
        let jwt = match &self.jwt {
            Some(spec) => Some(self.jwt_rule(spec, algorithm, &format)?),
            None => None,
        };
        let key_id_header = match &self.key_id_header {
            Some(h) if algorithm.key_kind() != KeyKind::PublicKey => {
                return Err(fail(
                    "key_id_header",
                    Some(h.referenced),
                    "names one of the route's public_keys; this scheme's algorithm uses secrets",
                ));
            }
            Some(h) if self.jwt.is_some() => {
                return Err(fail(
                    "key_id_header",
                    Some(h.referenced),
                    "has no effect in a jwt scheme: the token names its key in `kid`",
                ));
            }
            Some(h) => Some(header_name("key_id_header", h)?),
            None => None,
        };
        let signing_cert = match &self.signing_cert {
            Some(spec) => Some(self.cert_rule(spec, algorithm)?),
            None => None,
        };
        let jwks = match &self.jwks {
            Some(spec) => Some(self.jwks_rule(spec, algorithm)?),
            None => None,
        };
        Ok(Scheme {
            jwt,
            sns: None,
            signing_cert,
            jwks,
            key_id_header,
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
