//! Amazon SNS messages: the fields, the canonical string SNS signs, and the RSA check under
//! the certificate the message names (fetched by the caller, which is async; this is not).
//!
//! Checked before any certificate is fetched, so a forger cannot make the gateway fetch
//! for a topic the route does not take or a stale message: the JSON shape (each field once),
//! the topic, the timestamp, the `x-amz-sns-*` headers agreeing with the signed fields (the
//! app may dispatch on them, and they are not signed).

use std::borrow::Cow;

use base64::Engine;
use http::{HeaderMap, HeaderName};
use serde::Deserialize;

use super::certificate;
use super::render::sha256_tag;
use super::{Verified, read_headers::single, timestamp};
use crate::error::Rejection;
use crate::scheme::{Algorithm, SnsRule, TimestampFormat};

/// The fields of an SNS message that matter here. Unknown fields are ignored; a repeated
/// known field is refused by the parser, so the app cannot read another value than the one
/// verified.
#[derive(Debug, Deserialize)]
struct Fields<'a> {
    #[serde(rename = "Type", borrow)]
    kind: Cow<'a, str>,
    #[serde(rename = "MessageId", borrow)]
    message_id: Cow<'a, str>,
    #[serde(rename = "TopicArn", borrow)]
    topic_arn: Cow<'a, str>,
    #[serde(rename = "Message", borrow)]
    message: Cow<'a, str>,
    #[serde(rename = "Timestamp", borrow)]
    timestamp: Cow<'a, str>,
    #[serde(rename = "SignatureVersion", borrow)]
    signature_version: Cow<'a, str>,
    #[serde(rename = "Signature", borrow)]
    signature: Cow<'a, str>,
    #[serde(rename = "SigningCertURL", borrow)]
    signing_cert_url: Cow<'a, str>,
    #[serde(rename = "Subject", borrow, default)]
    subject: Option<Cow<'a, str>>,
    #[serde(rename = "SubscribeURL", borrow, default)]
    subscribe_url: Option<Cow<'a, str>>,
    #[serde(rename = "Token", borrow, default)]
    token: Option<Cow<'a, str>>,
}

/// What kind of SNS message it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A published message.
    Notification,
    /// Sent once when the subscription is made: visit `SubscribeURL` to confirm it.
    SubscriptionConfirmation,
    /// Sent when the subscription is removed.
    UnsubscribeConfirmation,
}

/// A message that passed every check that needs no certificate.
#[derive(Debug)]
pub struct Message<'a> {
    fields: Fields<'a>,
    /// Its type.
    pub kind: Kind,
    /// Its `Timestamp`, Unix seconds.
    pub timestamp: i64,
    sha256: bool,
}

impl Message<'_> {
    /// The URL of the certificate that signed it (not yet checked against the pinned hosts).
    pub fn signing_cert_url(&self) -> &str {
        &self.fields.signing_cert_url
    }

    /// The `SubscribeURL` of a subscription confirmation (not yet checked).
    pub fn subscribe_url(&self) -> Option<&str> {
        self.fields.subscribe_url.as_deref()
    }

    /// The bytes SNS signs: `Name\nvalue\n` for each signed field, in SNS's order.
    fn canonical(&self) -> Result<Vec<u8>, Rejection> {
        let f = &self.fields;
        let mut out = Vec::with_capacity(f.message.len() + 512);
        let mut put = |name: &str, value: &str| {
            for part in [name, "\n", value, "\n"] {
                out.extend_from_slice(part.as_bytes());
            }
        };
        put("Message", &f.message);
        put("MessageId", &f.message_id);
        match self.kind {
            Kind::Notification => {
                if let Some(subject) = &f.subject {
                    put("Subject", subject);
                }
            }
            Kind::SubscriptionConfirmation | Kind::UnsubscribeConfirmation => {
                let url = f.subscribe_url.as_ref();
                let token = f.token.as_ref();
                let (Some(url), Some(token)) = (url, token) else {
                    return Err(Rejection::SignatureMalformed);
                };
                put("SubscribeURL", url);
                put("Timestamp", &f.timestamp);
                put("Token", token);
                put("TopicArn", &f.topic_arn);
                put("Type", &f.kind);
                return Ok(out);
            }
        }
        put("Timestamp", &f.timestamp);
        put("TopicArn", &f.topic_arn);
        put("Type", &f.kind);
        Ok(out)
    }
}

const MESSAGE_TYPE: HeaderName = HeaderName::from_static("x-amz-sns-message-type");
const MESSAGE_ID: HeaderName = HeaderName::from_static("x-amz-sns-message-id");
const TOPIC_ARN: HeaderName = HeaderName::from_static("x-amz-sns-topic-arn");
/// The headers SNS sends that repeat signed fields.
pub(super) const HEADERS: [HeaderName; 3] = [MESSAGE_TYPE, MESSAGE_ID, TOPIC_ARN];

/// Reads and pre-checks the message in `body` (see the module doc).
///
/// # Errors
/// The rejection a forger would earn: missing or malformed fields, a topic the route does
/// not take (as a mismatch), a stale timestamp, headers that disagree with the fields.
pub fn message<'a>(
    rule: &SnsRule,
    topics: &[Box<str>],
    headers: &HeaderMap,
    body: &'a [u8],
    now: i64,
    tolerance: u64,
) -> Result<Message<'a>, Rejection> {
    let fields: Fields<'a> = serde_json::from_slice(body).map_err(|e| {
        tracing::debug!(error = %e, "not an SNS message");
        if e.is_data() && e.to_string().starts_with("missing field `Signature") {
            Rejection::SignatureMissing
        } else {
            Rejection::SignatureMalformed
        }
    })?;
    let kind = match &*fields.kind {
        "Notification" => Kind::Notification,
        "SubscriptionConfirmation" => Kind::SubscriptionConfirmation,
        "UnsubscribeConfirmation" => Kind::UnsubscribeConfirmation,
        _ => return Err(Rejection::SignatureMalformed),
    };
    let sha256 = match (&*fields.signature_version, rule) {
        (
            "1",
            SnsRule {
                version_1: true, ..
            },
        ) => false,
        (
            "2",
            SnsRule {
                version_2: true, ..
            },
        ) => true,
        _ => return Err(Rejection::SignatureMalformed),
    };
    for (name, field) in [
        (MESSAGE_TYPE, &fields.kind),
        (MESSAGE_ID, &fields.message_id),
        (TOPIC_ARN, &fields.topic_arn),
    ] {
        match single(headers, &name) {
            Ok(None) => {}
            Ok(Some(value)) if value == field.as_bytes() => {}
            _ => {
                tracing::debug!(header = %name, "SNS header disagrees with the signed field");
                return Err(Rejection::SignatureMismatch);
            }
        }
    }
    if !topics.iter().any(|t| **t == *fields.topic_arn) {
        // Any AWS account can have SNS sign a message; only the route's topics count.
        tracing::debug!("SNS topic is not one of the route's topic_arns");
        return Err(Rejection::SignatureMismatch);
    }
    let ts = timestamp::parse(TimestampFormat::Rfc3339, fields.timestamp.as_bytes())?;
    timestamp::check(ts, now, tolerance)?;
    Ok(Message {
        fields,
        kind,
        timestamp: ts,
        sha256,
    })
}

/// Checks `message`'s signature under the certificate `der`.
///
/// # Errors
/// [`Rejection::SignatureMalformed`] for a signature that is not base64 or a certificate
/// that does not parse, [`Rejection::SignatureMismatch`] for one that does not verify.
pub fn check(message: &Message<'_>, der: &[u8]) -> Result<Verified, Rejection> {
    let signature = base64::engine::general_purpose::STANDARD
        .decode(message.fields.signature.as_bytes())
        .map_err(|_| Rejection::SignatureMalformed)?;
    let algorithm = if message.sha256 {
        Algorithm::RsaPkcs1Sha256
    } else {
        Algorithm::RsaPkcs1Sha1
    };
    let canonical = message.canonical()?;
    if !certificate::verifies(algorithm, der, &canonical, &signature)? {
        return Err(Rejection::SignatureMismatch);
    }
    let f = &message.fields;
    // SNS keeps a message's id across its retries: one delivery per topic and id.
    let id = [f.topic_arn.as_bytes(), b"\n", f.message_id.as_bytes()].concat();
    Ok(Verified {
        secret_index: 0,
        timestamp: Some(message.timestamp),
        fingerprint: sha256_tag(&id),
    })
}

#[cfg(test)]
#[path = "sns_tests.rs"]
mod tests;
