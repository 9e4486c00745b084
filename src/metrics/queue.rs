//! Durable delivery's series: commits, attempts, lag and dead deliveries. The queue's
//! gauges (deliveries by state, oldest age) are read from the queue at scrape time and
//! passed in.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;

use super::histogram::{Histogram, SECONDS_BOUNDS};
use super::render::escape;

/// Lag from acceptance to delivery spans retries: seconds up to days.
const LAG_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0, 14_400.0, 86_400.0, 259_200.0,
];

/// How an attempt toward the app ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttemptResult {
    /// The app answered 2xx.
    Delivered,
    /// The app answered something else.
    Refused,
    /// No usable answer: unreachable, reset, timed out.
    Failed,
}

impl AttemptResult {
    /// The `result` label and log field.
    pub fn label(self) -> &'static str {
        match self {
            AttemptResult::Delivered => "delivered",
            AttemptResult::Refused => "refused",
            AttemptResult::Failed => "failed",
        }
    }
}

#[derive(Debug)]
struct RouteSeries {
    attempts: BTreeMap<AttemptResult, u64>,
    dead: u64,
    lag: Histogram,
}

/// The series of durable delivery.
#[derive(Debug)]
pub struct QueueMetrics {
    commit: Histogram,
    routes: Mutex<BTreeMap<String, RouteSeries>>,
}

impl Default for QueueMetrics {
    fn default() -> Self {
        QueueMetrics {
            commit: Histogram::new(SECONDS_BOUNDS, 1e6),
            routes: Mutex::new(BTreeMap::new()),
        }
    }
}

/// The queue's gauges at scrape time.
#[derive(Debug, Default, Clone)]
pub struct QueueGauges {
    /// (route, state label, deliveries).
    pub deliveries: Vec<(String, &'static str, u64)>,
    /// (route, age in seconds of its oldest undelivered delivery).
    pub oldest_age_seconds: Vec<(String, f64)>,
}

impl QueueMetrics {
    /// Times one commit of the store.
    pub fn commit(&self, took: Duration) {
        self.commit.observe(took.as_secs_f64());
    }

    fn with<T>(&self, route: &str, f: impl FnOnce(&mut RouteSeries) -> T) -> T {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let series = routes
            .entry(route.to_owned())
            .or_insert_with(|| RouteSeries {
                attempts: BTreeMap::new(),
                dead: 0,
                lag: Histogram::new(LAG_BOUNDS, 1e3),
            });
        f(series)
    }

    /// Counts an attempt; a delivered one also records its lag since acceptance.
    pub fn attempt(&self, route: &str, result: AttemptResult, lag: Option<Duration>) {
        self.with(route, |s| {
            *s.attempts.entry(result).or_default() += 1;
            if let Some(lag) = lag {
                s.lag.observe(lag.as_secs_f64());
            }
        });
    }

    /// Counts a delivery given up on.
    pub fn dead(&self, route: &str) {
        self.with(route, |s| s.dead += 1);
    }

    /// Appends the queue's series to a scrape.
    pub fn render(&self, out: &mut String, gauges: &QueueGauges) {
        let help = |out: &mut String, name: &str, kind: &str, text: &str| {
            let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
        };
        help(
            out,
            "hookgate_queue_deliveries",
            "gauge",
            "Deliveries held by the durable queue, by route and state.",
        );
        for (route, state, n) in &gauges.deliveries {
            let _ = writeln!(
                out,
                "hookgate_queue_deliveries{{route=\"{}\",state=\"{state}\"}} {n}",
                escape(route)
            );
        }
        help(
            out,
            "hookgate_queue_oldest_age_seconds",
            "gauge",
            "Age of the oldest undelivered delivery, by route.",
        );
        for (route, age) in &gauges.oldest_age_seconds {
            let _ = writeln!(
                out,
                "hookgate_queue_oldest_age_seconds{{route=\"{}\"}} {age}",
                escape(route)
            );
        }
        help(
            out,
            "hookgate_queue_commit_seconds",
            "histogram",
            "Time to commit a batch to the queue store, fsync included.",
        );
        self.commit.render(out, "hookgate_queue_commit_seconds", "");
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        help(
            out,
            "hookgate_delivery_attempts_total",
            "counter",
            "Attempts to deliver a queued delivery to the app, by route and result (delivered, refused, failed).",
        );
        for (route, s) in routes.iter() {
            for (result, n) in &s.attempts {
                let _ = writeln!(
                    out,
                    "hookgate_delivery_attempts_total{{route=\"{}\",result=\"{}\"}} {n}",
                    escape(route),
                    result.label()
                );
            }
        }
        help(
            out,
            "hookgate_dead_deliveries_total",
            "counter",
            "Deliveries given up on after give_up_after_seconds.",
        );
        for (route, s) in routes.iter() {
            let _ = writeln!(
                out,
                "hookgate_dead_deliveries_total{{route=\"{}\"}} {}",
                escape(route),
                s.dead
            );
        }
        help(
            out,
            "hookgate_delivery_lag_seconds",
            "histogram",
            "Time from acceptance to delivery, retries included.",
        );
        for (route, s) in routes.iter() {
            s.lag.render(
                out,
                "hookgate_delivery_lag_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
    }
}
