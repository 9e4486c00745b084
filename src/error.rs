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
    /// The durable queue holds `max_deliveries` or `max_bytes`; the sender should retry.
    #[error("queue full")]
    QueueFull,
    /// The durable queue's store failed; the sender should retry (at another replica).
    #[error("queue unavailable")]
    QueueUnavailable,
    /// The queue's Redis does not make writes durable (its settings say so), and the config
    /// did not accept that; the sender should retry once an operator fixed it.
    #[error("queue unsafe")]
    QueueUnsafe,
    /// The key the delivery names (a signing certificate fetched at run time) could not be
    /// had just now; the sender should retry.
    #[error("signing key unavailable")]
    KeyUnavailable,
    /// A verified subscription confirmation whose confirming visit failed; the sender should
    /// retry.
    #[error("subscription not confirmed")]
    SubscriptionUnconfirmed,
    /// The route's rate limit is exhausted; the sender may retry after the given seconds.
    #[error("rate limited")]
    RateLimited {
        /// Whole seconds until a request would be admitted, at least 1.
        retry_after_seconds: u32,
    },
}

/// What a client sees for one kind of rejection: one row of the table in [`Rejection::row`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Dense position, `0..ALL.len()`, for per-reason counters.
    pub index: usize,
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable reason code: response body, log field and metric label.
    pub reason: &'static str,
    /// Whether a route in `mode: observe` logs and counts it but forwards anyway: the
    /// verdicts about the delivery (signature, timestamp, replay) and an unavailable replay
    /// store. Limits (path, body, rate, budget) and upstream failures apply in every mode.
    pub observable: bool,
    /// Headers the answer carries besides its content type.
    pub headers: Extra,
}

/// Headers a rejection's answer adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// None.
    Nothing,
    /// `Allow: POST`.
    AllowPost,
    /// `Connection: close`: part of the body may still be on the wire.
    Close,
    /// `Retry-After` (1 s, or the rate limiter's wait): the sender should come back.
    RetryAfter,
    /// Both: refused before the body was read, and worth retrying.
    CloseRetryAfter,
}

impl Rejection {
    /// The table: every client-visible rejection with its index, status, reason, whether
    /// observe mode forwards it, and its extra headers. Exhaustive on purpose, with no `_`
    /// arm: a new variant must choose its row.
    pub fn row(self) -> Row {
        use Extra::{AllowPost, Close, CloseRetryAfter, Nothing, RetryAfter};
        use StatusCode as S;
        let (index, status, reason, observable, headers) = match self {
            Rejection::NoRoute => (0, S::NOT_FOUND, "no_route", false, Nothing),
            Rejection::MethodNotAllowed => (
                1,
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                false,
                AllowPost,
            ),
            Rejection::SignatureMissing => (2, S::UNAUTHORIZED, "signature_missing", true, Nothing),
            Rejection::SignatureMalformed => {
                (3, S::UNAUTHORIZED, "signature_malformed", true, Nothing)
            }
            Rejection::SignatureMismatch => {
                (4, S::UNAUTHORIZED, "signature_mismatch", true, Nothing)
            }
            Rejection::TimestampMissing => (5, S::UNAUTHORIZED, "timestamp_missing", true, Nothing),
            Rejection::TimestampMalformed => {
                (6, S::UNAUTHORIZED, "timestamp_malformed", true, Nothing)
            }
            Rejection::TimestampOutOfTolerance => (
                7,
                S::UNAUTHORIZED,
                "timestamp_out_of_tolerance",
                true,
                Nothing,
            ),
            Rejection::Replayed => (8, S::UNAUTHORIZED, "replayed", true, Nothing),
            Rejection::BodyTooLarge => (9, S::PAYLOAD_TOO_LARGE, "body_too_large", false, Close),
            Rejection::BodyTimeout => (10, S::REQUEST_TIMEOUT, "body_timeout", false, Close),
            Rejection::BodyUnreadable => (11, S::BAD_REQUEST, "body_unreadable", false, Close),
            Rejection::HandshakeMalformed => {
                (12, S::BAD_REQUEST, "handshake_malformed", false, Nothing)
            }
            Rejection::ReplayStoreUnavailable => (
                13,
                S::SERVICE_UNAVAILABLE,
                "replay_store_unavailable",
                true,
                RetryAfter,
            ),
            Rejection::UpstreamUnreachable => {
                (14, S::BAD_GATEWAY, "upstream_unreachable", false, Nothing)
            }
            Rejection::UpstreamTimeout => {
                (15, S::GATEWAY_TIMEOUT, "upstream_timeout", false, Nothing)
            }
            Rejection::RateLimited { .. } => {
                (16, S::TOO_MANY_REQUESTS, "rate_limited", false, RetryAfter)
            }
            Rejection::HandshakeRefused => (17, S::FORBIDDEN, "handshake_refused", false, Nothing),
            Rejection::InFlight => (18, S::CONFLICT, "in_flight", true, RetryAfter),
            Rejection::PathMalformed => (19, S::BAD_REQUEST, "path_malformed", false, Nothing),
            Rejection::Overloaded => (
                20,
                S::SERVICE_UNAVAILABLE,
                "overloaded",
                false,
                CloseRetryAfter,
            ),
            Rejection::QueueFull => (21, S::SERVICE_UNAVAILABLE, "queue_full", false, RetryAfter),
            Rejection::QueueUnavailable => (
                22,
                S::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                false,
                RetryAfter,
            ),
            Rejection::QueueUnsafe => (
                23,
                S::SERVICE_UNAVAILABLE,
                "queue_unsafe",
                false,
                RetryAfter,
            ),
            Rejection::KeyUnavailable => (
                24,
                S::SERVICE_UNAVAILABLE,
                "key_unavailable",
                false,
                RetryAfter,
            ),
            Rejection::SubscriptionUnconfirmed => (
                25,
                S::BAD_GATEWAY,
                "subscription_unconfirmed",
                false,
                RetryAfter,
            ),
        };
        Row {
            index,
            status,
            reason,
            observable,
            headers,
        }
    }

    /// The HTTP status sent to the client.
    pub fn status(self) -> StatusCode {
        self.row().status
    }

    /// The stable, machine-readable reason code: the response body, log field and metric label.
    pub fn reason(self) -> &'static str {
        self.row().reason
    }

    /// A dense index, `0..ALL.len()`, for per-reason counters.
    pub fn index(self) -> usize {
        self.row().index
    }

    /// Whether observe mode forwards a delivery with this rejection (see [`Row::observable`]).
    pub fn observable(self) -> bool {
        self.row().observable
    }

    /// The seconds a `Retry-After` header carries.
    pub fn retry_after_seconds(self) -> u32 {
        match self {
            Rejection::RateLimited {
                retry_after_seconds,
            } => retry_after_seconds,
            _ => 1,
        }
    }

    /// Every kind of rejection once, in [`Rejection::index`] order: the metric label set.
    pub const ALL: [Rejection; 26] = [
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
        Rejection::QueueFull,
        Rejection::QueueUnavailable,
        Rejection::QueueUnsafe,
        Rejection::KeyUnavailable,
        Rejection::SubscriptionUnconfirmed,
    ];

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
            (Rejection::QueueFull, 503),
            (Rejection::QueueUnavailable, 503),
            (Rejection::QueueUnsafe, 503),
            (Rejection::KeyUnavailable, 503),
            (Rejection::SubscriptionUnconfirmed, 502),
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
    fn observe_mode_forwards_only_verdicts_about_the_delivery() {
        let observable: Vec<_> = Rejection::ALL
            .iter()
            .filter(|r| r.observable())
            .map(|r| r.reason())
            .collect();
        assert_eq!(
            observable,
            [
                "signature_missing",
                "signature_malformed",
                "signature_mismatch",
                "timestamp_missing",
                "timestamp_malformed",
                "timestamp_out_of_tolerance",
                "replayed",
                "replay_store_unavailable",
                "in_flight",
            ]
        );
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
