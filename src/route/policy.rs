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

/// How a route hands a verified delivery to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Forward it now and answer the sender with the app's answer (the default).
    #[default]
    Sync,
    /// Store it (committed with fsync), answer the sender, then deliver with retries.
    Durable(Durable),
}

/// A durable route's delivery policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durable {
    /// What the sender hears once the delivery is on disk: 200, 202 or 204.
    pub ack_status: u16,
    /// When attempts are retried, and when they stop.
    pub retry: Retry,
    /// Attempts in flight toward the app for this route at once.
    pub concurrency: NonZeroU32,
    /// Whether deliveries reach the app one at a time in arrival order.
    pub ordering: Ordering,
    /// How long a dead delivery is kept for inspection and redrive, in seconds.
    pub dead_retention_seconds: u64,
}

impl Durable {
    /// Default `dead_retention_seconds`: two weeks.
    pub const DEFAULT_DEAD_RETENTION_SECONDS: u64 = 1_209_600;
}

/// An exponential, jittered retry schedule, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The wait after the first failed attempt.
    pub first_seconds: u64,
    /// The longest wait between attempts.
    pub max_seconds: u64,
    /// A delivery not delivered this long after it was accepted is dead.
    pub give_up_after_seconds: u64,
}

impl Retry {
    /// The default: 1 s, doubling up to an hour, for three days (Stripe's span).
    pub const DEFAULT: Retry = Retry {
        first_seconds: 1,
        max_seconds: 3600,
        give_up_after_seconds: 259_200,
    };
}

/// The order of a durable route's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    /// Any order, up to `concurrency` at once (the default).
    #[default]
    None,
    /// One at a time in arrival order; a delivery that keeps failing holds back the rest.
    Route,
}
