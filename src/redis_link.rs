//! One Redis connection shared by every request of a store, reconnected on demand.
//!
//! Every command, connecting included, is bounded by the store's timeout. The connection is
//! dropped on any I/O error; a command that finds its connection dead (Redis restarted or
//! failed over while this replica was idle) is sent once more on a new one within the same
//! timeout, so no request pays for a connection that died before it came, and the first
//! request after an outage is served by every replica, not only by those that noticed it.
//! A store may ask for a check to run on each new connection before any command uses it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

/// Why Redis did not answer as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not reachable, or no answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// Redis answered with an error (a script's refusal, OOM, a disabled command).
    #[error("redis refused: {0}")]
    Refused(String),
}

/// A check run on each new connection before it serves any command.
pub type OnConnect =
    Box<dyn Fn(MultiplexedConnection) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A Redis client and its one live connection.
pub struct Link {
    client: redis::Client,
    timeout: Duration,
    /// The live connection, cloned per command (it multiplexes), and its number, so that
    /// dropping a dead one never drops the new one another request just made.
    connection: Mutex<Option<(u64, MultiplexedConnection)>>,
    made: AtomicU64,
    /// Held while connecting, so a burst of requests makes one connection, not hundreds.
    connecting: tokio::sync::Mutex<()>,
    on_connect: Option<OnConnect>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the URL, which may hold a password.
        f.debug_struct("Link")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link for `url`, trusting `ca_pem` for `rediss://` when given. Connects lazily: a
    /// gateway starts even while Redis is down.
    ///
    /// # Errors
    /// When the URL does not parse (config validation has already checked it).
    pub fn new(url: &str, ca_pem: Option<&[u8]>, timeout: Duration) -> Result<Link, LinkError> {
        let client = match ca_pem {
            None => redis::Client::open(url),
            Some(pem) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                },
            ),
        }
        .map_err(|_| LinkError::Unreachable("invalid redis_url".to_owned()))?;
        Ok(Link {
            client,
            timeout,
            connection: Mutex::new(None),
            made: AtomicU64::new(0),
            connecting: tokio::sync::Mutex::new(()),
            on_connect: None,
        })
    }

    /// Runs `check` on each new connection before it serves a command.
    #[must_use]
    pub fn on_connect(mut self, check: OnConnect) -> Link {
        self.on_connect = Some(check);
        self
    }

    /// The bound on each command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn cached(&self) -> Option<(u64, MultiplexedConnection)> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drops connection `number` if it is still the live one.
    fn forget(&self, number: u64) {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if connection.as_ref().is_some_and(|(n, _)| *n == number) {
            *connection = None;
        }
    }

    /// The live connection (`true`: made just now), or a new one by `deadline`.
    async fn connection(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<(u64, MultiplexedConnection, bool), LinkError> {
        if let Some((number, connection)) = self.cached() {
            return Ok((number, connection, false));
        }
        let _connecting = self.connecting.lock().await;
        if let Some((number, connection)) = self.cached() {
            return Ok((number, connection, true));
        }
        let connection =
            tokio::time::timeout_at(deadline, self.client.get_multiplexed_async_connection())
                .await
                .map_err(|_| LinkError::Unreachable("connect timed out".to_owned()))?
                .map_err(|e| LinkError::Unreachable(describe(&e)))?;
        if let Some(check) = &self.on_connect {
            // Bounded like any command: a check that hangs must not hold every request.
            let _ = tokio::time::timeout_at(deadline, check(connection.clone())).await;
        }
        let number = self.made.fetch_add(1, Ordering::Relaxed);
        *self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((number, connection.clone()));
        Ok((number, connection, true))
    }

    /// Makes sure a connection is up (running the connect check on a new one).
    ///
    /// # Errors
    /// When Redis cannot be reached within the timeout.
    pub async fn ready(&self) -> Result<(), LinkError> {
        self.connection_now().await.map(|_| ())
    }

    /// The live connection, made now if there is none.
    ///
    /// # Errors
    /// When Redis cannot be reached within the timeout.
    pub async fn connection_now(&self) -> Result<MultiplexedConnection, LinkError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        Ok(self.connection(deadline).await?.1)
    }

    /// Runs one command (or a pipeline) within the timeout. A connection found dead is
    /// dropped, and a command that found it dead before any answer is sent once more on a
    /// new connection.
    ///
    /// # Errors
    /// [`LinkError::Unreachable`] when no answer came in time, [`LinkError::Refused`] when
    /// Redis answered with an error.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        command: &(dyn Sendable + Sync),
    ) -> Result<T, LinkError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let (mut number, mut connection, mut fresh) = self.connection(deadline).await?;
        loop {
            let answer = tokio::time::timeout_at(deadline, command.send(&mut connection)).await;
            match answer {
                Ok(Ok(value)) => {
                    return redis::from_redis_value(value)
                        .map_err(|e| LinkError::Refused(format!("unexpected answer: {e}")));
                }
                Ok(Err(e)) => {
                    let dead =
                        e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error();
                    if dead {
                        self.forget(number);
                    }
                    if !dead {
                        return Err(LinkError::Refused(describe(&e)));
                    }
                    if fresh {
                        return Err(LinkError::Unreachable(describe(&e)));
                    }
                    (number, connection, fresh) = self.connection(deadline).await?;
                }
                Err(_) => {
                    // A stalled connection may never answer; start afresh next time.
                    self.forget(number);
                    return Err(LinkError::Unreachable("command timed out".to_owned()));
                }
            }
        }
    }
}

/// What [`Link::run`] can send: a command or a pipeline.
pub trait Sendable {
    /// Sends it on `connection` and reads the answer.
    fn send<'a>(
        &'a self,
        connection: &'a mut MultiplexedConnection,
    ) -> Pin<Box<dyn Future<Output = redis::RedisResult<redis::Value>> + Send + 'a>>;
}

impl Sendable for redis::Cmd {
    fn send<'a>(
        &'a self,
        connection: &'a mut MultiplexedConnection,
    ) -> Pin<Box<dyn Future<Output = redis::RedisResult<redis::Value>> + Send + 'a>> {
        Box::pin(self.query_async::<redis::Value>(connection))
    }
}

impl Sendable for redis::Pipeline {
    fn send<'a>(
        &'a self,
        connection: &'a mut MultiplexedConnection,
    ) -> Pin<Box<dyn Future<Output = redis::RedisResult<redis::Value>> + Send + 'a>> {
        Box::pin(self.query_async::<redis::Value>(connection))
    }
}

/// An error message without the URL, which the redis client may include.
pub fn describe(e: &redis::RedisError) -> String {
    match e.kind() {
        redis::ErrorKind::AuthenticationFailed => "authentication failed".to_owned(),
        _ if e.is_io_error() => "connection failed".to_owned(),
        _ if e.is_connection_dropped() => "connection dropped".to_owned(),
        // Redis's own answer (OOM, NOSCRIPT, a script's error): it names no address.
        _ => e.to_string().chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_is_an_error_within_the_timeout() {
        // Port 1 on loopback refuses at once; nothing listens there.
        let link = Link::new("redis://127.0.0.1:1/0", None, Duration::from_millis(500)).unwrap();
        let started = std::time::Instant::now();
        let e = link.run::<String>(&redis::cmd("PING")).await.unwrap_err();
        assert!(matches!(e, LinkError::Unreachable(_)), "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!format!("{link:?}").contains("127.0.0.1"));
    }
}
