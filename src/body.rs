//! Reading the request body: bounded in size and time, into one contiguous buffer.
//!
//! A declared `Content-Length` over the limit is refused before a byte is read (and so before
//! hyper sends `100 Continue`); a chunked body is counted as it arrives and refused the moment
//! it passes the limit.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::error::Rejection;

/// The declared length, if the header is present and a number.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads the whole body, refusing more than `limit` bytes or taking longer than `timeout`.
///
/// # Errors
/// [`Rejection::BodyTooLarge`], [`Rejection::BodyTimeout`] or [`Rejection::BodyUnreadable`].
pub async fn read(
    mut body: Incoming,
    headers: &HeaderMap,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, Rejection> {
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > limit) {
        return Err(Rejection::BodyTooLarge);
    }
    let capacity = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
    let collect = async {
        let mut first: Option<Bytes> = None;
        let mut buf = BytesMut::new();
        let mut total: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| Rejection::BodyUnreadable)?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            total += data.len() as u64;
            if total > limit {
                return Err(Rejection::BodyTooLarge);
            }
            // A body that arrives in one frame is kept as is: no copy at all.
            match first.take() {
                None if buf.is_empty() => first = Some(data),
                None => buf.extend_from_slice(&data),
                Some(earlier) => {
                    buf.reserve(capacity.max(earlier.len() + data.len()));
                    buf.extend_from_slice(&earlier);
                    buf.extend_from_slice(&data);
                }
            }
        }
        Ok(first.unwrap_or_else(|| buf.freeze()))
    };
    tokio::time::timeout(timeout, collect)
        .await
        .map_err(|_| Rejection::BodyTimeout)?
}
