//! The queue's settings, as validated from the config's `queue:` block.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Default `queue.max_deliveries`.
pub const DEFAULT_MAX_DELIVERIES: u64 = 100_000;
/// Default `queue.max_bytes`: 1 GiB of bodies.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Default `queue.min_free_bytes`: below 64 MiB free on the queue's file system, senders hear
/// 503 `queue_full` rather than a commit failing for want of space.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;
/// Default `queue.claim_after_seconds` (Redis store).
pub const DEFAULT_CLAIM_AFTER_SECONDS: u64 = 30;
/// Default `queue.key_prefix` (Redis store).
pub const DEFAULT_QUEUE_KEY_PREFIX: &str = "hookgate:queue:";

/// Where durable routes keep their deliveries and how much it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Which store holds the queue, with its own settings.
    pub store: StoreSettings,
    /// The Unix socket `hookgate queue ...` talks to (mode 0600).
    pub control_socket: PathBuf,
    /// Deliveries held at once, in every state; past it the sender hears 503 `queue_full`.
    pub max_deliveries: u64,
    /// Body bytes held at once; past it the sender hears 503 `queue_full`.
    pub max_bytes: u64,
}

/// Which store holds the queue. Each variant holds exactly its own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// One file on local disk.
    Embedded {
        /// The database file (resolved against the config file's directory).
        path: PathBuf,
        /// Free space the queue's file system must keep; below it, 503 `queue_full`.
        min_free_bytes: u64,
    },
    /// Redis, shared by every replica.
    Redis(RedisQueueSettings),
}

impl QueueSettings {
    /// The embedded store's file, if that is the store.
    pub fn path(&self) -> Option<&std::path::Path> {
        match &self.store {
            StoreSettings::Embedded { path, .. } => Some(path),
            StoreSettings::Redis(_) => None,
        }
    }
}

/// How the queue uses Redis.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisQueueSettings {
    /// `redis://` or `rediss://` URL; may carry a password, so it never prints.
    pub url: String,
    /// For `rediss://`: the PEM certificates of the CA to trust instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Prepended to every key the queue uses.
    pub key_prefix: String,
    /// Bound on each command, connecting included.
    pub timeout: Duration,
    /// An attempt left unfinished this long (its replica died) is taken over by another.
    pub claim_after: Duration,
    /// Accept even when Redis's settings do not make a write durable (logged and counted).
    pub allow_weak_durability: bool,
    /// After each write, wait up to this long for one replica to confirm it (`WAIT 1 ms`).
    pub replica_wait: Option<Duration>,
}

impl std::fmt::Debug for RedisQueueSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueueSettings")
            .field("url", &"<redacted>")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("claim_after", &self.claim_after)
            .field("allow_weak_durability", &self.allow_weak_durability)
            .field("replica_wait", &self.replica_wait)
            .finish_non_exhaustive()
    }
}

/// `queue.store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// One file on local disk (the default).
    #[default]
    Embedded,
    /// Redis, shared by every replica.
    Redis,
}
