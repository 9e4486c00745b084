//! The one engine that checks any scheme.
//!
//! For every request: find the signature header, parse it with the scheme's grammar, read and
//! check the timestamp, decode the offered signatures, then for each configured secret feed
//! the signed-payload template straight into a pre-keyed HMAC and compare in constant time.
//! Nothing here reads the clock: `now` is a parameter.

mod body;
mod certificate;
pub mod challenge;
mod check;
mod encoding;
mod fields;
mod header;
mod jwk;
mod jwt;
mod keys;
mod mac;
mod multipart;
mod public_key;
mod read_headers;
mod render;
mod sign;
pub mod sns;
mod timestamp;

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, Method};

use crate::error::Rejection;
use crate::form;
use crate::scheme::{Algorithm, Piece, Scheme, SignatureSource, TimestampSource};
use crate::secret::Secret;

pub use body::Body;
use fields::BodyFields;
use header::Parsed;
pub use jwk::JwkSet;
pub use jwt::CLOCK_SKEW as JWT_CLOCK_SKEW;
pub use keys::KeyError;
use keys::Keys;
pub use mac::{Feed, KeyedMac, Tag};
use read_headers::{read_headers, single};
use render::{Context, replay_fingerprint};
pub use sign::SignError;
pub use timestamp::{format_rfc3339, parse as parse_timestamp};

/// The parts of a request a signature can cover.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Request method.
    pub method: &'a Method,
    /// Request path, without the query.
    pub path: &'a str,
    /// The query string, without the `?`.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The body bytes exactly as received.
    pub body: Body<'a>,
}

/// What a successful verification established.
#[derive(Debug, Clone, Copy)]
pub struct Verified {
    /// Which configured secret matched (0 = first), for rotation metrics.
    pub secret_index: usize,
    /// The sender's timestamp in Unix seconds, for timestamped schemes.
    pub timestamp: Option<i64>,
    /// What identifies the delivery for replay protection: the scheme's `replay_key` when it
    /// has one, else the MAC under the first secret (or, for token and public-key schemes,
    /// the SHA-256 of the signed payload). It does not depend on which secret matched, on
    /// hex case, prefixes or extra signatures.
    pub fingerprint: Tag,
}

/// A scheme with its keys prepared, ready to verify and sign.
#[derive(Debug)]
pub struct Verifier {
    scheme: Scheme,
    keys: Keys,
    key_ids: Box<[Tag]>,
    /// Every header the scheme reads (signature, timestamp, template pieces): each must come
    /// once and must not be named by `Connection`, or a hop would change what was verified.
    read_headers: Box<[HeaderName]>,
    /// Refuse signed payloads of challenge-token shape: set on routes whose key also answers
    /// an unsigned MAC handshake (see `challenge`).
    guard_challenges: bool,
    tolerance: u64,
    public_url: Box<str>,
    /// The id of each public key, when the route names them (`public_keys: {id: key}`).
    public_key_ids: Box<[Box<str>]>,
    /// The SNS topics an `sns` route takes (`topic_arns`).
    topics: Box<[Box<str>]>,
    /// The route's `webhook_id`, for schemes that sign it.
    webhook_id: Box<[u8]>,
    /// Where a `jwks` scheme's key set is fetched from.
    jwks_url: Box<str>,
}

impl Verifier {
    /// Prepares `keys` (secrets, or the one public key of a public-key scheme) for `scheme`.
    /// `tolerance` is in seconds, past or future.
    ///
    /// # Errors
    /// A key the scheme cannot use: undecodable under its `secret_encoding`, or not a public
    /// key of its algorithm.
    pub fn new(scheme: Scheme, keys: &[Secret], tolerance: u64) -> Result<Verifier, KeyError> {
        Ok(Verifier {
            keys: Keys::new(&scheme, keys)?,
            key_ids: Keys::ids(&scheme, keys).into(),
            read_headers: read_headers(&scheme).into(),
            guard_challenges: false,
            scheme,
            tolerance,
            public_url: Box::from(""),
            public_key_ids: Box::new([]),
            topics: Box::new([]),
            webhook_id: Box::new([]),
            jwks_url: Box::from(""),
        })
    }

    /// Sets where a `jwks` scheme's key set is fetched from (checked by the caller).
    pub fn with_jwks_url(mut self, url: Box<str>) -> Verifier {
        self.jwks_url = url;
        self
    }

    /// Where a `jwks` scheme's key set is fetched from.
    pub fn jwks_url(&self) -> &str {
        &self.jwks_url
    }

    /// Sets the route's `webhook_id`, for schemes that sign `{webhook_id}`.
    pub fn with_webhook_id(mut self, id: &[u8]) -> Verifier {
        self.webhook_id = id.into();
        self
    }

    /// The SNS topics the route takes (empty unless the scheme is an SNS scheme).
    pub fn topics(&self) -> &[Box<str>] {
        &self.topics
    }

    /// Sets the SNS topics an `sns` scheme's route takes.
    pub fn with_topics(mut self, topics: Vec<Box<str>>) -> Verifier {
        self.topics = topics.into();
        self
    }

    /// Reads an SNS delivery and checks all that needs no certificate (see [`sns`]); the
    /// caller fetches the certificate the message names and calls [`sns::check`].
    ///
    /// # Errors
    /// Why the delivery is not authentic; [`Rejection::SignatureMalformed`] when the
    /// scheme is not an SNS scheme.
    pub fn sns_message<'a>(
        &self,
        delivery: &Delivery<'a>,
        now: i64,
    ) -> Result<sns::Message<'a>, Rejection> {
        let rule = self
            .scheme
            .sns
            .as_ref()
            .ok_or(Rejection::SignatureMalformed)?;
        self.check_read_headers(delivery.headers)?;
        sns::message(
            rule,
            &self.topics,
            delivery.headers,
            // The gateway joins an SNS body (`Verifier::joins_body`).
            delivery.body.as_slice().ok_or(Rejection::BodyUnreadable)?,
            now,
            self.tolerance,
        )
    }

    /// Sets the URL the sender posts to (scheme, host and any path prefix before the request
    /// path), for schemes that sign it.
    pub fn with_public_url(mut self, url: &str) -> Verifier {
        self.public_url = url.trim_end_matches('/').into();
        self
    }

    /// Refuses from now on every delivery whose signed payload has the shape of a challenge
    /// token (`challenge`): for a route whose key also answers an unsigned MAC handshake,
    /// so no answer of that handshake is ever a delivery signature here.
    pub fn guard_challenges(&mut self) {
        self.guard_challenges = true;
    }

    /// Whether [`Verifier::guard_challenges`] is on.
    pub fn guards_challenges(&self) -> bool {
        self.guard_challenges
    }

    /// Whether this verifier and `other` hold an HMAC key with the same bytes, whatever the
    /// algorithm or how the secret was written.
    pub fn shares_key_with(&self, other: &Verifier) -> bool {
        self.key_ids
            .iter()
            .any(|id| other.key_ids.iter().any(|o| o.ct_eq(id)))
    }

    /// The URL the sender posts to, for schemes that sign it.
    pub fn public_url(&self) -> Option<&str> {
        (!self.public_url.is_empty()).then_some(&*self.public_url)
    }

    /// Timestamp tolerance in seconds, past and future.
    pub fn tolerance(&self) -> u64 {
        self.tolerance
    }

    /// The scheme this verifier checks.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// Verifies a delivery at time `now` (Unix seconds).
    ///
    /// # Errors
    /// The [`Rejection`] that says why the delivery is not authentic.
    pub fn verify(&self, delivery: &Delivery<'_>, now: i64) -> Result<Verified, Rejection> {
        self.verify_keyed(delivery, now, None)
    }

    /// Verifies a delivery of a `signing_cert` scheme under the certificate (DER) its URL
    /// named, fetched by the caller after [`Verifier::verify`] answered
    /// [`Rejection::KeyUnavailable`], which it does once every other check has passed.
    ///
    /// # Errors
    /// As [`Verifier::verify`].
    pub fn verify_with_certificate(
        &self,
        delivery: &Delivery<'_>,
        now: i64,
        der: &[u8],
    ) -> Result<Verified, Rejection> {
        self.verify_keyed(delivery, now, Some(der))
    }

    fn verify_keyed(
        &self,
        delivery: &Delivery<'_>,
        now: i64,
        certificate: Option<&[u8]>,
    ) -> Result<Verified, Rejection> {
        let scheme = &self.scheme;
        if let Some(rule) = &scheme.jwt {
            return self.verify_jwt(rule, delivery, now, None);
        }
        if scheme.sns.is_some() {
            // Its key is fetched at run time: see `sns_message`.
            return Err(Rejection::KeyUnavailable);
        }
        let fields = BodyFields::new(delivery.body, content_type(delivery.headers));
        let field_signature: Cow<'_, [u8]>;
        let query_signature: Vec<u8>;
        let field_stamp: Cow<'_, [u8]>;
        let mut parsed = Parsed::default();
        match &scheme.signature {
            SignatureSource::Headers(names) => {
                let mut present = false;
                for name in names.iter() {
                    if let Some(value) = single(delivery.headers, name)
                        .map_err(|()| Rejection::SignatureMalformed)?
                    {
                        present = true;
                        parsed.add(&scheme.format, value)?;
                    }
                }
                if !present {
                    return Err(Rejection::SignatureMissing);
                }
            }
            SignatureSource::Field(field) => {
                field_signature = fields.get(field).ok_or(Rejection::SignatureMissing)?;
                parsed.add(&scheme.format, &field_signature)?;
            }
            SignatureSource::Query(name) => {
                query_signature = form::query_param_once(delivery.query, name)
                    .map_err(|()| Rejection::SignatureMalformed)?
                    .ok_or(Rejection::SignatureMissing)?;
                parsed.add(&scheme.format, &query_signature)?;
            }
            // Only a `jwt` scheme reads its token from the body, and it returned above.
            SignatureSource::Body => return Err(Rejection::SignatureMalformed),
        }
        parsed.finish()?;
        self.check_read_headers(delivery.headers)?;
        let stamp = match &scheme.timestamp {
            None => None,
            Some(TimestampSource::Header(name)) => Some(
                single(delivery.headers, name)
                    .map_err(|()| Rejection::TimestampMalformed)?
                    .ok_or(Rejection::TimestampMissing)?,
            ),
            Some(TimestampSource::SignatureList) => {
                Some(parsed.timestamp.ok_or(Rejection::TimestampMissing)?)
            }
            Some(TimestampSource::Field(field)) => {
                field_stamp = fields.get(field).ok_or(Rejection::TimestampMissing)?;
                Some(&field_stamp[..])
            }
        };
        let timestamp = match stamp {
            Some(text) => {
                let ts = timestamp::parse(scheme.timestamp_format, text)?;
                timestamp::check(ts, now, self.tolerance)?;
                Some(ts)
            }
            None => None,
        };
        if let Some(param) = &scheme.body_digest_param {
            check_body_digest(delivery, param)?;
        }
        // A signed query parameter sent twice could reach the app as the other copy.
        for piece in scheme.signed_payload.pieces() {
            if let Piece::Query(name) | Piece::QueryLower(name) = piece {
                form::query_param_once(delivery.query, name)
                    .map_err(|()| Rejection::SignatureMalformed)?;
            }
        }
        // A body that is not a form would sign as no fields at all: refuse it instead.
        if scheme.signed_payload.uses(&Piece::FormSorted) && !fields.is_form() {
            return Err(Rejection::SignatureMalformed);
        }
        if scheme.signed_payload.uses(&Piece::UrlSortedForm) {
            let form = fields.form_sorted();
            if !fields.is_form()
                || form.windows(2).any(|w| w[0].0 == w[1].0)
                || form::sorted_query_once(delivery.query).is_err()
            {
                return Err(Rejection::SignatureMalformed);
            }
        }

        let cx = Context {
            delivery,
            stamp,
            url: &self.public_url,
            fields: &fields,
            secret: &[],
            webhook_id: &self.webhook_id,
        };
        let (secret_index, fingerprint) = self.check_keys(&parsed, &cx, certificate)?;
        let fingerprint = match &scheme.replay_key {
            Some(key) => replay_fingerprint(key, &cx).unwrap_or(fingerprint),
            None => fingerprint,
        };
        Ok(Verified {
            secret_index,
            timestamp,
            fingerprint,
        })
    }

    /// The HMAC of `message` under secret `index`, for handshakes that prove the secret
    /// (Zoom, Twitter/X CRC). `None` for token and public-key schemes.
    pub fn mac_of(&self, index: usize, message: &[u8]) -> Option<Tag> {
        match &self.keys {
            // A digest scheme holds no HMAC key to prove.
            Keys::Mac(macs) if self.scheme.algorithm != Algorithm::Sha256Digest => {
                Some(macs.get(index)?.tag_of(message))
            }
            _ => None,
        }
    }
}

/// The request's `Content-Type` bytes, empty when absent.
fn content_type(headers: &HeaderMap) -> &[u8] {
    headers
        .get(http::header::CONTENT_TYPE)
        .map_or(&b""[..], |v| v.as_bytes())
}

/// Checks the query parameter `param` holds the hex SHA-256 of the body.
fn check_body_digest(delivery: &Delivery<'_>, param: &str) -> Result<(), Rejection> {
    let offered = form::query_param(delivery.query, param).ok_or(Rejection::SignatureMissing)?;
    let mut want = [0u8; 32];
    hex::decode_to_slice(&offered, &mut want).map_err(|_| Rejection::SignatureMalformed)?;
    let actual = delivery.body.sha256();
    // The body is not secret, but comparing in constant time costs nothing here.
    if bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], &actual[..])) {
        Ok(())
    } else {
        Err(Rejection::SignatureMismatch)
    }
}

#[cfg(test)]
mod tests;
