//! What the queue stores for a delivery: its metadata (small, read to list and schedule) and
//! its request (the exact bytes to send, read once per attempt), kept apart so that listing
//! and starting up never read bodies.

use bytes::Bytes;
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

/// A delivery's id: milliseconds since the epoch in the high 64 bits, a process-unique
/// sequence in the low ones, so ids sort in arrival order.
pub type Id = u128;

/// The id as the sender, the app and the CLI see it: 32 hex digits.
pub fn id_text(id: Id) -> String {
    format!("{id:032x}")
}

/// Parses [`id_text`]'s form.
pub fn parse_id(text: &str) -> Option<Id> {
    (text.len() == 32)
        .then(|| u128::from_str_radix(text, 16).ok())
        .flatten()
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Accepted, not attempted yet.
    Pending,
    /// An attempt is under way. Held in memory only: after a crash such a delivery is due
    /// again, which is what at-least-once asks.
    InFlight,
    /// Attempted and failed; due again at `next_attempt_at`.
    Retrying,
    /// Given up on; kept for inspection and redrive until its retention ends.
    Dead,
}

impl State {
    /// Every state, for metrics that list each.
    pub const ALL: [State; 4] = [
        State::Pending,
        State::InFlight,
        State::Retrying,
        State::Dead,
    ];

    /// The label used in metrics, logs and the CLI.
    pub fn label(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::InFlight => "in_flight",
            State::Retrying => "retrying",
            State::Dead => "dead",
        }
    }
}

/// A delivery's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The route that accepted it, by name.
    pub route: String,
    /// Where it stands.
    pub state: State,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was accepted, in Unix milliseconds.
    pub received_at_ms: i64,
    /// When it is due next, in Unix milliseconds (for a dead one: when it died).
    pub next_attempt_at_ms: i64,
    /// The app's status on the last attempt, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The body's length.
    pub body_bytes: u64,
    /// When an operator last redrove it: the give-up clock restarts there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redriven_at_ms: Option<i64>,
}

/// The request to send: exactly what sync mode would forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Path and query, normalized as verified.
    pub target: String,
    /// The headers to forward, in order, hop-by-hop ones already removed.
    pub headers: HeaderMap,
    /// The body, byte for byte.
    pub body: Bytes,
}

/// Why stored bytes do not decode.
#[derive(Debug, thiserror::Error)]
#[error("stored delivery is malformed: {0}")]
pub struct Malformed(&'static str);

impl Request {
    /// A length-prefixed encoding: method, target, header count, each name and value, body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0; self.encoded_len()];
        self.write_to(&mut Out::new(&mut out));
        out
    }

    /// Writes [`Request::encode`]'s bytes into `out`, which has room for
    /// [`Request::encoded_len`] of them (the store writes straight into its page this way).
    pub(crate) fn write_to(&self, out: &mut Out<'_>) {
        out.put_prefixed(self.method.as_str().as_bytes());
        out.put_prefixed(self.target.as_bytes());
        out.put(
            &u32::try_from(self.headers.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for (name, value) in &self.headers {
            out.put_prefixed(name.as_str().as_bytes());
            out.put_prefixed(value.as_bytes());
        }
        out.put(&self.body);
    }

    /// The length of [`Request::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 8)
            .sum();
        self.method.as_str().len() + self.target.len() + headers + self.body.len() + 12
    }

    /// The inverse of [`Request::encode`].
    ///
    /// # Errors
    /// When the bytes were not written by `encode`.
    pub fn decode(bytes: &[u8]) -> Result<Request, Malformed> {
        let mut rest = bytes;
        let method = Method::from_bytes(take(&mut rest)?).map_err(|_| Malformed("method"))?;
        let target = String::from_utf8(take(&mut rest)?.to_vec())
            .map_err(|_| Malformed("target is not UTF-8"))?;
        let count = u32::from_be_bytes(
            split(&mut rest, 4)?
                .try_into()
                .map_err(|_| Malformed("count"))?,
        );
        let mut headers = HeaderMap::new();
        for _ in 0..count {
            let name =
                HeaderName::from_bytes(take(&mut rest)?).map_err(|_| Malformed("header name"))?;
            let value =
                HeaderValue::from_bytes(take(&mut rest)?).map_err(|_| Malformed("header value"))?;
            headers.append(name, value);
        }
        Ok(Request {
            method,
            target,
            headers,
            body: Bytes::copy_from_slice(rest),
        })
    }
}

/// A buffer of known size being filled front to back; writes past its end are dropped and
/// show as [`Out::filled`] being false.
pub(crate) struct Out<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Out<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Out<'a> {
        Out { buf, at: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.at.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }

    /// `bytes` after their length as four big-endian bytes.
    pub(crate) fn put_prefixed(&mut self, bytes: &[u8]) {
        self.put(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        self.put(bytes);
    }

    /// Whether exactly the whole buffer was written.
    pub(crate) fn filled(&self) -> bool {
        self.at == self.buf.len()
    }
}

fn split<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], Malformed> {
    if rest.len() < n {
        return Err(Malformed("truncated"));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], Malformed> {
    let len = split(rest, 4)?;
    let len = u32::from_be_bytes(len.try_into().map_err(|_| Malformed("length"))?);
    split(rest, usize::try_from(len).map_err(|_| Malformed("length"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_with_non_utf8_values_and_any_body() {
        let mut headers = HeaderMap::new();
        headers.append("x-sig", HeaderValue::from_static("sha256=ab"));
        headers.append(
            "x-raw",
            HeaderValue::from_bytes(&[0xff, 0xfe, b'a']).unwrap(),
        );
        headers.append("x-sig", HeaderValue::from_static("repeated"));
        let request = Request {
            method: Method::POST,
            target: "/hook?x=1".into(),
            headers,
            body: Bytes::from_static(b"{\"a\":1}\x00\xff"),
        };
        let encoded = request.encode();
        assert_eq!(encoded.len(), request.encoded_len());
        assert_eq!(Request::decode(&encoded).unwrap(), request);
        assert!(Request::decode(&encoded[..5]).is_err());
        // A header name no HTTP message could carry is refused, not forwarded.
        let mut bad = encoded.clone();
        let at = bad.windows(5).position(|w| w == b"x-sig").unwrap();
        bad[at] = b' ';
        assert!(Request::decode(&bad).is_err());
    }

    #[test]
    fn ids_print_as_32_hex_digits_and_parse_back() {
        let id: Id = (1_800_000_000_000u128 << 64) | 7;
        let text = id_text(id);
        assert_eq!(text.len(), 32);
        assert_eq!(parse_id(&text), Some(id));
        assert_eq!(parse_id("xyz"), None);
    }
}
