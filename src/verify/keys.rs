//! Key material, prepared once at config load: keyed HMAC states, token digests, or the
//! sender's public key.

use base64::Engine;
use ring::signature::{ECDSA_P256_SHA256_ASN1, ED25519, UnparsedPublicKey, VerificationAlgorithm};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::mac::{KeyedMac, Tag};
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
    /// The sender's public key.
    Public(PublicKey),
}

/// A parsed public key and its algorithm.
pub(crate) struct PublicKey {
    key: UnparsedPublicKey<Vec<u8>>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicKey(..)")
    }
}

impl PublicKey {
    /// Whether `signature` over `message` verifies.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify(message, signature).is_ok()
    }
}

/// Why a secret or key could not be used; names the problem, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// The DER header of a SubjectPublicKeyInfo for an Ed25519 key; the 32 key bytes follow.
const ED25519_SPKI: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// The DER header of a SubjectPublicKeyInfo for a P-256 key; the 65-byte point follows.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl Keys {
    /// Prepares `keys` for `scheme`.
    ///
    /// # Errors
    /// A [`KeyError`] for the first key that cannot be used, with its position.
    pub(crate) fn new(scheme: &Scheme, keys: &[Secret]) -> Result<Keys, KeyError> {
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
            KeyKind::Token => Ok(Keys::Token(
                keys.iter()
                    .map(|s| Sha256::digest(s.expose()).into())
                    .collect(),
            )),
            KeyKind::PublicKey => match keys {
                [one] => public_key(scheme.algorithm, one.expose()).map(Keys::Public),
                _ => Err(KeyError("takes exactly one public key".into())),
            },
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
    };
    if bytes.is_empty() {
        return Err("decodes to no bytes".into());
    }
    Ok(bytes)
}

/// Reads a public key written as PEM, base64 or hex of either the raw key or its
/// SubjectPublicKeyInfo DER.
fn public_key(algorithm: Algorithm, text: &[u8]) -> Result<PublicKey, KeyError> {
    let text = String::from_utf8_lossy(text);
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
        .split_whitespace()
        .collect();
    let der = hex::decode(&body)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(&body).ok())
        .ok_or_else(|| KeyError("public_key is neither hex, base64 nor PEM".into()))?;
    let (spki, raw_len, verifier): (&[u8], usize, &'static dyn VerificationAlgorithm) =
        match algorithm {
            Algorithm::Ed25519 => (ED25519_SPKI, 32, &ED25519),
            _ => (P256_SPKI, 65, &ECDSA_P256_SHA256_ASN1),
        };
    let raw = match der.strip_prefix(spki) {
        Some(raw) => raw.to_vec(),
        None => der,
    };
    if raw.len() != raw_len || (raw_len == 65 && raw[0] != 4) {
        return Err(KeyError(format!(
            "public_key is not a {} public key",
            algorithm.name()
        )));
    }
    Ok(PublicKey {
        key: UnparsedPublicKey::new(verifier, raw),
    })
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
    fn public_keys_in_every_spelling() {
        let raw = [7u8; 32];
        let spki = [ED25519_SPKI, &raw].concat();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
        for text in [
            hex::encode(raw),
            hex::encode(&spki),
            b64.clone(),
            format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n"),
        ] {
            assert!(
                public_key(Algorithm::Ed25519, text.as_bytes()).is_ok(),
                "{text}"
            );
        }
        assert!(public_key(Algorithm::Ed25519, b"abcd").is_err());
        assert!(public_key(Algorithm::EcdsaP256Sha256, hex::encode(raw).as_bytes()).is_err());
    }
}
