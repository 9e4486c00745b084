//! Durable delivery: the `queue:` block and each route's `delivery:` block.

use std::num::NonZeroU32;

use serde_saphyr::Spanned;

use std::time::Duration;

use crate::queue::{
    DEFAULT_CLAIM_AFTER_SECONDS, DEFAULT_MAX_BYTES, DEFAULT_MAX_DELIVERIES, DEFAULT_MIN_FREE_BYTES,
    DEFAULT_QUEUE_KEY_PREFIX, QueueSettings, RedisQueueSettings, StoreKind, StoreSettings,
};
use crate::route::{Delivery, Durable, Mode, Retry};

use super::Validator;
use crate::config::file::{self, DeliveryMode};

const DEFAULT_RETRY: Retry = Retry::DEFAULT;
const DEFAULT_CONCURRENCY: u32 = 4;

impl Validator<'_> {
    pub(super) fn queue(
        &mut self,
        raw: &Option<Spanned<file::QueueFile>>,
        upstream_timeout: std::time::Duration,
    ) -> Option<QueueSettings> {
        let at = raw.as_ref()?.referenced;
        let raw = &raw.as_ref()?.value;
        let kind = raw.store.as_ref().map(|s| s.value).unwrap_or_default();
        let embedded_only = [
            ("path", raw.path.as_ref().map(|v| v.referenced)),
            (
                "min_free_bytes",
                raw.min_free_bytes.as_ref().map(|v| v.referenced),
            ),
        ];
        let redis_only = [
            ("redis_url", raw.redis_url.as_ref().map(|v| v.referenced)),
            (
                "redis_ca_file",
                raw.redis_ca_file.as_ref().map(|v| v.referenced),
            ),
            ("key_prefix", raw.key_prefix.as_ref().map(|v| v.referenced)),
            ("timeout_ms", raw.timeout_ms.as_ref().map(|v| v.referenced)),
            (
                "claim_after_seconds",
                raw.claim_after_seconds.as_ref().map(|v| v.referenced),
            ),
            (
                "allow_weak_durability",
                raw.allow_weak_durability.as_ref().map(|v| v.referenced),
            ),
            (
                "replica_wait_ms",
                raw.replica_wait_ms.as_ref().map(|v| v.referenced),
            ),
        ];
        let (foreign, other) = match kind {
            StoreKind::Embedded => (&redis_only[..], "redis"),
            StoreKind::Redis => (&embedded_only[..], "embedded"),
        };
        self.foreign_fields("queue", foreign, other);
        let path = raw.path.as_ref().map_or("queue.db", |p| p.value.as_str());
        if path.is_empty()
            && let Some(p) = &raw.path
        {
            self.problem(Some(p.referenced), "queue.path", "must name a file");
        }
        let control_socket = raw.control_socket.as_ref().map_or_else(
            || self.base.join(format!("{path}.sock")),
            |s| self.base.join(&s.value),
        );
        let store = match kind {
            StoreKind::Embedded => StoreSettings::Embedded {
                path: self.base.join(path),
                min_free_bytes: raw
                    .min_free_bytes
                    .as_ref()
                    .map_or(DEFAULT_MIN_FREE_BYTES, |m| m.value),
            },
            StoreKind::Redis => {
                StoreSettings::Redis(self.redis_queue(raw, at, upstream_timeout)?)
            }
        };
        Some(QueueSettings {
            store,
            control_socket,
            max_deliveries: self.positive(
                &raw.max_deliveries,
                "queue.max_deliveries",
                DEFAULT_MAX_DELIVERIES,
            ),
            max_bytes: self.positive(&raw.max_bytes, "queue.max_bytes", DEFAULT_MAX_BYTES),
        })
    }

    fn redis_queue(
        &mut self,
        raw: &file::QueueFile,
        at: serde_saphyr::Location,
        upstream_timeout: std::time::Duration,
    ) -> Option<RedisQueueSettings> {
        let Some(url) = &raw.redis_url else {
            self.problem(
                Some(at),
                "queue.redis_url",
                "`store: redis` needs a redis_url",
            );
            return None;
        };
        let (url, ca_pem) = self.redis_url(url, raw.redis_ca_file.as_ref(), "queue")?;
        let timeout_ms = self.positive(&raw.timeout_ms, "queue.timeout_ms", 1000);
        // By default, longer than any attempt can run.
        let default_claim = DEFAULT_CLAIM_AFTER_SECONDS.max(upstream_timeout.as_secs() + 10);
        let claim_after = self.positive(
            &raw.claim_after_seconds,
            "queue.claim_after_seconds",
            default_claim,
        );
        // An attempt still running must never look abandoned to another replica.
        if Duration::from_secs(claim_after) <= upstream_timeout
            && let Some(c) = &raw.claim_after_seconds
        {
            self.problem(
                Some(c.referenced),
                "queue.claim_after_seconds",
                format!(
                    "must be longer than timeouts.upstream_seconds ({} s), or another replica claims attempts still running",
                    upstream_timeout.as_secs()
                ),
            );
        }
        Some(RedisQueueSettings {
            url,
            ca_pem,
            key_prefix: raw
                .key_prefix
                .as_ref()
                .map_or_else(|| DEFAULT_QUEUE_KEY_PREFIX.to_owned(), |p| p.value.clone()),
            timeout: Duration::from_millis(timeout_ms),
            claim_after: Duration::from_secs(claim_after),
            allow_weak_durability: raw.allow_weak_durability.as_ref().is_some_and(|a| a.value),
            replica_wait: raw
                .replica_wait_ms
                .as_ref()
                .map(|ms| Duration::from_millis(ms.value.max(1))),
        })
    }

    /// A route's delivery policy; `queue` is the config's `queue:` block, if any.
    pub(super) fn delivery(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        queue: Option<&QueueSettings>,
    ) -> Delivery {
        let Some(raw) = &route.delivery else {
            return Delivery::Sync;
        };
        let at = raw.referenced;
        let raw = &raw.value;
        if raw.mode.value == DeliveryMode::Sync {
            return Delivery::Sync;
        }
        if route.mode == Mode::Observe {
            self.problem(
                Some(at),
                format!("{key}.delivery"),
                "a route in mode: observe forwards what it would reject; durable delivery takes responsibility for what verified, so a route may have one or the other",
            );
        }
        if raw.ordering == crate::route::Ordering::Route
            && queue.is_some_and(|q| matches!(q.store, StoreSettings::Redis(_)))
        {
            self.problem(
                Some(at),
                format!("{key}.delivery.ordering"),
                "`ordering: route` needs the embedded queue store; with `store: redis` replicas deliver in parallel, in any order",
            );
        }
        if queue.is_none() {
            self.problem(
                Some(at),
                format!("{key}.delivery"),
                "a durable route needs a top-level `queue:` block (where deliveries are stored)",
            );
        }
        let ack_status = match &raw.ack_status {
            Some(s) if ![200, 202, 204].contains(&s.value) => {
                self.problem(
                    Some(s.referenced),
                    format!("{key}.delivery.ack_status"),
                    "must be 200, 202 or 204",
                );
                200
            }
            Some(s) => s.value,
            None => 200,
        };
        let retry = raw.retry.as_ref().map_or(DEFAULT_RETRY, |r| {
            let k = format!("{key}.delivery.retry");
            let retry = Retry {
                first_seconds: self.positive(
                    &r.value.first_seconds,
                    &format!("{k}.first_seconds"),
                    DEFAULT_RETRY.first_seconds,
                ),
                max_seconds: self.positive(
                    &r.value.max_seconds,
                    &format!("{k}.max_seconds"),
                    DEFAULT_RETRY.max_seconds,
                ),
                give_up_after_seconds: self.positive(
                    &r.value.give_up_after_seconds,
                    &format!("{k}.give_up_after_seconds"),
                    DEFAULT_RETRY.give_up_after_seconds,
                ),
            };
            if retry.max_seconds < retry.first_seconds {
                self.problem(
                    Some(r.referenced),
                    k,
                    "max_seconds must be at least first_seconds",
                );
            }
            retry
        });
        let concurrency = match &raw.concurrency {
            Some(c) => match u32::try_from(c.value).ok().and_then(NonZeroU32::new) {
                Some(n) if n.get() <= 1024 => n,
                _ => {
                    self.problem(
                        Some(c.referenced),
                        format!("{key}.delivery.concurrency"),
                        "must be between 1 and 1024",
                    );
                    NonZeroU32::MIN
                }
            },
            None => NonZeroU32::new(DEFAULT_CONCURRENCY).unwrap_or(NonZeroU32::MIN),
        };
        Delivery::Durable(Durable {
            ack_status,
            retry,
            concurrency,
            ordering: raw.ordering,
            dead_retention_seconds: self.positive(
                &raw.dead_retention_seconds,
                &format!("{key}.delivery.dead_retention_seconds"),
                Durable::DEFAULT_DEAD_RETENTION_SECONDS,
            ),
        })
    }
}
