//! The request path, top to bottom: route -> handshake -> method -> bounded body -> verify ->
//! replay -> forward. [`Gateway::handle`] logs and turns any [`Rejection`] into a response;
//! [`Gateway::pipeline`] is one `?` step per stage.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::header::{ALLOW, CONNECTION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::body;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::Rejection;
use crate::handshake;
use crate::proxy::{Answer, Proxy};
use crate::replay::{self, MemoryStore, ReplayStore, Reservation};
use crate::route::{ReplayPolicy, Route};
use crate::verify::{Delivery, Verified};

/// Everything a request needs: the validated config, the replay store, the upstream client and
/// the clock.
#[derive(Debug)]
pub struct Gateway {
    config: Config,
    store: Arc<dyn ReplayStore>,
    proxy: Proxy,
    clock: Clock,
    requests: AtomicU64,
}

/// What the log line of a request reports besides its status.
#[derive(Debug, Default)]
struct Trace {
    route: Option<Arc<str>>,
    outcome: &'static str,
    secret_index: Option<usize>,
    upstream_status: Option<u16>,
}

impl Gateway {
    /// A gateway for `config`, with its own memory replay store, reading time from `clock`.
    pub fn new(config: Config, clock: Clock) -> Gateway {
        let store: Arc<dyn ReplayStore> = Arc::new(MemoryStore::new(config.replay.max_entries));
        let proxy = Proxy::new(config.timeouts.upstream);
        Gateway {
            config,
            store,
            proxy,
            clock,
            requests: AtomicU64::new(0),
        }
    }

    /// The config this gateway serves.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one request; never fails, every outcome is a response.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let id = self.requests.fetch_add(1, Ordering::Relaxed);
        // Both clones are cheap: standard methods are inline and a Uri shares its bytes.
        let method = request.method().clone();
        let uri = request.uri().clone();
        let mut trace = Trace::default();
        let (response, reason) = match self.pipeline(request, peer, &mut trace).await {
            Ok(response) => (response, ""),
            Err(rejection) => {
                trace.outcome = "rejected";
                (reject(rejection), rejection.reason())
            }
        };
        tracing::info!(
            request_id = id,
            %method,
            path = uri.path(),
            route = trace.route.as_deref().unwrap_or(""),
            outcome = trace.outcome,
            reason,
            status = response.status().as_u16(),
            upstream_status = trace.upstream_status,
            secret_index = trace.secret_index,
            latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "request"
        );
        response
    }

    async fn pipeline(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
        trace: &mut Trace,
    ) -> Result<Answer, Rejection> {
        let route = self
            .config
            .routes
            .find(request.uri().path())
            .ok_or(Rejection::NoRoute)?;
        trace.route = Some(Arc::clone(&route.name));
        if let Some(answer) = route
            .handshake
            .and_then(|h| handshake::answer(h, request.method(), request.uri()))
        {
            trace.outcome = "handshake";
            return answer;
        }
        if request.method() != Method::POST {
            return Err(Rejection::MethodNotAllowed);
        }
        let (parts, incoming) = request.into_parts();
        let body = body::read(
            incoming,
            &parts.headers,
            route.max_body_bytes,
            self.config.timeouts.body,
        )
        .await?;
        let now = self.clock.now();
        let delivery = Delivery {
            method: &parts.method,
            path: parts.uri.path(),
            headers: &parts.headers,
            body: &body,
        };
        let verified = route.verifier.verify(&delivery, now)?;
        trace.secret_index = Some(verified.secret_index);
        let reservation = self.reserve(route, &verified, now).await?;
        let result = self.proxy.forward(&route.upstream, parts, body, peer).await;
        trace.upstream_status = result.as_ref().ok().map(|r| r.status().as_u16());
        trace.outcome = "forwarded";
        settle(reservation, &result).await;
        result
    }

    /// Reserves the delivery's replay key; `Ok(None)` when the route has replay off.
    async fn reserve(
        &self,
        route: &Route,
        verified: &Verified,
        now: i64,
    ) -> Result<Option<Reservation>, Rejection> {
        let expires_at = match route.replay {
            ReplayPolicy::Off => return Ok(None),
            // Accepted while |now - ts| <= tolerance, so it must stay reserved until after
            // ts + tolerance.
            ReplayPolicy::UntilStale => {
                let ts = verified.timestamp.unwrap_or(now);
                ts.saturating_add_unsigned(route.verifier.tolerance())
                    .saturating_add(1)
                    .max(now + 1)
            }
            ReplayPolicy::Window(seconds) => now.saturating_add_unsigned(seconds),
        };
        let key = replay::key(&route.name, verified.fingerprint.as_bytes());
        match Reservation::take(&self.store, key, expires_at, now).await {
            Ok(Some(reservation)) => Ok(Some(reservation)),
            Ok(None) => Err(Rejection::Replayed),
            Err(e) => {
                tracing::warn!(route = &*route.name, error = %e, "replay store refused a reservation");
                Err(Rejection::ReplayStoreUnavailable)
            }
        }
    }
}

/// Keeps the reservation only if the sender is about to hear 2xx; otherwise releases it
/// before the sender hears back, so an immediate retry passes.
async fn settle(reservation: Option<Reservation>, result: &Result<Answer, Rejection>) {
    let Some(reservation) = reservation else {
        return;
    };
    if matches!(result, Ok(response) if response.status().is_success()) {
        reservation.keep();
    } else if let Err(e) = reservation.release().await {
        tracing::warn!(error = %e, "could not release a replay reservation; the retry may be refused until it expires");
    }
}

/// The response for a rejection: its status and `{"error":"<reason>"}`, nothing more.
pub fn reject(rejection: Rejection) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(rejection.body())));
    *response.status_mut() = rejection.status();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    match rejection {
        Rejection::MethodNotAllowed => {
            headers.insert(ALLOW, HeaderValue::from_static("POST"));
        }
        // Part of the body may still be on the wire; do not try to reuse the connection.
        Rejection::BodyTooLarge | Rejection::BodyTimeout | Rejection::BodyUnreadable => {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Rejection::ReplayStoreUnavailable => {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}
