//! The shared replay store: one Redis for every replica.
//!
//! A reservation is `SET key <token> NX EX ttl` in a script that, when the key is held, raises
//! its expiry to `ttl` (never lowers it), atomic across replicas. Each attempt has its
//! own token (a random per-process seed hashed with a counter), so a release deletes the key
//! only if it still holds that attempt's token (`GET` = token, then `DEL`, in one script). An
//! acknowledgement replaces the token with `ack`, keeping the expiry, in the same way. Commands
//! go through a [`Link`] (bounded, reconnecting, one resend on a connection found dead). When
//! Redis cannot answer, the store reports [`StoreError::Unreachable`] and the gateway fails
//! closed (503, so senders retry). Every script is idempotent for its token, so a second try
//! of a command Redis had applied changes nothing.
//!
//! A reservation whose answer never came (timeout, dropped connection) may still have been
//! applied by Redis. Its key would then refuse the sender's retry as a replay for the whole
//! window: a lost webhook. So such a reservation is remembered as an orphan and released in the
//! background, retrying with backoff until Redis answers; and if the sender's retry reaches this
//! process first, it adopts the orphan instead of being refused.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::redis_link::Link;

use super::{Holder, Key, RedisSettings, ReplayStore, StoreError, StoreFuture, Token};

/// Takes the key for `ARGV[2]` seconds unless it is held; a held key's expiry is raised to
/// that, never lowered, so a later verified copy of a delivery (re-signed with a newer
/// timestamp) stays refused as long as it could be accepted. 1 when taken (or already held
/// by this same attempt's token: a retried command), 0 when held.
const RESERVE_SCRIPT: &str = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end \
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end \
local ttl = redis.call('TTL', KEYS[1]) \
if ttl >= 0 and ttl < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end \
return 0";

/// Deletes the key only if it still holds this process's token.
const RELEASE_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Marks the key as answered 2xx, only if it still holds this attempt's token.
const ACKNOWLEDGE_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') else return 0 end";

/// The value of an acknowledged key. Tokens are decimal numbers, so never this.
const ACKNOWLEDGED: &str = "ack";

/// Waits between attempts to undo a reservation whose answer was lost (about a minute in all).
const UNDO_BACKOFF: [Duration; 7] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(45),
];

/// A replay store in Redis, shared by every gateway that names the same server and prefix.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    link: Link,
    /// Reservations that got no answer and may exist in Redis: key -> that attempt's token.
    orphans: Mutex<std::collections::HashMap<Key, Token>>,
    /// Makes every attempt's token distinct.
    attempts: std::sync::atomic::AtomicU64,
    /// Random per process: makes this process's tokens its own.
    seed: std::collections::hash_map::RandomState,
    key_prefix: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The link holds the URL, which may hold a password.
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.inner.key_prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `settings`. Connects lazily: a gateway starts even while Redis is down.
    ///
    /// # Errors
    /// When the URL does not parse (config validation has already checked it).
    pub fn new(settings: &RedisSettings) -> Result<RedisStore, StoreError> {
        let link = Link::new(&settings.url, settings.ca_pem.as_deref(), settings.timeout)
            .map_err(|e| StoreError::Unreachable(e.to_string()))?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                link,
                orphans: Mutex::new(std::collections::HashMap::new()),
                attempts: std::sync::atomic::AtomicU64::new(0),
                seed: std::collections::hash_map::RandomState::new(),
                key_prefix: settings.key_prefix.clone(),
                timeout: settings.timeout,
            }),
        })
    }
}

impl Inner {
    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, StoreError> {
        self.link
            .run(&command)
            .await
            .map_err(|e| StoreError::Unreachable(e.to_string()))
    }

    fn key(&self, key: &Key) -> String {
        let mut out = String::with_capacity(self.key_prefix.len() + 32);
        out.push_str(&self.key_prefix);
        for byte in key {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }

    fn orphans(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Key, Token>> {
        self.orphans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A token no other attempt, here or in another process, uses.
    fn token(&self) -> Token {
        let mut hasher = self.seed.build_hasher();
        hasher.write_u64(
            self.attempts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
        hasher.finish()
    }

    async fn release(&self, key: &Key, token: Token) -> Result<(), StoreError> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(RELEASE_SCRIPT)
            .arg(1)
            .arg(self.key(key))
            .arg(token);
        let _: i64 = self.run(command).await?;
        Ok(())
    }

    /// The value under `key` in Redis now: a token, [`ACKNOWLEDGED`], or nothing.
    async fn value(&self, key: &Key) -> Result<Option<String>, StoreError> {
        let mut command = redis::cmd("GET");
        command.arg(self.key(key));
        self.run(command).await
    }

    /// Whether `key` holds `token` in Redis now.
    async fn holds(&self, key: &Key, token: Token) -> Result<bool, StoreError> {
        Ok(self.value(key).await? == Some(token.to_string()))
    }
}

impl RedisStore {
    /// Releases `key` in the background until Redis answers: its reservation may have been
    /// applied even though no answer came back.
    fn undo_later(&self, key: Key, token: Token) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner = Arc::clone(&self.inner);
        inner.orphans().insert(key, token);
        runtime.spawn(async move {
            let ours = |inner: &Inner| inner.orphans().get(&key) == Some(&token);
            for wait in UNDO_BACKOFF {
                tokio::time::sleep(wait).await;
                // Adopted meanwhile by the sender's retry: no longer ours to undo.
                if !ours(&inner) {
                    return;
                }
                if inner.release(&key, token).await.is_ok() {
                    if ours(&inner) {
                        inner.orphans().remove(&key);
                    }
                    return;
                }
            }
            if ours(&inner) {
                inner.orphans().remove(&key);
            }
            tracing::warn!(
                "a reservation with a lost answer could not be undone; its key expires by itself"
            );
        });
    }

    #[cfg(test)]
    fn key(&self, key: &Key) -> String {
        self.inner.key(key)
    }
}

impl ReplayStore for RedisStore {
    fn reserve(&self, key: Key, expires_at: i64, now: i64) -> StoreFuture<'_, Option<Token>> {
        let ttl = expires_at.saturating_sub(now).max(1);
        let token = self.inner.token();
        let mut command = redis::cmd("EVAL");
        command
            .arg(RESERVE_SCRIPT)
            .arg(1)
            .arg(self.inner.key(&key))
            .arg(token)
            .arg(ttl);
        Box::pin(async move {
            match self.inner.run::<i64>(command).await {
                Ok(1) => Ok(Some(token)),
                Ok(_) => {
                    // Taken. If by our own unanswered attempt, this retry adopts it instead
                    // of being refused as a replay of a delivery that never got through.
                    let orphan = self.inner.orphans().get(&key).copied();
                    match orphan {
                        Some(lost) if self.inner.holds(&key, lost).await? => {
                            self.inner.orphans().remove(&key);
                            Ok(Some(lost))
                        }
                        _ => Ok(None),
                    }
                }
                Err(e) => {
                    // Sent but unanswered: it may have been applied.
                    self.undo_later(key, token);
                    Err(e)
                }
            }
        })
    }

    fn release(&self, key: Key, token: Token) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.inner.release(&key, token).await })
    }

    fn acknowledge(&self, key: Key, token: Token) -> StoreFuture<'_, ()> {
        let mut command = redis::cmd("EVAL");
        command
            .arg(ACKNOWLEDGE_SCRIPT)
            .arg(1)
            .arg(self.inner.key(&key))
            .arg(token)
            .arg(ACKNOWLEDGED);
        Box::pin(async move {
            let _: redis::Value = self.inner.run(command).await?;
            Ok(())
        })
    }

    fn holder(&self, key: Key, _now: i64) -> StoreFuture<'_, Option<Holder>> {
        Box::pin(async move {
            Ok(self.inner.value(&key).await?.map(|value| {
                if value == ACKNOWLEDGED {
                    Holder::Acknowledged
                } else {
                    Holder::InFlight
                }
            }))
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let _: String = self.inner.run(redis::cmd("PING")).await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_hex_and_debug_hides_the_url() {
        let store = RedisStore::new(&RedisSettings {
            url: "redis://:hunter2@127.0.0.1:1/0".to_owned(),
            key_prefix: "p:".to_owned(),
            timeout: Duration::from_millis(100),
            ca_pem: None,
        })
        .unwrap();
        let mut key = [0u8; 16];
        key[0] = 0xab;
        key[15] = 0x01;
        assert_eq!(store.key(&key), "p:ab000000000000000000000000000001");
        assert!(!format!("{store:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_an_error_within_the_timeout() {
        // Port 1 on loopback refuses at once; nothing listens there.
        let store = RedisStore::new(&RedisSettings {
            url: "redis://127.0.0.1:1/0".to_owned(),
            key_prefix: "p:".to_owned(),
            timeout: Duration::from_millis(500),
            ca_pem: None,
        })
        .unwrap();
        let started = std::time::Instant::now();
        let e = store.reserve([1; 16], 10, 0).await.unwrap_err();
        assert!(matches!(e, StoreError::Unreachable(_)), "{e:?}");
        assert!(store.ping().await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
