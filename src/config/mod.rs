//! Configuration in two stages: the file's shape ([`file`]), then validated, typed values.
//!
//! Validation collects every problem rather than stopping at the first, and each problem names
//! the file, line, column and key. Secrets are resolved here, once, and HMAC keys prepared, so
//! a config that loads is a config that can serve.

mod file;
mod problem;
mod secrets;

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig};
use serde_saphyr::{Location, Spanned};

use crate::proxy::TrustedProxies;
use crate::route::{PathMatch, RateLimit, ReplayPolicy, Route, RouteTable, Upstream};
use crate::scheme::{Handshake, KeyKind, SchemeSpec, preset, preset_names};
use crate::secret::Secret;
use crate::tls;
use crate::verify::Verifier;

pub use crate::replay::{RedisSettings, ReplaySettings};
pub use crate::route::{Duplicates, Mode};
pub use file::{LogFormat, StoreKind};
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

struct Validator<'a> {
    problems: Vec<Problem>,
    env: &'a dyn Fn(&str) -> Option<String>,
    base: &'a Path,
}

impl Validator<'_> {
    fn problem(
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

    fn config(&mut self, raw: file::FileConfig) -> Option<Config> {
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
                if let Some(route) = self.route(route, &key, path, upstream.as_ref(), max_body) {
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
            routes: RouteTable::new(routes),
        })
    }

    fn path(&mut self, route: &file::RouteFile, key: &str) -> Option<PathMatch> {
        let (value, exact) = match (&route.path, &route.path_prefix) {
            (Some(p), None) => (p, true),
            (None, Some(p)) => (p, false),
            (Some(p), Some(_)) => {
                self.problem(
                    Some(p.referenced),
                    key,
                    "set either path or path_prefix, not both",
                );
                return None;
            }
            (None, None) => {
                self.problem(
                    Some(route.name.referenced),
                    key,
                    "needs a path or a path_prefix",
                );
                return None;
            }
        };
        let field = if exact { "path" } else { "path_prefix" };
        if !value.value.starts_with('/') || value.value.contains(['?', '#', ' ']) {
            self.problem(
                Some(value.referenced),
                format!("{key}.{field}"),
                format!(
                    "`{}` must start with / and contain no query, fragment or space",
                    value.value
                ),
            );
            return None;
        }
        match crate::path::normalize(&value.value) {
            Ok(Cow::Borrowed(_)) => {}
            Ok(Cow::Owned(canonical)) => {
                self.problem(
                    Some(value.referenced),
                    format!("{key}.{field}"),
                    format!(
                        "`{}` is not in normalized form; requests are matched normalized, write `{canonical}`",
                        value.value
                    ),
                );
                return None;
            }
            Err(e) => {
                self.problem(
                    Some(value.referenced),
                    format!("{key}.{field}"),
                    format!("`{}`: {e}; no request can match it", value.value),
                );
                return None;
            }
        }
        Some(if exact {
            PathMatch::Exact(value.value.clone())
        } else {
            PathMatch::Prefix(value.value.clone())
        })
    }

    fn upstream(&mut self, value: &Spanned<String>, key: &str) -> Option<Upstream> {
        let at = Some(value.referenced);
        let raw = value.value.trim();
        // Errors echo the URL: never with its credentials.
        let text = &*without_credentials(raw);
        let uri = match raw.parse::<http::Uri>() {
            Ok(uri) => uri,
            Err(_) => {
                self.problem(
                    at,
                    key,
                    format!("`{text}` is not a URL such as http://127.0.0.1:3000"),
                );
                return None;
            }
        };
        let problem = match (uri.scheme_str(), uri.authority()) {
            (Some("http" | "https"), Some(_)) if uri.query().is_some() => {
                Some("must not have a query")
            }
            (Some("http" | "https"), Some(a)) if a.as_str().contains('@') => {
                Some("must not carry credentials (user:password@); hookgate never sends them")
            }
            (Some("http" | "https"), Some(_)) => None,
            _ => Some(
                "must be an absolute http:// or https:// URL with a host, such as http://127.0.0.1:3000",
            ),
        };
        if let Some(problem) = problem {
            self.problem(at, key, format!("`{text}`: {problem}"));
            return None;
        }
        let authority = uri.authority()?.clone();
        Some(Upstream {
            scheme: uri.scheme()?.clone(),
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    fn scheme_spec(
        &mut self,
        route: &file::RouteFile,
        key: &str,
    ) -> Option<(SchemeSpec, String, Location)> {
        let overrides = SchemeSpec {
            algorithm: route.algorithm,
            ..SchemeSpec::default()
        };
        match (&route.provider, &route.scheme) {
            (Some(p), None) => match preset(&p.value) {
                Some(base) => Some((overrides.or(base), p.value.clone(), p.referenced)),
                None => {
                    let known: Vec<_> = preset_names().collect();
                    self.problem(
                        Some(p.referenced),
                        format!("{key}.provider"),
                        format!(
                            "unknown provider `{}`; known providers: {}",
                            p.value,
                            known.join(", ")
                        ),
                    );
                    None
                }
            },
            (None, Some(s)) => Some((overrides.or(&s.value), "custom".to_owned(), s.referenced)),
            (Some(p), Some(_)) => {
                self.problem(
                    Some(p.referenced),
                    key,
                    "set either provider or scheme, not both",
                );
                None
            }
            (None, None) => {
                self.problem(
                    Some(route.name.referenced),
                    key,
                    "needs a provider or a scheme",
                );
                None
            }
        }
    }

    fn route(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        path: PathMatch,
        default_upstream: Option<&Upstream>,
        default_max_body: u64,
    ) -> Option<Route> {
        let scheme = self
            .scheme_spec(route, key)
            .and_then(|(spec, provider, at)| match spec.build() {
                Ok(scheme) => Some((scheme, provider)),
                Err(e) => {
                    let field = if route.scheme.is_some() {
                        "scheme."
                    } else {
                        ""
                    };
                    self.problem(
                        e.at.or(Some(at)),
                        format!("{key}.{field}{}", e.key),
                        e.message,
                    );
                    None
                }
            });
        // Keys are checked even when the scheme is not, so every problem shows at once.
        let kind = match (&scheme, &route.public_key, &route.secrets) {
            (Some((scheme, _)), _, _) => scheme.algorithm.key_kind(),
            (None, Some(_), None) => KeyKind::PublicKey,
            (None, _, _) => KeyKind::Hmac,
        };
        let keys = self.keys(route, key, kind);
        let verify_token = route.verify_token.as_ref().and_then(|t| {
            secrets::resolve(&t.value, self.env, self.base)
                .map_err(|e| self.problem(Some(t.referenced), format!("{key}.verify_token"), e))
                .ok()
        });
        let upstream = match &route.upstream {
            Some(u) => self.upstream(u, &format!("{key}.upstream")),
            None => {
                if default_upstream.is_none() {
                    self.problem(
                        Some(route.name.referenced),
                        format!("{key}.upstream"),
                        "no upstream: set `upstream` on the route or at the top level",
                    );
                }
                default_upstream.cloned()
            }
        };
        let tolerance = self.positive(
            &route.tolerance_seconds,
            &format!("{key}.tolerance_seconds"),
            scheme
                .as_ref()
                .and_then(|(s, _)| s.tolerance_seconds)
                .unwrap_or(DEFAULT_TOLERANCE_SECONDS),
        );
        let window = self.positive(
            &route.replay_window_seconds,
            &format!("{key}.replay_window_seconds"),
            DEFAULT_REPLAY_WINDOW_SECONDS,
        );
        let max_body_bytes = self.positive(
            &route.max_body_bytes,
            &format!("{key}.max_body_bytes"),
            default_max_body,
        );
        let (scheme, provider) = scheme?;
        if let Some(custom) = &route.scheme {
            self.unsigned_inputs(&scheme, custom.referenced, key);
        }
        // A timestamp the sender leaves unsigned proves nothing about freshness: such a
        // preset is replay-protected by a window on the MAC, like an untimestamped one.
        let timestamped = scheme.timestamp.is_some() && scheme.signs_timestamp();
        if let (false, Some(t)) = (timestamped, &route.tolerance_seconds) {
            self.problem(
                Some(t.referenced),
                format!("{key}.tolerance_seconds"),
                "has no effect: this scheme has no timestamp",
            );
        }
        if let (true, Some(w)) = (timestamped, &route.replay_window_seconds) {
            self.problem(
                Some(w.referenced),
                format!("{key}.replay_window_seconds"),
                "has no effect: a timestamped scheme is replay-protected for as long as its timestamp is within tolerance_seconds",
            );
        }
        let replay = match (route.replay.unwrap_or(true), timestamped) {
            (false, _) => ReplayPolicy::Off,
            (true, true) => ReplayPolicy::UntilStale,
            (true, false) => ReplayPolicy::Window(window),
        };
        let duplicates = match (&route.duplicates, replay) {
            (Some(d), ReplayPolicy::Off) if d.value == Duplicates::Acknowledge => {
                self.problem(
                    Some(d.referenced),
                    format!("{key}.duplicates"),
                    "has no effect: replay protection is off on this route",
                );
                Duplicates::Reject
            }
            (d, _) => d.as_ref().map_or_else(Duplicates::default, |d| d.value),
        };
        let handshake = if route.handshake.unwrap_or(true) {
            scheme.handshake
        } else {
            None
        };
        match (handshake == Some(Handshake::MetaSubscribe), &route.verify_token) {
            (true, None) => self.problem(
                Some(route.name.referenced),
                format!("{key}.verify_token"),
                "the hub.challenge handshake needs the verify token entered in the sender's dashboard (or set `handshake: false`)",
            ),
            (false, Some(t)) => self.problem(
                Some(t.referenced),
                format!("{key}.verify_token"),
                "has no effect: only the meta_subscribe handshake uses it",
            ),
            _ => {}
        }
        let public_url = self.public_url(route, key, scheme.needs_public_url());
        let rate_limit = route
            .rate_limit
            .as_ref()
            .and_then(|r| self.rate_limit(r, &format!("{key}.rate_limit")));
        let keys = keys?;
        let secret_count = keys.len();
        let verifier = match Verifier::new(scheme, &keys, tolerance) {
            Ok(v) => v.with_public_url(&public_url?),
            Err(e) => {
                let (at, field) = match (&route.secrets, &route.public_key) {
                    (Some(s), _) => (s.referenced, "secrets"),
                    (None, Some(k)) => (k.referenced, "public_key"),
                    (None, None) => (route.name.referenced, "secrets"),
                };
                self.problem(Some(at), format!("{key}.{field}"), e.to_string());
                return None;
            }
        };
        Some(Route {
            name: route.name.value.as_str().into(),
            path,
            provider,
            secret_count,
            verifier,
            verify_token,
            upstream: upstream?,
            replay,
            duplicates,
            max_body_bytes,
            handshake,
            mode: route.mode,
            rate_limit,
        })
    }

    /// `trusted_proxies`: addresses or CIDR networks.
    fn trusted_proxies(&mut self, entries: &[Spanned<String>]) -> TrustedProxies {
        let mut networks = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let text = entry.value.trim();
            let parsed = text
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(net) => networks.push(net),
                Err(_) => self.problem(
                    Some(entry.referenced),
                    format!("trusted_proxies[{i}]"),
                    format!("`{text}` is not an IP address or network such as 10.0.0.0/8"),
                ),
            }
        }
        TrustedProxies::new(networks)
    }

    /// Refuses a custom scheme that reads a timestamp or replay key its signature does not
    /// cover: a replayed delivery with a fresh value would pass, forever.
    fn unsigned_inputs(&mut self, scheme: &crate::scheme::Scheme, at: Location, key: &str) {
        if !scheme.signs_timestamp() {
            self.problem(
                Some(at),
                format!("{key}.scheme.signed_payload"),
                "does not cover the timestamp: a replay with a fresh timestamp would pass; add {timestamp} (or the field or header it is read from) to signed_payload",
            );
        }
        let unsigned = scheme.unsigned_replay_key_pieces();
        if !unsigned.is_empty() {
            self.problem(
                Some(at),
                format!("{key}.scheme.replay_key"),
                format!(
                    "reads {} which the signature does not cover: a replay with a fresh value would pass; key on signed input only",
                    unsigned.join(", ")
                ),
            );
        }
    }

    /// The route's key material: `secrets` for HMAC and token schemes, `public_key` for
    /// public-key ones; the other key is refused so nothing is silently ignored.
    fn keys(&mut self, route: &file::RouteFile, key: &str, kind: KeyKind) -> Option<Vec<Secret>> {
        let (wanted, unwanted) = match kind {
            KeyKind::PublicKey => ("public_key", route.secrets.as_ref().map(|s| s.referenced)),
            _ => ("secrets", route.public_key.as_ref().map(|k| k.referenced)),
        };
        if let Some(at) = unwanted {
            let other = if wanted == "secrets" {
                "public_key"
            } else {
                "secrets"
            };
            self.problem(
                Some(at),
                format!("{key}.{other}"),
                format!("this scheme is verified with `{wanted}`, not `{other}`"),
            );
            return None;
        }
        let references: Vec<&Spanned<String>> = match (kind, &route.secrets, &route.public_key) {
            (KeyKind::PublicKey, _, Some(k)) => vec![k],
            (KeyKind::PublicKey, _, None) => {
                self.problem(
                    Some(route.name.referenced),
                    format!("{key}.public_key"),
                    "this scheme is verified with the sender's public key; set public_key",
                );
                return None;
            }
            (_, Some(list), _) if !list.value.is_empty() => list.value.iter().collect(),
            (_, list, _) => {
                let at = list
                    .as_ref()
                    .map_or(route.name.referenced, |l| l.referenced);
                self.problem(
                    Some(at),
                    format!("{key}.secrets"),
                    "at least one secret is required",
                );
                return None;
            }
        };
        let mut keys = Vec::new();
        for (j, reference) in references.iter().enumerate() {
            let field = if kind == KeyKind::PublicKey {
                "public_key".to_owned()
            } else {
                format!("secrets[{j}]")
            };
            match secrets::resolve(&reference.value, self.env, self.base) {
                Ok(secret) => keys.push(secret),
                Err(message) => self.problem(
                    Some(reference.referenced),
                    format!("{key}.{field}"),
                    message,
                ),
            }
        }
        (keys.len() == references.len()).then_some(keys)
    }

    /// The URL the sender posts to, required exactly when the scheme signs it.
    fn public_url(&mut self, route: &file::RouteFile, key: &str, needed: bool) -> Option<String> {
        let field = format!("{key}.public_url");
        match (&route.public_url, needed) {
            (None, false) => Some(String::new()),
            (None, true) => {
                self.problem(
                    Some(route.name.referenced),
                    field,
                    "this scheme signs the URL the sender posts to; set public_url to its scheme, host and any path prefix, e.g. https://hooks.example.com",
                );
                None
            }
            (Some(u), false) => {
                self.problem(
                    Some(u.referenced),
                    field,
                    "has no effect: this scheme does not sign the URL",
                );
                None
            }
            (Some(u), true) => {
                let ok = u.value.parse::<http::Uri>().is_ok_and(|uri| {
                    matches!(uri.scheme_str(), Some("http" | "https"))
                        && uri.authority().is_some()
                        && uri.query().is_none()
                });
                if ok {
                    Some(u.value.clone())
                } else {
                    self.problem(
                        Some(u.referenced),
                        field,
                        format!(
                            "`{}` is not an absolute http(s) URL without a query",
                            u.value
                        ),
                    );
                    None
                }
            }
        }
    }

    fn rate_limit(&mut self, raw: &Spanned<file::RateLimitFile>, key: &str) -> Option<RateLimit> {
        let mut bounded = |value: &Spanned<u64>, field: &str| {
            let n = u32::try_from(value.value).ok().and_then(NonZeroU32::new);
            if n.is_none() {
                self.problem(
                    Some(value.referenced),
                    format!("{key}.{field}"),
                    format!("must be between 1 and {}", u32::MAX),
                );
            }
            n
        };
        let per_second = bounded(&raw.value.per_second, "per_second");
        let burst = match &raw.value.burst {
            Some(b) => bounded(b, "burst"),
            None => per_second,
        };
        Some(RateLimit {
            per_second: per_second?,
            burst: burst?,
        })
    }

    fn replay(&mut self, raw: &file::ReplayFile) -> Option<ReplaySettings> {
        let store = raw.store.as_ref().map_or(StoreKind::Memory, |s| s.value);
        let at = raw.store.as_ref().map(|s| s.referenced);
        let max_entries = self.positive(
            &raw.max_entries,
            "replay.max_entries",
            DEFAULT_REPLAY_MAX_ENTRIES,
        );
        let timeout_ms = self.positive(
            &raw.timeout_ms,
            "replay.timeout_ms",
            DEFAULT_REDIS_TIMEOUT_MS,
        );
        let memory_only = [(
            "max_entries",
            raw.max_entries.as_ref().map(|v| v.referenced),
        )];
        let redis_only = [
            ("redis_url", raw.redis_url.as_ref().map(|v| v.referenced)),
            ("key_prefix", raw.key_prefix.as_ref().map(|v| v.referenced)),
            ("timeout_ms", raw.timeout_ms.as_ref().map(|v| v.referenced)),
        ];
        let (foreign, other) = match store {
            StoreKind::Memory => (&redis_only[..], "redis"),
            StoreKind::Redis => (&memory_only[..], "memory"),
        };
        for (field, location) in foreign {
            if let Some(location) = location {
                self.problem(
                    Some(*location),
                    format!("replay.{field}"),
                    format!("applies to `store: {other}` only"),
                );
            }
        }
        let redis = match (store, &raw.redis_url) {
            (StoreKind::Memory, _) => None,
            (StoreKind::Redis, None) => {
                self.problem(at, "replay.redis_url", "`store: redis` needs a redis_url");
                return None;
            }
            (StoreKind::Redis, Some(url)) => {
                let resolved = secrets::resolve(&url.value, self.env, self.base)
                    .map_err(|e| self.problem(Some(url.referenced), "replay.redis_url", e))
                    .ok()?;
                let text = String::from_utf8(resolved.expose().to_vec()).ok();
                // The URL may hold a password: the message never quotes it.
                match text.filter(|t| redis::Client::open(t.as_str()).is_ok()) {
                    Some(url) => Some(RedisSettings {
                        url,
                        key_prefix: raw.key_prefix.as_ref().map_or_else(
                            || DEFAULT_REDIS_KEY_PREFIX.to_owned(),
                            |p| p.value.clone(),
                        ),
                        timeout: Duration::from_millis(timeout_ms),
                    }),
                    None => {
                        self.problem(
                            Some(url.referenced),
                            "replay.redis_url",
                            "is not a URL such as redis://127.0.0.1:6379/0",
                        );
                        return None;
                    }
                }
            }
        };
        Some(match redis {
            Some(redis) => ReplaySettings::Redis(redis),
            None => ReplaySettings::Memory {
                max_entries: usize::try_from(max_entries).unwrap_or(usize::MAX),
            },
        })
    }
}

#[cfg(test)]
mod tests;

/// Turns on the challenge guard of every route that shares a key with a route answering an
/// unsigned MAC handshake, itself included: such a handshake MACs anyone's token with that
/// key, so those routes must refuse payloads a token could be (`verify::challenge`).
fn guard_challenge_oracles(routes: &mut [Route]) {
    let oracles: Vec<usize> = (0..routes.len())
        .filter(|&i| {
            routes[i]
                .handshake
                .is_some_and(|h| h.answers_unsigned_mac())
        })
        .collect();
    for i in 0..routes.len() {
        let exposed = oracles
            .iter()
            .any(|&o| routes[i].verifier.shares_key_with(&routes[o].verifier));
        if exposed {
            routes[i].verifier.guard_challenges();
        }
    }
}

/// `url` with any `user:password@` in its authority replaced by `***@`.
fn without_credentials(url: &str) -> Cow<'_, str> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}***{}", &url[..start], &url[start + at..])),
        None => Cow::Borrowed(url),
    }
}
