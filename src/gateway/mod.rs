//! The request path, top to bottom: route -> rate limit -> unsigned handshake -> method ->
//! bounded body -> verify -> signed handshake -> replay -> forward. [`Gateway::handle`] logs,
//! counts and turns any [`Rejection`] into a response; `Gateway::pipeline` is one `?` step
//! per stage. A reload swaps the
//! [`Active`] config for new requests; each request keeps the one it started with.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::access_log::{AccessLog, Entry};
use crate::body;
use crate::budget::{self, BodyBudget};
use crate::clock::Clock;
use crate::config::{Config, ReplaySettings};
use crate::error::Rejection;
use crate::handshake;
use crate::metrics::{Metrics, Outcome, RouteMetrics};
use crate::path;
use crate::proxy::{Answer, Proxy};
use crate::replay::{ReplayStore, StoreError};
use crate::response;
use crate::route::{Mode, RateLimit};
use crate::verify::Delivery;

mod replay_step;

use replay_step::Taken;

/// The gateway: the active config and what was built from it, plus what outlives a reload
/// (metrics, the request counter, readiness).
#[derive(Debug)]
pub struct Gateway {
    active: ArcSwap<Active>,
    metrics: Metrics,
    access_log: AccessLog,
    clock: Clock,
    requests: AtomicU64,
    /// Bytes all buffered bodies may hold at once.
    budget: Arc<BodyBudget>,
    listening: AtomicBool,
    draining: AtomicBool,
}

/// One loaded config and everything built from it. A request holds the `Arc<Active>` it
/// started with, so a reload never changes the rules under a request in flight.
#[derive(Debug)]
pub struct Active {
    /// The validated config.
    pub config: Config,
    /// Per-route state, in the same order as `config.routes`.
    routes: Vec<RouteState>,
    proxy: Proxy,
    store: Arc<dyn ReplayStore>,
}

#[derive(Debug)]
struct RouteState {
    metrics: Arc<RouteMetrics>,
    limiter: Option<(RateLimit, Arc<DefaultDirectRateLimiter>)>,
    /// Unsigned handshakes are answered to anyone: bounded apart from the route's own limit,
    /// so probing them costs an attacker time (see [`HANDSHAKE_RATE`]).
    handshakes: Arc<DefaultDirectRateLimiter>,
}

/// Unsigned handshakes a route answers: a burst of 30, then one a second. Senders ask at
/// registration and then rarely (X hourly); a Graph app creating many subscriptions at once
/// fits in the burst.
const HANDSHAKE_RATE: RateLimit = RateLimit {
    per_second: NonZeroU32::MIN,
    burst: match NonZeroU32::new(30) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    },
};

/// What the log line and the metrics of a request report besides its status.
#[derive(Debug, Default)]
struct Trace {
    route: Option<usize>,
    /// Set when the gateway answered without forwarding, or forwarded what it would reject.
    outcome: Option<Outcome>,
    secret_index: Option<usize>,
    upstream_status: Option<u16>,
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
        let active = Active::build(config, store, &metrics, None);
        metrics.reload(true, clock.now());
        Ok(Gateway {
            active: ArcSwap::from_pointee(active),
            metrics,
            access_log: AccessLog::disabled(),
            clock,
            requests: AtomicU64::new(0),
            budget,
            listening: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        })
    }

    /// Logs one line per request to `log` (none by default).
    pub fn with_access_log(mut self, log: AccessLog) -> Gateway {
        self.access_log = log;
        self
    }

    /// Writes out buffered request log lines; for shutdown.
    pub fn flush_logs(&self) {
        self.access_log.flush();
    }

    /// The config and state new requests use.
    pub fn active(&self) -> Arc<Active> {
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
        let active = Active::build(config, store, &self.metrics, Some(&old));
        self.active.store(Arc::new(active));
        self.metrics.reload(true, self.clock.now());
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
    pub async fn readiness(&self) -> Result<(), &'static str> {
        if self.draining.load(Ordering::Acquire) {
            return Err("draining");
        }
        if !self.listening.load(Ordering::Acquire) {
            return Err("not listening yet");
        }
        let store = Arc::clone(&self.active().store);
        store.ping().await.map_err(|_| "replay store unreachable")
    }

    /// Handles one request; never fails, every outcome is a response.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let active = self.active();
        self.metrics.in_flight(1);
        let _in_flight = InFlight(&self.metrics);
        let id = self.requests.fetch_add(1, Ordering::Relaxed);
        // Both clones are cheap: standard methods are inline and a Uri shares its bytes.
        let method = request.method().clone();
        let uri = request.uri().clone();
        let mut trace = Trace::default();
        let result = self.pipeline(&active, request, peer, &mut trace).await;
        let (response, outcome) = match result {
            Ok(response) => (response, trace.outcome.unwrap_or(Outcome::Forwarded)),
            Err(rejection) => (response::rejection(rejection), Outcome::Rejected(rejection)),
        };
        let latency = started.elapsed();
        let route = trace
            .route
            .and_then(|i| Some((active.config.routes.get(i)?, active.routes.get(i)?)));
        let series = route.map_or(self.metrics.unrouted(), |(_, state)| &state.metrics);
        series.request(outcome, latency);
        self.access_log.record(&Entry {
            request_id: id,
            method: method.as_str(),
            path: uri.path(),
            route: route.map_or("", |(r, _)| &*r.name),
            outcome: outcome.label(),
            reason: outcome.reason(),
            status: response.status().as_u16(),
            upstream_status: trace.upstream_status,
            secret_index: trace.secret_index,
            latency_us: u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        });
        response
    }

    async fn pipeline(
        &self,
        active: &Active,
        request: Request<Incoming>,
        peer: SocketAddr,
        trace: &mut Trace,
    ) -> Result<Answer, Rejection> {
        let mut request = request;
        if let Some(uri) = path::canonical_uri(request.uri()).map_err(|e| {
            tracing::debug!(reason = %e, "path refused");
            Rejection::PathMalformed
        })? {
            *request.uri_mut() = uri;
        }
        let (index, route) = active
            .config
            .routes
            .find(request.uri().path())
            .ok_or(Rejection::NoRoute)?;
        trace.route = Some(index);
        let state = active.routes.get(index).ok_or(Rejection::NoRoute)?;
        if let Some((_, limiter)) = &state.limiter {
            admit(limiter)?;
        }
        let keys = handshake::RouteKeys {
            verifier: &route.verifier,
            verify_token: route.verify_token.as_ref(),
        };
        if let Some(answer) = route.handshake.and_then(|h| {
            handshake::before_body(h, request.method(), request.uri(), request.headers(), keys)
        }) {
            trace.outcome = Some(Outcome::Handshake);
            admit(&state.handshakes)?;
            return answer;
        }
        if request.method() != Method::POST {
            return Err(Rejection::MethodNotAllowed);
        }
        let (parts, incoming) = request.into_parts();
        // `_charge` holds the body's share of the budget until the request is answered.
        let (body, _charge) = body::read(
            incoming,
            &parts.headers,
            route.max_body_bytes,
            active.config.timeouts.body,
            &self.budget,
        )
        .await?;
        state.metrics.body(body.len());
        let now = self.clock.now();
        let delivery = Delivery {
            method: &parts.method,
            path: parts.uri.path(),
            query: parts.uri.query(),
            headers: &parts.headers,
            body: &body,
        };
        let verdict = match route.verifier.verify(&delivery, now) {
            Ok(verified) => {
                trace.secret_index = Some(verified.secret_index);
                state.metrics.secret_match(verified.secret_index);
                let handshake = route.handshake.filter(|h| h.after_verify()).and_then(|h| {
                    handshake::after_verify(h, &delivery, &route.verifier, verified.secret_index)
                });
                let taken =
                    replay_step::reserve(&active.store, &self.metrics, route, &verified, now).await;
                // A signed handshake is answered here, verified and never forwarded. Its key is
                // reserved like a delivery's, so a captured copy re-labelled as a delivery (the
                // message type is not signed) is a replay; a repeat of the handshake itself is
                // answered again, which is idempotent.
                if let Some(answer) = handshake {
                    match taken {
                        Err(Rejection::ReplayStoreUnavailable) => {
                            return Err(Rejection::ReplayStoreUnavailable);
                        }
                        Ok(Taken::Forward(reservation)) => {
                            replay_step::settle(&self.metrics, route, reservation, true).await;
                        }
                        _ => {}
                    }
                    trace.outcome = Some(Outcome::Handshake);
                    return Ok(answer);
                }
                taken
            }
            Err(rejection) => Err(rejection),
        };
        let reservation = match (verdict, route.mode) {
            (Ok(Taken::Forward(reservation)), _) => reservation,
            (Ok(Taken::Duplicate), _) => {
                trace.outcome = Some(Outcome::Duplicate);
                return Ok(response::duplicate());
            }
            (Err(rejection), Mode::Observe) if rejection.observable() => {
                trace.outcome = Some(Outcome::Observed(rejection));
                None
            }
            (Err(rejection), _) => return Err(rejection),
        };
        let sent = Instant::now();
        let result = active
            .proxy
            .forward(&route.upstream, parts, body, peer)
            .await;
        state.metrics.upstream(sent.elapsed());
        trace.upstream_status = result.as_ref().ok().map(|r| r.status().as_u16());
        let succeeded = matches!(&result, Ok(response) if response.status().is_success());
        replay_step::settle(&self.metrics, route, reservation, succeeded).await;
        result
    }
}

impl Active {
    fn build(
        config: Config,
        store: Arc<dyn ReplayStore>,
        metrics: &Metrics,
        previous: Option<&Active>,
    ) -> Active {
        let names: Vec<_> = config
            .routes
            .iter()
            .map(|r| (Arc::clone(&r.name), r.secret_count))
            .collect();
        let series = metrics.routes(&names);
        let routes = config
            .routes
            .iter()
            .zip(series)
            .map(|(route, metrics)| RouteState {
                metrics,
                limiter: route.rate_limit.map(|limit| {
                    let kept = previous.and_then(|p| p.limiter(&route.name, limit));
                    (limit, kept.unwrap_or_else(|| Arc::new(limiter(limit))))
                }),
                handshakes: previous.and_then(|p| p.state(&route.name)).map_or_else(
                    || Arc::new(limiter(HANDSHAKE_RATE)),
                    |s| Arc::clone(&s.handshakes),
                ),
            })
            .collect();
        let proxy = Proxy::new(
            config.timeouts.upstream,
            Arc::clone(&config.upstream_tls),
            config.tls.is_some(),
            config.trusted_proxies.clone(),
        );
        Active {
            config,
            routes,
            proxy,
            store,
        }
    }

    /// The state of the route named `name`.
    fn state(&self, name: &str) -> Option<&RouteState> {
        self.config
            .routes
            .iter()
            .zip(&self.routes)
            .find(|(route, _)| &*route.name == name)
            .map(|(_, state)| state)
    }

    /// The limiter of the route named `name`, if it has exactly `limit`.
    fn limiter(&self, name: &str, limit: RateLimit) -> Option<Arc<DefaultDirectRateLimiter>> {
        self.state(name)
            .and_then(|state| state.limiter.as_ref())
            .filter(|(had, _)| *had == limit)
            .map(|(_, limiter)| Arc::clone(limiter))
    }
}

fn limiter(limit: RateLimit) -> DefaultDirectRateLimiter {
    RateLimiter::direct(Quota::per_second(limit.per_second).allow_burst(limit.burst))
}

/// Takes a token, or says how long until one is free.
fn admit(limiter: &DefaultDirectRateLimiter) -> Result<(), Rejection> {
    limiter.check().map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        // Whole seconds, rounded up: Retry-After has no finer unit.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Rejection::RateLimited {
            retry_after_seconds: u32::try_from(seconds.max(1)).unwrap_or(u32::MAX),
        }
    })
}

/// The body budget for `config`, logged with where its size came from.
fn budget_size(config: &Config) -> u64 {
    let (bytes, source) = budget::size(config.max_buffered_body_bytes, budget::memory_limit());
    tracing::info!(bytes, source = ?source, "body budget");
    bytes
}
