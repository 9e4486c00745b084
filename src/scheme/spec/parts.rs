//! Reading single keys of a scheme (header names, body fields, templates, separators) and
//! the `jwt:` and `sns:` blocks, each refusal naming its key and location.

use http::HeaderName;
use serde_saphyr::{Location, Spanned};

use super::super::{
    Algorithm, CertRule, CertSpec, Encoding, Field, Handshake, JwksRule, JwksSpec, JwtRule,
    JwtSpec, KeyKind, Scheme, SecretEncoding, SignatureFormat, SignatureSource, SnsSpec, Template,
    TimestampFormat, TimestampSource,
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
        if let Some(jwt) = self.jwt.as_ref().filter(|j| j.value.in_body) {
            if self.signature_header.is_some() || self.prefix.is_some() {
                return Err(fail(
                    "signature_header",
                    Some(jwt.referenced),
                    "has no effect when the token is the body (jwt.in_body)",
                ));
            }
            return Ok(SignatureSource::Body);
        }
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

impl SchemeSpec {
    /// Builds an SNS scheme: the message carries its signature, timestamp, signed fields and
    /// the URL of its key, so every key that would say otherwise is refused.
    pub(super) fn sns_scheme(&self, spec: &Spanned<SnsSpec>) -> Result<Scheme, SchemeError> {
        let at = Some(spec.referenced);
        let stray = [
            ("algorithm", self.algorithm.is_some()),
            ("encoding", self.encoding.is_some()),
            ("signature_header", self.signature_header.is_some()),
            ("signature_field", self.signature_field.is_some()),
            ("signature_query", self.signature_query.is_some()),
            ("signature_list", self.signature_list.is_some()),
            ("prefix", self.prefix.is_some()),
            ("timestamp_header", self.timestamp_header.is_some()),
            ("timestamp_field", self.timestamp_field.is_some()),
            ("timestamp_format", self.timestamp_format.is_some()),
            ("signed_payload", self.signed_payload.is_some()),
            ("replay_key", self.replay_key.is_some()),
            ("secret_encoding", self.secret_encoding.is_some()),
            ("secret_prefix", self.secret_prefix.is_some()),
            ("body_digest_param", self.body_digest_param.is_some()),
            ("jwt", self.jwt.is_some()),
            ("key_id_header", self.key_id_header.is_some()),
            ("signing_cert", self.signing_cert.is_some()),
            ("jwks", self.jwks.is_some()),
        ];
        if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
            return Err(fail(
                key,
                at,
                "has no effect in an sns scheme: the SNS message carries it",
            ));
        }
        if let Some(t) = &self.tolerance_seconds
            && t.value == 0
        {
            return Err(fail(
                "tolerance_seconds",
                Some(t.referenced),
                "must be at least 1",
            ));
        }
        if self
            .handshake
            .is_some_and(|h| h != Handshake::SnsSubscription)
        {
            return Err(fail(
                "handshake",
                at,
                "an sns scheme answers only the sns_subscription handshake",
            ));
        }
        let rule = spec.value.build().map_err(|e| fail("sns", at, e))?;
        let json =
            |name: &str| Field::parse(&format!("json:{name}")).map_err(|e| fail("sns", at, e));
        Ok(Scheme {
            // The signature's hash follows the message's SignatureVersion; these describe
            // where the pieces are, for the docs and the replay policy.
            algorithm: Algorithm::RsaPkcs1Sha1,
            encoding: Encoding::Base64,
            signature: SignatureSource::Field(json("Signature")?),
            format: SignatureFormat::Plain {
                prefix: Box::default(),
            },
            timestamp: Some(TimestampSource::Field(json("Timestamp")?)),
            timestamp_format: TimestampFormat::Rfc3339,
            signed_payload: Template::body_only(),
            replay_key: None,
            secret_encoding: SecretEncoding::Raw,
            secret_prefix: Box::default(),
            body_digest_param: None,
            tolerance_seconds: self.tolerance_seconds.as_ref().map(|t| t.value),
            handshake: self.handshake,
            jwt: None,
            key_id_header: None,
            sns: Some(rule),
            signing_cert: None,
            jwks: None,
        })
    }

    /// Builds the `signing_cert:` block: only for a public-key algorithm, and not with a
    /// JWT or a key id, which name configured keys.
    pub(super) fn cert_rule(
        &self,
        spec: &Spanned<CertSpec>,
        algorithm: Algorithm,
    ) -> Result<CertRule, SchemeError> {
        let at = Some(spec.referenced);
        if algorithm.key_kind() != KeyKind::PublicKey {
            return Err(fail(
                "signing_cert",
                at,
                "a certificate holds a public key; set a public-key algorithm (rsa_pkcs1_sha256, ...)",
            ));
        }
        if self.jwt.is_some() || self.key_id_header.is_some() {
            return Err(fail(
                "signing_cert",
                at,
                "cannot be combined with jwt or key_id_header, which pick among the route's public_keys",
            ));
        }
        spec.value.build().map_err(|e| fail("signing_cert", at, e))
    }

    /// Builds the `jwks:` block: a `jwt:` scheme with a public-key algorithm, whose token
    /// names its key in `kid`.
    pub(super) fn jwks_rule(
        &self,
        spec: &Spanned<JwksSpec>,
        algorithm: Algorithm,
    ) -> Result<JwksRule, SchemeError> {
        let at = Some(spec.referenced);
        if self.jwt.is_none() || algorithm.key_kind() != KeyKind::PublicKey {
            return Err(fail(
                "jwks",
                at,
                "holds the keys of a jwt scheme with a public-key algorithm (rsa_pkcs1_sha512, ecdsa_p256_sha256, ed25519, ...)",
            ));
        }
        spec.value.build().map_err(|e| fail("jwks", at, e))
    }
}
