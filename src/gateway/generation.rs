//! One loaded config and everything built from it: a generation. A request holds the
//! `Arc<Generation>` it started with, so a reload never changes the rules under a request in
//! flight. Each route's runtime state (metrics series, rate limiters) is joined to its
//! [`Route`] here, once, so the request path asks for both together and never aligns two
//! vectors by index.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::Config;
use crate::error::Rejection;
use crate::metrics::{Metrics, RouteMetrics};
use crate::proxy::Proxy;
use crate::replay::ReplayStore;
use crate::route::{RateLimit, Route};

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

/// One loaded config with its runtime state.
#[derive(Debug)]
pub struct Generation {
    /// The validated config.
    pub config: Config,
    /// Per-route state, in the order of `config.routes`; read only through [`Generation::find`]
    /// and [`Generation::routed`].
    states: Vec<RouteState>,
    pub(super) proxy: Proxy,
    pub(super) store: Arc<dyn ReplayStore>,
}

/// What a route keeps at runtime.
#[derive(Debug)]
pub(super) struct RouteState {
    pub(super) metrics: Arc<RouteMetrics>,
    pub(super) limiter: Option<(RateLimit, Arc<DefaultDirectRateLimiter>)>,
    /// Unsigned handshakes are answered to anyone: bounded apart from the route's own limit,
    /// so probing them costs an attacker time (see [`HANDSHAKE_RATE`]).
    pub(super) handshakes: Arc<DefaultDirectRateLimiter>,
}

/// A route with its runtime state and position in config order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Routed<'g> {
    pub(super) index: usize,
    pub(super) route: &'g Route,
    pub(super) state: &'g RouteState,
}

impl Generation {
    /// The upstream client this config built.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// Builds the runtime state for `config`, keeping the rate limiter states of `previous`
    /// routes whose name and limit did not change.
    pub(super) fn build(
        config: Config,
        store: Arc<dyn ReplayStore>,
        metrics: &Metrics,
        previous: Option<&Generation>,
    ) -> Generation {
        let names: Vec<_> = config
            .routes
            .iter()
            .map(|r| (Arc::clone(&r.name), r.secret_count))
            .collect();
        let series = metrics.routes(&names);
        let states = config
            .routes
            .iter()
            .zip(series)
            .map(|(route, metrics)| {
                let old = previous.and_then(|p| p.state(&route.name));
                RouteState {
                    metrics,
                    limiter: route.rate_limit.map(|limit| {
                        let kept = old
                            .and_then(|s| s.limiter.as_ref())
                            .filter(|(had, _)| *had == limit)
                            .map(|(_, limiter)| Arc::clone(limiter));
                        (limit, kept.unwrap_or_else(|| Arc::new(limiter(limit))))
                    }),
                    handshakes: old.map_or_else(
                        || Arc::new(limiter(HANDSHAKE_RATE)),
                        |s| Arc::clone(&s.handshakes),
                    ),
                }
            })
            .collect();
        let proxy = Proxy::new(
            config.timeouts.upstream,
            Arc::clone(&config.upstream_tls),
            config.tls.is_some(),
            config.trusted_proxies.clone(),
        );
        Generation {
            config,
            states,
            proxy,
            store,
        }
    }

    /// The route claiming the normalized `path`, with its state.
    pub(super) fn find(&self, path: &str) -> Option<Routed<'_>> {
        let (index, _) = self.config.routes.find(path)?;
        self.routed(index)
    }

    /// The route at `index` in config order, with its state.
    pub(super) fn routed(&self, index: usize) -> Option<Routed<'_>> {
        Some(Routed {
            index,
            route: self.config.routes.get(index)?,
            state: self.states.get(index)?,
        })
    }

    /// The state of the route named `name`.
    fn state(&self, name: &str) -> Option<&RouteState> {
        let index = self.config.routes.iter().position(|r| &*r.name == name)?;
        self.states.get(index)
    }
}

fn limiter(limit: RateLimit) -> DefaultDirectRateLimiter {
    RateLimiter::direct(Quota::per_second(limit.per_second).allow_burst(limit.burst))
}

/// Takes a token, or says how long until one is free.
pub(super) fn admit(limiter: &DefaultDirectRateLimiter) -> Result<(), Rejection> {
    limiter.check().map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        // Whole seconds, rounded up: Retry-After has no finer unit.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Rejection::RateLimited {
            retry_after_seconds: u32::try_from(seconds.max(1)).unwrap_or(u32::MAX),
        }
    })
}
