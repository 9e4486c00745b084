//! What a route does beyond verifying: observe or enforce, how it answers duplicates, how
//! long it protects against replays, how fast it admits requests.

use std::num::NonZeroU32;

use serde::Deserialize;

/// What a route does with a delivery that fails verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Reject it (the default).
    #[default]
    Enforce,
    /// Log and count the verdict, then forward anyway: for rolling out in front of a live app.
    Observe,
}

/// What a route answers to a duplicate of a delivery it already took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Duplicates {
    /// 401 `replayed`, whatever became of the first copy (the default).
    #[default]
    Reject,
    /// 200 without forwarding once the upstream answered the first copy 2xx; 409 `in_flight`
    /// while it has not. For senders that retry with the same signature or message id.
    Acknowledge,
}

/// Replay protection for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayPolicy {
    /// No replay protection.
    Off,
    /// Reserve each delivery until its timestamp leaves the tolerance window.
    UntilStale,
    /// Reserve each delivery for this many seconds (schemes without a timestamp).
    Window(u64),
}

/// A route's admission rate: a token bucket refilled `per_second`, holding up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: NonZeroU32,
    /// Requests admitted at once after a quiet spell.
    pub burst: NonZeroU32,
}
