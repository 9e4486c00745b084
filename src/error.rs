//! Every client-visible outcome other than a forwarded response.
//!
//! A [`Rejection`] carries its HTTP status and a stable reason code. The client sees only
//! `{"error":"<reason_code>"}`; detail goes to the log. Neither ever holds a secret or an
//! expected signature.

use http::StatusCode;

/// Why a request was not forwarded, or why forwarding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No route matches the request path.
    #[error("no route matches the path")]
    NoRoute,
    /// The request path cannot be normalized safely (`crate::path`).
    #[error("path cannot be normalized safely")]
    PathMalformed,
    /// The route exists but does not take this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// The signature header is absent.
    #[error("signature header missing")]
    SignatureMissing,
    /// The signature header is present but cannot be parsed or decoded, or is repeated.
    #[error("signature header malformed")]
    SignatureMalformed,
    /// No signature matched any configured secret.
    #[error("signature does not match")]
    SignatureMismatch,
    /// The scheme is timestamped but no timestamp was sent.
    #[error("timestamp missing")]
    TimestampMissing,
    /// The timestamp is not a number in the scheme's format.
    #[error("timestamp malformed")]
    TimestampMalformed,
    /// The timestamp is further from now than the route's tolerance.
    #[error("timestamp outside tolerance")]
    TimestampOutOfTolerance,
    /// This delivery was already accepted, or is being delivered right now.
    #[error("replayed delivery")]
    Replayed,
    /// A duplicate of a delivery still being forwarded, on a route that acknowledges
    /// duplicates: its first copy may yet fail, so the sender should retry.
    #[error("the first copy of this delivery is still in flight")]
    InFlight,
    /// The body is larger than the route allows.
    #[error("body larger than the limit")]
    BodyTooLarge,
    /// The client did not finish sending the body in time.
    #[error("body not received in time")]
    BodyTimeout,
    /// The client's body stream failed (reset, bad chunk encoding).
    #[error("body could not be read")]
    BodyUnreadable,
    /// A handshake request lacked what the handshake needs.
    #[error("handshake request malformed")]
    HandshakeMalformed,
    /// A handshake request asked with the wrong verify token, or the route cannot answer it.
    #[error("handshake refused")]
    HandshakeRefused,
    /// The process-wide budget for buffered bodies is spent; the sender should retry.
    #[error("body budget exhausted")]
    Overloaded,
    /// The replay store cannot take the reservation (full or unreachable); the sender should retry.
    #[error("replay store unavailable")]
    ReplayStoreUnavailable,
    /// The upstream could not be reached, reset the connection, or sent an unusable response.
    #[error("upstream unreachable")]
    UpstreamUnreachable,
    /// The upstream did not answer within the timeout.
    #[error("upstream timed out")]
    UpstreamTimeout,
    /// The route's rate limit is exhausted; the sender may retry after the given seconds.
    #[error("rate limited")]
    RateLimited {
        /// Whole seconds until a request would be admitted, at least 1.
        retry_after_seconds: u32,
    },
}

impl Rejection {
    /// The HTTP status sent to the client. Exhaustive on purpose: a new variant must choose.
    pub fn status(self) -> StatusCode {
        match self {
            Rejection::NoRoute => StatusCode::NOT_FOUND,
            Rejection::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::SignatureMissing
            | Rejection::SignatureMalformed
            | Rejection::SignatureMismatch
            | Rejection::TimestampMissing
            | Rejection::TimestampMalformed
            | Rejection::TimestampOutOfTolerance
            | Rejection::Replayed => StatusCode::UNAUTHORIZED,
            Rejection::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Rejection::BodyUnreadable
            | Rejection::HandshakeMalformed
            | Rejection::PathMalformed => StatusCode::BAD_REQUEST,
            Rejection::HandshakeRefused => StatusCode::FORBIDDEN,
            Rejection::InFlight => StatusCode::CONFLICT,
            Rejection::ReplayStoreUnavailable | Rejection::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Rejection::UpstreamUnreachable => StatusCode::BAD_GATEWAY,
            Rejection::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Rejection::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The stable, machine-readable reason code: the response body, log field and metric label.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::NoRoute => "no_route",
            Rejection::PathMalformed => "path_malformed",
            Rejection::Overloaded => "overloaded",
            Rejection::MethodNotAllowed => "method_not_allowed",
            Rejection::SignatureMissing => "signature_missing",
            Rejection::SignatureMalformed => "signature_malformed",
            Rejection::SignatureMismatch => "signature_mismatch",
            Rejection::TimestampMissing => "timestamp_missing",
            Rejection::TimestampMalformed => "timestamp_malformed",
            Rejection::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            Rejection::Replayed => "replayed",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::BodyTimeout => "body_timeout",
            Rejection::BodyUnreadable => "body_unreadable",
            Rejection::HandshakeMalformed => "handshake_malformed",
            Rejection::HandshakeRefused => "handshake_refused",
            Rejection::InFlight => "in_flight",
            Rejection::ReplayStoreUnavailable => "replay_store_unavailable",
            Rejection::UpstreamUnreachable => "upstream_unreachable",
            Rejection::UpstreamTimeout => "upstream_timeout",
            Rejection::RateLimited { .. } => "rate_limited",
        }
    }

    /// Every kind of rejection once, in [`Rejection::index`] order: the metric label set.
    pub const ALL: [Rejection; 21] = [
        Rejection::NoRoute,
        Rejection::MethodNotAllowed,
        Rejection::SignatureMissing,
        Rejection::SignatureMalformed,
        Rejection::SignatureMismatch,
        Rejection::TimestampMissing,
        Rejection::TimestampMalformed,
        Rejection::TimestampOutOfTolerance,
        Rejection::Replayed,
        Rejection::BodyTooLarge,
        Rejection::BodyTimeout,
        Rejection::BodyUnreadable,
        Rejection::HandshakeMalformed,
        Rejection::ReplayStoreUnavailable,
        Rejection::UpstreamUnreachable,
        Rejection::UpstreamTimeout,
        Rejection::RateLimited {
            retry_after_seconds: 1,
        },
        Rejection::HandshakeRefused,
        Rejection::InFlight,
        Rejection::PathMalformed,
        Rejection::Overloaded,
    ];

    /// A dense index, `0..ALL.len()`, for per-reason counters.
    pub fn index(self) -> usize {
        match self {
            Rejection::NoRoute => 0,
            Rejection::MethodNotAllowed => 1,
            Rejection::SignatureMissing => 2,
            Rejection::SignatureMalformed => 3,
            Rejection::SignatureMismatch => 4,
            Rejection::TimestampMissing => 5,
            Rejection::TimestampMalformed => 6,
            Rejection::TimestampOutOfTolerance => 7,
            Rejection::Replayed => 8,
            Rejection::BodyTooLarge => 9,
            Rejection::BodyTimeout => 10,
            Rejection::BodyUnreadable => 11,
            Rejection::HandshakeMalformed => 12,
            Rejection::ReplayStoreUnavailable => 13,
            Rejection::UpstreamUnreachable => 14,
            Rejection::UpstreamTimeout => 15,
            Rejection::RateLimited { .. } => 16,
            Rejection::HandshakeRefused => 17,
            Rejection::InFlight => 18,
            Rejection::PathMalformed => 19,
            Rejection::Overloaded => 20,
        }
    }

    /// Whether a route in `mode: observe` logs and counts this rejection but forwards anyway:
    /// the verdicts about the delivery (signature, timestamp, replay) and an unavailable
    /// replay store. Limits (body size, rate) and upstream failures apply in every mode.
    pub fn observable(self) -> bool {
        matches!(
            self,
            Rejection::ReplayStoreUnavailable
                | Rejection::SignatureMissing
                | Rejection::SignatureMalformed
                | Rejection::SignatureMismatch
                | Rejection::TimestampMissing
                | Rejection::TimestampMalformed
                | Rejection::TimestampOutOfTolerance
                | Rejection::Replayed
                | Rejection::InFlight
        )
    }

    /// The JSON body sent to the client.
    pub fn body(self) -> String {
        format!("{{\"error\":\"{}\"}}", self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_pinned() {
        let cases = [
            (Rejection::NoRoute, 404),
            (Rejection::PathMalformed, 400),
            (Rejection::Overloaded, 503),
            (Rejection::MethodNotAllowed, 405),
            (Rejection::SignatureMissing, 401),
            (Rejection::SignatureMalformed, 401),
            (Rejection::SignatureMismatch, 401),
            (Rejection::TimestampMissing, 401),
            (Rejection::TimestampMalformed, 401),
            (Rejection::TimestampOutOfTolerance, 401),
            (Rejection::Replayed, 401),
            (Rejection::BodyTooLarge, 413),
            (Rejection::BodyTimeout, 408),
            (Rejection::BodyUnreadable, 400),
            (Rejection::HandshakeMalformed, 400),
            (Rejection::HandshakeRefused, 403),
            (Rejection::InFlight, 409),
            (Rejection::ReplayStoreUnavailable, 503),
            (Rejection::UpstreamUnreachable, 502),
            (Rejection::UpstreamTimeout, 504),
            (
                Rejection::RateLimited {
                    retry_after_seconds: 3,
                },
                429,
            ),
        ];
        for (rejection, status) in cases {
            assert_eq!(rejection.status().as_u16(), status, "{rejection:?}");
            assert_eq!(
                rejection.body(),
                format!("{{\"error\":\"{}\"}}", rejection.reason())
            );
        }
    }

    #[test]
    fn all_is_dense_and_in_index_order() {
        for (i, rejection) in Rejection::ALL.iter().enumerate() {
            assert_eq!(rejection.index(), i, "{rejection:?}");
        }
        let mut reasons: Vec<_> = Rejection::ALL.iter().map(|r| r.reason()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), Rejection::ALL.len());
    }
}
