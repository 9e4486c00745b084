//! The wiring that `main` and the end-to-end tests share: bind the listeners, build the
//! gateway, serve until shutdown, then flush the request log. `main` adds only what a
//! process owns: the command line, logging, signals and exit codes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::access_log::AccessLog;
use crate::clock::Clock;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::keyfetch::KeyFetcher;
use crate::queue::{Queue, StoreFailed};
use crate::replay::StoreError;

/// Completes when the queue's store has failed a commit; never without a queue.
async fn store_failure(queue: Option<Arc<Queue>>) {
    let Some(queue) = queue else {
        return std::future::pending().await;
    };
    while !queue.failed() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind its address.
    #[error("cannot listen on {addr}{}: {source}", if *.admin { " (admin)" } else { "" })]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Whether it is the admin listener.
        admin: bool,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The replay store could not be built.
    #[error("cannot start the replay store: {0}")]
    Store(#[source] StoreError),
    /// The queue's control socket could not be created.
    #[error("cannot create the queue control socket {path}: {source}")]
    Control {
        /// Where.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The durable queue could not be opened or recovered.
    #[error("cannot open the queue: {0}")]
    Queue(#[source] StoreFailed),
    /// The key fetcher's TLS roots or test override could not be set up.
    #[error("cannot set up key fetching: {0}")]
    KeyFetch(String),
}

/// A gateway with its listeners bound, ready to serve.
#[derive(Debug)]
pub struct App {
    /// The gateway, shared with the reload task and the admin listener.
    pub gateway: Arc<Gateway>,
    listener: TcpListener,
    admin: Option<TcpListener>,
    control: Option<(tokio::net::UnixListener, std::path::PathBuf)>,
}

impl App {
    /// Binds `config`'s listeners and builds its gateway, reading time from `clock` and
    /// logging requests to `access_log`.
    ///
    /// # Errors
    /// A [`StartError`] naming the address or the store that failed.
    pub async fn bind(
        config: Config,
        clock: Clock,
        access_log: AccessLog,
    ) -> Result<App, StartError> {
        let bind = |addr: SocketAddr, admin: bool| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Bind {
                    addr,
                    admin,
                    source,
                })
        };
        let listener = bind(config.listen, false).await?;
        let admin = match config.admin_listen {
            Some(addr) => Some(bind(addr, true).await?),
            None => None,
        };
        let queue = match &config.queue {
            Some(settings) => Some(Queue::open(settings).map_err(StartError::Queue)?),
            None => None,
        };
        let control = match &config.queue {
            Some(settings) => {
                let path = settings.control_socket.clone();
                let listener =
                    crate::control::bind(&path).map_err(|source| StartError::Control {
                        path: path.clone(),
                        source,
                    })?;
                Some((listener, path))
            }
            None => None,
        };
        let keys = KeyFetcher::from_env().map_err(StartError::KeyFetch)?;
        let gateway = Gateway::new(config, clock)
            .map_err(StartError::Store)?
            .with_queue(queue)
            .with_key_fetcher(Arc::new(keys));
        Ok(App {
            gateway: Arc::new(gateway.with_access_log(access_log)),
            listener,
            admin,
            control,
        })
    }

    /// The webhook listener's address (its port, when the config asked for port 0).
    pub fn addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The admin listener's address, if there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes (or the queue's store fails), drains, and flushes
    /// the request log. The admin listener answers until the webhook listener has drained, so
    /// `/readyz` can say so. With a queue, the deliverer runs alongside and, at shutdown,
    /// finishes its attempts in flight within the grace period.
    ///
    /// # Errors
    /// When the webhook listener fails, or the queue's store failed.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let admin = self
            .admin
            .map(|l| tokio::spawn(crate::admin::run(l, Arc::clone(&self.gateway))));
        let queue = self.gateway.queue().cloned();
        let control = match (self.control, &queue) {
            (Some((listener, path)), Some(queue)) => {
                let (queue, clock) = (Arc::clone(queue), self.gateway.clock().clone());
                let task = tokio::spawn(crate::control::run(listener, queue, clock, path.clone()));
                Some((task, path))
            }
            _ => None,
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let deliverer = queue.clone().map(|queue| {
            tokio::spawn(crate::deliver::run(
                Arc::clone(&self.gateway),
                queue,
                stopped,
            ))
        });
        let watched = queue.clone();
        let shutdown = async move {
            tokio::select! {
                () = shutdown => {}
                () = store_failure(watched) => {
                    tracing::error!("stopping: the queue's store failed; a restart recovers its last commit");
                }
            }
            let _ = stop.send(true);
        };
        let mut result =
            crate::server::run(self.listener, Arc::clone(&self.gateway), shutdown).await;
        if let Some(deliverer) = deliverer {
            let _ = deliverer.await;
        }
        if result.is_ok() && queue.is_some_and(|q| q.failed()) {
            result = Err(std::io::Error::other("the queue's store failed"));
        }
        if let Some((task, path)) = control {
            task.abort();
            let _ = std::fs::remove_file(path);
        }
        self.gateway.flush_logs();
        if let Some(admin) = admin {
            admin.abort();
        }
        result
    }
}
