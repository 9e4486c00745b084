//! Addresses: upstream URLs, trusted proxies, and the replay store.

use std::borrow::Cow;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use crate::proxy::TrustedProxies;
use crate::route::Upstream;

use super::Validator;
use crate::config::*;

impl Validator<'_> {
    pub(super) fn upstream(&mut self, value: &Spanned<String>, key: &str) -> Option<Upstream> {
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

    /// `trusted_proxies`: addresses or CIDR networks.
    pub(super) fn trusted_proxies(&mut self, entries: &[Spanned<String>]) -> TrustedProxies {
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

    pub(super) fn replay(&mut self, raw: &file::ReplayFile) -> Option<ReplaySettings> {
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
            (
                "redis_ca_file",
                raw.redis_ca_file.as_ref().map(|v| v.referenced),
            ),
            ("key_prefix", raw.key_prefix.as_ref().map(|v| v.referenced)),
            ("timeout_ms", raw.timeout_ms.as_ref().map(|v| v.referenced)),
        ];
        let (foreign, other) = match store {
            StoreKind::Memory => (&redis_only[..], "redis"),
            StoreKind::Redis => (&memory_only[..], "memory"),
        };
        self.foreign_fields("replay", foreign, other);
        let redis = match (store, &raw.redis_url) {
            (StoreKind::Memory, _) => None,
            (StoreKind::Redis, None) => {
                self.problem(at, "replay.redis_url", "`store: redis` needs a redis_url");
                return None;
            }
            (StoreKind::Redis, Some(url)) => {
                let (url, ca_pem) = self.redis_url(url, raw.redis_ca_file.as_ref(), "replay")?;
                Some(RedisSettings {
                    ca_pem,
                    url,
                    key_prefix: raw
                        .key_prefix
                        .as_ref()
                        .map_or_else(|| DEFAULT_REDIS_KEY_PREFIX.to_owned(), |p| p.value.clone()),
                    timeout: Duration::from_millis(timeout_ms),
                })
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

impl Validator<'_> {
    /// Flags each of `fields` (name, where it is written) that is set: they belong to
    /// `store: <other>`, not the store the block names.
    pub(super) fn foreign_fields(
        &mut self,
        block: &str,
        fields: &[(&str, Option<Location>)],
        other: &str,
    ) {
        for (field, location) in fields {
            if let Some(location) = location {
                self.problem(
                    Some(*location),
                    format!("{block}.{field}"),
                    format!("applies to `store: {other}` only"),
                );
            }
        }
    }

    /// `<block>.redis_url` resolved (it may come from env or a file), and the CA certificates
    /// `<block>.redis_ca_file` names.
    pub(super) fn redis_url(
        &mut self,
        url: &Spanned<String>,
        ca_file: Option<&Spanned<String>>,
        block: &str,
    ) -> Option<(String, Option<Vec<u8>>)> {
        let field = format!("{block}.redis_url");
        let resolved = secrets::resolve(&url.value, self.env, self.base)
            .map_err(|e| self.problem(Some(url.referenced), &field, e))
            .ok()?;
        let text = String::from_utf8(resolved.expose().to_vec()).ok();
        // The URL may hold a password: the message never quotes it.
        match text.filter(|t| redis::Client::open(t.as_str()).is_ok()) {
            Some(text) => {
                let ca = self.redis_ca(ca_file, &text, block);
                Some((text, ca))
            }
            None => {
                self.problem(
                    Some(url.referenced),
                    field,
                    "is not a URL such as redis://127.0.0.1:6379/0",
                );
                None
            }
        }
    }

    /// The CA certificates `<block>.redis_ca_file` names, read now so a missing or empty file
    /// stops `check` rather than the first delivery.
    fn redis_ca(
        &mut self,
        file: Option<&Spanned<String>>,
        url: &str,
        block: &str,
    ) -> Option<Vec<u8>> {
        let file = file?;
        let field = format!("{block}.redis_ca_file");
        if !url.starts_with("rediss://") {
            self.problem(
                Some(file.referenced),
                &field,
                "applies to rediss:// URLs only (the redis_url does not use TLS)",
            );
            return None;
        }
        let path = self.base.join(&file.value);
        let pem = crate::tls::certificates(&path).and_then(|_| {
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        });
        pem.map_err(|e| self.problem(Some(file.referenced), field, e))
            .ok()
    }
}

/// `url` with any `user:password@` in its authority replaced by `***@`.
pub(in crate::config) fn without_credentials(url: &str) -> Cow<'_, str> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}***{}", &url[..start], &url[start + at..])),
        None => Cow::Borrowed(url),
    }
}
