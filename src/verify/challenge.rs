//! The shape of a challenge a MAC handshake may answer, kept disjoint from every signed payload.
//!
//! An unsigned challenge-response handshake (X's CRC) answers `HMAC(secret, token)` to anyone.
//! If a token could equal the signed payload of some delivery, the answer would be that
//! delivery's signature: a forgery oracle. So the two sets are made disjoint here, in one place:
//! a handshake answers only tokens for which [`is_token`] holds, and the engine refuses every
//! delivery whose signed payload has that shape on each route whose key such a handshake
//! uses (config load finds them, whatever their scheme). X's payloads are JSON and never do.

/// The longest token answered. X documents no length; the tokens it sends are short.
pub const MAX_TOKEN_BYTES: usize = 255;

/// Whether `byte` may appear in a token: the base64 and base64url alphabets.
fn token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// Whether `bytes` is a challenge token a MAC handshake may answer.
pub fn is_token(bytes: &[u8]) -> bool {
    let mut shape = Shape::default();
    shape.feed(bytes);
    shape.is_token()
}

/// Tracks, chunk by chunk, whether a message has a token's shape; stops looking once the
/// message is too long, so a large body costs one length addition per chunk.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Shape {
    len: usize,
    foreign: bool,
}

impl Shape {
    /// Takes the next chunk of the message.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        self.len = self.len.saturating_add(chunk.len());
        if !self.foreign && self.len <= MAX_TOKEN_BYTES {
            self.foreign = !chunk.iter().all(|&b| token_byte(b));
        }
    }

    /// Whether the whole message fed so far is token-shaped.
    pub(crate) fn is_token(&self) -> bool {
        !self.foreign && (1..=MAX_TOKEN_BYTES).contains(&self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_short_base64_text() {
        for token in ["abc", "NzM0NTc1NDk0", "a+b/c=", "u-u_u", "1800000000"] {
            assert!(is_token(token.as_bytes()), "{token}");
        }
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        for not in [
            "", "{}", "[1]", "\"a\"", "a.b", "v0:1:x", "a=b&c=d", "a b", &long,
        ] {
            assert!(!is_token(not.as_bytes()), "{not}");
        }
    }

    #[test]
    fn chunked_shape_equals_whole() {
        let mut shape = Shape::default();
        for chunk in [&b"1800"[..], b"000000", b"", b"abc"] {
            shape.feed(chunk);
        }
        assert!(shape.is_token());
        shape.feed(b".");
        assert!(!shape.is_token());
        let mut long = Shape::default();
        long.feed(&[b'a'; MAX_TOKEN_BYTES]);
        assert!(long.is_token());
        long.feed(b"a");
        assert!(!long.is_token());
    }
}
