//! The per-request log line, kept off the request path's critical costs.
//!
//! A request formats its line by hand into a shared buffer (no allocation, no serializer) and
//! moves on; a writer thread hands the buffer to stderr every 100 ms, or sooner once it holds
//! 64 KiB, so thousands of lines cost one `write`. The lines look exactly like the rest of the
//! log (JSON objects or text, with a timestamp and level). If stderr stalls, the buffer stops
//! at 16 MiB and further lines are counted and reported as dropped instead of growing memory.
//! [`AccessLog::flush`] runs at shutdown.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_AT_BYTES: usize = 64 * 1024;
const MAX_BUFFER_BYTES: usize = 16 << 20;

/// One request, as logged.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Sequence number of the request in this process.
    pub request_id: u64,
    /// Request method.
    pub method: &'a str,
    /// Request path, without the query.
    pub path: &'a str,
    /// Matched route, or empty.
    pub route: &'a str,
    /// `forwarded`, `queued`, `handshake`, `duplicate`, `rejected` or `observed`.
    pub outcome: &'static str,
    /// Reason code, or empty.
    pub reason: &'static str,
    /// Status sent to the client.
    pub status: u16,
    /// Status the upstream answered, if it was asked.
    pub upstream_status: Option<u16>,
    /// Index of the secret that verified, if one did.
    pub secret_index: Option<usize>,
    /// The id a durable route gave the delivery (32 hex digits), if it queued it.
    pub delivery_id: Option<&'a str>,
    /// Time from request head to response, in microseconds.
    pub latency_us: u64,
}

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// One JSON object per line.
    Json,
    /// `timestamp  INFO request key=value ...`.
    Text,
}

#[derive(Debug)]
struct Shared {
    style: Style,
    pending: Mutex<Pending>,
    dropped: AtomicU64,
}

/// Lines not yet written, and the current second's timestamp prefix (formatted once a second).
#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    second: u64,
    prefix: [u8; 20],
}

impl Pending {
    fn new() -> Pending {
        Pending {
            bytes: Vec::with_capacity(FLUSH_AT_BYTES * 2),
            second: u64::MAX,
            prefix: [b'0'; 20],
        }
    }

    /// `now` as RFC 3339 in UTC with microseconds: `2026-11-22T22:30:01.123456Z`.
    fn stamp(&mut self, now: SystemTime) -> [u8; 27] {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        if since.as_secs() != self.second {
            self.second = since.as_secs();
            let mut prefix = String::with_capacity(20);
            let _ = date_and_time(&mut prefix, self.second);
            self.prefix.copy_from_slice(&prefix.as_bytes()[..20]);
        }
        let mut out = [b'Z'; 27];
        out[..20].copy_from_slice(&self.prefix);
        let mut micros = since.subsec_micros();
        for slot in out[20..26].iter_mut().rev() {
            *slot = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        out
    }
}

/// The request log: disabled, or buffered to stderr by a writer thread.
#[derive(Debug, Clone, Default)]
pub struct AccessLog {
    inner: Option<(Arc<Shared>, Arc<JoinHandle<()>>)>,
}

impl AccessLog {
    /// Writes nothing.
    pub fn disabled() -> AccessLog {
        AccessLog { inner: None }
    }

    /// Buffers lines in `style` and writes them to stderr from a background thread.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn stderr(style: Style) -> std::io::Result<AccessLog> {
        let shared = Arc::new(Shared {
            style,
            pending: Mutex::new(Pending::new()),
            dropped: AtomicU64::new(0),
        });
        let writer = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("hookgate-log".to_owned())
            .spawn(move || {
                loop {
                    std::thread::park_timeout(FLUSH_EVERY);
                    writer.write_out();
                }
            })?;
        Ok(AccessLog {
            inner: Some((shared, Arc::new(thread))),
        })
    }

    /// Appends the line for `entry`.
    pub fn record(&self, entry: &Entry<'_>) {
        let Some((shared, thread)) = &self.inner else {
            return;
        };
        let mut pending = shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pending.bytes.len() >= MAX_BUFFER_BYTES {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let stamp = pending.stamp(SystemTime::now());
        // Only ASCII was written into the stamp.
        let stamp = std::str::from_utf8(&stamp).unwrap_or("");
        let mut line = LineWriter(&mut pending.bytes);
        let _ = match shared.style {
            Style::Json => json(&mut line, entry, stamp),
            Style::Text => text(&mut line, entry, stamp),
        };
        let full = pending.bytes.len() >= FLUSH_AT_BYTES;
        drop(pending);
        if full {
            thread.thread().unpark();
        }
    }

    /// Writes out everything recorded so far.
    pub fn flush(&self) {
        if let Some((shared, _)) = &self.inner {
            shared.write_out();
        }
    }
}

impl Shared {
    fn write_out(&self) {
        let pending = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.bytes.is_empty() {
                return;
            }
            std::mem::replace(&mut pending.bytes, Vec::with_capacity(FLUSH_AT_BYTES * 2))
        };
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(&pending);
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "request log lines dropped: stderr did not keep up");
        }
    }
}

/// `fmt::Write` over a byte buffer.
struct LineWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for LineWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn json(out: &mut impl std::fmt::Write, e: &Entry<'_>, stamp: &str) -> std::fmt::Result {
    out.write_str("{\"timestamp\":\"")?;
    out.write_str(stamp)?;
    out.write_str("\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":")?;
    num(out, e.request_id)?;
    out.write_str(",\"method\":")?;
    json_str(out, e.method)?;
    out.write_str(",\"path\":")?;
    json_str(out, e.path)?;
    out.write_str(",\"route\":")?;
    json_str(out, e.route)?;
    out.write_str(",\"outcome\":\"")?;
    out.write_str(e.outcome)?;
    out.write_str("\",\"reason\":\"")?;
    out.write_str(e.reason)?;
    out.write_str("\",\"status\":")?;
    num(out, u64::from(e.status))?;
    if let Some(status) = e.upstream_status {
        out.write_str(",\"upstream_status\":")?;
        num(out, u64::from(status))?;
    }
    if let Some(index) = e.secret_index {
        out.write_str(",\"secret_index\":")?;
        num(out, index as u64)?;
    }
    if let Some(id) = e.delivery_id {
        out.write_str(",\"delivery_id\":")?;
        json_str(out, id)?;
    }
    out.write_str(",\"latency_us\":")?;
    num(out, e.latency_us)?;
    out.write_str(",\"target\":\"hookgate::access\"}\n")
}

fn text(out: &mut impl std::fmt::Write, e: &Entry<'_>, stamp: &str) -> std::fmt::Result {
    out.write_str(stamp)?;
    write!(
        out,
        "  INFO request request_id={} method={} path={} route={} outcome={} reason={} status={}",
        e.request_id,
        e.method,
        e.path.escape_debug(),
        e.route.escape_debug(),
        e.outcome,
        e.reason,
        e.status
    )?;
    if let Some(status) = e.upstream_status {
        write!(out, " upstream_status={status}")?;
    }
    if let Some(index) = e.secret_index {
        write!(out, " secret_index={index}")?;
    }
    if let Some(id) = e.delivery_id {
        write!(out, " delivery_id={}", id.escape_debug())?;
    }
    writeln!(out, " latency_us={}", e.latency_us)
}

/// Decimal digits of `n` without `core::fmt`'s padding machinery: this runs several times
/// per request.
fn num(out: &mut impl std::fmt::Write, mut n: u64) -> std::fmt::Result {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.write_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"))
}

/// `n` as exactly `width` digits (for timestamps).
fn padded(out: &mut impl std::fmt::Write, n: u64, width: usize) -> std::fmt::Result {
    let mut digits = [b'0'; 6];
    let mut rest = n;
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.write_str(std::str::from_utf8(&digits[..width]).unwrap_or("0"))
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
fn json_str(out: &mut impl std::fmt::Write, s: &str) -> std::fmt::Result {
    out.write_char('"')?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(out, "\\u{:04x}", c as u32)?;
        } else {
            out.write_str(escape)?;
        }
        start = i + c.len_utf8();
    }
    out.write_str(&s[start..])?;
    out.write_char('"')
}

/// `YYYY-MM-DDTHH:MM:SS.` for Unix second `secs`, in UTC.
fn date_and_time(out: &mut impl std::fmt::Write, secs: u64) -> std::fmt::Result {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    // Days since 1970 give a date from 1970 on: every part is non-negative.
    let (y, m, d) = crate::civil::civil_from_days(days);
    let (year, month, day) = (y.unsigned_abs(), m.unsigned_abs(), d.unsigned_abs());
    let rest = secs % 86_400;
    for (value, width, after) in [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, 'T'),
        (rest / 3600, 2, ':'),
        (rest / 60 % 60, 2, ':'),
        (rest % 60, 2, '.'),
    ] {
        padded(out, value, width)?;
        out.write_char(after)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            request_id: 7,
            method: "POST",
            path: "/hook",
            route: "or\"ders\n",
            outcome: "forwarded",
            reason: "",
            status: 200,
            upstream_status: Some(201),
            secret_index: None,
            delivery_id: None,
            latency_us: 42,
        }
    }

    #[test]
    fn json_lines_escape_and_omit_what_is_absent() {
        let mut out = String::new();
        let at = UNIX_EPOCH + Duration::from_micros(1_800_000_000_123_456);
        let stamp = Pending::new().stamp(at);
        json(&mut out, &entry(), std::str::from_utf8(&stamp).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\"timestamp\":\"2027-01-15T08:00:00.123456Z\",\"level\":\"INFO\",\"message\":\"request\",\
             \"request_id\":7,\"method\":\"POST\",\"path\":\"/hook\",\"route\":\"or\\\"ders\\u000a\",\
             \"outcome\":\"forwarded\",\"reason\":\"\",\"status\":200,\"upstream_status\":201,\
             \"latency_us\":42,\"target\":\"hookgate::access\"}\n"
        );
    }

    #[test]
    fn text_lines_carry_the_same_fields() {
        let mut out = String::new();
        let stamp = Pending::new().stamp(UNIX_EPOCH);
        text(&mut out, &entry(), std::str::from_utf8(&stamp).unwrap()).unwrap();
        assert_eq!(
            out,
            "1970-01-01T00:00:00.000000Z  INFO request request_id=7 method=POST path=/hook \
             route=or\\\"ders\\n outcome=forwarded reason= status=200 upstream_status=201 latency_us=42\n"
        );
    }

    #[test]
    fn the_cached_second_is_renewed_when_the_second_changes() {
        let mut pending = Pending::new();
        let at = |micros: u64| UNIX_EPOCH + Duration::from_micros(micros);
        assert_eq!(
            &pending.stamp(at(59_999_999)),
            b"1970-01-01T00:00:59.999999Z"
        );
        assert_eq!(
            &pending.stamp(at(60_000_001)),
            b"1970-01-01T00:01:00.000001Z"
        );
        assert_eq!(
            &pending.stamp(at(60_500_000)),
            b"1970-01-01T00:01:00.500000Z"
        );
    }
}
