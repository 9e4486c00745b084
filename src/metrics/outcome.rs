//! The outcome vocabulary: what happened to a request, as labelled in metrics and logs.

use crate::error::Rejection;

/// What happened to a request, as counted in `hookgate_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and forwarded; the upstream answered.
    Forwarded,
    /// Stored by a durable route; the app gets it from the deliverer.
    Queued,
    /// Answered by a handshake the route handles itself.
    Handshake,
    /// A duplicate of a delivery the upstream already answered 2xx: answered 200, not
    /// forwarded (routes with `duplicates: acknowledge`).
    Duplicate,
    /// Rejected, or forwarding failed.
    Rejected(Rejection),
    /// A route in observe mode forwarded a delivery it would have rejected.
    Observed(Rejection),
}

impl Outcome {
    /// The `outcome` label and log field.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::Queued => "queued",
            Outcome::Handshake => "handshake",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected(_) => "rejected",
            Outcome::Observed(_) => "observed",
        }
    }

    /// The `reason` label and log field: a rejection's reason code, or empty.
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Forwarded | Outcome::Queued | Outcome::Handshake | Outcome::Duplicate => "",
            Outcome::Rejected(r) | Outcome::Observed(r) => r.reason(),
        }
    }
}
