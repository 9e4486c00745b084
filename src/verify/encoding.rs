//! Signature text to bytes and back.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::mac::{MAX_TAG_LEN, Tag};
use crate::scheme::Encoding;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const BASE64URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// Decodes a signature expected to be `len` bytes. `None` when the text is not exactly one
/// such value in `encoding`; the length is checked before any decoding work.
pub(crate) fn decode(encoding: Encoding, text: &[u8], len: usize) -> Option<Tag> {
    let mut buf = [0u8; MAX_TAG_LEN + 3];
    match encoding {
        Encoding::Hex => {
            if text.len() != len * 2 {
                return None;
            }
            hex::decode_to_slice(text, buf.get_mut(..len)?).ok()?;
            Tag::from_slice(&buf[..len])
        }
        Encoding::Base64 | Encoding::Base64url => {
            let unpadded = len.div_ceil(3) * 4 - (3 - len % 3) % 3;
            if text.len() != unpadded && text.len() != len.div_ceil(3) * 4 {
                return None;
            }
            let engine = if encoding == Encoding::Base64 {
                &BASE64
            } else {
                &BASE64URL
            };
            let n = engine.decode_slice(text, &mut buf).ok()?;
            if n != len {
                return None;
            }
            Tag::from_slice(&buf[..n])
        }
    }
}

/// The longest public-key signature accepted: an RSA-8192 signature's 1024 bytes (a DER
/// ECDSA P-256 signature is at most 72).
pub(crate) const MAX_SIGNATURE_LEN: usize = 1024;

/// Decodes a signature of any length up to [`MAX_SIGNATURE_LEN`] (public-key schemes).
pub(crate) fn decode_any(encoding: Encoding, text: &[u8]) -> Option<Vec<u8>> {
    if text.len() > MAX_SIGNATURE_LEN * 2 {
        return None;
    }
    let bytes = match encoding {
        Encoding::Hex => hex::decode(text).ok()?,
        Encoding::Base64 => BASE64.decode(text).ok()?,
        Encoding::Base64url => BASE64URL.decode(text).ok()?,
    };
    (!bytes.is_empty() && bytes.len() <= MAX_SIGNATURE_LEN).then_some(bytes)
}

/// Encodes a tag the way the sender writes it.
pub(crate) fn encode(encoding: Encoding, tag: &Tag) -> String {
    match encoding {
        Encoding::Hex => hex::encode(tag.as_bytes()),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(tag.as_bytes()),
        Encoding::Base64url => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_encoding_and_length() {
        for len in [16, 20, 32, 48, 64] {
            let bytes: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            let tag = Tag::from_slice(&bytes).unwrap();
            for encoding in [Encoding::Hex, Encoding::Base64, Encoding::Base64url] {
                let text = encode(encoding, &tag);
                let back = decode(encoding, text.as_bytes(), len).unwrap();
                assert_eq!(back.as_bytes(), &bytes[..], "{encoding:?} {len}");
            }
        }
    }

    #[test]
    fn hex_either_case_and_base64_either_padding() {
        let tag = decode(Encoding::Hex, b"ABCDEF0123456789abcdef0123456789", 16).unwrap();
        assert_eq!(
            hex::encode(tag.as_bytes()),
            "abcdef0123456789abcdef0123456789"
        );
        let padded = decode(Encoding::Base64, b"AAECAwQFBgcICQoLDA0ODw==", 16).unwrap();
        let bare = decode(Encoding::Base64, b"AAECAwQFBgcICQoLDA0ODw", 16).unwrap();
        assert!(padded.ct_eq(&bare));
    }

    #[test]
    fn refuses_wrong_lengths_and_alphabets() {
        assert!(decode(Encoding::Hex, b"abc", 16).is_none());
        assert!(decode(Encoding::Hex, &[b'g'; 32], 16).is_none());
        assert!(decode(Encoding::Hex, &[0xff; 32], 16).is_none());
        assert!(decode(Encoding::Base64, b"AAECAwQFBgcICQoLDA0O", 16).is_none());
        assert!(decode(Encoding::Base64, b"AAECAwQFBgcICQoLDA0O_w", 16).is_none());
        assert!(decode(Encoding::Base64url, b"AAECAwQFBgcICQoLDA0O_w", 16).is_some());
        assert!(decode(Encoding::Base64, &[b'A'; 4096], 32).is_none());
    }
}
