//! Durable delivery: the `queue:` block and each route's `delivery:` block.

use std::num::NonZeroU32;

use serde_saphyr::Spanned;

use crate::queue::{
    DEFAULT_MAX_BYTES, DEFAULT_MAX_DELIVERIES, DEFAULT_MIN_FREE_BYTES, QueueSettings,
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
    ) -> Option<QueueSettings> {
        let raw = &raw.as_ref()?.value;
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
        Some(QueueSettings {
            store: raw.store.as_ref().map(|s| s.value).unwrap_or_default(),
            path: self.base.join(path),
            control_socket,
            max_deliveries: self.positive(
                &raw.max_deliveries,
                "queue.max_deliveries",
                DEFAULT_MAX_DELIVERIES,
            ),
            max_bytes: self.positive(&raw.max_bytes, "queue.max_bytes", DEFAULT_MAX_BYTES),
            min_free_bytes: raw
                .min_free_bytes
                .as_ref()
                .map_or(DEFAULT_MIN_FREE_BYTES, |m| m.value),
        })
    }

    /// A route's delivery policy; `queued` says whether the config has a `queue:` block.
    pub(super) fn delivery(
        &mut self,
        route: &file::RouteFile,
        key: &str,
        queued: bool,
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
        if !queued {
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
