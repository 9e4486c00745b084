//! Reading the request body: bounded in size, time, fragmentation and process-wide memory,
//! kept in the frames it arrived in, so the bytes verified and forwarded are never copied.
//!
//! A declared `Content-Length` over the limit is refused before a byte is read (and so before
//! hyper sends `100 Continue`); a chunked body is counted as it arrives and refused the moment
//! it passes the limit. Memory is charged to the [`BodyBudget`] as bytes arrive, never for a
//! declared length up front, so a stalled upload costs only what it sent. A body that arrives
//! in very many tiny frames (1 MiB in 1-byte chunks costs a second of CPU) is refused once it
//! has more than [`FREE_FRAMES`] frames averaging under [`MIN_AVERAGE_FRAME`] bytes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;
use hyper::body::Body;

use crate::budget::{BodyBudget, Charge};
use crate::error::Rejection;

/// Frames any body may take, whatever their size.
pub(crate) const FREE_FRAMES: u64 = 1024;
/// Past [`FREE_FRAMES`], the average frame must hold at least this many bytes.
pub(crate) const MIN_AVERAGE_FRAME: u64 = 64;

/// The declared length, if the header is present and a number.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// A body as it arrived: the frames hyper read, in order, not copied. A body that came in
/// more than [`MAX_KEPT_FRAMES`] frames, or one a scheme reads whole, is one frame.
#[derive(Debug, Clone, Default)]
pub(crate) struct Received {
    first: Bytes,
    rest: Vec<Bytes>,
}

/// Frames kept as they came: past this many, the body is joined, so the app's connection
/// never gets a write of more pieces than one `writev` takes.
pub(crate) const MAX_KEPT_FRAMES: usize = 16;

impl Received {
    /// The body's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.first.len() + self.rest.iter().map(Bytes::len).sum::<usize>()
    }

    /// The first frame, and the frames after it.
    pub(crate) fn frames(&self) -> (&Bytes, &[Bytes]) {
        (&self.first, &self.rest)
    }

    /// The first frame and the frames after it, taken apart.
    pub(crate) fn into_frames(self) -> (Bytes, Vec<Bytes>) {
        (self.first, self.rest)
    }

    /// How many frames the body is in (an empty body is one).
    pub(crate) fn count(&self) -> usize {
        1 + self.rest.len()
    }

    /// The body in one buffer: the frame itself when there is one, else a copy.
    pub(crate) fn into_bytes(self) -> Bytes {
        if self.rest.is_empty() {
            return self.first;
        }
        let mut joined = Vec::with_capacity(self.len());
        joined.extend_from_slice(&self.first);
        for frame in &self.rest {
            joined.extend_from_slice(frame);
        }
        Bytes::from(joined)
    }

    fn push(&mut self, data: Bytes) {
        if self.first.is_empty() && self.rest.is_empty() {
            self.first = data;
        } else if !data.is_empty() {
            self.rest.push(data);
        }
    }
}

impl From<Bytes> for Received {
    fn from(first: Bytes) -> Received {
        Received {
            first,
            rest: Vec::new(),
        }
    }
}

/// Reads the whole body, refusing more than `limit` bytes, longer than `timeout`, or more
/// than the budget has left; with `join`, into one buffer. The [`Charge`] holds the body's
/// share of the budget: keep it as long as the bytes.
///
/// # Errors
/// [`Rejection::BodyTooLarge`], [`Rejection::BodyTimeout`], [`Rejection::BodyUnreadable`]
/// (a broken stream or too fragmented a body) or [`Rejection::Overloaded`].
pub(crate) async fn read<B>(
    body: B,
    headers: &HeaderMap,
    limit: u64,
    timeout: Duration,
    budget: &Arc<BodyBudget>,
    join: bool,
) -> Result<(Received, Charge), Rejection>
where
    B: Body<Data = Bytes> + Unpin,
{
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > limit) {
        return Err(Rejection::BodyTooLarge);
    }
    if declared.is_some_and(|n| !budget.fits_body(n)) {
        return Err(Rejection::Overloaded);
    }
    let mut charge = budget.charge();
    let mut received = tokio::time::timeout(timeout, collect(body, limit, &mut charge))
        .await
        .map_err(|_| Rejection::BodyTimeout)??;
    if received.count() > 1 && (join || received.count() > MAX_KEPT_FRAMES) {
        // Charged while both the frames and the joined copy exist.
        let total = received.len() as u64;
        if !charge.set(2 * total) {
            return Err(Rejection::Overloaded);
        }
        received = Received::from(received.into_bytes());
        charge.set(total);
    }
    Ok((received, charge))
}

/// Gathers the frames. Each is a piece of hyper's read buffer, kept as it is: the budget is
/// charged for the bytes as they arrive, so a stalled upload costs only what it sent.
async fn collect<B>(mut body: B, limit: u64, charge: &mut Charge) -> Result<Received, Rejection>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut received = Received::default();
    let (mut total, mut frames) = (0u64, 0u64);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Rejection::BodyUnreadable)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        frames += 1;
        total += data.len() as u64;
        if total > limit {
            return Err(Rejection::BodyTooLarge);
        }
        if frames > FREE_FRAMES && total < frames * MIN_AVERAGE_FRAME {
            tracing::debug!(frames, total, "body refused: too many tiny frames");
            return Err(Rejection::BodyUnreadable);
        }
        if !charge.set(total) {
            return Err(Rejection::Overloaded);
        }
        received.push(data);
    }
    Ok(received)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body_util::Full;
    use hyper::body::Frame;

    use super::*;

    /// A body that yields these frames, one per poll.
    struct Frames(std::vec::IntoIter<&'static [u8]>);

    fn frames(parts: Vec<&'static [u8]>) -> Frames {
        Frames(parts.into_iter())
    }

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(
                self.0
                    .next()
                    .map(|p| Ok(Frame::data(Bytes::from_static(p)))),
            )
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    fn joined(received: &Received) -> Vec<u8> {
        received.clone().into_bytes().to_vec()
    }

    #[tokio::test]
    async fn frames_are_kept_as_they_came_and_the_charge_comes_back() {
        let budget = BodyBudget::new(1 << 20);
        let none = HeaderMap::new();
        let body = frames(vec![b"{\"a\":", b"", b"1}"]);
        let (got, charge) = read(body, &none, 100, MINUTE, &budget, false)
            .await
            .unwrap();
        assert_eq!(
            got.count(),
            2,
            "the empty frame is dropped, the others kept"
        );
        assert_eq!(got.len(), 7);
        assert_eq!(joined(&got), b"{\"a\":1}");
        assert_eq!(charge.bytes(), 7);
        drop(charge);
        assert_eq!(budget.used(), 0);
        let one = Full::new(Bytes::from_static(b"x"));
        let (one, _) = read(one, &none, 100, MINUTE, &budget, false).await.unwrap();
        assert_eq!((one.count(), joined(&one)), (1, b"x".to_vec()));
        let (empty, _) = read(frames(vec![]), &none, 100, MINUTE, &budget, false)
            .await
            .unwrap();
        assert_eq!((empty.count(), empty.len()), (1, 0));
    }

    #[tokio::test]
    async fn a_body_is_joined_when_asked_or_past_the_kept_frames() {
        let budget = BodyBudget::new(1 << 20);
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "9".parse().unwrap());
        let body = frames(vec![b"abc", b"def", b"ghi"]);
        let (got, charge) = read(body, &declared, 100, MINUTE, &budget, true)
            .await
            .unwrap();
        assert_eq!((got.count(), joined(&got)), (1, b"abcdefghi".to_vec()));
        assert_eq!(
            charge.bytes(),
            9,
            "the joined bytes, once the frames are gone"
        );
        let many: Vec<&'static [u8]> = vec![b"ab"; MAX_KEPT_FRAMES + 1];
        let (got, _) = read(frames(many), &HeaderMap::new(), 100, MINUTE, &budget, false)
            .await
            .unwrap();
        assert_eq!(got.count(), 1);
        assert_eq!(got.len(), 2 * (MAX_KEPT_FRAMES + 1));
        let few: Vec<&'static [u8]> = vec![b"ab"; MAX_KEPT_FRAMES];
        let (got, _) = read(frames(few), &HeaderMap::new(), 100, MINUTE, &budget, false)
            .await
            .unwrap();
        assert_eq!(got.count(), MAX_KEPT_FRAMES);
    }

    #[tokio::test]
    async fn limits_refuse_what_does_not_fit() {
        let budget = BodyBudget::new(10);
        let none = HeaderMap::new();
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "11".parse().unwrap());
        let refused = read(
            Full::new(Bytes::new()),
            &declared,
            100,
            MINUTE,
            &budget,
            false,
        )
        .await;
        assert_eq!(
            refused.unwrap_err(),
            Rejection::Overloaded,
            "declared past the budget"
        );
        let refused = read(
            frames(vec![b"123456", b"789012"]),
            &none,
            100,
            MINUTE,
            &budget,
            false,
        )
        .await;
        assert_eq!(
            refused.unwrap_err(),
            Rejection::Overloaded,
            "grown past the budget"
        );
        assert_eq!(budget.used(), 0);
        let roomy = BodyBudget::new(100);
        let refused = read(
            frames(vec![b"123456", b"789012"]),
            &none,
            8,
            MINUTE,
            &roomy,
            false,
        )
        .await;
        assert_eq!(refused.unwrap_err(), Rejection::BodyTooLarge);
    }

    #[tokio::test]
    async fn a_body_of_tiny_frames_is_refused() {
        let budget = BodyBudget::new(1 << 20);
        let none = HeaderMap::new();
        let tiny: Vec<&'static [u8]> = vec![b"a"; 2000];
        let refused = read(frames(tiny), &none, 1 << 20, MINUTE, &budget, false).await;
        assert_eq!(refused.unwrap_err(), Rejection::BodyUnreadable);
        let fine: Vec<&'static [u8]> = vec![&[b'a'; 64]; 2000];
        let (got, _) = read(frames(fine), &none, 1 << 20, MINUTE, &budget, false)
            .await
            .unwrap();
        assert_eq!(
            (got.len(), got.count()),
            (128_000, 1),
            "joined: past the kept frames"
        );
    }
}
