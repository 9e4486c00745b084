//! Durable delivery's queue: a delivery is stored durably before the sender hears 2xx, then
//! delivered to the app with retries by `crate::deliver`.
//!
//! Two stores hold it: [`Embedded`] (a redb file on local disk, fsync per group commit) and
//! [`RedisQueue`] (Streams and sorted sets in a Redis with an fsynced append-only file, shared
//! by every replica). [`Queue`] is the one face the request path, the deliverer and the
//! control socket see.

use std::sync::Arc;

use tokio::sync::Notify;

mod chunk;
mod embedded;
mod index;
mod record;
mod redis_store;
mod settings;
mod store;
mod writer;

pub use embedded::Embedded;
pub use index::Policy;
pub use record::{Id, Meta, Request, State, id_text, parse_id};
pub use redis_store::RedisQueue;
pub use settings::{
    DEFAULT_CLAIM_AFTER_SECONDS, DEFAULT_MAX_BYTES, DEFAULT_MAX_DELIVERIES, DEFAULT_MIN_FREE_BYTES,
    DEFAULT_QUEUE_KEY_PREFIX, QueueSettings, RedisQueueSettings, StoreKind, StoreSettings,
};
pub use store::StoreFailed;

use crate::metrics::QueueMetrics;
use crate::replay::Key;

/// What became of a delivery offered to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored durably under this id.
    Queued(Id),
    /// Its replay key is held by a delivery already queued or delivered.
    Duplicate,
}

/// Why the queue did not take a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// `max_deliveries` or `max_bytes` is reached (or Redis is near its `maxmemory`).
    #[error("queue full")]
    Full,
    /// The store cannot take it now: a failed commit, or Redis unreachable.
    #[error("queue store failed")]
    Failed,
    /// Redis's settings do not make a write durable, and the config did not opt in.
    #[error("queue store not durable")]
    Unsafe,
}

/// The durable queue, in whichever store the config names.
#[derive(Debug)]
pub enum Queue {
    /// A file on local disk.
    Embedded(Embedded),
    /// Redis, shared by every replica.
    Redis(Box<RedisQueue>),
}

impl Queue {
    /// Opens the store `settings` name. The Redis store connects lazily, so a gateway
    /// starts while Redis is down (and says so on `/readyz`).
    ///
    /// # Errors
    /// When the file cannot be opened or recovered, or the Redis URL does not parse.
    pub fn open(settings: &QueueSettings) -> Result<Arc<Queue>, StoreFailed> {
        let limits = (settings.max_deliveries, settings.max_bytes);
        Ok(Arc::new(match &settings.store {
            StoreSettings::Embedded {
                path,
                min_free_bytes,
            } => Queue::Embedded(Embedded::open(path.clone(), *min_free_bytes, limits)?),
            StoreSettings::Redis(redis) => Queue::Redis(Box::new(RedisQueue::new(redis, limits)?)),
        }))
    }

    /// Stores a verified delivery for `route`, durably, unless `replay` (its key and when
    /// the key expires, in Unix seconds) is held by one already taken, in one atomic step.
    ///
    /// # Errors
    /// Why it was not stored.
    pub async fn accept(
        &self,
        route: &str,
        request: Request,
        replay: Option<(Key, i64)>,
        now_ms: i64,
    ) -> Result<Accepted, Refused> {
        match self {
            Queue::Embedded(q) => q.accept(route, request, replay, now_ms).await,
            Queue::Redis(q) => q.accept(route, request, replay, now_ms).await,
        }
    }

    /// Takes what is due now, marking it in flight; see [`Policy`].
    pub async fn take_due(
        &self,
        now_ms: i64,
        policy: &(dyn Fn(&str) -> Policy + Sync),
    ) -> Vec<(Id, Meta)> {
        match self {
            Queue::Embedded(q) => q.take_due(now_ms, policy),
            Queue::Redis(q) => q.take_due(now_ms, policy).await,
        }
    }

    /// When to look for due deliveries next, at the latest.
    pub fn next_due(&self, now_ms: i64) -> Option<i64> {
        match self {
            Queue::Embedded(q) => q.next_due(),
            // Other replicas schedule too: look again soon.
            Queue::Redis(_) => Some(now_ms + redis_store::POLL_MS),
        }
    }

    /// Woken when a delivery becomes due sooner than the deliverer planned.
    pub fn wake(&self) -> &Notify {
        match self {
            Queue::Embedded(q) => q.wake(),
            Queue::Redis(q) => q.wake(),
        }
    }

    /// A delivery's stored request.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn request(self: &Arc<Self>, id: Id) -> Result<Option<Request>, String> {
        match &**self {
            Queue::Embedded(q) => {
                if let Some(request) = q.fresh_request(id) {
                    return Ok(Some(request));
                }
                let queue = Arc::clone(self);
                let read = tokio::task::spawn_blocking(move || match &*queue {
                    Queue::Embedded(q) => q.request(id).map_err(|e| e.to_string()),
                    Queue::Redis(_) => Ok(None),
                });
                read.await.map_err(|_| "cancelled".to_owned())?
            }
            Queue::Redis(q) => q.request(id).await,
        }
    }

    /// A delivery's metadata as the queue holds it now.
    pub async fn meta(&self, id: Id) -> Option<Meta> {
        match self {
            Queue::Embedded(q) => q.meta(id),
            Queue::Redis(q) => q.meta(id).await,
        }
    }

    /// Every delivery held, in arrival order per route.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn list(&self) -> Result<Vec<(Id, Meta)>, String> {
        match self {
            Queue::Embedded(q) => Ok(q.list()),
            Queue::Redis(q) => q.list().await,
        }
    }

    /// Records that a delivery taken by [`Queue::take_due`] reached the app: it leaves the
    /// queue (its replay key stays).
    pub async fn delivered(&self, id: Id) {
        match self {
            Queue::Embedded(q) => q.delivered(id),
            Queue::Redis(q) => q.delivered(id).await,
        }
    }

    /// Records a delivery's new metadata: after an attempt (retrying, dead), or an
    /// operator's redrive.
    pub async fn update(&self, id: Id, meta: Meta) {
        match self {
            Queue::Embedded(q) => q.update(id, meta),
            Queue::Redis(q) => q.update(id, meta).await,
        }
    }

    /// Removes a delivery without delivering it (purge, retention, unreadable).
    pub async fn remove(&self, id: Id) -> Option<Meta> {
        match self {
            Queue::Embedded(q) => q.remove(id),
            Queue::Redis(q) => q.remove(id).await,
        }
    }

    /// Makes every change so far durable; for shutdown, so a restart does not send again
    /// what was delivered.
    pub async fn sync(&self) {
        match self {
            Queue::Embedded(q) => q.sync().await,
            // Each change was sent when it happened.
            Queue::Redis(_) => {}
        }
    }

    /// Drops replay keys that expired before `now` (Unix seconds).
    pub fn prune_replay_keys(&self, now: i64) {
        match self {
            Queue::Embedded(q) => q.prune_replay_keys(now),
            // Redis expires them itself.
            Queue::Redis(_) => {}
        }
    }

    /// The deliverer's periodic look at the store: free disk space, or Redis's settings,
    /// memory and counts. About once a second.
    pub async fn check(&self) {
        match self {
            Queue::Embedded(q) => q.check_disk(),
            Queue::Redis(q) => q.check().await,
        }
    }

    /// Ready to accept: the store answers, is durable, and has room.
    ///
    /// # Errors
    /// Why not, for `/readyz`.
    pub fn readiness(&self) -> Result<(), std::borrow::Cow<'static, str>> {
        match self {
            Queue::Embedded(q) => q.readiness().map_err(Into::into),
            Queue::Redis(q) => q.readiness().map_err(Into::into),
        }
    }

    /// Whether the store failed for good (a commit failed; a restart recovers).
    pub fn failed(&self) -> bool {
        match self {
            Queue::Embedded(q) => q.failed(),
            // Redis outages heal by themselves.
            Queue::Redis(_) => false,
        }
    }

    /// The queue's own series.
    pub fn metrics(&self) -> &QueueMetrics {
        match self {
            Queue::Embedded(q) => &q.metrics,
            Queue::Redis(q) => q.metrics(),
        }
    }

    /// Appends the queue's series to a scrape taken at `now_ms`.
    pub fn render_metrics(&self, out: &mut String, now_ms: i64) {
        match self {
            Queue::Embedded(q) => q.render_metrics(out, now_ms),
            Queue::Redis(q) => q.render_metrics(out, now_ms),
        }
    }
}

/// Where this process's id sequence starts: random, so two processes (or a restart within
/// the same millisecond) never mint the same id.
fn sequence_seed() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    // Half the range, so the sequence cannot wrap within a process's life.
    u64::from_be_bytes(bytes) >> 1
}

/// A new delivery's id: its arrival in the high bits, `sequence` in the low ones.
fn new_id(now_ms: i64, sequence: u64) -> Id {
    (u128::from(now_ms.max(0).unsigned_abs()) << 64) | u128::from(sequence)
}
