//! The queue's settings, as validated from the config's `queue:` block.

use std::path::PathBuf;

use serde::Deserialize;

/// Default `queue.max_deliveries`.
pub const DEFAULT_MAX_DELIVERIES: u64 = 100_000;
/// Default `queue.max_bytes`: 1 GiB of bodies.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// Default `queue.min_free_bytes`: below 64 MiB free on the queue's file system, senders hear
/// 503 `queue_full` rather than a commit failing for want of space.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

/// Where durable routes keep their deliveries and how much it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Which store holds the queue.
    pub store: StoreKind,
    /// The database file (resolved against the config file's directory).
    pub path: PathBuf,
    /// The Unix socket `hookgate queue ...` talks to (mode 0600).
    pub control_socket: PathBuf,
    /// Deliveries held at once, in every state; past it the sender hears 503 `queue_full`.
    pub max_deliveries: u64,
    /// Body bytes held at once; past it the sender hears 503 `queue_full`.
    pub max_bytes: u64,
    /// Free space the queue's file system must keep; below it, 503 `queue_full`.
    pub min_free_bytes: u64,
}

/// Which store holds the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// One file on local disk (the default).
    #[default]
    Embedded,
}
