//! The deliverer: takes what durable routes queued to the app, one attempt at a time per
//! slot of each route's `concurrency`, and retries on an exponential, jittered schedule
//! until the app answers 2xx or the route gives up.
//!
//! Each attempt reads the route (its upstream, its policy) from the config active at that
//! moment, so a reload applies to queued deliveries too. A route removed by a reload leaves
//! its deliveries waiting; they go out once a route of that name is back.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use http::uri::PathAndQuery;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::gateway::{Gateway, Generation};
use crate::metrics::AttemptResult;
use crate::queue::{Id, Meta, Policy, Queue, State, id_text};
use crate::route::{Delivery, Durable, Ordering, Retry, Route};

/// How often dead deliveries past retention and expired replay keys are dropped.
const HOUSEKEEPING: Duration = Duration::from_secs(60);
/// The longest the loop sleeps, so a reload's new policies apply promptly.
const MAX_IDLE: Duration = Duration::from_secs(1);
/// The schedule of a route that turned from durable to sync with deliveries still queued.
const SYNC_RETRY: Retry = Retry::DEFAULT;

/// Delivers until `stop` turns true, then lets attempts in flight finish within the
/// shutdown grace period; the rest stay queued for the next start.
pub async fn run(gateway: Arc<Gateway>, queue: Arc<Queue>, mut stop: watch::Receiver<bool>) {
    let mut attempts = JoinSet::new();
    let mut housekept = tokio::time::Instant::now() - HOUSEKEEPING;
    let mut disk_checked = tokio::time::Instant::now();
    loop {
        let active = gateway.active();
        let now_ms = gateway.clock().now_ms();
        let policy = |name: &str| -> Policy {
            let route = active.config.routes.by_name(name)?;
            Some(match route.delivery {
                Delivery::Durable(d) => (d.concurrency.get(), d.ordering),
                Delivery::Sync => (4, Ordering::None),
            })
        };
        for (id, meta) in queue.take_due(now_ms, &policy).await {
            let attempt = attempt(
                Arc::clone(&gateway),
                Arc::clone(&queue),
                Arc::clone(&active),
                id,
                meta,
            );
            attempts.spawn(attempt);
        }
        if disk_checked.elapsed() >= Duration::from_secs(1) {
            disk_checked = tokio::time::Instant::now();
            queue.check().await;
        }
        if housekept.elapsed() >= HOUSEKEEPING {
            housekept = tokio::time::Instant::now();
            housekeeping(&queue, &active, now_ms).await;
        }
        let wait = queue
            .next_due(now_ms)
            .map_or(MAX_IDLE, |at| {
                Duration::from_millis(u64::try_from(at - now_ms).unwrap_or(0))
            })
            .min(MAX_IDLE);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = queue.wake().notified() => {}
            Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    let grace = gateway.active().config.timeouts.shutdown_grace;
    let left = attempts.len();
    if left > 0 {
        tracing::info!(attempts = left, "waiting for delivery attempts in flight");
    }
    let drained = tokio::time::timeout(grace, async {
        while attempts.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            attempts = attempts.len(),
            "delivery attempts still in flight at the end of the grace period; they stay queued and are attempted again after the restart"
        );
        attempts.abort_all();
    }
    queue.sync().await;
}

/// One attempt: send the stored request, then record what the app said.
async fn attempt(
    gateway: Arc<Gateway>,
    queue: Arc<Queue>,
    generation: Arc<Generation>,
    id: Id,
    mut meta: Meta,
) {
    let Some(route) = generation.config.routes.by_name(&meta.route) else {
        return retry_later(
            &queue,
            id,
            meta,
            gateway.clock().now_ms(),
            "route not configured",
        )
        .await;
    };
    let request = match queue.request(id).await {
        Ok(Some(request)) => request,
        Ok(None) => {
            queue.remove(id).await;
            return;
        }
        Err(e) => {
            tracing::error!(delivery_id = %id_text(id), error = %e, "queued delivery cannot be read");
            return retry_later(
                &queue,
                id,
                meta,
                gateway.clock().now_ms(),
                "store read failed",
            )
            .await;
        }
    };
    meta.attempts += 1;
    let crate::queue::Request {
        method,
        target,
        mut headers,
        body,
    } = request;
    let Some(uri) = prepare(route, &target, &mut headers, id, meta.attempts) else {
        tracing::error!(delivery_id = %id_text(id), "queued delivery has an unusable request line or header");
        return retry_later(
            &queue,
            id,
            meta,
            gateway.clock().now_ms(),
            "stored request unusable",
        )
        .await;
    };
    let sent = generation
        .proxy()
        .send(&route.upstream, method, uri, headers, body.into())
        .await;
    let now_ms = gateway.clock().now_ms();
    let (result, status, retry_after, error) = match &sent {
        Ok(answer) if answer.status().is_success() => {
            (AttemptResult::Delivered, Some(answer.status()), None, None)
        }
        Ok(answer) => (
            AttemptResult::Refused,
            Some(answer.status()),
            retry_after(answer.status(), answer.headers()),
            None,
        ),
        Err(rejection) => (AttemptResult::Failed, None, None, Some(rejection.reason())),
    };
    let lag = (result == AttemptResult::Delivered)
        .then(|| Duration::from_millis(u64::try_from(now_ms - meta.received_at_ms).unwrap_or(0)));
    queue.metrics().attempt(&meta.route, result, lag);
    if result == AttemptResult::Delivered {
        // The common case, at debug: the request's own line already carries the id.
        tracing::debug!(route = &*meta.route, delivery_id = %id_text(id), attempt = meta.attempts, "delivered");
        queue.delivered(id).await;
        return;
    }
    tracing::info!(
        route = &*meta.route,
        delivery_id = %id_text(id),
        attempt = meta.attempts,
        result = result.label(),
        status = status.map(|s| s.as_u16()),
        error,
        "delivery attempt failed"
    );
    meta.last_status = status.map(|s| s.as_u16());
    meta.last_error = error.map(str::to_owned);
    let schedule = match route.delivery {
        Delivery::Durable(d) => d.retry,
        Delivery::Sync => SYNC_RETRY,
    };
    reschedule(&queue, id, meta, now_ms, schedule, retry_after).await;
}

/// The stored request's target on the route's upstream, with the delivery's id and attempt
/// added to its headers.
fn prepare(
    route: &Route,
    target: &str,
    headers: &mut HeaderMap,
    id: Id,
    attempt: u32,
) -> Option<http::Uri> {
    let target = PathAndQuery::try_from(target).ok()?;
    let uri = route.upstream.uri_for(&target).ok()?;
    headers.insert(
        HeaderName::from_static("x-hookgate-delivery-id"),
        HeaderValue::from_str(&id_text(id)).ok()?,
    );
    headers.insert(
        HeaderName::from_static("x-hookgate-attempt"),
        HeaderValue::from(attempt),
    );
    Some(uri)
}

/// A 429 or 503's `Retry-After`, in whole seconds (the delta form; a date is ignored).
fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<u64> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

/// The wait after attempt `attempts` failed: `first * 2^(attempts-1)` capped at `max`, the
/// upper half of it jittered, so retries of many deliveries spread out.
fn backoff_ms(attempts: u32, retry: Retry, jitter: u64) -> u64 {
    let exponent = attempts.saturating_sub(1).min(40);
    let base = retry
        .first_seconds
        .saturating_mul(1 << exponent)
        .min(retry.max_seconds)
        .saturating_mul(1000);
    base / 2 + jitter % (base / 2 + 1)
}

/// Schedules the next attempt, or declares the delivery dead past `give_up_after_seconds`.
async fn reschedule(
    queue: &Queue,
    id: Id,
    mut meta: Meta,
    now_ms: i64,
    retry: Retry,
    retry_after: Option<u64>,
) {
    let give_up_at = meta
        .redriven_at_ms
        .unwrap_or(meta.received_at_ms)
        .max(meta.received_at_ms)
        .saturating_add_unsigned(retry.give_up_after_seconds.saturating_mul(1000));
    if now_ms >= give_up_at {
        meta.state = State::Dead;
        meta.next_attempt_at_ms = now_ms;
        queue.metrics().dead(&meta.route);
        tracing::warn!(
            route = &*meta.route,
            delivery_id = %id_text(id),
            attempts = meta.attempts,
            last_status = meta.last_status,
            last_error = meta.last_error.as_deref(),
            "delivery given up: dead"
        );
        queue.update(id, meta).await;
        return;
    }
    let wait = match retry_after {
        Some(seconds) => seconds.min(retry.max_seconds).saturating_mul(1000),
        None => backoff_ms(meta.attempts, retry, jitter()),
    };
    meta.state = State::Retrying;
    meta.next_attempt_at_ms = now_ms.saturating_add_unsigned(wait).min(give_up_at);
    queue.update(id, meta).await;
}

/// Puts a delivery back without counting an attempt's result, due in a second.
async fn retry_later(queue: &Queue, id: Id, mut meta: Meta, now_ms: i64, why: &str) {
    meta.state = State::Retrying;
    meta.last_error = Some(why.to_owned());
    meta.next_attempt_at_ms = now_ms + 1000;
    queue.update(id, meta).await;
}

fn jitter() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// Drops dead deliveries past their route's retention and replay keys past their expiry.
async fn housekeeping(queue: &Queue, generation: &Generation, now_ms: i64) {
    let retention_ms = |route: &str| {
        let seconds = match generation.config.routes.by_name(route).map(|r| r.delivery) {
            Some(Delivery::Durable(d)) => d.dead_retention_seconds,
            _ => Durable::DEFAULT_DEAD_RETENTION_SECONDS,
        };
        i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
    };
    drop_expired_dead(queue, &retention_ms, now_ms).await;
    queue.prune_replay_keys(now_ms.div_euclid(1000));
}

/// Removes dead deliveries that died more than their route's retention before `now_ms`.
async fn drop_expired_dead(
    queue: &Queue,
    retention_ms: &(dyn Fn(&str) -> i64 + Sync),
    now_ms: i64,
) {
    let Ok(all) = queue.list().await else {
        return;
    };
    for (id, meta) in all {
        if meta.state == State::Dead
            && now_ms.saturating_sub(meta.next_attempt_at_ms) > retention_ms(&meta.route)
        {
            queue.remove(id).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_within_its_upper_half() {
        let retry = Retry {
            first_seconds: 1,
            max_seconds: 8,
            give_up_after_seconds: 100,
        };
        assert_eq!(backoff_ms(1, retry, 0), 500);
        assert_eq!(backoff_ms(1, retry, 500), 1000);
        assert_eq!(backoff_ms(3, retry, 0), 2000);
        assert_eq!(backoff_ms(10, retry, 0), 4000);
        assert_eq!(backoff_ms(10, retry, 4000), 8000);
        assert!(backoff_ms(u32::MAX, retry, u64::MAX) <= 8000);
    }

    #[tokio::test]
    async fn dead_deliveries_leave_once_their_retention_has_passed() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(&crate::queue::QueueSettings {
            store: crate::queue::StoreSettings::Embedded {
                path: dir.path().join("q.db"),
                min_free_bytes: 0,
            },
            control_socket: dir.path().join("q.sock"),
            max_deliveries: 10,
            max_bytes: 1 << 20,
        })
        .unwrap();
        let request = crate::queue::Request {
            method: Method::POST,
            target: "/".into(),
            headers: HeaderMap::new(),
            body: bytes::Bytes::from_static(b"{}"),
        };
        let mut ids = Vec::new();
        for _ in 0..3 {
            match queue.accept("r", request.clone(), None, 1_000).await {
                Ok(crate::queue::Accepted::Queued(id)) => ids.push(id),
                other => panic!("{other:?}"),
            }
        }
        // Two die at 10 s and 50 s; the third stays pending.
        for (id, died_at) in [(ids[0], 10_000), (ids[1], 50_000)] {
            let mut meta = queue.meta(id).await.unwrap();
            meta.state = State::Dead;
            meta.next_attempt_at_ms = died_at;
            queue.update(id, meta).await;
        }
        drop_expired_dead(&queue, &|_| 30_000, 60_000).await;
        let left: Vec<Id> = queue
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            left,
            vec![ids[1], ids[2]],
            "only the delivery dead for over 30 s left"
        );
    }

    #[test]
    fn retry_after_is_read_only_from_429_and_503() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, &headers),
            Some(7)
        );
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers),
            Some(7)
        );
        assert_eq!(
            retry_after(StatusCode::INTERNAL_SERVER_ERROR, &headers),
            None
        );
    }
}
