//! Prometheus metrics, kept in atomics and rendered in the text exposition format.
//!
//! Every per-route series is preallocated when a config is loaded, so recording a request is a
//! handful of relaxed atomic adds: no lock on the request path but one uncontended read lock
//! for the secret counters. Counters survive reloads for routes that keep their name.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

mod histogram;
mod outcome;
mod queue;
mod render;

use crate::error::Rejection;

use histogram::{BYTES_BOUNDS, Histogram, SECONDS_BOUNDS};
pub use outcome::Outcome;
pub use queue::{AttemptResult, QueueGauges, QueueMetrics};

/// The series of one route.
#[derive(Debug)]
pub struct RouteMetrics {
    forwarded: AtomicU64,
    handshake: AtomicU64,
    duplicate: AtomicU64,
    queued: AtomicU64,
    rejected: [AtomicU64; Rejection::ALL.len()],
    observed: [AtomicU64; Rejection::ALL.len()],
    secret_matches: RwLock<Vec<AtomicU64>>,
    request_seconds: Histogram,
    upstream_seconds: Histogram,
    body_bytes: Histogram,
}

impl RouteMetrics {
    fn new() -> RouteMetrics {
        RouteMetrics {
            forwarded: AtomicU64::new(0),
            handshake: AtomicU64::new(0),
            duplicate: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            rejected: std::array::from_fn(|_| AtomicU64::new(0)),
            observed: std::array::from_fn(|_| AtomicU64::new(0)),
            secret_matches: RwLock::new(Vec::new()),
            request_seconds: Histogram::new(SECONDS_BOUNDS, 1e6),
            upstream_seconds: Histogram::new(SECONDS_BOUNDS, 1e6),
            body_bytes: Histogram::new(BYTES_BOUNDS, 1.0),
        }
    }

    /// Counts a finished request and its latency.
    pub fn request(&self, outcome: Outcome, latency: Duration) {
        let counter = match outcome {
            Outcome::Forwarded => &self.forwarded,
            Outcome::Handshake => &self.handshake,
            Outcome::Duplicate => &self.duplicate,
            Outcome::Queued => &self.queued,
            Outcome::Rejected(r) => &self.rejected[r.index()],
            Outcome::Observed(r) => &self.observed[r.index()],
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.request_seconds.observe(latency.as_secs_f64());
    }

    /// Records how long the upstream took to answer.
    pub fn upstream(&self, latency: Duration) {
        self.upstream_seconds.observe(latency.as_secs_f64());
    }

    /// Records the size of a body read in full.
    pub fn body(&self, bytes: usize) {
        self.body_bytes.observe(bytes as f64);
    }

    /// Counts a delivery verified by the secret at `index` (0 is the first in the config).
    pub fn secret_match(&self, index: usize) {
        let counters = self
            .secret_matches
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(counter) = counters.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn ensure_secrets(&self, count: usize) {
        let mut counters = self
            .secret_matches
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Shrinking would lose counts of a secret that a later reload brings back; the
        // extra series are simply not rendered.
        while counters.len() < count {
            counters.push(AtomicU64::new(0));
        }
    }
}

/// A route's series and how many secret series it exports.
type Registered = (Arc<RouteMetrics>, usize);

/// Process-wide metrics: the registry of route series plus global counters.
#[derive(Debug)]
pub struct Metrics {
    /// Keyed by route name; ordered so the output is stable.
    routes: Mutex<BTreeMap<Arc<str>, Registered>>,
    /// Requests that matched no route.
    unrouted: Arc<RouteMetrics>,
    store_errors: [AtomicU64; 3],
    reloads_succeeded: AtomicU64,
    reloads_refused: AtomicU64,
    last_reload: AtomicI64,
    in_flight: AtomicI64,
    connections_refused: AtomicU64,
}

/// Which replay store operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Taking a reservation.
    Reserve,
    /// Giving one back.
    Release,
    /// Marking one as answered 2xx.
    Acknowledge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Metrics {
        Metrics {
            routes: Mutex::new(BTreeMap::new()),
            unrouted: Arc::new(RouteMetrics::new()),
            store_errors: std::array::from_fn(|_| AtomicU64::new(0)),
            reloads_succeeded: AtomicU64::new(0),
            reloads_refused: AtomicU64::new(0),
            last_reload: AtomicI64::new(0),
            in_flight: AtomicI64::new(0),
            connections_refused: AtomicU64::new(0),
        }
    }

    /// Series for exactly these routes (name, secret count): existing ones are kept, new ones
    /// start at zero, and routes no longer configured stop being exported. Returned in the
    /// order given.
    pub fn routes(&self, routes: &[(Arc<str>, usize)]) -> Vec<Arc<RouteMetrics>> {
        let mut registry = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut kept = BTreeMap::new();
        let series = routes
            .iter()
            .map(|(name, secrets)| {
                let metrics = registry
                    .remove(name)
                    .map_or_else(|| Arc::new(RouteMetrics::new()), |(m, _)| m);
                metrics.ensure_secrets(*secrets);
                kept.insert(Arc::clone(name), (Arc::clone(&metrics), *secrets));
                metrics
            })
            .collect();
        *registry = kept;
        series
    }

    /// Series for requests that matched no route.
    pub fn unrouted(&self) -> &RouteMetrics {
        &self.unrouted
    }

    /// Counts a replay store failure.
    pub fn store_error(&self, op: StoreOp) {
        self.store_errors[op as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a config load that took effect at Unix time `at` (the first one included).
    pub fn reloaded(&self, at: i64) {
        self.reloads_succeeded.fetch_add(1, Ordering::Relaxed);
        self.last_reload.store(at, Ordering::Relaxed);
    }

    /// Counts a reload that was refused; the last good config keeps serving.
    pub fn reload_refused(&self) {
        self.reloads_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection refused at the `max_connections` cap.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Tracks requests in flight: +1 when one starts, -1 when it ends.
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::render::escape;
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_inf() {
        let h = Histogram::new(&[1.0, 2.0], 1.0);
        for v in [1.0, 2.0, 2.0, 9.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "route=\"a\"");
        assert_eq!(
            out,
            "x_bucket{route=\"a\",le=\"1\"} 1\nx_bucket{route=\"a\",le=\"2\"} 3\n\
             x_bucket{route=\"a\",le=\"+Inf\"} 4\nx_sum{route=\"a\"} 14\nx_count{route=\"a\"} 4\n"
        );
    }

    #[test]
    fn route_series_survive_a_reload_and_vanish_when_the_route_does() {
        let metrics = Metrics::new();
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b\"x".into();
        let first = metrics.routes(&[(Arc::clone(&a), 1), (Arc::clone(&b), 2)]);
        first[0].request(Outcome::Forwarded, Duration::from_millis(1));
        first[1].secret_match(1);
        let second = metrics.routes(&[(Arc::clone(&a), 2)]);
        assert!(Arc::ptr_eq(&first[0], &second[0]));
        let text = metrics.render(true);
        assert!(text.contains(
            "hookgate_requests_total{route=\"a\",outcome=\"forwarded\",reason=\"\"} 1\n"
        ));
        assert!(text.contains("hookgate_secret_matches_total{route=\"a\",secret_index=\"1\"} 0"));
        assert!(
            !text.contains("route=\"b"),
            "a removed route is not exported"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
