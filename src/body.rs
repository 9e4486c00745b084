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
/// never gets a write of more pieces than one `writev` takes, and a body holds at most this
/// many of hyper's read buffers.
pub(crate) const MAX_KEPT_FRAMES: usize = 16;

/// What a kept frame after the first is charged, at least: a frame holds the read buffer it
/// was cut from (hyper's, capped at 64 KiB in `server`), however few bytes it has. Charging
/// the bytes alone would let a body trickled in tiny frames hold far more memory than the
/// budget sees.
const KEPT_FRAME_CHARGE: u64 = 64 << 10;

/// The budget is charged in pages for a joined buffer: what it holds resident so far.
const PAGE: u64 = 4096;

impl Received {
    /// The body's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.first.len() + self.rest.iter().map(Bytes::len).sum::<usize>()
    }

    /// Its frames, in order.
    fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        std::iter::once(&self.first).chain(&self.rest)
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
        for frame in self.chunks() {
            joined.extend_from_slice(frame);
        }
        Bytes::from(joined)
    }

    /// What the frames are charged (see [`KEPT_FRAME_CHARGE`]).
    fn charge(&self) -> u64 {
        let rest = self
            .rest
            .iter()
            .map(|f| (f.len() as u64).max(KEPT_FRAME_CHARGE));
        self.first.len() as u64 + rest.sum::<u64>()
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
    let collected = collect(body, limit, declared, &mut charge);
    let mut received = tokio::time::timeout(timeout, collected)
        .await
        .map_err(|_| Rejection::BodyTimeout)??;
    if join && received.count() > 1 {
        // Charged while both the frames and the joined copy exist.
        let total = received.len() as u64;
        if !charge.set(received.charge() + total) {
            return Err(Rejection::Overloaded);
        }
        received = Received::from(received.into_bytes());
    }
    charge.set(received.charge());
    Ok((received, charge))
}

/// Gathers the frames, each a piece of hyper's read buffer, kept as it is and charged as it
/// arrives, so a stalled upload costs only what it holds. Past [`MAX_KEPT_FRAMES`] they are
/// copied into one buffer (of the declared length, its pages charged as they are written)
/// and let go.
async fn collect<B>(
    mut body: B,
    limit: u64,
    declared: Option<u64>,
    charge: &mut Charge,
) -> Result<Received, Rejection>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut received = Received::default();
    let mut joined: Option<Vec<u8>> = None;
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
        let held = match joined.as_mut() {
            Some(buffer) => grow(buffer, &data, limit, declared.is_some()),
            None if received.count() < MAX_KEPT_FRAMES => {
                received.push(data);
                received.charge()
            }
            None => {
                let length = declared.unwrap_or(2 * total).min(limit);
                let mut buffer = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
                for frame in std::mem::take(&mut received).chunks() {
                    buffer.extend_from_slice(frame);
                }
                let held = grow(&mut buffer, &data, limit, declared.is_some());
                joined = Some(buffer);
                held
            }
        };
        if !charge.set(held) {
            return Err(Rejection::Overloaded);
        }
    }
    Ok(joined.map_or(received, |buffer| Received::from(Bytes::from(buffer))))
}

/// Appends `data`; returns what the buffer holds resident: the pages written, for a buffer
/// of the declared length, else its capacity (which grows, at most to `limit`).
fn grow(buffer: &mut Vec<u8>, data: &[u8], limit: u64, exact: bool) -> u64 {
    if !exact && buffer.capacity() - buffer.len() < data.len() {
        let wanted = (2 * buffer.capacity()).max(buffer.len() + data.len());
        let bounded = wanted.min(usize::try_from(limit).unwrap_or(usize::MAX));
        buffer.reserve_exact(bounded.max(buffer.len() + data.len()) - buffer.len());
    }
    buffer.extend_from_slice(data);
    if exact {
        (buffer.len() as u64).div_ceil(PAGE) * PAGE
    } else {
        buffer.capacity() as u64
    }
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
        assert_eq!(
            charge.bytes(),
            5 + KEPT_FRAME_CHARGE,
            "a later frame holds a read buffer"
        );
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
        let budget = BodyBudget::new(4 << 20);
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
    async fn kept_frames_are_charged_for_the_buffers_they_hold() {
        // Ten 10-byte frames, each of which can hold a read buffer of its own.
        let tight = BodyBudget::new(512 << 10);
        let tiny: Vec<&'static [u8]> = vec![b"0123456789"; 10];
        let refused = read(
            frames(tiny),
            &HeaderMap::new(),
            1 << 20,
            MINUTE,
            &tight,
            false,
        )
        .await;
        assert_eq!(refused.unwrap_err(), Rejection::Overloaded);
        assert_eq!(tight.used(), 0);
        // Past the kept frames the body is copied and the buffers let go: charged its pages.
        let roomy = BodyBudget::new(2 << 20);
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "400".parse().unwrap());
        let tiny: Vec<&'static [u8]> = vec![b"0123456789"; 40];
        let (got, charge) = read(frames(tiny), &declared, 1 << 20, MINUTE, &roomy, false)
            .await
            .unwrap();
        assert_eq!((got.count(), got.len()), (1, 400));
        assert_eq!(charge.bytes(), 400);
    }

    #[tokio::test]
    async fn a_body_of_tiny_frames_is_refused() {
        let budget = BodyBudget::new(4 << 20);
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
