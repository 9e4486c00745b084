//! The in-process replay store, bounded.
//!
//! Holds at most `capacity` live reservations. Expired ones are purged a few at a time on each
//! reservation, and all at once when the store looks full. When it is full of live
//! reservations, new ones are refused with [`StoreError::Full`] and the gateway answers 503, so
//! senders retry later: failing closed, rather than forgetting a live key and letting a replay
//! through. Entries cost about 92 bytes each (1M keys measured at 88 MiB of RSS).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Holder, Key, ReplayStore, StoreError, StoreFuture, Token};

/// How many expired entries one reservation purges in passing.
const PURGE_STEP: usize = 32;

/// An in-process [`ReplayStore`].
#[derive(Debug)]
pub struct MemoryStore {
    /// A std mutex: critical sections are short and never span an `.await`.
    state: Mutex<State>,
    /// Changed by a reload; read under the lock's critical sections, so relaxed suffices.
    capacity: AtomicUsize,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Key, Entry>,
    by_expiry: BTreeSet<(i64, Key)>,
}

/// A reservation's expiry (Unix seconds, never negative) with its acknowledgement folded into
/// the sign bit: one word per key, where a separate flag would pad every entry by 8 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry(i64);

impl Entry {
    fn new(expires_at: i64) -> Entry {
        Entry(expires_at.max(0))
    }

    fn expires_at(self) -> i64 {
        self.0 & i64::MAX
    }

    fn acknowledged(self) -> bool {
        self.0 < 0
    }

    fn acknowledge(&mut self) {
        self.0 |= i64::MIN;
    }
}

impl State {
    fn purge(&mut self, now: i64, limit: usize) {
        for _ in 0..limit {
            match self.by_expiry.first() {
                Some(&(expiry, key)) if expiry <= now => {
                    self.by_expiry.pop_first();
                    self.entries.remove(&key);
                }
                _ => break,
            }
        }
    }
}

impl MemoryStore {
    /// A store holding at most `capacity` live reservations.
    pub fn new(capacity: usize) -> MemoryStore {
        MemoryStore {
            state: Mutex::new(State::default()),
            capacity: AtomicUsize::new(capacity),
        }
    }

    /// Live and not-yet-purged reservations.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the two indexes inconsistent in a way
        // that matters more than refusing all service, so keep going with the data.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn reserve_now(&self, key: Key, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let mut state = self.lock();
        state.purge(now, PURGE_STEP);
        if let Some(entry) = state.entries.get(&key).copied() {
            if entry.expires_at() > now {
                // A later verified copy (re-signed with a newer timestamp) could be accepted
                // until its own expiry: hold the key that long too.
                if expires_at > entry.expires_at() {
                    state.by_expiry.remove(&(entry.expires_at(), key));
                    let mut longer = Entry::new(expires_at);
                    if entry.acknowledged() {
                        longer.acknowledge();
                    }
                    state.entries.insert(key, longer);
                    state.by_expiry.insert((longer.expires_at(), key));
                }
                return Ok(false);
            }
            state.by_expiry.remove(&(entry.expires_at(), key));
            state.entries.remove(&key);
        }
        let capacity = self.capacity.load(Ordering::Relaxed);
        if state.entries.len() >= capacity {
            state.purge(now, usize::MAX);
            if state.entries.len() >= capacity {
                return Err(StoreError::Full(capacity));
            }
        }
        let entry = Entry::new(expires_at);
        state.entries.insert(key, entry);
        state.by_expiry.insert((entry.expires_at(), key));
        Ok(true)
    }

    fn release_now(&self, key: Key) {
        let mut state = self.lock();
        if let Some(entry) = state.entries.remove(&key) {
            state.by_expiry.remove(&(entry.expires_at(), key));
        }
    }

    fn acknowledge_now(&self, key: Key) {
        if let Some(entry) = self.lock().entries.get_mut(&key) {
            entry.acknowledge();
        }
    }

    fn holder_now(&self, key: Key, now: i64) -> Option<Holder> {
        let state = self.lock();
        let entry = state.entries.get(&key).filter(|e| e.expires_at() > now)?;
        Some(if entry.acknowledged() {
            Holder::Acknowledged
        } else {
            Holder::InFlight
        })
    }
}

impl ReplayStore for MemoryStore {
    fn reserve(&self, key: Key, expires_at: i64, now: i64) -> StoreFuture<'_, Option<Token>> {
        let result = self
            .reserve_now(key, expires_at, now)
            .map(|taken| taken.then_some(0));
        Box::pin(std::future::ready(result))
    }

    fn release(&self, key: Key, _token: Token) -> StoreFuture<'_, ()> {
        self.release_now(key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn acknowledge(&self, key: Key, _token: Token) -> StoreFuture<'_, ()> {
        self.acknowledge_now(key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn holder(&self, key: Key, now: i64) -> StoreFuture<'_, Option<Holder>> {
        Box::pin(std::future::ready(Ok(self.holder_now(key, now))))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn set_capacity(&self, capacity: usize) -> bool {
        self.capacity.store(capacity, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: u8) -> Key {
        [n; 16]
    }

    #[test]
    fn a_later_copy_raises_the_expiry_and_keeps_the_acknowledgement() {
        let store = MemoryStore::new(10);
        assert_eq!(store.reserve_now(k(1), 100, 0), Ok(true));
        store.acknowledge_now(k(1));
        assert_eq!(store.reserve_now(k(1), 150, 90), Ok(false));
        assert_eq!(store.reserve_now(k(1), 120, 95), Ok(false), "never lowered");
        assert_eq!(store.holder_now(k(1), 140), Some(Holder::Acknowledged));
        assert_eq!(store.reserve_now(k(1), 150, 149), Ok(false));
        assert_eq!(
            store.reserve_now(k(1), 300, 150),
            Ok(true),
            "free at its raised expiry"
        );
        assert_eq!(store.len(), 1, "one entry, one expiry index");
    }

    #[test]
    fn reserve_once_until_expiry() {
        let store = MemoryStore::new(10);
        assert_eq!(store.reserve_now(k(1), 100, 0), Ok(true));
        assert_eq!(store.reserve_now(k(1), 100, 50), Ok(false));
        assert_eq!(
            store.reserve_now(k(1), 200, 100),
            Ok(true),
            "expired keys can be taken again"
        );
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn release_gives_the_key_back() {
        let store = MemoryStore::new(10);
        assert_eq!(store.reserve_now(k(1), 100, 0), Ok(true));
        store.release_now(k(1));
        assert!(store.is_empty());
        assert_eq!(store.reserve_now(k(1), 100, 0), Ok(true));
        store.release_now(k(9)); // unknown keys are fine
    }

    #[test]
    fn a_held_key_is_in_flight_until_acknowledged_and_free_once_expired() {
        let store = MemoryStore::new(10);
        assert_eq!(store.holder_now(k(1), 0), None);
        assert_eq!(store.reserve_now(k(1), 100, 0), Ok(true));
        assert_eq!(store.holder_now(k(1), 10), Some(Holder::InFlight));
        store.acknowledge_now(k(1));
        assert_eq!(store.holder_now(k(1), 10), Some(Holder::Acknowledged));
        assert_eq!(store.reserve_now(k(1), 100, 10), Ok(false));
        assert_eq!(store.holder_now(k(1), 100), None, "expired");
        assert_eq!(store.reserve_now(k(1), 200, 100), Ok(true));
        assert_eq!(
            store.holder_now(k(1), 100),
            Some(Holder::InFlight),
            "a new reservation starts unacknowledged"
        );
        store.acknowledge_now(k(9)); // unknown keys are fine
    }

    #[test]
    fn full_of_live_keys_fails_closed_then_recovers_as_they_expire() {
        let store = MemoryStore::new(3);
        for n in 0..3 {
            assert_eq!(store.reserve_now(k(n), 100 + i64::from(n), 0), Ok(true));
        }
        assert_eq!(store.reserve_now(k(7), 500, 10), Err(StoreError::Full(3)));
        assert_eq!(
            store.reserve_now(k(0), 100, 10),
            Ok(false),
            "a live duplicate is still a duplicate"
        );
        assert_eq!(
            store.reserve_now(k(7), 500, 100),
            Ok(true),
            "the expired key made room"
        );
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn purges_expired_entries_in_passing() {
        let store = MemoryStore::new(1000);
        for n in 0..100 {
            assert_eq!(store.reserve_now([n; 16], 10, 0), Ok(true));
        }
        assert_eq!(store.reserve_now([200; 16], 1000, 20), Ok(true));
        assert_eq!(store.len(), 100 - PURGE_STEP + 1, "one step purged");
        for n in 1..4u8 {
            assert_eq!(store.reserve_now([200 + n; 16], 1000, 20), Ok(true));
        }
        assert_eq!(store.len(), 4, "the rest purged over the next steps");
    }

    #[test]
    fn keys_differ_by_route_and_fingerprint() {
        assert_ne!(super::super::key("a", b"x"), super::super::key("b", b"x"));
        assert_ne!(super::super::key("a", b"x"), super::super::key("a", b"y"));
        assert_ne!(super::super::key("ab", b"c"), super::super::key("a", b"bc"));
        assert_eq!(super::super::key("a", b"x"), super::super::key("a", b"x"));
    }
}
