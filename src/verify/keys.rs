//! Key material, prepared once at config load: keyed HMAC states, token digests, or the
//! sender's public key.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::mac::{KeyedMac, Tag};
pub(crate) use super::public_key::PublicKey;
use crate::error::Rejection;
use crate::scheme::{Algorithm, KeyKind, Scheme, SecretEncoding};
use crate::secret::Secret;

/// What a route verifies with.
#[derive(Debug)]
pub(crate) enum Keys {
    /// One keyed HMAC per secret, in order.
    Mac(Box<[KeyedMac]>),
    /// The SHA-256 of each token: comparing digests takes the same time whatever the length
    /// or content of the offered token.
    Token(Box<[[u8; 32]]>),
    /// The sender's public keys, in order (several during a rotation, or picked by key id).
    Public(Box<[PublicKey]>),
}

/// Why a secret or key could not be used; names the problem, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// The longest base64 credentials an `Authorization: Basic` value may carry.
const MAX_BASIC_BYTES: usize = 4096;

impl Keys {
    /// Prepares `keys` for `scheme`.
    ///
    /// # Errors
    /// A [`KeyError`] for the first key that cannot be used, with its position.
    pub(crate) fn new(scheme: &Scheme, keys: &[Secret]) -> Result<Keys, KeyError> {
        if scheme.fetches_its_key() {
            // The key is the certificate each delivery names, fetched at run time.
            return Ok(Keys::Public(Box::new([])));
        }
        match scheme.algorithm.key_kind() {
            KeyKind::Hmac => keys
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let bytes = secret_bytes(scheme, s.expose())
                        .map_err(|e| KeyError(format!("secret {i}: {e}")))?;
                    Ok(KeyedMac::new(scheme.algorithm, &bytes))
                })
                .collect::<Result<_, _>>()
                .map(Keys::Mac),
            KeyKind::Token => keys
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    // RFC 7617: the user-id ends at the first colon, so one must be there.
                    if scheme.algorithm == Algorithm::BasicAuth && !s.expose().contains(&b':') {
                        return Err(KeyError(format!(
                            "secret {i}: a basic_auth secret is written user:password"
                        )));
                    }
                    Ok(Sha256::digest(s.expose()).into())
                })
                .collect::<Result<_, _>>()
                .map(Keys::Token),
            KeyKind::PublicKey => {
                if keys.is_empty() {
                    return Err(KeyError("needs a public key".into()));
                }
                let jws = scheme.jwt.is_some();
                keys.iter()
                    .enumerate()
                    .map(|(i, key)| {
                        super::public_key::parse(scheme.algorithm, key.expose(), jws).map_err(|e| {
                            if keys.len() == 1 {
                                e
                            } else {
                                KeyError(format!("key {i}: {}", e.0))
                            }
                        })
                    })
                    .collect::<Result<_, _>>()
                    .map(Keys::Public)
            }
        }
    }

    /// An identifier of each HMAC key's bytes (an HMAC of a fixed label under the key), so
    /// config load can tell which routes share a key without keeping the key. Empty for token
    /// and public-key schemes.
    pub(crate) fn ids(scheme: &Scheme, keys: &[Secret]) -> Vec<Tag> {
        if scheme.algorithm.key_kind() != KeyKind::Hmac {
            return Vec::new();
        }
        keys.iter()
            .filter_map(|s| secret_bytes(scheme, s.expose()).ok())
            .map(|bytes| KeyedMac::new(Algorithm::Sha256, &bytes).tag_of(b"hookgate key id"))
            .collect()
    }

    /// The `user:password` of an `Authorization: Basic` value (scheme name in any case, as
    /// RFC 7617 allows); `None` for any other value.
    pub(crate) fn basic_credentials(value: &[u8]) -> Option<Vec<u8>> {
        let (scheme, rest) = value.split_at_checked(6)?;
        if !scheme.eq_ignore_ascii_case(b"basic ") || rest.len() > MAX_BASIC_BYTES {
            return None;
        }
        super::encoding::BASE64.decode(rest.trim_ascii()).ok()
    }

    /// Whether an offered token equals one of the tokens; the index of the match.
    pub(crate) fn token_match(digests: &[[u8; 32]], offered: &[u8]) -> Option<usize> {
        let offered: [u8; 32] = Sha256::digest(offered).into();
        let mut found = None;
        for (i, digest) in digests.iter().enumerate() {
            if bool::from(digest.ct_eq(&offered)) && found.is_none() {
                found = Some(i);
            }
        }
        found
    }
}

impl super::Verifier {
    /// Names the route's public keys (`public_keys: {id: key}`), in the order they were given.
    ///
    /// # Errors
    /// When the count differs from the keys', or the scheme takes no public key.
    pub fn with_public_key_ids(mut self, ids: Vec<Box<str>>) -> Result<Self, KeyError> {
        match &self.keys {
            Keys::Public(keys) if keys.len() == ids.len() => {
                self.public_key_ids = ids.into();
                Ok(self)
            }
            _ => Err(KeyError("one id per public key".into())),
        }
    }

    /// Which public key a delivery that names `id` may be checked with: `None` for any of
    /// them, when the keys have no ids or the scheme reads none. Ids are public, and an
    /// unknown one is the same mismatch as a wrong signature.
    pub(super) fn chosen_key(&self, id: Option<&[u8]>) -> Result<Option<usize>, Rejection> {
        if self.public_key_ids.is_empty() || !self.scheme.names_its_key() {
            return Ok(None);
        }
        let id = id.ok_or(Rejection::SignatureMalformed)?;
        self.public_key_ids
            .iter()
            .position(|known| known.as_bytes() == id)
            .map(Some)
            .ok_or(Rejection::SignatureMismatch)
    }
}

/// Checks `signature` over `message` with the chosen key, or with each in turn; the index of
/// the key that verified.
pub(super) fn verify_public(
    keys: &[PublicKey],
    chosen: Option<usize>,
    message: &[u8],
    signature: &[u8],
) -> Option<usize> {
    keys.iter()
        .enumerate()
        .filter(|(i, _)| chosen.is_none_or(|c| c == *i))
        .find(|(_, key)| key.verify(message, signature))
        .map(|(i, _)| i)
}

fn secret_bytes(scheme: &Scheme, secret: &[u8]) -> Result<Vec<u8>, String> {
    let text = secret
        .strip_prefix(&scheme.secret_prefix[..])
        .unwrap_or(secret);
    let bytes = match scheme.secret_encoding {
        SecretEncoding::Raw => text.to_vec(),
        // Padding optional: Standard Webhooks secrets are sometimes written without it.
        SecretEncoding::Base64 => super::encoding::BASE64
            .decode(text)
            .map_err(|_| "is not valid base64 (the scheme's secret_encoding)".to_owned())?,
        SecretEncoding::Hex => hex::decode(text)
            .map_err(|_| "is not valid hex (the scheme's secret_encoding)".to_owned())?,
        SecretEncoding::Sha1 if text.is_empty() => Vec::new(),
        SecretEncoding::Sha1 => <sha1::Sha1 as Digest>::digest(text).to_vec(),
    };
    if bytes.is_empty() {
        return Err("decodes to no bytes".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::SchemeSpec;

    fn scheme(yaml: &str) -> Scheme {
        serde_saphyr::from_str::<SchemeSpec>(yaml)
            .unwrap()
            .build()
            .unwrap()
    }

    #[test]
    fn whsec_secrets_are_prefix_stripped_and_decoded() {
        let s = scheme("signature_header: X\nsecret_prefix: whsec_\nsecret_encoding: base64\n");
        assert_eq!(secret_bytes(&s, b"whsec_aGVsbG8=").unwrap(), b"hello");
        assert_eq!(secret_bytes(&s, b"aGVsbG8=").unwrap(), b"hello");
        let err = Keys::new(&s, &[Secret::new(b"whsec_!!".to_vec())]).unwrap_err();
        assert_eq!(
            err.0,
            "secret 0: is not valid base64 (the scheme's secret_encoding)"
        );
    }

    #[test]
    fn tokens_match_by_digest() {
        let digests = [Sha256::digest(b"one").into(), Sha256::digest(b"two").into()];
        assert_eq!(Keys::token_match(&digests, b"two"), Some(1));
        assert_eq!(Keys::token_match(&digests, b"tw"), None);
        assert_eq!(Keys::token_match(&digests, b""), None);
    }

    #[test]
    fn basic_credentials_take_any_case_of_the_scheme_and_nothing_else() {
        let encoded = b"Basic dXNlcjpwYXNz";
        assert_eq!(Keys::basic_credentials(encoded).unwrap(), b"user:pass");
        assert_eq!(
            Keys::basic_credentials(b"bAsIc dXNlcjpwYXNz").unwrap(),
            b"user:pass"
        );
        for not in [
            &b"Bearer dXNlcjpwYXNz"[..],
            b"Basic",
            b"Basic !!!",
            b"dXNlcjpwYXNz",
            b"",
        ] {
            assert!(Keys::basic_credentials(not).is_none(), "{not:?}");
        }
        let long = [b"Basic ".as_slice(), &[b'A'; MAX_BASIC_BYTES + 4]].concat();
        assert!(Keys::basic_credentials(&long).is_none());
    }

    #[test]
    fn basic_auth_secrets_must_name_a_user() {
        let spec: crate::scheme::SchemeSpec =
            serde_saphyr::from_str("algorithm: basic_auth\nsignature_header: Authorization\n")
                .unwrap();
        let scheme = spec.build().unwrap();
        let good = [Secret::new(b"user:pass".to_vec())];
        assert!(Keys::new(&scheme, &good).is_ok());
        let bad = [good[0].clone(), Secret::new(b"no-colon".to_vec())];
        let err = Keys::new(&scheme, &bad).unwrap_err();
        assert_eq!(
            err.0,
            "secret 1: a basic_auth secret is written user:password"
        );
    }
}
