//! Key material: secrets or a public key, what the scheme signs, and the challenge guard.

use serde_saphyr::{Location, Spanned};

use crate::route::Route;
use crate::scheme::KeyKind;
use crate::secret::Secret;

use super::Validator;
use crate::config::*;

/// A key's field name for errors, and where its reference is written.
type KeyRef<'a> = (String, &'a Spanned<String>);

impl Validator<'_> {
    /// Refuses a custom scheme that reads a timestamp or replay key its signature does not
    /// cover: a replayed delivery with a fresh value would pass, forever.
    pub(super) fn unsigned_inputs(
        &mut self,
        scheme: &crate::scheme::Scheme,
        at: Location,
        key: &str,
    ) {
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

    /// The route's key material: `secrets` for HMAC and token schemes, `public_key` (or
    /// `public_keys`, by id) for public-key ones; the other kind is refused so nothing is
    /// silently ignored. Returns the keys and, for `public_keys`, their ids.
    pub(super) fn keys(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        kind: KeyKind,
    ) -> Option<(Vec<Secret>, Vec<Box<str>>)> {
        let public_at = route
            .public_key
            .as_ref()
            .map(|k| ("public_key", k.referenced))
            .or(route
                .public_keys
                .as_ref()
                .map(|k| ("public_keys", k.referenced)));
        let (wanted, unwanted) = match kind {
            KeyKind::PublicKey => (
                "public_key",
                route.secrets.as_ref().map(|s| ("secrets", s.referenced)),
            ),
            _ => ("secrets", public_at),
        };
        if let Some((other, at)) = unwanted {
            self.problem(
                Some(at),
                format!("{key}.{other}"),
                format!("this scheme is verified with `{wanted}`, not `{other}`"),
            );
            return None;
        }
        let (references, ids): (Vec<KeyRef<'_>>, Vec<Box<str>>) = match (
            kind,
            &route.secrets,
            &route.public_key,
            &route.public_keys,
        ) {
            (KeyKind::PublicKey, _, Some(_), Some(both)) => {
                self.problem(
                    Some(both.referenced),
                    format!("{key}.public_keys"),
                    "set public_key or public_keys, not both",
                );
                return None;
            }
            (KeyKind::PublicKey, _, Some(k), None) => (vec![("public_key".into(), k)], vec![]),
            (KeyKind::PublicKey, _, None, Some(map)) if !map.value.is_empty() => map
                .value
                .iter()
                .map(|(id, k)| ((format!("public_keys.{id}"), k), Box::from(id.as_str())))
                .unzip(),
            (KeyKind::PublicKey, _, None, map) => {
                let at = map.as_ref().map_or(route.name.referenced, |m| m.referenced);
                self.problem(
                        Some(at),
                        format!("{key}.public_key"),
                        "this scheme is verified with the sender's public key; set public_key (or public_keys: {id: key})",
                    );
                return None;
            }
            (_, Some(list), _, _) if !list.value.is_empty() => (
                list.value
                    .iter()
                    .enumerate()
                    .map(|(j, s)| (format!("secrets[{j}]"), s))
                    .collect(),
                Vec::new(),
            ),
            (_, list, _, _) => {
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
        for (field, reference) in &references {
            match secrets::resolve(&reference.value, self.env, self.base) {
                Ok(secret) => keys.push(secret),
                Err(message) => self.problem(
                    Some(reference.referenced),
                    format!("{key}.{field}"),
                    message,
                ),
            }
        }
        (keys.len() == references.len()).then_some((keys, ids))
    }

    /// A route whose key is fetched at run time (SNS, `signing_cert`) configures none:
    /// `secrets` and public keys are refused, so nothing is silently ignored.
    pub(super) fn no_keys(
        &mut self,
        route: &file::RouteFile,
        key: &str,
    ) -> Option<(Vec<Secret>, Vec<Box<str>>)> {
        let configured = [
            route.secrets.as_ref().map(|s| ("secrets", s.referenced)),
            route
                .public_key
                .as_ref()
                .map(|k| ("public_key", k.referenced)),
            route
                .public_keys
                .as_ref()
                .map(|k| ("public_keys", k.referenced)),
        ];
        if let Some((field, at)) = configured.into_iter().flatten().next() {
            self.problem(
                Some(at),
                format!("{key}.{field}"),
                "has no effect: this scheme verifies with a key fetched from the sender (the certificate each delivery names, or its published key set)",
            );
            return None;
        }
        Some((Vec::new(), Vec::new()))
    }

    /// An SNS route's topics (`topic_arns`), required; on any other route refused.
    pub(super) fn topics(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        sns: bool,
    ) -> Option<Vec<Box<str>>> {
        match (sns, &route.topic_arns) {
            (false, None) => Some(Vec::new()),
            (false, Some(t)) => {
                self.problem(
                    Some(t.referenced),
                    format!("{key}.topic_arns"),
                    "has no effect: only an sns scheme (provider: amazon-sns) takes topics",
                );
                None
            }
            (true, topics) => {
                let Some(list) = topics.as_ref().filter(|t| !t.value.is_empty()) else {
                    let at = topics
                        .as_ref()
                        .map_or(route.name.referenced, |t| t.referenced);
                    self.problem(
                        Some(at),
                        format!("{key}.topic_arns"),
                        "an SNS route names the topics it takes (any AWS account can have SNS sign a message), e.g. [arn:aws:sns:us-east-1:123456789012:orders]",
                    );
                    return None;
                };
                let mut out = Vec::new();
                for (i, arn) in list.value.iter().enumerate() {
                    let parts: Vec<&str> = arn.value.split(':').collect();
                    let ok = parts.len() == 6
                        && parts[0] == "arn"
                        && parts[1].starts_with("aws")
                        && parts[2] == "sns"
                        && parts.iter().all(|p| !p.is_empty());
                    if ok {
                        out.push(Box::from(arn.value.as_str()));
                    } else {
                        self.problem(
                            Some(arn.referenced),
                            format!("{key}.topic_arns[{i}]"),
                            format!(
                                "`{}` is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
                                arn.value
                            ),
                        );
                    }
                }
                (out.len() == list.value.len()).then_some(out)
            }
        }
    }

    /// The key set URL of a `jwks` scheme: the route's `jwks_url`, else the scheme's `url`;
    /// either way it must pass the SSRF guard for the scheme's pinned hosts.
    pub(super) fn jwks_url(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        rule: Option<&crate::scheme::JwksRule>,
    ) -> Option<Box<str>> {
        let field = format!("{key}.jwks_url");
        let (url, at) = match (rule, &route.jwks_url) {
            (None, None) => return Some(Box::from("")),
            (None, Some(u)) => {
                self.problem(
                    Some(u.referenced),
                    field,
                    "has no effect: this scheme's keys are not a fetched key set (jwks)",
                );
                return None;
            }
            (Some(_), Some(u)) => (u.value.as_str(), u.referenced),
            (Some(rule), None) => match &rule.url {
                Some(url) => (&**url, route.name.referenced),
                None => {
                    self.problem(
                        Some(route.name.referenced),
                        field,
                        "this scheme's key set URL depends on the account; set jwks_url",
                    );
                    return None;
                }
            },
        };
        let rule = rule?;
        match crate::keyfetch::guard::check(url, &rule.pins()) {
            Ok(_) => Some(url.into()),
            Err(why) => {
                self.problem(
                    Some(at),
                    field,
                    format!(
                        "`{url}` refused: {why}; key sets are fetched over https from {}",
                        rule.hosts.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// The route's `webhook_id` (PayPal's id of the subscription), required exactly when
    /// the scheme signs `{webhook_id}`; `env:` and `file:` forms as for a secret.
    pub(super) fn webhook_id(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        needed: bool,
    ) -> Option<Vec<u8>> {
        let field = format!("{key}.webhook_id");
        match (&route.webhook_id, needed) {
            (None, false) => Some(Vec::new()),
            (None, true) => {
                self.problem(
                    Some(route.name.referenced),
                    field,
                    "this scheme signs the id the sender gave the webhook; set webhook_id (PayPal: the webhook's ID in the developer dashboard)",
                );
                None
            }
            (Some(w), false) => {
                self.problem(
                    Some(w.referenced),
                    field,
                    "has no effect: this scheme does not sign a webhook id",
                );
                None
            }
            (Some(w), true) => match secrets::resolve(&w.value, self.env, self.base) {
                Ok(id) if !id.expose().is_empty() => Some(id.expose().to_vec()),
                Ok(_) => {
                    self.problem(Some(w.referenced), field, "must not be empty");
                    None
                }
                Err(message) => {
                    self.problem(Some(w.referenced), field, message);
                    None
                }
            },
        }
    }

    /// The URL the sender posts to, required exactly when the scheme signs it.
    pub(super) fn public_url(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        needed: bool,
    ) -> Option<String> {
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
}

/// Turns on the challenge guard of every route that shares a key with a route answering an
/// unsigned MAC handshake, itself included: such a handshake MACs anyone's token with that
/// key, so those routes must refuse payloads a token could be (`verify::challenge`).
pub(super) fn guard_challenge_oracles(routes: &mut [Route]) {
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
