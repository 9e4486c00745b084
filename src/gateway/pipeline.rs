//! The request path, top to bottom, one stage per function:
//! normalize the path -> route -> rate limit -> unsigned handshake -> method -> bounded body ->
//! unsigned handshake in the body -> verify -> signed handshake -> replay (and observe mode) -> forward, or on a durable route
//! enqueue (the app gets it from `crate::deliver`).
//!
//! Each stage returns `Result<_, Rejection>` and `process` chains them with `?`; what the
//! stages learn for the log line and the metrics goes into one [`Context`], which
//! `Gateway::handle` writes out once at the end. Generic over the body, so the whole path runs
//! in tests on an in-memory body.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request};
use hyper::body::Body;

use super::Gateway;
use super::fetched;
use super::generation::{Generation, Routed, admit};
use super::replay_step::{self, Judgement, Taken};
use crate::body::{self, Received};
use crate::budget::Charge;
use crate::error::Rejection;
use crate::handshake;
use crate::metrics::Outcome;
use crate::path;
use crate::proxy::{Answer, Outgoing};
use crate::queue::{Accepted, Refused};
use crate::replay::Key;
use crate::response;
use crate::route::{Delivery, Duplicates, Durable};
use crate::scheme::Handshake;
use crate::verify::{self, Verified};

/// What the stages learned about one request, for its log line and metrics.
#[derive(Debug, Default)]
pub(super) struct Context {
    /// The route, by position in config order.
    pub(super) route: Option<usize>,
    /// Set when the gateway answered without forwarding, or forwarded what it would reject.
    pub(super) outcome: Option<Outcome>,
    /// Which secret verified the delivery.
    pub(super) secret_index: Option<usize>,
    /// The app's status, when it answered.
    pub(super) upstream_status: Option<u16>,
    /// The id a durable route gave the delivery.
    pub(super) delivery_id: Option<String>,
}

/// Runs every stage in order.
pub(super) async fn process<B>(
    gateway: &Gateway,
    generation: &Generation,
    request: Request<B>,
    peer: SocketAddr,
    cx: &mut Context,
) -> Result<Answer, Rejection>
where
    B: Body<Data = Bytes> + Unpin,
{
    let request = normalize(request)?;
    let routed = generation
        .find(request.uri().path())
        .ok_or(Rejection::NoRoute)?;
    cx.route = Some(routed.index);
    rate_limit(routed)?;
    if let Some(answer) = unsigned_handshake(routed, &request, cx) {
        return answer;
    }
    require_post(&request)?;
    let (parts, body) = request.into_parts();
    // `_charge` holds the body's share of the budget until the request is answered.
    let (body, _charge) = read_body(gateway, generation, routed, &parts, body).await?;
    if let Some(answer) = body_handshake(routed, &parts, &body, cx) {
        return answer;
    }
    let delivery = verify::Delivery {
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body: verify::Body::from(&body),
    };
    let now = gateway.clock.now();
    let mut replay_key = None;
    let verdict = match verify(gateway, routed, &delivery, now, cx).await {
        Ok((verified, subscribe)) => {
            // Computed once: the replay store and, on a durable route, the queue keep it.
            replay_key = replay_step::key_until(routed.route, &verified, now);
            let taken = reserve(gateway, generation, routed, replay_key, now).await;
            let signed = Signed::of(&delivery, &verified, subscribe.as_deref());
            match signed_handshake(gateway, routed, signed, taken, cx).await? {
                Handled::Answered(answer) => return Ok(answer),
                Handled::Delivery(taken) => taken,
            }
        }
        Err(rejection) => Err(rejection),
    };
    let reservation = match replay_step::judge(verdict, routed.route)? {
        Judgement::Forward(reservation) => reservation,
        Judgement::Duplicate => {
            cx.outcome = Some(Outcome::Duplicate);
            return Ok(match routed.route.delivery {
                Delivery::Durable(durable) => response::queued_duplicate(durable.ack_status),
                Delivery::Sync => response::duplicate(),
            });
        }
        Judgement::Observed(rejection) => {
            cx.outcome = Some(Outcome::Observed(rejection));
            None
        }
    };
    let result = match routed.route.delivery {
        Delivery::Durable(durable) => {
            let stored = Stored {
                parts,
                body: body.into_bytes(),
                peer,
                replay_key,
            };
            Box::pin(enqueue(gateway, generation, routed, durable, stored, cx)).await
        }
        Delivery::Sync => forward(generation, routed, parts, body, peer, cx).await,
    };
    let succeeded = matches!(&result, Ok(answer) if answer.status().is_success());
    replay_step::settle(&gateway.metrics, routed.route, reservation, succeeded).await;
    result
}

/// Routes and forwards the canonical path only (see `crate::path`).
fn normalize<B>(mut request: Request<B>) -> Result<Request<B>, Rejection> {
    let canonical = path::canonical_uri(request.uri()).map_err(|e| {
        tracing::debug!(reason = %e, "path refused");
        Rejection::PathMalformed
    })?;
    if let Some(uri) = canonical {
        *request.uri_mut() = uri;
    }
    Ok(request)
}

fn rate_limit(routed: Routed<'_>) -> Result<(), Rejection> {
    match &routed.state.limiter {
        Some((_, limiter)) => admit(limiter),
        None => Ok(()),
    }
}

/// An unsigned handshake's answer (rate limited on its own), before any body is read.
fn unsigned_handshake<B>(
    routed: Routed<'_>,
    request: &Request<B>,
    cx: &mut Context,
) -> Option<Result<Answer, Rejection>> {
    let route = routed.route;
    let keys = handshake::RouteKeys {
        verifier: &route.verifier,
        verify_token: route.verify_token.as_ref(),
    };
    let answer = route.handshake.and_then(|h| {
        handshake::before_body(h, request.method(), request.uri(), request.headers(), keys)
    })?;
    cx.outcome = Some(Outcome::Handshake);
    Some(admit(&routed.state.handshakes).and(answer))
}

/// An unsigned handshake whose value travels in the body (rate limited like the others),
/// answered from the bounded body before verification.
fn body_handshake(
    routed: Routed<'_>,
    parts: &Parts,
    body: &Received,
    cx: &mut Context,
) -> Option<Result<Answer, Rejection>> {
    let answer = routed
        .route
        .handshake
        .filter(|h| h.reads_body())
        // Joined already on a route with a handshake (`Route::joins_body`): borrowed.
        .and_then(|h| {
            handshake::with_body(h, &parts.headers, &verify::Body::from(body).contiguous())
        })?;
    cx.outcome = Some(Outcome::Handshake);
    Some(admit(&routed.state.handshakes).and(answer))
}

fn require_post<B>(request: &Request<B>) -> Result<(), Rejection> {
    if request.method() == Method::POST {
        Ok(())
    } else {
        Err(Rejection::MethodNotAllowed)
    }
}

async fn read_body<B>(
    gateway: &Gateway,
    generation: &Generation,
    routed: Routed<'_>,
    parts: &Parts,
    body: B,
) -> Result<(Received, Charge), Rejection>
where
    B: Body<Data = Bytes> + Unpin,
{
    let read = body::read(
        body,
        &parts.headers,
        routed.route.max_body_bytes,
        generation.config.timeouts.body,
        &gateway.budget,
        routed.route.joins_body,
    )
    .await?;
    routed.state.metrics.body(read.0.len());
    Ok(read)
}

/// Verifies the delivery; an SNS message also yields the `SubscribeURL` of a subscription
/// confirmation.
async fn verify(
    gateway: &Gateway,
    routed: Routed<'_>,
    delivery: &verify::Delivery<'_>,
    now: i64,
    cx: &mut Context,
) -> Result<(Verified, Option<String>), Rejection> {
    let verifier = &routed.route.verifier;
    let (verified, subscribe) = if verifier.scheme().fetches_its_key() {
        fetched::verify(gateway, verifier, delivery, now).await?
    } else {
        (verifier.verify(delivery, now)?, None)
    };
    cx.secret_index = Some(verified.secret_index);
    routed.state.metrics.secret_match(verified.secret_index);
    Ok((verified, subscribe))
}

async fn reserve(
    gateway: &Gateway,
    generation: &Generation,
    routed: Routed<'_>,
    key: Option<(Key, i64)>,
    now: i64,
) -> Result<Taken, Rejection> {
    replay_step::reserve(&generation.store, &gateway.metrics, routed.route, key, now).await
}

/// A verified request, as a signed handshake sees it.
struct Signed<'a, 'd> {
    delivery: &'a verify::Delivery<'d>,
    verified: &'a Verified,
    /// An SNS subscription confirmation's `SubscribeURL`.
    subscribe: Option<&'a str>,
}

impl<'a, 'd> Signed<'a, 'd> {
    fn of(
        delivery: &'a verify::Delivery<'d>,
        verified: &'a Verified,
        subscribe: Option<&'a str>,
    ) -> Signed<'a, 'd> {
        Signed {
            delivery,
            verified,
            subscribe,
        }
    }
}

/// Whether a verified request was a signed handshake (answered) or a delivery.
enum Handled {
    Answered(Answer),
    Delivery(Result<Taken, Rejection>),
}

/// A signed handshake is answered here, verified and never forwarded. Its key was reserved
/// like a delivery's, so a captured copy re-labelled as a delivery (the message type is not
/// signed) is a replay; a repeat of the handshake itself is answered again, which is
/// idempotent. A subscription visit that fails releases the key, so SNS's retry is served.
async fn signed_handshake(
    gateway: &Gateway,
    routed: Routed<'_>,
    signed: Signed<'_, '_>,
    taken: Result<Taken, Rejection>,
    cx: &mut Context,
) -> Result<Handled, Rejection> {
    let route = routed.route;
    let answer = match route.handshake.filter(|h| h.after_verify()) {
        None => None,
        Some(Handshake::SnsSubscription) => match signed.subscribe {
            Some(url) if !matches!(taken, Err(Rejection::ReplayStoreUnavailable)) => {
                Some(fetched::confirm_subscription(gateway, url).await)
            }
            _ => None,
        },
        Some(h) => handshake::after_verify(
            h,
            signed.delivery,
            &route.verifier,
            signed.verified.secret_index,
        )
        .map(Ok),
    };
    let Some(answer) = answer else {
        return Ok(Handled::Delivery(taken));
    };
    match taken {
        Err(Rejection::ReplayStoreUnavailable) => return Err(Rejection::ReplayStoreUnavailable),
        Ok(Taken::Forward(reservation)) => {
            let done = answer.is_ok();
            replay_step::settle(&gateway.metrics, route, reservation, done).await;
        }
        _ => {}
    }
    cx.outcome = Some(Outcome::Handshake);
    Ok(Handled::Answered(answer?))
}

async fn forward(
    generation: &Generation,
    routed: Routed<'_>,
    parts: Parts,
    body: Received,
    peer: SocketAddr,
    cx: &mut Context,
) -> Result<Answer, Rejection> {
    let sent = Instant::now();
    let result = generation
        .proxy
        .forward(&routed.route.upstream, parts, Outgoing::from(body), peer)
        .await;
    routed.state.metrics.upstream(sent.elapsed());
    cx.upstream_status = result.as_ref().ok().map(|r| r.status().as_u16());
    result
}

/// What a durable route stores of a verified request.
struct Stored {
    parts: Parts,
    body: Bytes,
    peer: SocketAddr,
    replay_key: Option<(Key, i64)>,
}

/// Stores the delivery exactly as it would be forwarded, and answers once it is on disk.
/// The queue keeps the replay key in the same transaction, so a retry is caught across
/// restarts too.
async fn enqueue(
    gateway: &Gateway,
    generation: &Generation,
    routed: Routed<'_>,
    durable: Durable,
    stored: Stored,
    cx: &mut Context,
) -> Result<Answer, Rejection> {
    let queue = gateway.queue.as_ref().ok_or(Rejection::QueueUnavailable)?;
    let Stored {
        parts,
        body,
        peer,
        replay_key,
    } = stored;
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let headers =
        generation
            .proxy
            .outgoing_headers(&routed.route.upstream, parts.headers, body.len(), peer);
    let request = crate::queue::Request {
        method: parts.method,
        target,
        headers,
        body,
    };
    let now_ms = gateway.clock.now_ms();
    match queue
        .accept(&routed.route.name, request, replay_key, now_ms)
        .await
    {
        Ok(Accepted::Queued(id)) => {
            cx.outcome = Some(Outcome::Queued);
            let id = crate::queue::id_text(id);
            let answer = response::queued(durable.ack_status, &id);
            cx.delivery_id = Some(id);
            Ok(answer)
        }
        Ok(Accepted::Duplicate) if routed.route.duplicates == Duplicates::Acknowledge => {
            cx.outcome = Some(Outcome::Duplicate);
            Ok(response::queued_duplicate(durable.ack_status))
        }
        Ok(Accepted::Duplicate) => Err(Rejection::Replayed),
        Err(Refused::Full) => Err(Rejection::QueueFull),
        Err(Refused::Failed) => Err(Rejection::QueueUnavailable),
        Err(Refused::Unsafe) => Err(Rejection::QueueUnsafe),
    }
}
