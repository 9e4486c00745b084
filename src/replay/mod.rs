//! Replay protection: each verified delivery is reserved once, for as long as it could be
//! accepted again.
//!
//! The gateway reserves a key after verification and before forwarding. If the upstream does not
//! answer 2xx, the reservation is released before the sender hears back, so the sender's retry
//! of the very same request passes. A duplicate while the first is in flight, or after it
//! succeeded, finds the key taken. Only verified deliveries ever reach the store.
//!
//! Routes that acknowledge duplicates also mark a reservation once the upstream answered 2xx,
//! so a later duplicate can be told apart from one whose first copy is still in flight.

mod memory;
mod redis;
mod settings;

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use memory::MemoryStore;
pub use redis::RedisStore;
pub use settings::{RedisSettings, ReplaySettings};

/// A compact replay key: 128 bits of SHA-256 over the route name and the delivery's
/// fingerprint. Fixed size, so a million keys stay small.
pub type Key = [u8; 16];

/// Who holds a reservation: the value a store keeps under the key, so a release deletes only
/// what the releaser holds. The memory store, private to one process, uses 0.
pub type Token = u64;

/// A boxed future, so the store can be a trait object.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why the store could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The memory store holds its maximum of live reservations.
    #[error("replay store is full ({0} live reservations)")]
    Full(usize),
    /// The shared store could not be reached or did not answer in time.
    #[error("replay store unreachable: {0}")]
    Unreachable(String),
}

/// Who holds a taken key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A delivery not yet answered 2xx by the upstream, or never marked as such.
    InFlight,
    /// A delivery the upstream answered 2xx, marked by [`Reservation::acknowledge`].
    Acknowledged,
}

/// Shared replay state.
pub trait ReplayStore: Send + Sync + Debug {
    /// Atomically reserves `key` until `expires_at` (Unix seconds) unless it is already held.
    /// `Ok(Some(token))` when this call took it, `Ok(None)` when it was already taken.
    fn reserve(&self, key: Key, expires_at: i64, now: i64) -> StoreFuture<'_, Option<Token>>;

    /// Gives `key` back if it is still held with `token`, so the same delivery may be
    /// accepted again.
    fn release(&self, key: Key, token: Token) -> StoreFuture<'_, ()>;

    /// Marks `key`, if it is still held with `token`, as answered 2xx, keeping its expiry.
    fn acknowledge(&self, key: Key, token: Token) -> StoreFuture<'_, ()>;

    /// Who holds `key` now; `None` when it is free.
    fn holder(&self, key: Key, now: i64) -> StoreFuture<'_, Option<Holder>>;

    /// Succeeds when the store can take reservations now: the readiness check.
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// Changes how many reservations the store holds at most, keeping every reservation it
    /// has; `false` when the store has no such bound (Redis).
    fn set_capacity(&self, _capacity: usize) -> bool {
        false
    }
}

/// Derives the replay key of a delivery on a route.
pub fn key(route: &str, fingerprint: &[u8]) -> Key {
    let mut hash = Sha256::new();
    hash.update((route.len() as u64).to_be_bytes());
    hash.update(route.as_bytes());
    hash.update(fingerprint);
    let digest = hash.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// A held reservation. [`Reservation::keep`] makes it permanent (until expiry);
/// [`Reservation::release`] gives it back. Dropped without either (the request was cancelled
/// mid-flight), it is released in the background: a duplicate is better than a lost webhook.
#[derive(Debug)]
pub struct Reservation {
    store: Arc<dyn ReplayStore>,
    key: Key,
    token: Token,
    armed: bool,
}

impl Reservation {
    /// Takes `key` in `store`. `Ok(None)` when it was already taken.
    ///
    /// # Errors
    /// When the store cannot answer.
    pub async fn take(
        store: &Arc<dyn ReplayStore>,
        key: Key,
        expires_at: i64,
        now: i64,
    ) -> Result<Option<Reservation>, StoreError> {
        let taken = store.reserve(key, expires_at, now).await?;
        Ok(taken.map(|token| Reservation {
            store: Arc::clone(store),
            key,
            token,
            armed: true,
        }))
    }

    /// The delivery succeeded: keep the key until it expires.
    pub fn keep(mut self) {
        self.armed = false;
    }

    /// The delivery succeeded and its duplicates are to be acknowledged: keep the key until it
    /// expires, marked as answered.
    ///
    /// # Errors
    /// When the store cannot answer; the key then stays in flight until it expires.
    pub async fn acknowledge(mut self) -> Result<(), StoreError> {
        self.armed = false;
        self.store.acknowledge(self.key, self.token).await
    }

    /// The delivery failed: give the key back before answering the sender.
    ///
    /// # Errors
    /// When the store cannot answer; the key then stays until it expires.
    pub async fn release(mut self) -> Result<(), StoreError> {
        self.armed = false;
        self.store.release(self.key, self.token).await
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let store = Arc::clone(&self.store);
        let (key, token) = (self.key, self.token);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = store.release(key, token).await;
            });
        }
    }
}
