//! The Prometheus text exposition format (version 0.0.4).

use std::fmt::Write as _;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Histogram, Metrics, RouteMetrics};

/// Picks one histogram of a route.
type HistogramOf = fn(&RouteMetrics) -> &Histogram;
use crate::error::Rejection;

impl RouteMetrics {
    pub(super) fn render_requests(&self, out: &mut String, route: &str) {
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
        line(out, "queued", "", &self.queued);
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

impl Metrics {
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
            "Requests by route, outcome (forwarded, queued, handshake, duplicate, rejected, observed) and reason.",
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
            &[
                ("success", &self.reloads_succeeded),
                ("failure", &self.reloads_refused),
            ],
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
pub(super) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
