//! The replay step of the request path: a verified delivery's key is reserved before it is
//! forwarded, and the reservation is settled by the upstream's answer.

use std::sync::Arc;

use crate::error::Rejection;
use crate::metrics::{Metrics, StoreOp};
use crate::replay::{Holder, Key, ReplayStore, Reservation};
use crate::route::{Duplicates, Mode, ReplayPolicy, Route};
use crate::verify::Verified;

/// What the replay step decided for a verified delivery.
#[derive(Debug)]
pub(super) enum Taken {
    /// Forward it, then [`settle`] the reservation (if the route keeps one).
    Forward(Option<Reservation>),
    /// A duplicate of a delivery the upstream already answered 2xx: answered without
    /// forwarding.
    Duplicate,
}

/// Reserves the delivery's replay key (from [`key_until`]; `None` on a route without replay
/// protection), or says what its duplicate is answered.
///
/// # Errors
/// `Replayed` for a duplicate (`InFlight` while its first copy has no answer, on routes that
/// acknowledge duplicates); `ReplayStoreUnavailable` when the store cannot answer.
pub(super) async fn reserve(
    store: &Arc<dyn ReplayStore>,
    metrics: &Metrics,
    route: &Route,
    key: Option<(Key, i64)>,
    now: i64,
) -> Result<Taken, Rejection> {
    let Some((key, expires_at)) = key else {
        return Ok(Taken::Forward(None));
    };
    let holder = match Reservation::take(store, key, expires_at, now).await {
        Ok(Some(reservation)) => return Ok(Taken::Forward(Some(reservation))),
        Ok(None) if acknowledges_duplicates(route) => store.holder(key, now).await,
        Ok(None) => return Err(Rejection::Replayed),
        Err(e) => Err(e),
    };
    match holder {
        Ok(Some(Holder::Acknowledged)) => Ok(Taken::Duplicate),
        // Still in flight, or released by a failure since: either way, retry later.
        Ok(_) => Err(Rejection::InFlight),
        Err(e) => {
            metrics.store_error(StoreOp::Reserve);
            tracing::warn!(route = &*route.name, error = %e, "replay store refused a reservation");
            Err(Rejection::ReplayStoreUnavailable)
        }
    }
}

/// The delivery's replay key and the Unix second its reservation expires at, or `None` on a
/// route without replay protection. A durable route keeps the same key in its queue.
pub(super) fn key_until(route: &Route, verified: &Verified, now: i64) -> Option<(Key, i64)> {
    let expires_at = match route.replay {
        ReplayPolicy::Off => return None,
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
    let key = crate::replay::key(&route.name, verified.fingerprint.as_bytes());
    Some((key, expires_at))
}

/// Keeps the reservation only if the sender is about to hear 2xx (marked as answered, when
/// the route acknowledges duplicates); otherwise releases it before the sender hears back,
/// so an immediate retry passes.
pub(super) async fn settle(
    metrics: &Metrics,
    route: &Route,
    reservation: Option<Reservation>,
    succeeded: bool,
) {
    let Some(reservation) = reservation else {
        return;
    };
    if succeeded && acknowledges_duplicates(route) {
        if let Err(e) = reservation.acknowledge().await {
            metrics.store_error(StoreOp::Acknowledge);
            tracing::warn!(route = &*route.name, error = %e, "could not mark a delivery as answered; its duplicates get 409 in_flight until it expires");
        }
    } else if succeeded {
        reservation.keep();
    } else if let Err(e) = reservation.release().await {
        metrics.store_error(StoreOp::Release);
        tracing::warn!(route = &*route.name, error = %e, "could not release a replay reservation; the retry may be refused until it expires");
    }
}

/// Whether the route answers duplicates by what became of their first copy. In observe mode
/// a duplicate is forwarded like any other replay, so the question does not arise.
fn acknowledges_duplicates(route: &Route) -> bool {
    route.duplicates == Duplicates::Acknowledge && route.mode == Mode::Enforce
}

/// What becomes of a delivery after verification and the replay step.
#[derive(Debug)]
pub(super) enum Judgement {
    /// Forward it, then [`settle`] the reservation.
    Forward(Option<Reservation>),
    /// Answer the duplicate without forwarding.
    Duplicate,
    /// Forward it although it was refused: the route only observes.
    Observed(Rejection),
}

/// The one place observe mode is decided: a refusal the table marks observable is forwarded
/// on a route in `mode: observe` (and duplicates are never acknowledged there, see
/// [`acknowledges_duplicates`]); everything else stands.
///
/// # Errors
/// The rejection, when it stands.
pub(super) fn judge(
    verdict: Result<Taken, Rejection>,
    route: &Route,
) -> Result<Judgement, Rejection> {
    match verdict {
        Ok(Taken::Forward(reservation)) => Ok(Judgement::Forward(reservation)),
        Ok(Taken::Duplicate) => Ok(Judgement::Duplicate),
        Err(rejection) if route.mode == Mode::Observe && rejection.observable() => {
            Ok(Judgement::Observed(rejection))
        }
        Err(rejection) => Err(rejection),
    }
}
