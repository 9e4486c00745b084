//! Forwarding to the upstream: pooled keep-alive connections driven by the request's own task
//! ([`pool`]), hop-by-hop header stripping (RFC 9110 section 7.6.1) and `X-Forwarded-*`.
//!
//! The request goes out with the exact body bytes received and every end-to-end header,
//! signature headers included, so an app that verifies too still works. The upstream's
//! response is read whole (bounded) before anything is sent back, so a response that breaks
//! midway becomes a 502 rather than a truncated 2xx.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Request, Response};
use http_body_util::Full;

use crate::error::Rejection;
use crate::route::Upstream;

mod forwarded;
mod local_wake;
mod outgoing;
mod pool;

pub use forwarded::TrustedProxies;
pub use outgoing::Outgoing;

use pool::{Failure, Pool};

/// The largest upstream response hookgate relays. Webhook answers are tiny; anything bigger
/// is treated as a broken upstream (502) rather than buffered without bound.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// Headers that describe one connection, not the message (RFC 9110 7.6.1).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Headers the app never gets: those some frameworks and proxies read as the real path or
/// method (IIS, Symfony, Laravel, Rails' `Rack::MethodOverride`, Express' `method-override`),
/// since the route was chosen and verified for the request line, and `Expect`, which
/// hookgate already answered by reading the body.
const NOT_FORWARDED: [HeaderName; 6] = [
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-rewrite-url"),
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
    header::EXPECT,
];

/// A finished upstream response.
pub type Answer = Response<Full<Bytes>>;

/// The upstream client, for http and https upstreams.
#[derive(Debug, Clone)]
pub struct Proxy {
    pool: Pool,
    timeout: Duration,
    forwarded_proto: HeaderValue,
    trusted: TrustedProxies,
}

impl Proxy {
    /// A client whose whole exchange (connect, TLS, send, response) is bounded by `timeout`,
    /// trusting `tls` for https upstreams. `listener_tls` says whether senders reach hookgate
    /// over TLS, for `X-Forwarded-Proto`; `trusted` says whose forwarding headers are kept.
    pub fn new(
        timeout: Duration,
        tls: Arc<rustls::ClientConfig>,
        listener_tls: bool,
        trusted: TrustedProxies,
    ) -> Proxy {
        let forwarded_proto = HeaderValue::from_static(if listener_tls { "https" } else { "http" });
        Proxy {
            pool: Pool::new(tls),
            timeout,
            forwarded_proto,
            trusted,
        }
    }

    /// Sends the verified request upstream and returns its response.
    ///
    /// # Errors
    /// [`Rejection::UpstreamTimeout`] past the timeout, [`Rejection::UpstreamUnreachable`] for
    /// anything else that keeps a complete response from arriving.
    pub async fn forward(
        &self,
        upstream: &Upstream,
        parts: Parts,
        body: Outgoing,
        peer: SocketAddr,
    ) -> Result<Answer, Rejection> {
        let root = PathAndQuery::from_static("/");
        let path = parts.uri.path_and_query().unwrap_or(&root);
        let uri = upstream
            .uri_for(path)
            .map_err(|_| Rejection::UpstreamUnreachable)?;
        let length = usize::try_from(body.len()).unwrap_or(usize::MAX);
        let headers = self.outgoing_headers(upstream, parts.headers, length, peer);
        self.send(upstream, parts.method, uri, headers, body).await
    }

    /// The headers the app gets with a request that came with `headers` from `peer`:
    /// hop-by-hop and override headers removed, the exact length, the forwarding headers.
    pub fn outgoing_headers(
        &self,
        upstream: &Upstream,
        mut headers: HeaderMap,
        body_len: usize,
        peer: SocketAddr,
    ) -> HeaderMap {
        strip(&mut headers, &NOT_FORWARDED);
        // The framing the app sees is always the exact length of the bytes sent.
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
        forwarded::set(&mut headers, peer, &self.forwarded_proto, &self.trusted);
        if !headers.contains_key(header::HOST)
            && let Ok(host) = HeaderValue::from_str(upstream.authority.as_str())
        {
            headers.insert(header::HOST, host);
        }
        headers
    }

    /// Sends a request whose headers are ready (see [`Proxy::outgoing_headers`]).
    ///
    /// # Errors
    /// As [`Proxy::forward`].
    pub async fn send(
        &self,
        upstream: &Upstream,
        method: http::Method,
        uri: http::Uri,
        headers: HeaderMap,
        body: Outgoing,
    ) -> Result<Answer, Rejection> {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(body)
            .map_err(|_| Rejection::UpstreamUnreachable)?;
        *request.headers_mut() = headers;
        tokio::time::timeout(self.timeout, self.exchange(upstream, request))
            .await
            .map_err(|_| Rejection::UpstreamTimeout)?
            .map_err(|e| {
                tracing::warn!(upstream = %upstream, error = %e, "upstream request failed");
                Rejection::UpstreamUnreachable
            })
    }

    /// One request and its whole response, on a pooled connection when one is free. A
    /// request that a reused connection could not even send (the upstream closed it while
    /// idle) is sent again once on a new connection; nothing else is retried.
    async fn exchange(
        &self,
        upstream: &Upstream,
        request: Request<Outgoing>,
    ) -> Result<Answer, String> {
        let (scheme, authority) = (&upstream.scheme, &upstream.authority);
        let mut request = request;
        if let Some(mut conn) = self.pool.checkout(scheme, authority) {
            match conn.round_trip(request).await {
                Ok(response) => return Ok(self.relay(upstream, conn, response)),
                Err(Failure::Unsent(unsent, why)) => {
                    tracing::debug!(upstream = %upstream, reason = %why, "pooled connection was closed; sending on a new one");
                    request = *unsent;
                }
                Err(Failure::Failed(why)) => return Err(why),
            }
        }
        // Boxed: a new connection is rare, and its TLS handshake's state would otherwise make
        // every request's future (which hyper moves in and out) kilobytes larger.
        let mut conn = Box::pin(self.pool.connect(scheme, authority)).await?;
        match conn.round_trip(request).await {
            Ok(response) => Ok(self.relay(upstream, conn, response)),
            Err(Failure::Unsent(_, why) | Failure::Failed(why)) => Err(why),
        }
    }

    /// Gives the connection back and makes the upstream's response hookgate's answer.
    fn relay(&self, upstream: &Upstream, conn: pool::Conn, response: Response<Bytes>) -> Answer {
        self.pool.put(&upstream.scheme, &upstream.authority, conn);
        let (mut head, bytes) = response.into_parts();
        strip_hop_by_hop(&mut head.headers);
        Response::from_parts(head, Full::new(bytes))
    }
}

/// An error with its sources, e.g. "client error (Connect): invalid peer certificate".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Removes hop-by-hop headers, including any the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    strip(headers, &[]);
}

/// Removes hop-by-hop headers and `also`.
fn strip(headers: &mut HeaderMap, also: &[HeaderName]) {
    // One pass over the names, comparing against the fixed lists and the `Connection` tokens;
    // only names actually present are removed, so a message with none costs no hashing.
    let tokens: Vec<&str> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            HOP_BY_HOP.contains(name)
                || also.contains(name)
                || tokens.iter().any(|t| t.eq_ignore_ascii_case(name.as_str()))
        })
        .cloned()
        .collect();
    for name in &doomed {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret-Hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-flow-signature", HeaderValue::from_static("sha-256=ab"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-flow-signature"));
    }

    #[test]
    fn requests_lose_expect_and_path_overrides_responses_keep_them() {
        let headers = || {
            let mut h = HeaderMap::new();
            h.insert(header::EXPECT, HeaderValue::from_static("100-continue"));
            h.insert("x-original-url", HeaderValue::from_static("/admin"));
            h.insert("X-HTTP-Method-Override", HeaderValue::from_static("DELETE"));
            h.insert("x-hub-signature-256", HeaderValue::from_static("sha256=ab"));
            h
        };
        let mut request = headers();
        strip(&mut request, &NOT_FORWARDED);
        assert_eq!(
            request.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            ["x-hub-signature-256"]
        );
        let mut response = headers();
        strip_hop_by_hop(&mut response);
        assert_eq!(response.len(), 4);
    }
}
