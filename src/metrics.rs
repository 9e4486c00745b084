//! Prometheus metrics, kept in atomics and rendered in the text exposition format.
//!
//! Every per-route series is preallocated when a config is loaded, so recording a request is a
//! handful of relaxed atomic adds: no lock on the request path but one uncontended read lock
//! for the secret counters. Counters survive reloads for routes that keep their name.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use crate::error::Rejection;

/// What happened to a request, as counted in `hookgate_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and forwarded; the upstream answered.
    Forwarded,
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
            Outcome::Handshake => "handshake",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected(_) => "rejected",
            Outcome::Observed(_) => "observed",
        }
    }

    /// The `reason` label and log field: a rejection's reason code, or empty.
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Forwarded | Outcome::Handshake | Outcome::Duplicate => "",
            Outcome::Rejected(r) | Outcome::Observed(r) => r.reason(),
        }
    }
}

const SECONDS_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const BYTES_BOUNDS: &[f64] = &[
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
];

/// A histogram with fixed bounds. The sum is kept in integer units of `1 / scale`
/// (microseconds for durations, bytes for sizes) so it can be one atomic.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    scale: f64,
    /// Not cumulative; the last slot is `+Inf`.
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64], scale: f64) -> Histogram {
        Histogram {
            bounds,
            scale,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        let slot = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        // Saturating float-to-int: a negative or absurd value cannot wrap the sum.
        let units = (value * self.scale).round() as u64;
        self.sum.fetch_add(units, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum.load(Ordering::Relaxed) as f64 / self.scale;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// The series of one route.
#[derive(Debug)]
pub struct RouteMetrics {
    forwarded: AtomicU64,
    handshake: AtomicU64,
    duplicate: AtomicU64,
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

    fn render_requests(&self, out: &mut String, route: &str) {
        let line = |out: &mut String, outcome: &str, reason: &str, value: &AtomicU64| {
            let value = value.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "hookgate_requests_total{{route=\"{route}\",outcome=\"{outcome}\",reason=\"{reason}\"}} {value}"
            );
        };
        line(out, "forwarded", "", &self.forwarded);
        line(out, "handshake", "", &self.handshake);
        line(out, "duplicate", "", &self.duplicate);
        for rejection in Rejection::ALL {
            line(
                out,
                "rejected",
                rejection.reason(),
                &self.rejected[rejection.index()],
            );
        }
        for rejection in Rejection::ALL.iter().filter(|r| r.observable()) {
            line(
                out,
                "observed",
                rejection.reason(),
                &self.observed[rejection.index()],
            );
        }
    }
}

/// A route's series and how many secret series it exports.
type Registered = (Arc<RouteMetrics>, usize);

/// Picks one histogram of a route.
type HistogramOf = fn(&RouteMetrics) -> &Histogram;

/// Process-wide metrics: the registry of route series plus global counters.
#[derive(Debug)]
pub struct Metrics {
    /// Keyed by route name; ordered so the output is stable.
    routes: Mutex<BTreeMap<Arc<str>, Registered>>,
    /// Requests that matched no route.
    unrouted: Arc<RouteMetrics>,
    store_errors: [AtomicU64; 3],
    reloads: [AtomicU64; 2],
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
            reloads: [AtomicU64::new(0), AtomicU64::new(0)],
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

    /// Counts a reload attempt; `at` is the Unix time of a successful one.
    pub fn reload(&self, ok: bool, at: i64) {
        self.reloads[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
        if ok {
            self.last_reload.store(at, Ordering::Relaxed);
        }
    }

    /// Counts a connection refused at the `max_connections` cap.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Tracks requests in flight: +1 when one starts, -1 when it ends.
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Ordering::Relaxed);
    }

    /// The text exposition format (version 0.0.4). `ready` is the readiness verdict at the
    /// time of the scrape.
    pub fn render(&self, ready: bool) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let registry = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut routes: Vec<(String, &RouteMetrics, usize)> = registry
            .iter()
            .map(|(name, (metrics, secrets))| (escape(name), &**metrics, *secrets))
            .collect();
        routes.push((String::new(), &self.unrouted, 0));

        header(
            &mut out,
            "hookgate_build_info",
            "gauge",
            "Version of the running binary.",
        );
        let _ = writeln!(
            out,
            "hookgate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        single(
            &mut out,
            "hookgate_ready",
            "gauge",
            "1 when /readyz answers 200.",
            u8::from(ready),
        );
        single(
            &mut out,
            "hookgate_in_flight_requests",
            "gauge",
            "Requests being handled now.",
            self.in_flight.load(Ordering::Relaxed),
        );

        header(
            &mut out,
            "hookgate_requests_total",
            "counter",
            "Requests by route, outcome (forwarded, handshake, duplicate, rejected, observed) and reason.",
        );
        for (name, metrics, _) in &routes {
            metrics.render_requests(&mut out, name);
        }

        header(
            &mut out,
            "hookgate_secret_matches_total",
            "counter",
            "Verified deliveries by route and the index of the secret that matched.",
        );
        for (name, metrics, secrets) in &routes {
            let counters = metrics
                .secret_matches
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            for (i, counter) in counters.iter().take(*secrets).enumerate() {
                let _ = writeln!(
                    out,
                    "hookgate_secret_matches_total{{route=\"{name}\",secret_index=\"{i}\"}} {}",
                    counter.load(Ordering::Relaxed)
                );
            }
        }

        let histograms: [(&str, &str, HistogramOf); 3] = [
            (
                "hookgate_request_duration_seconds",
                "Time from request head to response, by route.",
                |m| &m.request_seconds,
            ),
            (
                "hookgate_upstream_duration_seconds",
                "Time the upstream took to answer a forwarded request, by route.",
                |m| &m.upstream_seconds,
            ),
            (
                "hookgate_request_body_bytes",
                "Sizes of request bodies read in full, by route.",
                |m| &m.body_bytes,
            ),
        ];
        for (family, help, pick) in histograms {
            header(&mut out, family, "histogram", help);
            for (name, metrics, _) in &routes {
                pick(metrics).render(&mut out, family, &format!("route=\"{name}\""));
            }
        }

        labelled_counter(
            &mut out,
            "hookgate_replay_store_errors_total",
            "Replay store operations that failed (store down, timed out or full).",
            "operation",
            &[
                ("reserve", &self.store_errors[0]),
                ("release", &self.store_errors[1]),
                ("acknowledge", &self.store_errors[2]),
            ],
        );
        labelled_counter(
            &mut out,
            "hookgate_config_reloads_total",
            "Config reloads by result.",
            "result",
            &[("success", &self.reloads[0]), ("failure", &self.reloads[1])],
        );
        single(
            &mut out,
            "hookgate_connections_refused_total",
            "counter",
            "Connections answered 503 and closed because max_connections were open.",
            self.connections_refused.load(Ordering::Relaxed),
        );
        single(
            &mut out,
            "hookgate_config_last_reload_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful config load.",
            self.last_reload.load(Ordering::Relaxed),
        );
        out
    }
}

/// A counter family with one label and a fixed set of values.
fn labelled_counter(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    series: &[(&str, &AtomicU64)],
) {
    header(out, name, "counter", help);
    for (value, counter) in series {
        let count = counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {count}");
    }
}

/// A family with one unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
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
