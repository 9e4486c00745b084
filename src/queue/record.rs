//! What the queue stores for a delivery: its metadata (small, read to list and schedule) and
//! its request (the exact bytes to send, read once per attempt), kept apart so that listing
//! and starting up never read bodies.

use bytes::Bytes;
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
    pub method: String,
    /// Path and query, normalized as verified.
    pub target: String,
    /// The headers to forward, in order, hop-by-hop ones already removed.
    pub headers: Vec<(String, Vec<u8>)>,
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
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 8)
            .sum();
        let mut out = Vec::with_capacity(
            self.method.len() + self.target.len() + headers + self.body.len() + 16,
        );
        put(&mut out, self.method.as_bytes());
        put(&mut out, self.target.as_bytes());
        out.extend_from_slice(
            &u32::try_from(self.headers.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for (name, value) in &self.headers {
            put(&mut out, name.as_bytes());
            put(&mut out, value);
        }
        out.extend_from_slice(&self.body);
        out
    }

    /// The inverse of [`Request::encode`].
    ///
    /// # Errors
    /// When the bytes were not written by `encode`.
    pub fn decode(bytes: &[u8]) -> Result<Request, Malformed> {
        let mut rest = bytes;
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| Malformed("not UTF-8"));
        let method = text(take(&mut rest)?)?;
        let target = text(take(&mut rest)?)?;
        let count = u32::from_be_bytes(
            split(&mut rest, 4)?
                .try_into()
                .map_err(|_| Malformed("count"))?,
        );
        let mut headers = Vec::new();
        for _ in 0..count {
            let name = text(take(&mut rest)?)?;
            headers.push((name, take(&mut rest)?.to_vec()));
        }
        Ok(Request {
            method,
            target,
            headers,
            body: Bytes::copy_from_slice(rest),
        })
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
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
        let request = Request {
            method: "POST".into(),
            target: "/hook?x=1".into(),
            headers: vec![
                ("x-sig".into(), b"sha256=ab".to_vec()),
                ("x-raw".into(), vec![0xff, 0x00, b'a']),
            ],
            body: Bytes::from_static(b"{\"a\":1}\x00\xff"),
        };
        assert_eq!(Request::decode(&request.encode()).unwrap(), request);
        let encoded = request.encode();
        assert!(Request::decode(&encoded[..5]).is_err());
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
