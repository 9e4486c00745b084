//! JWT and detached JWS verification (RFC 7515, 7519) under a scheme's `jwt:` rule.
//!
//! Order matters: the token's structure and its `alg` are checked first (public facts), then
//! the signature under the route's keys, and only then the claims, so every answer about a
//! claim goes to someone who already holds a valid signature. `alg` must equal the one the
//! scheme pins; `crit` is refused, as RFC 7515 asks of a verifier that knows no extension.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::fields::BodyFields;
use super::jwk::JwkSet;
use super::keys::Keys;
use super::render::{Context, replay_fingerprint, sha256_tag};
use super::{Body, Delivery, Verified, Verifier, challenge, content_type, encoding, single};
use crate::error::Rejection;
use crate::scheme::{Encoding, JwtRule, SignatureFormat, SignatureSource};

/// The longest token read; real ones are a few hundred bytes.
pub(crate) const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Clock skew allowed on `exp`, in seconds, as common JOSE libraries do.
pub const CLOCK_SKEW: i64 = 60;

/// A token split into its three segments.
struct Token<'a> {
    header: &'a [u8],
    payload: &'a [u8],
    signature: &'a [u8],
}

impl Verifier {
    /// Verifies a delivery whose signature header carries a JWT or detached JWS.
    pub(super) fn verify_jwt(
        &self,
        rule: &JwtRule,
        delivery: &Delivery<'_>,
        now: i64,
        fetched: Option<&JwkSet>,
    ) -> Result<Verified, Rejection> {
        let value = self.token_header(delivery)?;
        self.check_read_headers(delivery.headers)?;
        let token = split(value, rule.detached)?;
        let kid = check_header(token.header, rule.alg)?;
        let signing_input = signing_input(&token, delivery.body, rule.detached);
        let signature = URL_SAFE_NO_PAD
            .decode(token.signature)
            .map_err(|_| Rejection::SignatureMalformed)?;
        let secret_index = match &self.scheme.jwks {
            Some(_) => check_fetched(
                rule,
                &self.scheme,
                fetched,
                kid.as_deref(),
                &signing_input,
                &signature,
            )?,
            None => self.check_jws(&signing_input, &signature, kid.as_deref())?,
        };
        let timestamp = if rule.detached {
            None
        } else {
            let claims = decode_json(token.payload).ok_or(Rejection::SignatureMalformed)?;
            check_claims(rule, &claims, delivery, &self.public_url)?;
            check_times(&claims, now, self.tolerance)?
        };
        let token_tag = sha256_tag(&signing_input);
        let fingerprint = match &self.scheme.replay_key {
            Some(key) => {
                let fields = BodyFields::new(delivery.body, content_type(delivery.headers));
                let cx = Context {
                    delivery,
                    stamp: None,
                    url: &self.public_url,
                    fields: &fields,
                    secret: &[],
                    webhook_id: &self.webhook_id,
                };
                replay_fingerprint(key, &cx).unwrap_or(token_tag)
            }
            None => token_tag,
        };
        Ok(Verified {
            secret_index,
            timestamp,
            fingerprint,
        })
    }

    /// Verifies a delivery of a `jwks` scheme under the key set its URL serves, fetched by
    /// the caller after [`Verifier::verify`] answered [`Rejection::KeyUnavailable`], which
    /// it does once the token's structure and algorithm have passed.
    ///
    /// # Errors
    /// As [`Verifier::verify`].
    pub fn verify_with_jwks(
        &self,
        delivery: &Delivery<'_>,
        now: i64,
        set: &JwkSet,
    ) -> Result<Verified, Rejection> {
        let rule = self
            .scheme
            .jwt
            .as_ref()
            .ok_or(Rejection::SignatureMalformed)?;
        self.verify_jwt(rule, delivery, now, Some(set))
    }

    /// The `kid` a delivery's token names, for picking it from a fetched key set.
    pub fn jwt_kid(&self, delivery: &Delivery<'_>) -> Option<String> {
        let rule = self.scheme.jwt.as_ref()?;
        let token = split(self.token_header(delivery).ok()?, rule.detached).ok()?;
        check_header(token.header, rule.alg).ok().flatten()
    }

    /// The token text: the body, or the one signature header's value without its prefix.
    fn token_header<'d>(&self, delivery: &Delivery<'d>) -> Result<&'d [u8], Rejection> {
        let names = match &self.scheme.signature {
            SignatureSource::Headers(names) => names,
            // A token that is the body carries the whole event: the route's body limit
            // bounds it, not the header tokens' size.
            SignatureSource::Body => {
                // The gateway joins a `jwt` scheme's body (`Verifier::joins_body`).
                let body = delivery.body.as_slice().ok_or(Rejection::BodyUnreadable)?;
                let token = body.trim_ascii();
                return if token.is_empty() {
                    Err(Rejection::SignatureMissing)
                } else {
                    Ok(token)
                };
            }
            _ => return Err(Rejection::SignatureMalformed),
        };
        let mut found = None;
        for name in names.iter() {
            if let Some(value) =
                single(delivery.headers, name).map_err(|()| Rejection::SignatureMalformed)?
            {
                if found.is_some() {
                    return Err(Rejection::SignatureMalformed);
                }
                found = Some(value);
            }
        }
        let value = found.ok_or(Rejection::SignatureMissing)?.trim_ascii();
        let value = match &self.scheme.format {
            // `Bearer` and its kin are case-insensitive (RFC 6750 section 2.1).
            SignatureFormat::Plain { prefix } => match value.split_at_checked(prefix.len()) {
                Some((head, rest)) if head.eq_ignore_ascii_case(prefix) => rest.trim_ascii(),
                _ => value,
            },
            SignatureFormat::List(_) => value,
        };
        if value.is_empty() || value.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::SignatureMalformed);
        }
        Ok(value)
    }

    /// Checks the JWS signature with the route's keys (the one `kid` names, when the route's
    /// public keys have ids); the index of the key that matched.
    fn check_jws(
        &self,
        input: &[u8],
        signature: &[u8],
        kid: Option<&str>,
    ) -> Result<usize, Rejection> {
        match &self.keys {
            Keys::Mac(macs) => {
                let len = self.scheme.algorithm.tag_len();
                if signature.len() != len {
                    return Err(Rejection::SignatureMalformed);
                }
                // A JWS signing input holds a `.`, so it never has a challenge token's shape;
                // checked anyway, as for every MAC the engine computes on a guarded route.
                if self.guard_challenges && challenge::is_token(input) {
                    return Err(Rejection::SignatureMismatch);
                }
                let mut found = None;
                for (index, mac) in macs.iter().enumerate() {
                    let hit = bool::from(mac.tag_of(input).as_bytes().ct_eq(signature));
                    if hit && found.is_none() {
                        found = Some(index);
                    }
                }
                found.ok_or(Rejection::SignatureMismatch)
            }
            Keys::Public(keys) => {
                if signature.is_empty() || signature.len() > encoding::MAX_SIGNATURE_LEN {
                    return Err(Rejection::SignatureMalformed);
                }
                let chosen = self.chosen_key(kid.map(str::as_bytes))?;
                super::keys::verify_public(keys, chosen, input, signature)
                    .ok_or(Rejection::SignatureMismatch)
            }
            Keys::Token(_) => Err(Rejection::SignatureMalformed),
        }
    }
}

/// Checks the JWS signature with the key the token's `kid` names in the fetched set; a
/// token without a `kid` is malformed, one naming a key the set lacks cannot verify.
fn check_fetched(
    rule: &JwtRule,
    scheme: &crate::scheme::Scheme,
    set: Option<&JwkSet>,
    kid: Option<&str>,
    input: &[u8],
    signature: &[u8],
) -> Result<usize, Rejection> {
    // Both are public facts, checked before anything is fetched.
    let kid = kid.ok_or(Rejection::SignatureMalformed)?;
    if signature.is_empty() || signature.len() > encoding::MAX_SIGNATURE_LEN {
        return Err(Rejection::SignatureMalformed);
    }
    let set = set.ok_or(Rejection::KeyUnavailable)?;
    if set.verifies(kid, scheme.algorithm, rule.alg, input, signature) {
        Ok(0)
    } else {
        Err(Rejection::SignatureMismatch)
    }
}

/// Splits `header.payload.signature`; a detached JWS has an empty payload, a JWT must not.
fn split(value: &[u8], detached: bool) -> Result<Token<'_>, Rejection> {
    let mut parts = value.split(|&b| b == b'.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejection::SignatureMalformed);
    };
    if header.is_empty() || signature.is_empty() || payload.is_empty() != detached {
        return Err(Rejection::SignatureMalformed);
    }
    Ok(Token {
        header,
        payload,
        signature,
    })
}

/// The protected header must name exactly the pinned algorithm and no critical extension;
/// returns its `kid`, if any.
fn check_header(segment: &[u8], alg: &str) -> Result<Option<String>, Rejection> {
    let header = decode_json(segment).ok_or(Rejection::SignatureMalformed)?;
    if header.get("alg").and_then(Value::as_str) != Some(alg) || header.contains_key("crit") {
        return Err(Rejection::SignatureMalformed);
    }
    Ok(header.get("kid").and_then(Value::as_str).map(str::to_owned))
}

/// What the signature covers: `header.payload`, or for a detached JWS `header.` and the
/// body in base64url.
fn signing_input(token: &Token<'_>, body: Body<'_>, detached: bool) -> Vec<u8> {
    let mut input = Vec::with_capacity(token.header.len() + 1 + token.payload.len());
    input.extend_from_slice(token.header);
    input.push(b'.');
    if detached {
        input.extend_from_slice(URL_SAFE_NO_PAD.encode(body.contiguous()).as_bytes());
    } else {
        input.extend_from_slice(token.payload);
    }
    input
}

/// A base64url segment holding a JSON object.
fn decode_json(segment: &[u8]) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The claims the rule names: required ones present, issuer and audience, and the hashes that
/// bind the body and the URL.
fn check_claims(
    rule: &JwtRule,
    claims: &Map<String, Value>,
    delivery: &Delivery<'_>,
    url: &str,
) -> Result<(), Rejection> {
    for name in rule.require.iter() {
        if !claims.contains_key(&**name) {
            return Err(match &**name {
                "iat" | "nbf" | "exp" => Rejection::TimestampMissing,
                _ => Rejection::SignatureMismatch,
            });
        }
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if let Some(issuer) = &rule.issuer
        && text("iss") != Some(&**issuer)
    {
        return Err(Rejection::SignatureMismatch);
    }
    if let Some(audience) = &rule.audience {
        let listed = match claims.get("aud") {
            Some(Value::String(one)) => one == &**audience,
            Some(Value::Array(many)) => many.iter().any(|a| a.as_str() == Some(&**audience)),
            _ => false,
        };
        if !listed {
            return Err(Rejection::SignatureMismatch);
        }
    }
    if let Some(claim) = &rule.body_hash_claim {
        match text(claim) {
            // A sender leaves the hash out only when there is nothing to hash.
            None if delivery.body.is_empty() && !claims.contains_key(&**claim) => {}
            None => return Err(Rejection::SignatureMismatch),
            Some(offered) => {
                let digest = delivery.body.sha256();
                hash_matches(rule.body_hash_encoding, offered, &digest)?;
            }
        }
    }
    if let Some(claim) = &rule.url_hash_claim {
        let offered = text(claim).ok_or(Rejection::SignatureMismatch)?;
        let mut hasher = Sha256::new();
        hasher.update(url.as_bytes());
        hasher.update(delivery.path.as_bytes());
        if let Some(query) = delivery.query {
            hasher.update(b"?");
            hasher.update(query.as_bytes());
        }
        hash_matches(Encoding::Hex, offered, &hasher.finalize().into())?;
    }
    Ok(())
}

fn hash_matches(encoding: Encoding, offered: &str, digest: &[u8; 32]) -> Result<(), Rejection> {
    let offered =
        encoding::decode(encoding, offered.as_bytes(), 32).ok_or(Rejection::SignatureMismatch)?;
    if bool::from(offered.as_bytes().ct_eq(digest)) {
        Ok(())
    } else {
        Err(Rejection::SignatureMismatch)
    }
}

/// Checks `exp`, `nbf` and `iat` against `now`; returns the second the token counts as sent
/// at, for replay retention. `iat` (else `nbf`) is the sender's timestamp and must lie within
/// `tolerance` of now, as every timestamped scheme's does; `nbf` may be up to the tolerance
/// ahead (the sender's clock), and `exp` holds with [`CLOCK_SKEW`]. A token with only `exp` must expire within the tolerance, so no token
/// outlives its replay reservation. One without time claims is like a scheme without a
/// timestamp (`require: [iat]` refuses it).
fn check_times(
    claims: &Map<String, Value>,
    now: i64,
    tolerance: u64,
) -> Result<Option<i64>, Rejection> {
    let time = |name: &str| -> Result<Option<i64>, Rejection> {
        match claims.get(name) {
            None => Ok(None),
            // NumericDate may carry a fraction; whole seconds are enough here.
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .map(Some)
                .ok_or(Rejection::TimestampMalformed),
            Some(_) => Err(Rejection::TimestampMalformed),
        }
    };
    let (iat, nbf, exp) = (time("iat")?, time("nbf")?, time("exp")?);
    let tolerance = i64::try_from(tolerance).unwrap_or(i64::MAX);
    if exp.is_some_and(|exp| now > exp.saturating_add(CLOCK_SKEW))
        || nbf.is_some_and(|nbf| now.saturating_add(tolerance) < nbf)
    {
        return Err(Rejection::TimestampOutOfTolerance);
    }
    match (iat.or(nbf), exp) {
        (Some(sent), _) if now.abs_diff(sent) > tolerance.unsigned_abs() => {
            Err(Rejection::TimestampOutOfTolerance)
        }
        (Some(sent), _) => Ok(Some(sent)),
        (None, Some(exp)) => {
            let last = exp.saturating_add(CLOCK_SKEW);
            if last > now.saturating_add(tolerance) {
                return Err(Rejection::TimestampOutOfTolerance);
            }
            // Reserved until `sent + tolerance`: the token's last accepted second.
            Ok(Some(last.saturating_sub(tolerance)))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests;
