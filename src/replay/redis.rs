//! The shared replay store: one Redis for every replica.
//!
//! A reservation is `SET key 1 NX EX ttl`, atomic across replicas; a release is `DEL`. Every
//! command, connecting included, is bounded by the configured timeout. When Redis cannot
//! answer, the store reports [`StoreError::Unreachable`] and the gateway fails closed (503, so
//! senders retry). The connection is dropped on any I/O error and made again on the next
//! command, so the store recovers by itself when Redis comes back.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::{Key, ReplayStore, StoreError, StoreFuture};
use crate::config::RedisSettings;

/// A replay store in Redis, shared by every gateway that names the same server and prefix.
pub struct RedisStore {
    client: redis::Client,
    key_prefix: String,
    timeout: Duration,
    /// The live connection, cloned per command (it multiplexes).
    connection: Mutex<Option<MultiplexedConnection>>,
    /// Held while connecting, so a burst of requests makes one connection, not hundreds.
    connecting: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the URL, which may hold a password.
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `settings`. Connects lazily: a gateway starts even while Redis is down.
    ///
    /// # Errors
    /// When the URL does not parse (config validation has already checked it).
    pub fn new(settings: &RedisSettings) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|_| StoreError::Unreachable("invalid redis_url".to_owned()))?;
        Ok(RedisStore {
            client,
            key_prefix: settings.key_prefix.clone(),
            timeout: settings.timeout,
            connection: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    fn cached(&self) -> Option<MultiplexedConnection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn forget(&self) {
        *self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    async fn connection(&self) -> Result<MultiplexedConnection, StoreError> {
        if let Some(connection) = self.cached() {
            return Ok(connection);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(connection) = self.cached() {
            return Ok(connection);
        }
        let connection =
            tokio::time::timeout(self.timeout, self.client.get_multiplexed_async_connection())
                .await
                .map_err(|_| StoreError::Unreachable("connect timed out".to_owned()))?
                .map_err(|e| StoreError::Unreachable(describe(&e)))?;
        *self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
        Ok(connection)
    }

    /// Runs one command within the timeout, dropping the connection if it failed.
    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection().await?;
        match tokio::time::timeout(self.timeout, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() {
                    self.forget();
                }
                Err(StoreError::Unreachable(describe(&e)))
            }
            Err(_) => {
                // A stalled connection may never answer; start afresh next time.
                self.forget();
                Err(StoreError::Unreachable("command timed out".to_owned()))
            }
        }
    }

    fn key(&self, key: &Key) -> String {
        let mut out = String::with_capacity(self.key_prefix.len() + 32);
        out.push_str(&self.key_prefix);
        for byte in key {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }
}

/// An error message without the URL, which the redis client may include.
fn describe(e: &redis::RedisError) -> String {
    match e.kind() {
        redis::ErrorKind::AuthenticationFailed => "authentication failed".to_owned(),
        _ if e.is_io_error() => "connection failed".to_owned(),
        _ if e.is_connection_dropped() => "connection dropped".to_owned(),
        kind => format!("{kind:?}"),
    }
}

impl ReplayStore for RedisStore {
    fn reserve(&self, key: Key, expires_at: i64, now: i64) -> StoreFuture<'_, bool> {
        let ttl = expires_at.saturating_sub(now).max(1);
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(&key))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl);
        Box::pin(async move {
            let set: Option<String> = self.run(command).await?;
            Ok(set.is_some())
        })
    }

    fn release(&self, key: Key) -> StoreFuture<'_, ()> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(&key));
        Box::pin(async move {
            let _: i64 = self.run(command).await?;
            Ok(())
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let _: String = self.run(redis::cmd("PING")).await?;
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
        })
        .unwrap();
        let started = std::time::Instant::now();
        let e = store.reserve([1; 16], 10, 0).await.unwrap_err();
        assert!(matches!(e, StoreError::Unreachable(_)), "{e:?}");
        assert!(store.ping().await.is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
