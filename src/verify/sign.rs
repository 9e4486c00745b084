//! Signing as the sender would, for `hookgate sign` and for tests: the headers a delivery
//! carries, and the bytes a scheme signs.

use http::HeaderName;

use super::fields::BodyFields;
use super::keys::Keys;
use super::render::{Context, render};
use super::{Delivery, Verifier, content_type, encoding};
use crate::scheme::{SignatureFormat, SignatureSource, TimestampSource};

/// Why `sign` cannot produce headers for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// Only the sender holds the private key.
    #[error("the scheme is verified with the sender's public key; only the sender can sign")]
    PublicKey,
    /// The signature travels inside the body, which the sender builds.
    #[error("the scheme carries its signature inside the body; only the sender can build it")]
    InBody,
    /// The "signature" is the secret itself, which `sign` never prints.
    #[error("the scheme sends the shared token itself; sign does not print secrets")]
    Token,
    /// No key is configured.
    #[error("the route has no secret")]
    NoSecret,
}

impl Verifier {
    /// The bytes a sender signs for `delivery` at `timestamp` (written as the scheme writes
    /// it), for diagnostics and for tests that probe the engine from outside.
    pub fn signed_payload(&self, delivery: &Delivery<'_>, timestamp: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(delivery.body.len() + 64);
        self.render_signed(delivery, timestamp, &mut |chunk| {
            out.extend_from_slice(chunk)
        });
        out
    }

    /// Renders the signed payload as a sender would, with the timestamp it writes.
    fn render_signed(&self, delivery: &Delivery<'_>, timestamp: &str, sink: &mut dyn FnMut(&[u8])) {
        let stamp = match self.scheme.timestamp {
            Some(TimestampSource::Header(_) | TimestampSource::SignatureList) => {
                Some(timestamp.as_bytes())
            }
            _ => None,
        };
        let fields = BodyFields::new(delivery.body, content_type(delivery.headers));
        let cx = Context {
            delivery,
            stamp,
            url: &self.public_url,
            fields: &fields,
        };
        render(&self.scheme.signed_payload, &cx, sink);
    }

    /// The headers a sender would attach to `delivery`, signed with the first secret.
    /// `timestamp` is written as given; schemes without a timestamp header ignore it.
    ///
    /// # Errors
    /// When only the sender can sign: public-key schemes, signatures inside the body.
    pub fn sign(
        &self,
        delivery: &Delivery<'_>,
        timestamp: &str,
    ) -> Result<Vec<(HeaderName, String)>, SignError> {
        let scheme = &self.scheme;
        let SignatureSource::Headers(names) = &scheme.signature else {
            return Err(SignError::InBody);
        };
        let header = names.first().ok_or(SignError::NoSecret)?;
        let signature = match &self.keys {
            Keys::Mac(macs) => {
                let tag = macs
                    .first()
                    .ok_or(SignError::NoSecret)?
                    .tag(&mut |sink| self.render_signed(delivery, timestamp, sink));
                encoding::encode(scheme.encoding, &tag)
            }
            Keys::Token(_) => return Err(SignError::Token),
            Keys::Public(_) => return Err(SignError::PublicKey),
        };
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
                        "{}{pair}{timestamp}{}{}{item}",
                        String::from_utf8_lossy(ts_key),
                        char::from(list.separator),
                        " ".repeat(usize::from(list.spaces_after_separator)),
                    ),
                    None => item,
                }
            }
        };
        let mut headers = Vec::with_capacity(2);
        if let Some(TimestampSource::Header(name)) = &scheme.timestamp {
            headers.push((name.clone(), timestamp.to_owned()));
        }
        headers.push((header.clone(), value));
        Ok(headers)
    }
}
