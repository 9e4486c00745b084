//! Signing as the sender would, for `hookgate sign` and for tests: the headers a delivery
//! carries, and the bytes a scheme signs.

use http::HeaderName;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::fields::BodyFields;
use super::keys::Keys;
use super::render::{Context, render};
use super::{Delivery, Verifier, content_type, encoding};
use crate::scheme::{JwtRule, SignatureFormat, SignatureSource, TimestampSource};

/// Why `sign` cannot produce headers for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// Only the sender holds the private key.
    #[error("the scheme is verified with the sender's public key; only the sender can sign")]
    PublicKey,
    /// The signature travels inside the body, which the sender builds.
    #[error("the scheme carries its signature inside the body; only the sender can build it")]
    InBody,
    /// The signature travels in the URL, which `sign` does not write.
    #[error("the scheme carries its signature in the query string; sign prints headers only")]
    InQuery,
    /// The "signature" is the secret itself, which `sign` never prints.
    #[error("the scheme sends the shared token itself; sign does not print secrets")]
    Token,
    /// No key is configured.
    #[error("the route has no secret")]
    NoSecret,
    /// A JWT carries its times as Unix seconds.
    #[error("a jwt scheme needs the timestamp in Unix seconds")]
    Timestamp,
}

impl Verifier {
    /// The bytes a sender signs for `delivery` at `timestamp` (written as the scheme writes
    /// it), for diagnostics and for tests that probe the engine from outside. A `jwt:` scheme
    /// signs the token's own `header.claims` instead, which this does not render, and a
    /// `{secret}` renders empty here: the secret is never shown.
    pub fn signed_payload(&self, delivery: &Delivery<'_>, timestamp: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(delivery.body.len() + 64);
        self.render_signed(delivery, timestamp, &[], &mut |chunk| {
            out.extend_from_slice(chunk)
        });
        out
    }

    /// Renders the signed payload as a sender would, with the timestamp it writes and, for a
    /// digest scheme, its secret.
    fn render_signed(
        &self,
        delivery: &Delivery<'_>,
        timestamp: &str,
        secret: &[u8],
        sink: &mut dyn FnMut(&[u8]),
    ) {
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
            secret,
            webhook_id: &self.webhook_id,
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
        let names = match &scheme.signature {
            SignatureSource::Headers(names) => names,
            SignatureSource::Field(_) | SignatureSource::Body => return Err(SignError::InBody),
            SignatureSource::Query(_) => return Err(SignError::InQuery),
        };
        let header = names.first().ok_or(SignError::NoSecret)?;
        if let Some(rule) = &scheme.jwt {
            let prefix = match &scheme.format {
                SignatureFormat::Plain { prefix } => String::from_utf8_lossy(prefix),
                SignatureFormat::List(_) => "".into(),
            };
            let token = self.sign_jwt(rule, delivery, timestamp)?;
            return Ok(vec![(header.clone(), format!("{prefix}{token}"))]);
        }
        let signature = match &self.keys {
            Keys::Mac(macs) => {
                let mac = macs.first().ok_or(SignError::NoSecret)?;
                let secret = mac.digest_secret();
                let tag =
                    mac.tag(&mut |sink| self.render_signed(delivery, timestamp, secret, sink));
                encoding::encode(scheme.encoding, &tag)
            }
            Keys::Token(_) => return Err(SignError::Token),
            Keys::Public(_) => return Err(SignError::PublicKey),
        };
        let value = match &scheme.format {
            SignatureFormat::Plain { prefix } => {
                format!("{}{signature}", String::from_utf8_lossy(prefix))
            }
            SignatureFormat::List(list) if list.signature_key.is_empty() => {
                match list.timestamp_first {
                    true => format!(
                        "{timestamp}{}{}{signature}",
                        char::from(list.separator),
                        " ".repeat(usize::from(list.spaces_after_separator)),
                    ),
                    false => signature,
                }
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

    /// A token as the sender would mint it at `timestamp`: `iat` then, `exp` five minutes on,
    /// `nbf` then when required, the issuer, audience and hash claims the rule checks, and a value for any
    /// other claim it requires.
    fn sign_jwt(
        &self,
        rule: &JwtRule,
        delivery: &Delivery<'_>,
        timestamp: &str,
    ) -> Result<String, SignError> {
        let Keys::Mac(macs) = &self.keys else {
            return Err(match self.keys {
                Keys::Token(_) => SignError::Token,
                _ => SignError::PublicKey,
            });
        };
        let mac = macs.first().ok_or(SignError::NoSecret)?;
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{}","typ":"JWT"}}"#, rule.alg));
        let payload = if rule.detached {
            String::new()
        } else {
            let at: i64 = timestamp.parse().map_err(|_| SignError::Timestamp)?;
            let mut claims = serde_json::Map::new();
            claims.insert("iat".into(), at.into());
            claims.insert("exp".into(), at.saturating_add(300).into());
            if rule.require.iter().any(|c| &**c == "nbf") {
                claims.insert("nbf".into(), at.into());
            }
            if let Some(issuer) = &rule.issuer {
                claims.insert("iss".into(), issuer.to_string().into());
            }
            if let Some(audience) = &rule.audience {
                claims.insert("aud".into(), audience.to_string().into());
            }
            let body = delivery.body.sha256();
            if let Some(claim) = &rule.body_hash_claim {
                let tag = super::Tag::from(body);
                let text = encoding::encode(rule.body_hash_encoding, &tag);
                claims.insert(claim.to_string(), text.into());
            }
            if let Some(claim) = &rule.url_hash_claim {
                let url = format!(
                    "{}{}{}{}",
                    self.public_url,
                    delivery.path,
                    if delivery.query.is_some() { "?" } else { "" },
                    delivery.query.unwrap_or_default()
                );
                claims.insert(claim.to_string(), hex::encode(Sha256::digest(url)).into());
            }
            for claim in rule.require.iter() {
                claims
                    .entry(claim.to_string())
                    .or_insert_with(|| hex::encode(&body[..16]).into());
            }
            URL_SAFE_NO_PAD.encode(serde_json::Value::Object(claims).to_string())
        };
        let mut input = format!("{header}.");
        if rule.detached {
            input.push_str(&URL_SAFE_NO_PAD.encode(delivery.body.contiguous()));
        } else {
            input.push_str(&payload);
        }
        let signature = URL_SAFE_NO_PAD.encode(mac.tag_of(input.as_bytes()).as_bytes());
        Ok(format!("{header}.{payload}.{signature}"))
    }
}
