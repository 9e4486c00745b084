//! Configuration in two stages: the file's shape ([`file`]), then validated, typed values.
//!
//! Validation collects every problem rather than stopping at the first, and each problem names
//! the file, line, column and key. Secrets are resolved here, once, and HMAC keys prepared, so
//! a config that loads is a config that can serve.

mod file;
mod problem;
mod secrets;
mod validate;

use validate::Validator;
#[cfg(test)]
use validate::without_credentials;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig};

use crate::proxy::TrustedProxies;
use crate::route::RouteTable;

pub use crate::queue::QueueSettings;
pub use crate::replay::{RedisSettings, ReplaySettings};
pub use crate::route::{Duplicates, Mode};
pub use file::{DeliveryMode, LogFormat, StoreKind};
pub use problem::{ConfigError, Problem};

/// Default `max_body_bytes`: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1 << 20;
/// Default timestamp tolerance, past and future.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
/// Default replay window for schemes without a timestamp.
pub const DEFAULT_REPLAY_WINDOW_SECONDS: u64 = 300;
/// Default bound on the memory replay store.
pub const DEFAULT_REPLAY_MAX_ENTRIES: u64 = 1_000_000;
/// Default cap on open webhook connections.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 4096;

/// Requests on one connection before it is closed, as nginx's `keepalive_requests`.
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: u64 = 1000;
/// Default prefix of replay keys in Redis.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "hookgate:replay:";
/// Default bound on one Redis command, connecting included.
pub const DEFAULT_REDIS_TIMEOUT_MS: u64 = 1000;

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    /// Address of the webhook listener.
    pub listen: SocketAddr,
    /// Address of the admin listener (health, readiness, metrics), if enabled.
    pub admin_listen: Option<SocketAddr>,
    /// TLS for the webhook listener, if enabled.
    pub tls: Option<Arc<ServerConfig>>,
    /// Trust for https upstreams: system roots plus `upstream_ca_file`.
    pub upstream_tls: Arc<ClientConfig>,
    /// Replay store settings.
    pub replay: ReplaySettings,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Open webhook connections beyond this are answered 503 and closed.
    pub max_connections: usize,
    /// Requests served on one connection before it is closed (`Connection: close` on the
    /// last answer), so no client holds a slot with an endless pipeline.
    pub max_requests_per_connection: usize,
    /// Bytes all buffered bodies may hold at once; `None`: from the memory limit
    /// (`crate::budget`).
    pub max_buffered_body_bytes: Option<u64>,
    /// Peers whose forwarding headers (`X-Forwarded-For`, `Forwarded`, `X-Real-IP`,
    /// `X-Forwarded-Host`) reach the app; everyone else's are removed.
    pub trusted_proxies: TrustedProxies,
    /// Log format, when the file sets one.
    pub log_format: Option<LogFormat>,
    /// Where durable routes store deliveries; restart-only.
    pub queue: Option<QueueSettings>,
    /// The routes.
    pub routes: RouteTable,
}

/// Timeouts, all with defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To receive the request head.
    pub header: Duration,
    /// To receive the whole body once the head arrived.
    pub body: Duration,
    /// For the upstream's whole response.
    pub upstream: Duration,
    /// Without progress while a response is written to a client (nginx's `send_timeout`):
    /// a client that stops reading gives its connection slot back after this.
    pub send: Duration,
    /// For in-flight requests to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Reads and validates the config at `path`, resolving secrets through `env`.
    ///
    /// # Errors
    /// Every problem found, each with its location.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            problems: vec![Problem::new(None, "", format!("cannot read config: {e}"))],
        })?;
        let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        Config::parse(&text, path, &base, env)
    }

    /// Validates config `text`. `file` names it in errors; relative `file:` secrets are read
    /// from `base`.
    ///
    /// # Errors
    /// Every problem found, each with its location.
    pub fn parse(
        text: &str,
        file: &Path,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let fail = |problems| ConfigError {
            file: file.to_path_buf(),
            problems,
        };
        let raw = read_shape(text).map_err(|p| fail(vec![p]))?;
        let mut v = Validator {
            problems: Vec::new(),
            env,
            base,
        };
        let config = v.config(raw);
        if v.problems.is_empty() {
            config.ok_or_else(|| fail(vec![Problem::new(None, "", "invalid config")]))
        } else {
            v.problems.sort_by_key(|p| (p.line, p.column));
            Err(fail(v.problems))
        }
    }
}

/// Stage one: YAML to the file's shape, with the key path of any error.
fn read_shape(text: &str) -> Result<file::FileConfig, Problem> {
    let mut path = String::new();
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| {
        let message = e.without_snippet().to_string();
        // The parser appends the location; we print it in front instead.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        // `Spanned` wrappers show up as `.value` segments; no config key is named `value`.
        let key = path.replace(".value", "");
        let key = if key == "." || key == "?" {
            String::new()
        } else {
            key
        };
        Problem::new(e.location(), key, message)
    })
}

#[cfg(test)]
mod tests;
