//! Routes: the path a route claims, its scheme, and everything built from them.

use std::borrow::Cow;
use std::num::NonZeroU32;

use serde_saphyr::{Location, Spanned};

use crate::route::{PathMatch, RateLimit, ReplayPolicy, Route, Upstream};
use crate::scheme::{Handshake, KeyKind, SchemeSpec, nearest_presets, preset, preset_names};
use crate::verify::Verifier;

use super::Validator;
use crate::config::*;

impl Validator<'_> {
    pub(super) fn path(&mut self, route: &file::RouteFile, key: &str) -> Option<PathMatch> {
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

    pub(super) fn scheme_spec(
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
                    let near = nearest_presets(&p.value);
                    let hint = if near.is_empty() {
                        let known: Vec<_> = preset_names().collect();
                        format!("known providers: {}", known.join(", "))
                    } else {
                        let near: Vec<_> = near.iter().map(|n| format!("`{n}`")).collect();
                        format!(
                            "did you mean {}? (docs/providers.md lists all {})",
                            near.join(" or "),
                            preset_names().count()
                        )
                    };
                    self.problem(
                        Some(p.referenced),
                        format!("{key}.provider"),
                        format!("unknown provider `{}`; {hint}", p.value),
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

    pub(super) fn route(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        path: PathMatch,
        default_upstream: Option<&Upstream>,
        default_max_body: u64,
    ) -> Option<Route> {
        let spec = self.scheme_spec(route, key);
        // Whether the key is fetched at run time, known even when the scheme has a problem.
        let sns = spec.as_ref().is_some_and(|(spec, _, _)| spec.sns.is_some());
        let fetched = sns
            || spec
                .as_ref()
                .is_some_and(|(spec, _, _)| spec.signing_cert.is_some() || spec.jwks.is_some());
        let scheme = spec.and_then(|(spec, provider, at)| match spec.build() {
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
        let public = route.public_key.is_some() || route.public_keys.is_some();
        let kind = match (&scheme, public, &route.secrets) {
            (Some((scheme, _)), _, _) => scheme.algorithm.key_kind(),
            (None, true, None) => KeyKind::PublicKey,
            (None, _, _) => KeyKind::Hmac,
        };
        let keys = if fetched {
            self.no_keys(route, key)
        } else {
            self.keys(route, key, kind)
        };
        let topics = self.topics(route, key, sns);
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
        let wants_token = handshake.is_some_and(Handshake::needs_verify_token);
        match (wants_token, &route.verify_token) {
            (true, None) => self.problem(
                Some(route.name.referenced),
                format!("{key}.verify_token"),
                format!(
                    "the {} handshake needs the verify token entered in the sender's dashboard (or set `handshake: false`)",
                    handshake.map_or("", Handshake::name)
                ),
            ),
            (false, Some(t)) => self.problem(
                Some(t.referenced),
                format!("{key}.verify_token"),
                "has no effect: only the meta_subscribe, strava_subscribe, oura_verification and ebay_challenge handshakes use it",
            ),
            _ => {}
        }
        let needs_url =
            scheme.needs_public_url() || handshake.is_some_and(Handshake::needs_public_url);
        let public_url = self.public_url(route, key, needs_url);
        let signs_id = scheme.signed_payload.uses(&crate::scheme::Piece::WebhookId);
        let webhook_id = self.webhook_id(route, key, signs_id);
        let jwks_url = self.jwks_url(route, key, scheme.jwks.as_ref());
        let rate_limit = route
            .rate_limit
            .as_ref()
            .and_then(|r| self.rate_limit(r, &format!("{key}.rate_limit")));
        let (keys, key_ids) = keys?;
        let secret_count = keys.len();
        let verifier = Verifier::new(scheme, &keys, tolerance).and_then(|v| match key_ids {
            ids if ids.is_empty() => Ok(v),
            ids => v.with_public_key_ids(ids),
        });
        let verifier = match verifier {
            Ok(v) => v
                .with_public_url(&public_url?)
                .with_topics(topics?)
                .with_webhook_id(&webhook_id?)
                .with_jwks_url(jwks_url?),
            Err(e) => {
                let (at, field) = match (&route.secrets, &route.public_key, &route.public_keys) {
                    (Some(s), _, _) => (s.referenced, "secrets"),
                    (None, Some(k), _) => (k.referenced, "public_key"),
                    (None, None, Some(k)) => (k.referenced, "public_keys"),
                    (None, None, None) => (route.name.referenced, "secrets"),
                };
                self.problem(Some(at), format!("{key}.{field}"), e.to_string());
                return None;
            }
        };
        Some(Route {
            joins_body: verifier.scheme().parses_body() || handshake.is_some(),
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
            delivery: crate::route::Delivery::Sync,
        })
    }

    pub(super) fn rate_limit(
        &mut self,
        raw: &Spanned<file::RateLimitFile>,
        key: &str,
    ) -> Option<RateLimit> {
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
}
