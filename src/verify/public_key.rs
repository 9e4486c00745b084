//! The sender's public key, read once at config load: Ed25519, P-256 or RSA, written as
//! PEM, base64 or hex of the raw key, its SubjectPublicKeyInfo, or (RSA) its PKCS#1 form.

use base64::Engine;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ED25519,
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA512, UnparsedPublicKey, VerificationAlgorithm,
};

use super::keys::KeyError;
use crate::scheme::Algorithm;

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

/// The DER header of a SubjectPublicKeyInfo for an Ed25519 key; the 32 key bytes follow.
pub(crate) const ED25519_SPKI: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// The DER header of a SubjectPublicKeyInfo for a P-256 key; the 65-byte point follows.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// The rsaEncryption object identifier (1.2.840.113549.1.1.1), DER content bytes.
const RSA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// Reads the public key in `text` for `algorithm`. `jws` picks the JWS signature form where
/// it differs (ES256 signatures are `r || s`, not DER).
pub(crate) fn parse(algorithm: Algorithm, text: &[u8], jws: bool) -> Result<PublicKey, KeyError> {
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
    from_der(algorithm, der, jws)
}

/// The key in `der`: for Ed25519 and P-256 the raw key or its SubjectPublicKeyInfo, for
/// RSA its SubjectPublicKeyInfo or PKCS#1 `RSAPublicKey`.
pub(crate) fn from_der(
    algorithm: Algorithm,
    der: Vec<u8>,
    jws: bool,
) -> Result<PublicKey, KeyError> {
    let wrong = || {
        KeyError(format!(
            "public_key is not a {} public key",
            algorithm.name()
        ))
    };
    let (raw, verifier): (Vec<u8>, &'static dyn VerificationAlgorithm) = match algorithm {
        Algorithm::Ed25519 => (raw_key(der, ED25519_SPKI, 32).ok_or_else(wrong)?, &ED25519),
        Algorithm::EcdsaP256Sha256 => {
            let point = raw_key(der, P256_SPKI, 65).filter(|p| p[0] == 4);
            let verifier: &'static dyn VerificationAlgorithm = if jws {
                &ECDSA_P256_SHA256_FIXED
            } else {
                &ECDSA_P256_SHA256_ASN1
            };
            (point.ok_or_else(wrong)?, verifier)
        }
        Algorithm::RsaPkcs1Sha1 => (
            rsa_key(&der)?,
            &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        ),
        Algorithm::RsaPkcs1Sha256 => (rsa_key(&der)?, &RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RsaPkcs1Sha512 => (rsa_key(&der)?, &RSA_PKCS1_2048_8192_SHA512),
        _ => return Err(wrong()),
    };
    Ok(PublicKey {
        key: UnparsedPublicKey::new(verifier, raw),
    })
}

/// The raw key of a fixed-size key written raw or inside its SubjectPublicKeyInfo.
fn raw_key(der: Vec<u8>, spki: &[u8], len: usize) -> Option<Vec<u8>> {
    let raw = match der.strip_prefix(spki) {
        Some(raw) => raw.to_vec(),
        None => der,
    };
    (raw.len() == len).then_some(raw)
}

/// The PKCS#1 `RSAPublicKey` of an RSA key given as SubjectPublicKeyInfo or as PKCS#1,
/// after checking its modulus is 2048 to 8192 bits (what the verifier accepts).
fn rsa_key(der: &[u8]) -> Result<Vec<u8>, KeyError> {
    let not_rsa = || KeyError("public_key is not an RSA public key (SPKI or PKCS#1 DER)".into());
    let (outer, rest) = tlv(der, 0x30).ok_or_else(not_rsa)?;
    if !rest.is_empty() {
        return Err(not_rsa());
    }
    let pkcs1 = if outer.first() == Some(&0x30) {
        let (algorithm, rest) = tlv(outer, 0x30).ok_or_else(not_rsa)?;
        let (oid, _) = tlv(algorithm, 0x06).ok_or_else(not_rsa)?;
        if oid != RSA_OID {
            return Err(not_rsa());
        }
        let (bits, _) = tlv(rest, 0x03).ok_or_else(not_rsa)?;
        bits.strip_prefix(&[0]).ok_or_else(not_rsa)?
    } else {
        der
    };
    let (key, _) = tlv(pkcs1, 0x30).ok_or_else(not_rsa)?;
    let (modulus, rest) = tlv(key, 0x02).ok_or_else(not_rsa)?;
    tlv(rest, 0x02).ok_or_else(not_rsa)?;
    let modulus = modulus.strip_prefix(&[0]).unwrap_or(modulus);
    let bits = modulus.len() * 8;
    if !(2048..=8192).contains(&bits) {
        return Err(KeyError(format!(
            "public_key is a {bits}-bit RSA key; 2048 to 8192 bits are accepted"
        )));
    }
    Ok(pkcs1.to_vec())
}

/// One DER element of type `tag`: its content and what follows it.
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let (len, rest) = match len {
        0..=0x7f => (usize::from(len), rest),
        0x81..=0x83 => {
            let (bytes, rest) = rest.split_at_checked(usize::from(len & 0x7f))?;
            (bytes.iter().fold(0, |n, &b| n << 8 | usize::from(b)), rest)
        }
        _ => return None,
    };
    rest.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2048-bit RSA key, SubjectPublicKeyInfo, base64 (generated for this test).
    const RSA_SPKI: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoftYlaO5cVGkC201UaEQoNEiCvIHoHmdgbWBvvbYSMB5M36/7Gu86oAzxo05J1KHHI1aQIn+p80D6dQk9gLyaQLPQYRL71kBPKSJM90tbTfji7OPQYUtbJuRb62rjYekcq+FIQcN/WPEdnCC+Hwqo5vI48RGtWrMNd0EzcsoGo2xy1hmrzL+I5t/LnGmtCcteWbJuhL4IXOAHvuBkkB5XUiyi//8Hogbj3h+Wyyc7pD4Bo0a7p6su7ytdTivsIgm06mG8/zJCmuy8xKYTzfZRVxAwEzBAiVdmMzCEJFdFn+UN2ZOm31lkqcIb4EytWuUQPOBen6xODP68WFQbfdgywIDAQAB";

    #[test]
    fn keys_in_every_spelling() {
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
                parse(Algorithm::Ed25519, text.as_bytes(), false).is_ok(),
                "{text}"
            );
        }
        assert!(parse(Algorithm::Ed25519, b"abcd", false).is_err());
        assert!(
            parse(
                Algorithm::EcdsaP256Sha256,
                hex::encode(raw).as_bytes(),
                false
            )
            .is_err()
        );
    }

    #[test]
    fn rsa_keys_as_spki_or_pkcs1_and_nothing_else() {
        let spki = base64::engine::general_purpose::STANDARD
            .decode(RSA_SPKI)
            .unwrap();
        let pkcs1 = rsa_key(&spki).unwrap();
        assert_eq!(pkcs1.len(), 270);
        assert_eq!(rsa_key(&pkcs1).unwrap(), pkcs1);
        assert!(parse(Algorithm::RsaPkcs1Sha256, RSA_SPKI.as_bytes(), false).is_ok());
        let ed = [ED25519_SPKI, &[7u8; 32]].concat();
        for bad in [&ed[..], &spki[..spki.len() - 1], &[0x30, 0x00], &[]] {
            assert!(rsa_key(bad).is_err(), "{bad:?}");
        }
        // A 1024-bit modulus: refused with its size named.
        let small = [
            &[0x30, 0x81, 0x89, 0x02, 0x81, 0x81, 0x00][..],
            &[0xc3; 128],
            &[0x02, 0x03, 0x01, 0x00, 0x01],
        ]
        .concat();
        assert!(rsa_key(&small).unwrap_err().0.contains("1024-bit"));
    }
}
