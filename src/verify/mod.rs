//! The one engine that checks any scheme.
//!
//! For every request: find the signature header, parse it with the scheme's grammar, read and
//! check the timestamp, decode the offered signatures, then for each configured secret feed
//! the signed-payload template straight into a pre-keyed HMAC and compare in constant time.
//! Nothing here reads the clock: `now` is a parameter.

mod encoding;
mod header;
mod mac;
mod timestamp;

use http::{HeaderMap, HeaderName, Method};

use crate::error::Rejection;
use crate::scheme::{Piece, Scheme, SignatureFormat, Template, TimestampSource};
use crate::secret::Secret;

use header::MAX_CANDIDATES;
pub use mac::{Feed, KeyedMac, Tag};

/// The parts of a request a signature can cover.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Request method.
    pub method: &'a Method,
    /// Request path, without the query.
    pub path: &'a str,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The body bytes exactly as received.
    pub body: &'a [u8],
}

/// What a successful verification established.
#[derive(Debug, Clone, Copy)]
pub struct Verified {
    /// Which configured secret matched (0 = first), for rotation metrics.
    pub secret_index: usize,
    /// The sender's timestamp in Unix seconds, for timestamped schemes.
    pub timestamp: Option<i64>,
    /// The MAC under the first secret: a canonical fingerprint of the delivery that does not
    /// depend on which secret matched, on hex case, prefixes or extra signatures.
    pub fingerprint: Tag,
}

/// A scheme with its secrets keyed, ready to verify and sign.
#[derive(Debug)]
pub struct Verifier {
    scheme: Scheme,
    keys: Box<[KeyedMac]>,
    tolerance: u64,
}

impl Verifier {
    /// Keys one HMAC per secret, in order. `tolerance` is in seconds, past or future.
    pub fn new(scheme: Scheme, secrets: &[Secret], tolerance: u64) -> Verifier {
        let keys = secrets
            .iter()
            .map(|s| KeyedMac::new(scheme.algorithm, s.expose()))
            .collect();
        Verifier {
            scheme,
            keys,
            tolerance,
        }
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
        let scheme = &self.scheme;
        let value = single(delivery.headers, &scheme.signature_header)
            .map_err(|()| Rejection::SignatureMalformed)?
            .ok_or(Rejection::SignatureMissing)?;
        let parsed = header::parse(&scheme.format, value)?;
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
        };
        let timestamp = match stamp {
            Some(text) => {
                let ts = timestamp::parse(scheme.timestamp_format, text)?;
                timestamp::check(ts, now, self.tolerance)?;
                Some(ts)
            }
            None => None,
        };

        let len = scheme.algorithm.tag_len();
        let mut offered = [None; MAX_CANDIDATES];
        for (slot, text) in offered.iter_mut().zip(parsed.candidates()) {
            *slot = encoding::decode(scheme.encoding, text, len);
        }
        if offered.iter().all(Option::is_none) {
            return Err(Rejection::SignatureMalformed);
        }

        let mut fingerprint = None;
        for (secret_index, key) in self.keys.iter().enumerate() {
            let expected =
                key.tag(&mut |sink| render(&scheme.signed_payload, delivery, stamp, sink));
            fingerprint.get_or_insert(expected);
            // Compare against every candidate without short-circuiting.
            let mut hit = false;
            for candidate in offered.iter().flatten() {
                hit |= candidate.ct_eq(&expected);
            }
            if hit {
                return Ok(Verified {
                    secret_index,
                    timestamp,
                    fingerprint: fingerprint.unwrap_or(expected),
                });
            }
        }
        Err(Rejection::SignatureMismatch)
    }

    /// The headers a sender would attach to `delivery`, signed with the first secret.
    /// `timestamp` is written as given; schemes without a timestamp ignore it. Returns `None`
    /// when the verifier has no secret.
    pub fn sign(
        &self,
        delivery: &Delivery<'_>,
        timestamp: &str,
    ) -> Option<Vec<(HeaderName, String)>> {
        let scheme = &self.scheme;
        let stamp = scheme.timestamp.as_ref().map(|_| timestamp.as_bytes());
        let tag = self
            .keys
            .first()?
            .tag(&mut |sink| render(&scheme.signed_payload, delivery, stamp, sink));
        let signature = encoding::encode(scheme.encoding, &tag);
        let value = match &scheme.format {
            SignatureFormat::Plain { prefix } => {
                format!("{}{signature}", String::from_utf8_lossy(prefix))
            }
            SignatureFormat::List(list) => {
                let pair = char::from(list.pair_separator);
                let key = String::from_utf8_lossy(&list.signature_key);
                let item = format!("{key}{pair}{signature}");
                match &list.timestamp_key {
                    Some(ts_key) => format!(
                        "{}{pair}{timestamp}{}{item}",
                        String::from_utf8_lossy(ts_key),
                        char::from(list.separator)
                    ),
                    None => item,
                }
            }
        };
        let mut headers = Vec::with_capacity(2);
        if let Some(TimestampSource::Header(name)) = &scheme.timestamp {
            headers.push((name.clone(), timestamp.to_owned()));
        }
        headers.push((scheme.signature_header.clone(), value));
        Some(headers)
    }
}

/// The one value of a header: `Ok(None)` when absent, `Err` when repeated. Repeats are refused
/// whatever their order, so the answer never depends on which copy a hop kept first.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a [u8]>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next().map(|v| v.as_bytes());
    match values.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}

/// Feeds the signed payload, piece by piece, into `sink`.
fn render(
    template: &Template,
    delivery: &Delivery<'_>,
    stamp: Option<&[u8]>,
    sink: &mut dyn FnMut(&[u8]),
) {
    for piece in template.pieces() {
        match piece {
            Piece::Literal(bytes) => sink(bytes),
            Piece::Body => sink(delivery.body),
            Piece::Timestamp => sink(stamp.unwrap_or_default()),
            Piece::Header(name) => sink(
                delivery
                    .headers
                    .get(name)
                    .map(|v| v.as_bytes())
                    .unwrap_or_default(),
            ),
            Piece::Method => sink(delivery.method.as_str().as_bytes()),
            Piece::Path => sink(delivery.path.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests;
