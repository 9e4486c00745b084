//! The gateway: the active [`Generation`] (one loaded config and what was built from it),
//! swapped whole by a reload, and what outlives reloads (metrics, the body budget, the request
//! counter, readiness). [`Gateway::handle`] runs the request path (`pipeline`), turns any
//! [`Rejection`] into a response, and writes the request's metrics and log line once, from
//! the pipeline's context.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::Request;
use hyper::body::Body;

use crate::access_log::{AccessLog, Entry};
use crate::budget::{self, BodyBudget};
use crate::clock::Clock;
use crate::config::{Config, ReplaySettings};
use crate::keyfetch::KeyFetcher;
use crate::metrics::{Metrics, Outcome};
use crate::queue::Queue;
use crate::replay::StoreError;
use crate::response::{self, Synthetic};

mod fetched;
mod generation;
mod pipeline;
mod replay_step;

pub use generation::Generation;
use pipeline::Context;

/// The gateway: the active config and what was built from it, plus what outlives a reload
/// (metrics, the request counter, readiness).
#[derive(Debug)]
pub struct Gateway {
    active: ArcSwap<Generation>,
    metrics: Metrics,
    access_log: AccessLog,
    clock: Clock,
    requests: AtomicU64,
    /// Bytes all buffered bodies may hold at once.
    budget: Arc<BodyBudget>,
    listening: AtomicBool,
    draining: AtomicBool,
    /// The durable queue, when the config has one (opened once; restart-only).
    queue: Option<Arc<Queue>>,
    /// Fetches the signing keys deliveries name (SNS); its cache outlives reloads.
    keys: Option<Arc<KeyFetcher>>,
}

/// Decrements the in-flight gauge however the request ends, cancellation included.
struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight(-1);
    }
}

impl Gateway {
    /// A gateway serving `config`, reading time from `clock`.
    ///
    /// # Errors
    /// When the replay store cannot be built from the settings.
    pub fn new(config: Config, clock: Clock) -> Result<Gateway, StoreError> {
        let metrics = Metrics::new();
        let store = config.replay.build()?;
        let budget = BodyBudget::new(budget_size(&config));
        let active = Generation::build(config, store, &metrics, None);
        metrics.reloaded(clock.now());
        Ok(Gateway {
            active: ArcSwap::from_pointee(active),
            metrics,
            access_log: AccessLog::disabled(),
            clock,
            requests: AtomicU64::new(0),
            budget,
            listening: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            queue: None,
            keys: None,
        })
    }

    /// Logs one line per request to `log` (none by default).
    pub fn with_access_log(mut self, log: AccessLog) -> Gateway {
        self.access_log = log;
        self
    }

    /// Stores durable routes' deliveries in `queue`.
    pub fn with_queue(mut self, queue: Option<Arc<Queue>>) -> Gateway {
        self.queue = queue;
        self
    }

    /// Fetches the signing keys deliveries name with `keys`; without one, such deliveries
    /// are answered `key_unavailable`.
    pub fn with_key_fetcher(mut self, keys: Arc<KeyFetcher>) -> Gateway {
        self.keys = Some(keys);
        self
    }

    /// The durable queue, if the config has one.
    pub fn queue(&self) -> Option<&Arc<Queue>> {
        self.queue.as_ref()
    }

    /// The clock the gateway reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Writes out buffered request log lines; for shutdown.
    pub fn flush_logs(&self) {
        self.access_log.flush();
    }

    /// The config and state new requests use.
    pub fn active(&self) -> Arc<Generation> {
        self.active.load_full()
    }

    /// The budget for buffered bodies.
    pub fn budget(&self) -> &BodyBudget {
        &self.budget
    }

    /// Metrics of this gateway.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Swaps in `config` for new requests; requests in flight finish on the old one. The
    /// replay store is kept when its settings did not change, and so are rate limiter states
    /// of routes whose name and limit did not change.
    ///
    /// # Errors
    /// When a new replay store cannot be built; the old config keeps serving.
    pub fn reload(&self, config: Config) -> Result<(), StoreError> {
        let old = self.active();
        let restart_only = [
            ("listen", old.config.listen != config.listen),
            (
                "admin_listen",
                old.config.admin_listen != config.admin_listen,
            ),
            ("log_format", old.config.log_format != config.log_format),
            ("queue", old.config.queue != config.queue),
        ];
        for (key, _) in restart_only.iter().filter(|(_, changed)| *changed) {
            tracing::warn!(
                key,
                "changed in the config; a restart applies it, reload does not"
            );
        }
        let (was, now) = (&old.config.replay, &config.replay);
        let resized = match (was, now) {
            (ReplaySettings::Memory { .. }, ReplaySettings::Memory { max_entries }) => {
                old.store.set_capacity(*max_entries).then_some(*max_entries)
            }
            _ => None,
        };
        let store = if was == now {
            Arc::clone(&old.store)
        } else if let Some(max_entries) = resized {
            // Only the bound changed: every reservation, in flight or kept, stays.
            tracing::info!(max_entries, "replay store resized");
            Arc::clone(&old.store)
        } else {
            tracing::warn!(
                "replay store changed: reservations of the old store do not carry over; deliveries it holds may be accepted once more within their window"
            );
            now.build()?
        };
        self.budget.set_limit(budget_size(&config));
        let active = Generation::build(config, store, &self.metrics, Some(&old));
        self.active.store(Arc::new(active));
        self.metrics.reloaded(self.clock.now());
        Ok(())
    }

    /// Marks the webhook listener as accepting.
    pub fn set_listening(&self) {
        self.listening.store(true, Ordering::Release);
    }

    /// Marks the gateway as draining: `/readyz` fails from now on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Ready to take traffic: listening, not draining, and the replay store answers.
    ///
    /// # Errors
    /// Why not, for the `/readyz` body.
    pub async fn readiness(&self) -> Result<(), std::borrow::Cow<'static, str>> {
        if self.draining.load(Ordering::Acquire) {
            return Err("draining".into());
        }
        if !self.listening.load(Ordering::Acquire) {
            return Err("not listening yet".into());
        }
        if let Some(queue) = &self.queue {
            queue.readiness()?;
        }
        let store = Arc::clone(&self.active().store);
        store
            .ping()
            .await
            .map_err(|_| "replay store unreachable".into())
    }

    /// Handles one request; never fails, every outcome is a response.
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Synthetic
    where
        B: Body<Data = Bytes> + Unpin,
    {
        let started = Instant::now();
        let active = self.active();
        self.metrics.in_flight(1);
        let _in_flight = InFlight(&self.metrics);
        let id = self.requests.fetch_add(1, Ordering::Relaxed);
        // Both clones are cheap: standard methods are inline and a Uri shares its bytes.
        let method = request.method().clone();
        let uri = request.uri().clone();
        let mut cx = Context::default();
        let result = pipeline::process(self, &active, request, peer, &mut cx).await;
        let (response, outcome) = match result {
            Ok(response) => (response, cx.outcome.unwrap_or(Outcome::Forwarded)),
            Err(rejection) => (response::rejection(rejection), Outcome::Rejected(rejection)),
        };
        let latency = started.elapsed();
        let routed = cx.route.and_then(|i| active.routed(i));
        let series = routed.map_or(self.metrics.unrouted(), |r| &r.state.metrics);
        series.request(outcome, latency);
        self.access_log.record(&Entry {
            request_id: id,
            method: method.as_str(),
            path: uri.path(),
            route: routed.map_or("", |r| &*r.route.name),
            outcome: outcome.label(),
            reason: outcome.reason(),
            status: response.status().as_u16(),
            upstream_status: cx.upstream_status,
            secret_index: cx.secret_index,
            delivery_id: cx.delivery_id.as_deref(),
            latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        });
        response
    }
}

/// The body budget for `config`, logged with where its size came from.
fn budget_size(config: &Config) -> u64 {
    let (bytes, source) = budget::size(config.max_buffered_body_bytes, budget::memory_limit());
    tracing::info!(bytes, source = ?source, "body budget");
    bytes
}

#[cfg(test)]
mod tests;
