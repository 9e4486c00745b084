//! Routes and the table that matches a request path to one.
//!
//! Exact paths win over prefixes; among prefixes the longest wins. The query never takes part.
//! Matching allocates nothing. Paths arrive normalized (`crate::path`).

use std::sync::Arc;

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme as UriScheme};

mod policy;

use crate::scheme::Handshake;
use crate::verify::Verifier;
pub use policy::{Delivery, Duplicates, Durable, Mode, Ordering, RateLimit, ReplayPolicy, Retry};

/// How a route claims paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// This path only.
    Exact(String),
    /// Every path starting with this.
    Prefix(String),
}

/// Where verified requests go: an absolute `http://` or `https://` URL with an optional base
/// path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `http` or `https`.
    pub scheme: UriScheme,
    /// Host and port.
    pub authority: Authority,
    /// Prepended to the request path; empty or starting with `/`, never ending with `/`.
    pub base_path: String,
}

impl Upstream {
    /// The request target to forward `path_and_query` with.
    ///
    /// # Errors
    /// When the pieces do not form a URI (they always do for a validated upstream and a path
    /// hyper accepted).
    pub fn uri_for(&self, path_and_query: &PathAndQuery) -> Result<Uri, http::Error> {
        // Origin form (`/path?query`), as sent on an HTTP/1.1 connection to the upstream.
        // Without a base path the request's own (already parsed, shared) bytes are reused.
        let builder = Uri::builder();
        if self.base_path.is_empty() {
            builder.path_and_query(path_and_query.clone()).build()
        } else {
            builder
                .path_and_query(format!("{}{path_and_query}", self.base_path))
                .build()
        }
    }
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.base_path)
    }
}

/// One validated route.
#[derive(Debug)]
pub struct Route {
    /// Unique name; part of every replay key, log line and metric label.
    pub name: Arc<str>,
    /// Which paths it claims.
    pub path: PathMatch,
    /// What the config said: a provider name or `custom`.
    pub provider: String,
    /// The scheme, keyed with the route's secrets.
    pub verifier: Verifier,
    /// How many secrets (or public keys) are configured.
    pub secret_count: usize,
    /// Meta's `hub.verify_token`, for the `meta_subscribe` handshake.
    pub verify_token: Option<crate::secret::Secret>,
    /// Where verified requests go.
    pub upstream: Upstream,
    /// Replay protection.
    pub replay: ReplayPolicy,
    /// What a duplicate of a delivery already taken is answered.
    pub duplicates: Duplicates,
    /// Largest body accepted.
    pub max_body_bytes: u64,
    /// The body is read into one buffer: the scheme parses it or a handshake reads it
    /// (`Scheme::parses_body`). Otherwise it is verified and forwarded in the frames it
    /// arrived in, never copied.
    pub joins_body: bool,
    /// A handshake the route answers itself, if enabled.
    pub handshake: Option<Handshake>,
    /// Enforce verdicts, or only observe them.
    pub mode: Mode,
    /// Admission rate, checked before any body is read.
    pub rate_limit: Option<RateLimit>,
    /// Forwarded at once, or stored and delivered with retries.
    pub delivery: Delivery,
}

/// All routes, indexed for matching.
///
/// Matching is on the normalized path (`crate::path`) and ignores ASCII case, and an exact
/// path also claims itself with one trailing slash: frameworks such as Express route
/// `/Webhooks/Orders/` to the `/webhooks/orders` handler, so the route that guards that
/// handler must claim every spelling of it, or a weaker route would take them.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// Exact paths without a trailing slash.
    exact: Vec<(String, usize)>,
    /// Longest prefix first.
    prefixes: Vec<(String, usize)>,
}

/// `path` without one trailing slash, except for the root.
fn trimmed(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest,
        _ => path,
    }
}

impl RouteTable {
    /// Indexes `routes`. Paths must already be unique (config validation ensures it).
    pub fn new(routes: Vec<Route>) -> RouteTable {
        let mut exact = Vec::new();
        let mut prefixes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            match &route.path {
                PathMatch::Exact(p) => exact.push((trimmed(p).to_owned(), i)),
                PathMatch::Prefix(p) => prefixes.push((p.clone(), i)),
            }
        }
        prefixes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        RouteTable {
            routes,
            exact,
            prefixes,
        }
    }

    /// The route claiming the normalized `path`, if any, with its position in config order.
    pub fn find(&self, path: &str) -> Option<(usize, &Route)> {
        let key = trimmed(path);
        let i = self
            .exact
            .iter()
            .find(|(exact, _)| exact.eq_ignore_ascii_case(key))
            .or_else(|| {
                self.prefixes.iter().find(|(prefix, _)| {
                    path.get(..prefix.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
                })
            })
            .map(|(_, i)| *i)?;
        self.routes.get(i).map(|route| (i, route))
    }

    /// The route at `index` in config order.
    pub fn get(&self, index: usize) -> Option<&Route> {
        self.routes.get(index)
    }

    /// The routes, in config order, out of the table.
    pub fn into_routes(self) -> Vec<Route> {
        self.routes
    }

    /// The route named `name`.
    pub fn by_name(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| &*r.name == name)
    }

    /// All routes in config order.
    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.iter()
    }
}
