//! Reading the request body: bounded in size, time, fragmentation and process-wide memory,
//! into one contiguous buffer.
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

/// Reads the whole body, refusing more than `limit` bytes, longer than `timeout`, or more
/// than the budget has left. The [`Charge`] holds the body's share of the budget: keep it
/// as long as the bytes.
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
) -> Result<(Bytes, Charge), Rejection>
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
    let collected = tokio::time::timeout(timeout, collect(body, limit, declared, &mut charge))
        .await
        .map_err(|_| Rejection::BodyTimeout)??;
    Ok((collected, charge))
}

/// The largest piece a chunked body is gathered in. Pieces are allocated as bytes arrive and
/// never grown in place, so a stalled upload holds about what it sent (no doubling, no
/// realloc copy); they are joined once, when the body is complete.
const MAX_PIECE: usize = 64 << 10;

/// The budget is charged in pages: what a buffer written this far holds resident.
const PAGE: u64 = 4096;

async fn collect<B>(
    mut body: B,
    limit: u64,
    declared: Option<u64>,
    charge: &mut Charge,
) -> Result<Bytes, Rejection>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut first: Option<Bytes> = None;
    // With a declared length, one buffer of exactly that size: the kernel backs its pages
    // only as they are written, and the charge follows the bytes written, so a stalled
    // upload still holds only what it sent, and a complete body is copied once. A chunked
    // body of unknown length is gathered in pieces instead.
    let mut exact: Option<Vec<u8>> = None;
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut held: u64 = 0;
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
        // A body that arrives in one frame is kept as is: no copy at all.
        if first.is_none() && pieces.is_empty() && exact.is_none() {
            held = data.len() as u64;
            if !charge.set(held) {
                return Err(Rejection::Overloaded);
            }
            first = Some(data);
            continue;
        }
        if let Some(length) = declared {
            let buffer = exact
                .get_or_insert_with(|| Vec::with_capacity(usize::try_from(length).unwrap_or(0)));
            if let Some(earlier) = first.take() {
                buffer.extend_from_slice(&earlier);
            }
            buffer.extend_from_slice(&data);
            if !charge.set((buffer.len() as u64).div_ceil(PAGE) * PAGE) {
                return Err(Rejection::Overloaded);
            }
            continue;
        }
        let mut rest = &data[..];
        while !rest.is_empty() {
            let room = pieces.last().map_or(0, |p| p.capacity() - p.len());
            if room == 0 {
                let size = usize::try_from(total)
                    .unwrap_or(usize::MAX)
                    .clamp(4096, MAX_PIECE);
                held += size as u64;
                if !charge.set(held) {
                    return Err(Rejection::Overloaded);
                }
                pieces.push(Vec::with_capacity(size));
                continue;
            }
            let (now, later) = rest.split_at(room.min(rest.len()));
            if let Some(piece) = pieces.last_mut() {
                piece.extend_from_slice(now);
            }
            rest = later;
        }
    }
    if let Some(buffer) = exact {
        charge.set(buffer.len() as u64);
        return Ok(Bytes::from(buffer));
    }
    if pieces.is_empty() {
        return Ok(first.unwrap_or_default());
    }
    // Joined into one buffer of the exact size: charged while both exist.
    let len = usize::try_from(total).unwrap_or(usize::MAX);
    if !charge.set(held + total) {
        return Err(Rejection::Overloaded);
    }
    let mut joined = Vec::with_capacity(len);
    if let Some(first) = first {
        joined.extend_from_slice(&first);
    }
    for piece in pieces {
        joined.extend_from_slice(&piece);
    }
    charge.set(total);
    Ok(Bytes::from(joined))
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

    #[tokio::test]
    async fn frames_join_into_the_exact_bytes_and_the_charge_comes_back() {
        let budget = BodyBudget::new(1 << 20);
        let none = HeaderMap::new();
        let body = frames(vec![b"{\"a\":", b"", b"1}"]);
        let (bytes, charge) = read(body, &none, 100, MINUTE, &budget).await.unwrap();
        assert_eq!(&bytes[..], b"{\"a\":1}");
        assert!(charge.bytes() >= 7 && charge.bytes() <= 100);
        drop(charge);
        assert_eq!(budget.used(), 0);
        let one = Full::new(Bytes::from_static(b"x"));
        let (one, _) = read(one, &none, 100, MINUTE, &budget).await.unwrap();
        assert_eq!(&one[..], b"x");
    }

    #[tokio::test]
    async fn a_declared_length_is_gathered_in_one_buffer_charged_as_written() {
        let budget = BodyBudget::new(1 << 20);
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "9".parse().unwrap());
        let body = frames(vec![b"abc", b"def", b"ghi"]);
        let (bytes, charge) = read(body, &declared, 100, MINUTE, &budget).await.unwrap();
        assert_eq!(&bytes[..], b"abcdefghi");
        assert_eq!(charge.bytes(), 9, "the bytes, not the pages, once complete");
    }

    #[tokio::test]
    async fn limits_refuse_what_does_not_fit() {
        let budget = BodyBudget::new(10);
        let none = HeaderMap::new();
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "11".parse().unwrap());
        let refused = read(Full::new(Bytes::new()), &declared, 100, MINUTE, &budget).await;
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
        )
        .await;
        assert_eq!(
            refused.unwrap_err(),
            Rejection::Overloaded,
            "grown past the budget"
        );
        assert_eq!(budget.used(), 0);
        let roomy = BodyBudget::new(100);
        let refused = read(frames(vec![b"123456", b"789012"]), &none, 8, MINUTE, &roomy).await;
        assert_eq!(refused.unwrap_err(), Rejection::BodyTooLarge);
    }

    #[tokio::test]
    async fn a_body_of_tiny_frames_is_refused() {
        let budget = BodyBudget::new(1 << 20);
        let none = HeaderMap::new();
        let tiny: Vec<&'static [u8]> = vec![b"a"; 2000];
        let refused = read(frames(tiny), &none, 1 << 20, MINUTE, &budget).await;
        assert_eq!(refused.unwrap_err(), Rejection::BodyUnreadable);
        let fine: Vec<&'static [u8]> = vec![&[b'a'; 64]; 2000];
        let (bytes, _) = read(frames(fine), &none, 1 << 20, MINUTE, &budget)
            .await
            .unwrap();
        assert_eq!(bytes.len(), 128_000);
    }
}
