//! The wall clock, injectable so tests can pin it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from. Only the gateway reads it; the verifier takes `now` as a parameter.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A settable time in Unix seconds, shared by clones.
    Fixed(Arc<AtomicI64>),
}

impl Clock {
    /// A clock pinned at `unix_seconds`.
    pub fn fixed(unix_seconds: i64) -> Clock {
        Clock::Fixed(Arc::new(AtomicI64::new(unix_seconds)))
    }

    /// Moves a fixed clock; no effect on the system clock.
    pub fn set(&self, unix_seconds: i64) {
        if let Clock::Fixed(t) = self {
            t.store(unix_seconds, Ordering::Relaxed);
        }
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            Clock::Fixed(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Now, in Unix milliseconds (a fixed clock's second, times 1000).
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Clock::Fixed(t) => t.load(Ordering::Relaxed).saturating_mul(1000),
        }
    }
}
