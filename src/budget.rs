//! A process-wide budget for buffered request bodies.
//!
//! Per-route `max_body_bytes` and `max_connections` bound one request and the number of
//! requests, but not their product: 4096 uploads stalled one byte short of 1 MiB would hold
//! 4 GiB. Every body is charged here as its buffer grows and uncharged when the request
//! ends; a body that would pass the budget is refused with 503 `overloaded` and `Retry-After`,
//! so senders retry later instead of the process being killed for memory. A declared
//! `Content-Length` that cannot fit is refused before any byte is read. The last eighth of the
//! budget is kept for bodies of at most 64 KiB, so large uploads stalled on purpose cannot
//! starve ordinary deliveries.
//!
//! Without a configured `max_buffered_body_bytes`, the budget is half the memory limit the
//! process runs under (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes`), leaving the
//! other half for connections, TLS, upstream responses and the replay store; with no limit
//! set, 1 GiB.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bodies up to this size may use the whole budget; larger ones leave the last eighth free.
pub(crate) const SMALL_BODY: u64 = 64 << 10;

/// The budget when no memory limit is found and none is configured.
pub(crate) const UNLIMITED_DEFAULT: u64 = 1 << 30;

/// Where the budget's size came from, for the startup log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `max_buffered_body_bytes` in the config.
    Configured,
    /// Half the cgroup memory limit.
    MemoryLimit(u64),
    /// No limit found: [`UNLIMITED_DEFAULT`].
    Default,
}

/// The budget's size: `configured`, else half of `memory_limit`, else [`UNLIMITED_DEFAULT`].
pub(crate) fn size(configured: Option<u64>, memory_limit: Option<u64>) -> (u64, Source) {
    match (configured, memory_limit) {
        (Some(bytes), _) => (bytes, Source::Configured),
        (None, Some(limit)) => (limit / 2, Source::MemoryLimit(limit)),
        (None, None) => (UNLIMITED_DEFAULT, Source::Default),
    }
}

/// The memory limit of this process's cgroup, if one is set.
pub(crate) fn memory_limit() -> Option<u64> {
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok();
    let v1 = || std::fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes").ok();
    parse_limit(&v2.or_else(v1)?)
}

/// A cgroup limit file's value; `None` for "max" or v1's "no limit" (a huge page-aligned
/// number).
fn parse_limit(text: &str) -> Option<u64> {
    let limit: u64 = text.trim().parse().ok()?;
    (limit < 1 << 60).then_some(limit)
}

/// Bytes the buffered bodies of all requests may hold at once.
#[derive(Debug)]
pub struct BodyBudget {
    limit: AtomicU64,
    used: AtomicU64,
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<BodyBudget> {
        Arc::new(BodyBudget {
            limit: AtomicU64::new(limit),
            used: AtomicU64::new(0),
        })
    }

    /// Changes the limit (a reload); bodies already charged keep their charge.
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether `bytes` more would fit now, for any body.
    pub fn fits(&self, bytes: u64) -> bool {
        self.used().saturating_add(bytes) <= self.limit()
    }

    /// Whether a new body of `bytes` would fit now.
    pub fn fits_body(&self, bytes: u64) -> bool {
        let limit = self.limit();
        let limit = if bytes > SMALL_BODY {
            limit - limit / 8
        } else {
            limit
        };
        self.used().saturating_add(bytes) <= limit
    }

    /// An empty charge, to grow as a body arrives.
    pub fn charge(self: &Arc<Self>) -> Charge {
        Charge {
            budget: Arc::clone(self),
            bytes: 0,
        }
    }

    /// Takes `bytes` more for a charge that will then hold `total`. Charges past
    /// [`SMALL_BODY`] may not eat into the last eighth of the budget, which small bodies
    /// (most webhooks) keep for themselves: a flood of large stalled uploads cannot starve them.
    fn take(&self, bytes: u64, total: u64) -> bool {
        let limit = self.limit();
        let limit = if total > SMALL_BODY {
            limit - limit / 8
        } else {
            limit
        };
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let after = used.checked_add(bytes)?;
                (after <= limit).then_some(after)
            })
            .is_ok()
    }

    fn give(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// One request's share of the budget, given back when dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<BodyBudget>,
    bytes: u64,
}

impl Charge {
    /// Sets the charge to `bytes`; `false` (and the charge unchanged) when the growth does
    /// not fit.
    pub fn set(&mut self, bytes: u64) -> bool {
        if bytes > self.bytes {
            if !self.budget.take(bytes - self.bytes, bytes) {
                return false;
            }
        } else {
            self.budget.give(self.bytes - bytes);
        }
        self.bytes = bytes;
        true
    }

    /// Bytes charged.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_fit_or_fail_and_come_back() {
        let budget = BodyBudget::new(100);
        let mut a = budget.charge();
        assert!(a.set(60));
        let mut b = budget.charge();
        assert!(!b.set(41), "past the limit");
        assert_eq!(b.bytes(), 0);
        assert!(b.set(40));
        assert!(!budget.fits(1));
        assert!(a.set(10), "shrinking always fits");
        assert_eq!(budget.used(), 50);
        drop(a);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn large_bodies_leave_the_last_eighth_to_small_ones() {
        let budget = BodyBudget::new(8 * SMALL_BODY * 4);
        let mut large = budget.charge();
        assert!(
            !large.set(8 * SMALL_BODY * 4),
            "a large body cannot take it all"
        );
        assert!(large.set(7 * SMALL_BODY * 4));
        let mut small = Vec::new();
        for _ in 0..4 {
            let mut c = budget.charge();
            assert!(c.set(SMALL_BODY), "small bodies use the reserve");
            small.push(c);
        }
        assert!(!budget.charge().set(1), "now it is all used");
    }

    #[test]
    fn the_size_follows_the_memory_limit() {
        assert_eq!(size(Some(5), Some(100)), (5, Source::Configured));
        assert_eq!(
            size(None, Some(256 << 20)),
            (128 << 20, Source::MemoryLimit(256 << 20))
        );
        assert_eq!(size(None, None), (UNLIMITED_DEFAULT, Source::Default));
        assert_eq!(parse_limit("268435456\n"), Some(268_435_456));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712"), None);
    }
}
