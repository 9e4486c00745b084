//! The body a delivery carries, as the engine reads it: one slice, or the frames it arrived
//! in. A MAC or a hash reads the frames in order; only what parses the body (fields, JSON, a
//! token) needs it in one piece.

use std::borrow::Cow;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::body::Received;

/// The body bytes exactly as received: `first`, then each of `rest`, in order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<'a> {
    first: &'a [u8],
    rest: &'a [Bytes],
    len: usize,
}

impl<'a> Body<'a> {
    /// A body that arrived as `first` followed by the frames `rest`.
    pub fn frames(first: &'a [u8], rest: &'a [Bytes]) -> Body<'a> {
        let len = first.len() + rest.iter().map(Bytes::len).sum::<usize>();
        Body { first, rest, len }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its pieces, in order.
    pub fn chunks(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        std::iter::once(self.first).chain(self.rest.iter().map(|frame| &frame[..]))
    }

    /// The SHA-256 of the bytes.
    pub(crate) fn sha256(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for chunk in self.chunks() {
            hasher.update(chunk);
        }
        hasher.finalize().into()
    }

    /// The bytes as one slice, when they are one already (the gateway joins the body of
    /// every scheme that parses it, see `Verifier::joins_body`).
    pub fn as_slice(&self) -> Option<&'a [u8]> {
        self.rest.iter().all(Bytes::is_empty).then_some(self.first)
    }

    /// The bytes in one piece: borrowed when they are, else joined.
    pub fn contiguous(&self) -> Cow<'a, [u8]> {
        match self.as_slice() {
            Some(slice) => Cow::Borrowed(slice),
            None => {
                let mut joined = Vec::with_capacity(self.len);
                for chunk in self.chunks() {
                    joined.extend_from_slice(chunk);
                }
                Cow::Owned(joined)
            }
        }
    }
}

impl<'a> From<&'a [u8]> for Body<'a> {
    fn from(bytes: &'a [u8]) -> Body<'a> {
        Body::frames(bytes, &[])
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Body<'a> {
    fn from(bytes: &'a [u8; N]) -> Body<'a> {
        Body::frames(bytes, &[])
    }
}

impl<'a> From<&'a Vec<u8>> for Body<'a> {
    fn from(bytes: &'a Vec<u8>) -> Body<'a> {
        Body::frames(bytes, &[])
    }
}

impl<'a> From<&'a Received> for Body<'a> {
    fn from(received: &'a Received) -> Body<'a> {
        let (first, rest) = received.frames();
        Body::frames(first, rest)
    }
}

impl<'a> From<&'a Bytes> for Body<'a> {
    fn from(bytes: &'a Bytes) -> Body<'a> {
        Body::frames(bytes, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_as_the_bytes_in_order() {
        let rest = [
            Bytes::from_static(b"cd"),
            Bytes::new(),
            Bytes::from_static(b"e"),
        ];
        let body = Body::frames(b"ab", &rest);
        assert_eq!(body.len(), 5);
        assert_eq!(body.chunks().collect::<Vec<_>>().concat(), b"abcde");
        assert_eq!(body.as_slice(), None);
        assert!(matches!(body.contiguous(), Cow::Owned(v) if v == b"abcde"));
        let one = Body::frames(b"ab", &rest[1..2]);
        assert_eq!(one.as_slice(), Some(&b"ab"[..]));
        assert!(matches!(one.contiguous(), Cow::Borrowed(b"ab")));
        assert!(Body::default().is_empty());
    }
}
