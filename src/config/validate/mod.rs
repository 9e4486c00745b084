//! Stage two: the file's shape, checked and turned into a [`Config`]. Every problem is
//! collected with its location, so `check` reports them all at once. Split by concern:
//! top-level settings here, routes in `route`, key material in `keys`, network addresses and
//! the replay store in `network`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use crate::route::{PathMatch, Route, RouteTable};
use crate::tls;

use super::*;

mod delivery;
mod keys;
mod network;
mod route;

use keys::guard_challenge_oracles;
#[cfg(test)]
pub(super) use network::without_credentials;

pub(super) struct Validator<'a> {
    pub(super) problems: Vec<Problem>,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
    pub(super) base: &'a Path,
}

impl Validator<'_> {
    pub(super) fn problem(
        &mut self,
        at: Option<Location>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem::new(at, key, message));
    }

    fn positive(&mut self, value: &Option<Spanned<u64>>, key: &str, default: u64) -> u64 {
        match value {
            Some(v) if v.value == 0 => {
                self.problem(Some(v.referenced), key, "must be greater than 0");
                default
            }
            Some(v) => v.value,
            None => default,
        }
    }

    fn seconds(&mut self, value: &Option<Spanned<u64>>, key: &str, default: u64) -> Duration {
        Duration::from_secs(self.positive(value, key, default))
    }

    pub(super) fn config(&mut self, raw: file::FileConfig) -> Option<Config> {
        let listen = raw.listen.value.parse::<SocketAddr>().map_err(|_| {
            self.problem(
                Some(raw.listen.referenced),
                "listen",
                format!(
                    "`{}` is not an address such as 127.0.0.1:8080",
                    raw.listen.value
                ),
            )
        });
        let upstream = raw
            .upstream
            .as_ref()
            .and_then(|u| self.upstream(u, "upstream"));
        let max_body = self.positive(
            &raw.max_body_bytes,
            "max_body_bytes",
            DEFAULT_MAX_BODY_BYTES,
        );
        let admin_listen = raw.admin_listen.as_ref().and_then(|a| {
            let parsed = a.value.parse::<SocketAddr>().ok();
            if parsed.is_none() {
                self.problem(
                    Some(a.referenced),
                    "admin_listen",
                    format!("`{}` is not an address such as 127.0.0.1:9090", a.value),
                );
            } else if parsed.is_some_and(|a| a.port() != 0)
                && parsed == listen.as_ref().ok().copied()
            {
                self.problem(
                    Some(a.referenced),
                    "admin_listen",
                    "must differ from `listen`",
                );
            }
            parsed
        });
        let tls = raw.tls.as_ref().and_then(|t| {
            let cert = self.base.join(&t.value.cert_file.value);
            let key = self.base.join(&t.value.key_file.value);
            tls::server_config(&cert, &key)
                .map_err(|e| self.problem(Some(t.referenced), "tls", e))
                .ok()
        });
        let replay = self.replay(&raw.replay);
        let max_connections = self.positive(
            &raw.max_connections,
            "max_connections",
            DEFAULT_MAX_CONNECTIONS,
        );
        let max_requests_per_connection = self.positive(
            &raw.max_requests_per_connection,
            "max_requests_per_connection",
            DEFAULT_MAX_REQUESTS_PER_CONNECTION,
        );
        let max_buffered_body_bytes = raw
            .max_buffered_body_bytes
            .as_ref()
            .map(|_| self.positive(&raw.max_buffered_body_bytes, "max_buffered_body_bytes", 1));
        let trusted_proxies = self.trusted_proxies(&raw.trusted_proxies);
        let t = &raw.timeouts;
        let timeouts = Timeouts {
            header: self.seconds(&t.header_seconds, "timeouts.header_seconds", 10),
            body: self.seconds(&t.body_seconds, "timeouts.body_seconds", 30),
            upstream: self.seconds(&t.upstream_seconds, "timeouts.upstream_seconds", 30),
            send: self.seconds(&t.send_seconds, "timeouts.send_seconds", 10),
            shutdown_grace: self.seconds(
                &t.shutdown_grace_seconds,
                "timeouts.shutdown_grace_seconds",
                30,
            ),
        };
        let queue = self.queue(&raw.queue, timeouts.upstream);
        if raw.routes.value.is_empty() {
            self.problem(
                Some(raw.routes.referenced),
                "routes",
                "at least one route is required",
            );
        }
        let mut names: HashMap<String, u64> = HashMap::new();
        let mut paths: HashMap<String, u64> = HashMap::new();
        let mut routes = Vec::new();
        for (i, route) in raw.routes.value.iter().enumerate() {
            let key = format!("routes[{i}]");
            let name = &route.name;
            if name.value.trim().is_empty() {
                self.problem(
                    Some(name.referenced),
                    format!("{key}.name"),
                    "must not be empty",
                );
            } else if let Some(line) = names.insert(name.value.clone(), name.referenced.line()) {
                self.problem(
                    Some(name.referenced),
                    format!("{key}.name"),
                    format!(
                        "duplicate route name `{}` (first defined at line {line})",
                        name.value
                    ),
                );
            }
            if let Some(path) = self.path(route, &key) {
                // Matching ignores case and an exact path's trailing slash (`RouteTable`).
                let (label, at) = match &path {
                    PathMatch::Exact(p) => (
                        format!("path {}", p.trim_end_matches('/').to_ascii_lowercase()),
                        route.path.as_ref(),
                    ),
                    PathMatch::Prefix(p) => (
                        format!("path_prefix {}", p.to_ascii_lowercase()),
                        route.path_prefix.as_ref(),
                    ),
                };
                let at = at.map(|s| s.referenced);
                if let Some(line) = paths.insert(label.clone(), at.map_or(0, |l| l.line())) {
                    self.problem(
                        at,
                        &key,
                        format!("{label} is already claimed by the route at line {line}"),
                    );
                }
                let delivery = self.delivery(route, &key, queue.as_ref());
                if let Some(mut route) = self.route(route, &key, path, upstream.as_ref(), max_body)
                {
                    route.delivery = delivery;
                    routes.push(route);
                }
            }
        }
        guard_challenge_oracles(&mut routes);
        let any_https = routes
            .iter()
            .map(|r: &Route| &r.upstream)
            .chain(upstream.as_ref())
            .any(|u| u.scheme == http::uri::Scheme::HTTPS);
        let ca_file = raw.upstream_ca_file.as_ref();
        let upstream_tls = tls::client_config(
            ca_file.map(|f| self.base.join(&f.value)).as_deref(),
            any_https,
        )
        .map_err(|e| {
            self.problem(ca_file.map(|f| f.referenced), "upstream_ca_file", e);
        })
        .ok();
        let listen = listen.ok()?;
        Some(Config {
            listen,
            admin_listen,
            tls,
            upstream_tls: upstream_tls?,
            replay: replay?,
            timeouts,
            max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            max_requests_per_connection: usize::try_from(max_requests_per_connection)
                .unwrap_or(usize::MAX),
            max_buffered_body_bytes,
            trusted_proxies,
            log_format: raw.log_format,
            queue,
            routes: RouteTable::new(routes),
        })
    }
}
