//! Every response hookgate makes up itself, in one place: rejections (from the table in
//! `error`), the answer to an acknowledged duplicate, handshake answers, the admin
//! endpoints' text, and the raw 503 for a connection past the cap. Forwarded responses are
//! the app's own and never pass through here.

use std::sync::LazyLock;

use bytes::Bytes;
use http::header::{
    ALLOW, CONNECTION, CONTENT_TYPE, HeaderValue, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS,
};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::error::{Extra, Rejection};

/// A response made up by hookgate.
pub(crate) type Synthetic = Response<Full<Bytes>>;

/// The answer to `rejection`: its status, `{"error":"<reason>"}` and the row's headers.
pub(crate) fn rejection(rejection: Rejection) -> Synthetic {
    let row = rejection.row();
    let mut response = with_type(Bytes::from(rejection.body()), "application/json");
    *response.status_mut() = row.status;
    let headers = response.headers_mut();
    if matches!(row.headers, Extra::AllowPost) {
        headers.insert(ALLOW, HeaderValue::from_static("POST"));
    }
    if matches!(row.headers, Extra::Close | Extra::CloseRetryAfter) {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    if matches!(row.headers, Extra::RetryAfter | Extra::CloseRetryAfter) {
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from(rejection.retry_after_seconds()),
        );
    }
    response
}

/// The answer to a duplicate of a delivery the app already answered 2xx.
pub(crate) fn duplicate() -> Synthetic {
    with_type(
        Bytes::from_static(b"{\"status\":\"duplicate\"}"),
        "application/json",
    )
}

/// The answer to a delivery a durable route stored: `status` (200, 202 or 204) with
/// `{"status":"queued","id":"<id>"}` (no body for 204).
pub(crate) fn queued(status: u16, id: &str) -> Synthetic {
    durable_answer(status, format!("{{\"status\":\"queued\",\"id\":\"{id}\"}}"))
}

/// A durable route's answer to a duplicate of a delivery it already holds or delivered.
pub(crate) fn queued_duplicate(status: u16) -> Synthetic {
    durable_answer(status, "{\"status\":\"duplicate\"}".to_owned())
}

fn durable_answer(status: u16, body: String) -> Synthetic {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = if status == StatusCode::NO_CONTENT {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut response = with_type(body, "application/json");
    *response.status_mut() = status;
    response
}

/// A handshake answered with the sender's value as plain text.
pub(crate) fn handshake_text(value: &[u8]) -> Synthetic {
    sender_value(Bytes::copy_from_slice(value), "text/plain; charset=utf-8")
}

/// A handshake answered in JSON.
pub(crate) fn handshake_json(value: &serde_json::Value) -> Synthetic {
    sender_value(Bytes::from(value.to_string()), "application/json")
}

/// A handshake answered with `status` and no body (a probe, Discord's event PING).
pub(crate) fn handshake_empty(status: StatusCode) -> Synthetic {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// A handshake answer that also echoes the sender's value in the header `name`
/// (RingCentral, Smartsheet, CloudEvents).
pub(crate) fn with_header(
    mut answer: Synthetic,
    name: &'static str,
    value: HeaderValue,
) -> Synthetic {
    answer
        .headers_mut()
        .insert(http::HeaderName::from_static(name), value);
    answer
}

/// An admin endpoint's plain-text answer.
pub(crate) fn admin_text(status: StatusCode, body: &str) -> Synthetic {
    let mut response = with_type(
        Bytes::copy_from_slice(body.as_bytes()),
        "text/plain; charset=utf-8",
    );
    *response.status_mut() = status;
    response
}

/// An admin endpoint's answer of `content_type`.
pub(crate) fn admin_body(body: String, content_type: &'static str) -> Synthetic {
    with_type(Bytes::from(body), content_type)
}

/// The raw HTTP/1.1 answer for a connection past the cap, written before hyper ever sees the
/// connection: the `overloaded` row, serialized once.
pub(crate) fn refused_connection() -> &'static [u8] {
    static RAW: LazyLock<Vec<u8>> = LazyLock::new(|| {
        let rejection = Rejection::Overloaded;
        let body = rejection.body();
        let status = rejection.status();
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\nretry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            rejection.retry_after_seconds(),
            body.len(),
        )
        .into_bytes()
    });
    &RAW
}

/// A value the sender chose, echoed: never let a browser sniff it into something active.
fn sender_value(body: Bytes, content_type: &'static str) -> Synthetic {
    let mut response = with_type(body, content_type);
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn with_type(body: Bytes, content_type: &'static str) -> Synthetic {
    let mut response = Response::new(Full::new(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_carry_their_rows_headers() {
        let r = rejection(Rejection::MethodNotAllowed);
        assert_eq!(r.status().as_u16(), 405);
        assert_eq!(r.headers()[ALLOW], "POST");
        let r = rejection(Rejection::BodyTooLarge);
        assert_eq!(r.headers()[CONNECTION], "close");
        assert!(!r.headers().contains_key(RETRY_AFTER));
        let r = rejection(Rejection::RateLimited {
            retry_after_seconds: 7,
        });
        assert_eq!(r.headers()[RETRY_AFTER], "7");
        let r = rejection(Rejection::Overloaded);
        assert_eq!(r.headers()[RETRY_AFTER], "1");
        assert_eq!(r.headers()[CONNECTION], "close");
        let r = rejection(Rejection::SignatureMismatch);
        assert_eq!(r.headers().len(), 1, "only the content type");
    }

    #[test]
    fn the_refused_connection_answer_is_the_overloaded_row() {
        let raw = std::str::from_utf8(refused_connection()).unwrap();
        assert_eq!(
            raw,
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
             connection: close\r\ncontent-length: 22\r\n\r\n{\"error\":\"overloaded\"}"
        );
    }
}
