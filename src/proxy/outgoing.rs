//! The body of a request to the app: the frames the sender's body arrived in, sent in order,
//! none copied. hyper writes them, with the head, in one `writev`.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::body::Received;

/// A body of known length, in frames.
#[derive(Debug, Default)]
pub struct Outgoing {
    first: Option<Bytes>,
    rest: std::vec::IntoIter<Bytes>,
    remaining: u64,
}

impl Outgoing {
    /// `first`, then each of `rest`.
    pub fn frames(first: Bytes, rest: Vec<Bytes>) -> Outgoing {
        let remaining = (first.len() + rest.iter().map(Bytes::len).sum::<usize>()) as u64;
        Outgoing {
            first: Some(first),
            rest: rest.into_iter(),
            remaining,
        }
    }

    /// Its length in bytes (what is left to send).
    pub fn len(&self) -> u64 {
        self.remaining
    }

    /// Whether nothing is left to send.
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }
}

impl From<Received> for Outgoing {
    fn from(received: Received) -> Outgoing {
        let (first, rest) = received.into_frames();
        Outgoing::frames(first, rest)
    }
}

impl From<Bytes> for Outgoing {
    fn from(bytes: Bytes) -> Outgoing {
        Outgoing::frames(bytes, Vec::new())
    }
}

impl Body for Outgoing {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        while let Some(frame) = self.first.take().or_else(|| self.rest.next()) {
            if !frame.is_empty() {
                self.remaining -= frame.len() as u64;
                return Poll::Ready(Some(Ok(Frame::data(frame))));
            }
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn frames_go_out_in_order_with_their_exact_length() {
        let rest = vec![
            Bytes::new(),
            Bytes::from_static(b"cd"),
            Bytes::from_static(b"e"),
        ];
        let body = Outgoing::frames(Bytes::from_static(b"ab"), rest);
        assert_eq!(body.size_hint().exact(), Some(5));
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(&collected[..], b"abcde");
        let empty = Outgoing::from(Bytes::new());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
    }
}
