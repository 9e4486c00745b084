//! JSON Web Key Sets (RFC 7517; key types from RFC 7518 section 6 and RFC 8037): the keys a
//! `jwks` scheme's sender publishes, read into the forms `public_key` checks signatures
//! with. Keys of other types, or marked for another use, are skipped rather than refused,
//! so a set that also lists encryption keys still serves its signing ones.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::public_key::{self, PublicKey};
use crate::scheme::Algorithm;

/// The most keys read from one set; real ones list two or three.
const MAX_KEYS: usize = 64;

/// A key set as fetched: each signing key with its id.
#[derive(Debug, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Debug)]
struct Jwk {
    kid: Box<str>,
    alg: Option<Box<str>>,
    kind: KeyType,
    /// PKCS#1 `RSAPublicKey` (RSA), the uncompressed point (P-256) or the raw key (Ed25519).
    der: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    P256,
    Ed25519,
}

impl JwkSet {
    /// Reads a JWK Set document.
    ///
    /// # Errors
    /// A message for the log: not a JSON object with a `keys` list, or no signing key with
    /// a `kid` in it.
    pub fn parse(json: &[u8]) -> Result<JwkSet, String> {
        let doc: Value = serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no `keys` list")?;
        let keys: Vec<Jwk> = list.iter().take(MAX_KEYS).filter_map(jwk).collect();
        if keys.is_empty() {
            return Err("no signing key with a `kid` of type RSA, EC P-256 or Ed25519".into());
        }
        Ok(JwkSet { keys })
    }

    /// Whether the set holds a key with this id.
    pub fn has(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| &*k.kid == kid)
    }

    /// How many signing keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key (never, for a parsed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `signature` over `input` verifies under the key `kid` names, checked with
    /// `algorithm` (JWS `alg`); false when the set has no such key of a fitting type.
    pub fn verifies(
        &self,
        kid: &str,
        algorithm: Algorithm,
        alg: &str,
        input: &[u8],
        signature: &[u8],
    ) -> bool {
        self.key(kid, algorithm, alg)
            .is_some_and(|key| key.verify(input, signature))
    }

    /// The key `kid` names, when its type fits `algorithm` and its `alg`, if it states
    /// one, is the pinned JWS algorithm `alg`.
    fn key(&self, kid: &str, algorithm: Algorithm, alg: &str) -> Option<PublicKey> {
        let kind = match algorithm {
            Algorithm::RsaPkcs1Sha256 | Algorithm::RsaPkcs1Sha512 => KeyType::Rsa,
            Algorithm::EcdsaP256Sha256 => KeyType::P256,
            Algorithm::Ed25519 => KeyType::Ed25519,
            _ => return None,
        };
        let jwk = self.keys.iter().find(|k| {
            &*k.kid == kid && k.kind == kind && k.alg.as_deref().is_none_or(|a| a == alg)
        })?;
        public_key::from_der(algorithm, jwk.der.clone(), true).ok()
    }
}

/// One entry of the list, if it is a signing key hookgate can use.
fn jwk(entry: &Value) -> Option<Jwk> {
    let text = |name: &str| entry.get(name).and_then(Value::as_str);
    let bytes = |name: &str| text(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (kind, der) = match (text("kty")?, text("crv")) {
        ("RSA", _) => (KeyType::Rsa, rsa_public_key(&bytes("n")?, &bytes("e")?)),
        ("EC", Some("P-256")) => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            (KeyType::P256, [&[4][..], &x, &y].concat())
        }
        ("OKP", Some("Ed25519")) => (KeyType::Ed25519, bytes("x")?),
        _ => return None,
    };
    Some(Jwk {
        kid: text("kid")?.into(),
        alg: text("alg").map(Box::from),
        kind,
        der,
    })
}

/// The DER `RSAPublicKey` (RFC 8017 appendix A.1.1) of a modulus and exponent.
fn rsa_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
    let body = [integer(n), integer(e)].concat();
    [&[0x30][..], &length(body.len()), &body].concat()
}

/// A DER INTEGER holding the unsigned big-endian `value`.
fn integer(value: &[u8]) -> Vec<u8> {
    let start = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    let value = &value[start..];
    let pad = value.first().is_none_or(|&b| b & 0x80 != 0);
    let len = value.len() + usize::from(pad);
    let mut out = vec![0x02];
    out.extend(length(len));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(value);
    out
}

/// A DER length.
fn length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn an_ed25519_key_verifies_under_its_kid_only() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = b64(pair.public_key().as_ref());
        let doc = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"{x}"}},
                {{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA","x":"{x}"}},
                {{"kty":"oct","kid":"h","k":"c2VjcmV0"}},
                {{"kty":"OKP","crv":"Ed25519","x":"{x}"}}]}}"#
        );
        let set = JwkSet::parse(doc.as_bytes()).unwrap();
        assert_eq!(
            set.len(),
            1,
            "the encryption, symmetric and id-less keys are skipped"
        );
        assert!(set.has("k1") && !set.has("enc"));
        let signature = pair.sign(b"input");
        let key = set.key("k1", Algorithm::Ed25519, "EdDSA").unwrap();
        assert!(key.verify(b"input", signature.as_ref()));
        assert!(!key.verify(b"other", signature.as_ref()));
        assert!(set.key("k2", Algorithm::Ed25519, "EdDSA").is_none());
        assert!(set.key("k1", Algorithm::EcdsaP256Sha256, "ES256").is_none());
        assert!(set.key("k1", Algorithm::Ed25519, "RS256").is_none());
    }

    #[test]
    fn an_rsa_key_is_rebuilt_as_pkcs1() {
        // A 2048-bit modulus with its top bit set, so the INTEGER needs a leading zero.
        let n = [&[0xc5][..], &[0x11; 255]].concat();
        let der = rsa_public_key(&n, &[1, 0, 1]);
        assert_eq!(&der[..8], &[0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01]);
        assert_eq!(&der[der.len() - 5..], &[0x02, 0x03, 1, 0, 1]);
        let doc = format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"r","alg":"RS512","n":"{}","e":"AQAB"}}]}}"#,
            b64(&n)
        );
        let set = JwkSet::parse(doc.as_bytes()).unwrap();
        assert!(set.key("r", Algorithm::RsaPkcs1Sha512, "RS512").is_some());
        assert!(set.key("r", Algorithm::RsaPkcs1Sha256, "RS256").is_none());
        let small = format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"r","n":"{}","e":"AQAB"}}]}}"#,
            b64(&[0xc5; 128])
        );
        let set = JwkSet::parse(small.as_bytes()).unwrap();
        assert!(
            set.key("r", Algorithm::RsaPkcs1Sha256, "RS256").is_none(),
            "1024 bits"
        );
    }

    #[test]
    fn documents_without_signing_keys_are_refused() {
        for bad in [
            &b"<html>"[..],
            b"[]",
            br#"{"keys":{}}"#,
            br#"{"keys":[]}"#,
            br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"AA","y":"AA"}]}"#,
        ] {
            assert!(
                JwkSet::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
