//! What configures the replay store. The store owns its settings, so it never reads the
//! config; the config builds these.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{MemoryStore, RedisStore, ReplayStore, StoreError};

/// Which replay store, with what it needs. Each variant holds exactly its own settings, so
/// no combination means nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaySettings {
    /// In this process, holding at most `max_entries` reservations.
    Memory {
        /// Most reservations held at once.
        max_entries: usize,
    },
    /// Shared by every replica through Redis.
    Redis(RedisSettings),
}

/// How to reach the shared Redis replay store.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` URL; may carry a password, so it never prints.
    pub url: String,
    /// Prepended to every key, so several gateways can share one Redis.
    pub key_prefix: String,
    /// Bound on each command, connecting included.
    pub timeout: Duration,
    /// For `rediss://`: the PEM certificates of the CA to trust instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &"<redacted>")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .finish()
    }
}

impl ReplaySettings {
    /// The store these settings describe.
    ///
    /// # Errors
    /// When the Redis client cannot be built from the URL.
    pub fn build(&self) -> Result<Arc<dyn ReplayStore>, StoreError> {
        Ok(match self {
            ReplaySettings::Memory { max_entries } => Arc::new(MemoryStore::new(*max_entries)),
            ReplaySettings::Redis(redis) => Arc::new(RedisStore::new(redis)?),
        })
    }
}
