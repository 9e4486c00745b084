//! Keyed HMAC state, prepared once per secret at config load and cloned per request.

use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::scheme::Algorithm;

/// The longest tag any supported algorithm produces (SHA-512).
pub(crate) const MAX_TAG_LEN: usize = 64;

/// An HMAC result, or a decoded signature of the same shape.
#[derive(Clone, Copy)]
pub struct Tag {
    bytes: [u8; MAX_TAG_LEN],
    len: usize,
}

impl Tag {
    /// Copies `bytes` into a tag; `None` if longer than `MAX_TAG_LEN`.
    pub fn from_slice(bytes: &[u8]) -> Option<Tag> {
        let mut tag = Tag {
            bytes: [0; MAX_TAG_LEN],
            len: bytes.len(),
        };
        tag.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(tag)
    }

    /// The tag bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Constant-time equality. Lengths are public (they follow from the algorithm), so a
    /// length mismatch may return early.
    pub fn ct_eq(&self, other: &Tag) -> bool {
        self.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl From<[u8; 32]> for Tag {
    /// A 32-byte digest as a tag.
    fn from(digest: [u8; 32]) -> Tag {
        let mut bytes = [0; MAX_TAG_LEN];
        bytes[..32].copy_from_slice(&digest);
        Tag { bytes, len: 32 }
    }
}

// Tags are secret-derived (an expected signature); never print them.
impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tag({} bytes)", self.len)
    }
}

/// An HMAC already keyed with one secret. Cloning it skips the key schedule per request.
#[derive(Clone)]
pub enum KeyedMac {
    /// HMAC-SHA1.
    Sha1(Hmac<sha1::Sha1>),
    /// HMAC-SHA256.
    Sha256(Hmac<sha2::Sha256>),
    /// HMAC-SHA384.
    Sha384(Hmac<sha2::Sha384>),
    /// HMAC-SHA512.
    Sha512(Hmac<sha2::Sha512>),
    /// HMAC-RIPEMD-128.
    Ripemd128(Hmac<ripemd::Ripemd128>),
    /// HMAC-RIPEMD-160.
    Ripemd160(Hmac<ripemd::Ripemd160>),
    /// A plain SHA-256 digest; the secret is fed where the template says `{secret}`.
    Sha256Digest(Box<[u8]>),
}

// Keyed state is secret material; never print it.
impl std::fmt::Debug for KeyedMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedMac(..)")
    }
}

/// A function that passes the message, chunk by chunk, to the sink it is given.
pub type Feed<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&[u8]));

fn keyed<M: KeyInit>(key: &[u8]) -> M {
    // HMAC takes keys of any length (long keys are hashed first), so this never fails;
    // `new_from_slice` is still checked rather than unwrapped.
    M::new_from_slice(key).unwrap_or_else(|_| M::new(&Default::default()))
}

fn finish<M: Mac + Clone>(mac: &M, feed: Feed<'_>) -> Tag {
    let mut mac = mac.clone();
    feed(&mut |chunk| mac.update(chunk));
    let out = mac.finalize().into_bytes();
    Tag::from_slice(&out).unwrap_or(Tag {
        bytes: [0; MAX_TAG_LEN],
        len: 0,
    })
}

impl KeyedMac {
    /// Keys an HMAC for `algorithm` with `key`.
    pub fn new(algorithm: Algorithm, key: &[u8]) -> KeyedMac {
        match algorithm {
            Algorithm::Sha1 => KeyedMac::Sha1(keyed(key)),
            // Token and public-key schemes never key an HMAC (see `Keys::new`); SHA-256 keeps
            // this total without a panic path.
            Algorithm::Sha256
            | Algorithm::Token
            | Algorithm::BasicAuth
            | Algorithm::Ed25519
            | Algorithm::EcdsaP256Sha256
            | Algorithm::RsaPkcs1Sha1
            | Algorithm::RsaPkcs1Sha256
            | Algorithm::RsaPkcs1Sha512 => KeyedMac::Sha256(keyed(key)),
            Algorithm::Sha384 => KeyedMac::Sha384(keyed(key)),
            Algorithm::Sha512 => KeyedMac::Sha512(keyed(key)),
            Algorithm::Ripemd128 => KeyedMac::Ripemd128(keyed(key)),
            Algorithm::Ripemd160 => KeyedMac::Ripemd160(keyed(key)),
            Algorithm::Sha256Digest => KeyedMac::Sha256Digest(key.into()),
        }
    }

    /// The secret a digest scheme renders into `{secret}`; empty for an HMAC, whose key
    /// never enters the message.
    pub(crate) fn digest_secret(&self) -> &[u8] {
        match self {
            KeyedMac::Sha256Digest(secret) => secret,
            _ => &[],
        }
    }

    /// Computes the tag over whatever `feed` passes to its sink, in order.
    pub fn tag(&self, feed: Feed<'_>) -> Tag {
        match self {
            KeyedMac::Sha1(m) => finish(m, feed),
            KeyedMac::Sha256(m) => finish(m, feed),
            KeyedMac::Sha384(m) => finish(m, feed),
            KeyedMac::Sha512(m) => finish(m, feed),
            KeyedMac::Ripemd128(m) => finish(m, feed),
            KeyedMac::Ripemd160(m) => finish(m, feed),
            KeyedMac::Sha256Digest(_) => {
                use sha2::Digest;
                let mut hasher = sha2::Sha256::new();
                feed(&mut |chunk| hasher.update(chunk));
                Tag::from(<[u8; 32]>::from(hasher.finalize()))
            }
        }
    }

    /// Tag over one contiguous message.
    pub fn tag_of(&self, message: &[u8]) -> Tag {
        self.tag(&mut |sink| sink(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_tag(algorithm: Algorithm, key: &[u8], data: &[u8]) -> String {
        hex::encode(KeyedMac::new(algorithm, key).tag_of(data).as_bytes())
    }

    /// RFC 2286 test cases 1, 2 and 6 (long key) for HMAC-RIPEMD-128 and HMAC-RIPEMD-160.
    #[test]
    fn ripemd_rfc2286_vectors() {
        let long_key = [0xaa; 80];
        let long_data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        let cases: [(Algorithm, &[u8], &[u8], &str); 6] = [
            (
                Algorithm::Ripemd128,
                &[0x0b; 16],
                b"Hi There",
                "fbf61f9492aa4bbf81c172e84e0734db",
            ),
            (
                Algorithm::Ripemd128,
                b"Jefe",
                b"what do ya want for nothing?",
                "875f828862b6b334b427c55f9f7ff09b",
            ),
            (
                Algorithm::Ripemd128,
                &long_key,
                long_data,
                "dc732928de98104a1f59d373c150acbb",
            ),
            (
                Algorithm::Ripemd160,
                &[0x0b; 20],
                b"Hi There",
                "24cb4bd67d20fc1a5d2ed7732dcc39377f0a5668",
            ),
            (
                Algorithm::Ripemd160,
                b"Jefe",
                b"what do ya want for nothing?",
                "dda6c0213a485a9e24f4742064a7f033b43c4069",
            ),
            (
                Algorithm::Ripemd160,
                &long_key,
                long_data,
                "6466ca07ac5eac29e1bd523e5ada7605b791fd8b",
            ),
        ];
        for (algorithm, key, data, expected) in cases {
            assert_eq!(hex_tag(algorithm, key, data), expected, "{algorithm:?}");
        }
    }

    /// RFC 4231 test case 2 for the SHA-2 family, RFC 2202 test case 2 for SHA-1.
    #[test]
    fn sha_rfc_vectors() {
        let key = b"Jefe";
        let data = b"what do ya want for nothing?";
        assert_eq!(
            hex_tag(Algorithm::Sha1, key, data),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex_tag(Algorithm::Sha256, key, data),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex_tag(Algorithm::Sha384, key, data),
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"
        );
        assert_eq!(
            hex_tag(Algorithm::Sha512, key, data),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn tag_lengths_match_algorithms() {
        for algorithm in [
            Algorithm::Sha1,
            Algorithm::Sha256,
            Algorithm::Sha384,
            Algorithm::Sha512,
            Algorithm::Ripemd128,
            Algorithm::Ripemd160,
        ] {
            let tag = KeyedMac::new(algorithm, b"k").tag_of(b"m");
            assert_eq!(tag.as_bytes().len(), algorithm.tag_len(), "{algorithm:?}");
        }
    }

    #[test]
    fn streaming_equals_contiguous() {
        let mac = KeyedMac::new(Algorithm::Sha256, b"secret");
        let split = mac.tag(&mut |sink| {
            sink(b"v0:");
            sink(b"123");
            sink(b":{}");
        });
        assert!(split.ct_eq(&mac.tag_of(b"v0:123:{}")));
        assert!(!split.ct_eq(&mac.tag_of(b"v0:123:{ }")));
    }
}
