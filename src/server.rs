//! The accept loop, TLS, and graceful shutdown.
//!
//! HTTP/1.1 only: webhook senders speak it, and it keeps header and smuggling rules simple.
//! Each connection takes the TLS certificate and timeouts of the config active when it was
//! accepted, so a reload applies to new connections. On shutdown the listener closes at once,
//! `/readyz` fails, connections finish their in-flight request, and whatever is still open
//! after the grace period is dropped.
//!
//! Open connections are capped (`max_connections`): past the cap a connection gets a canned
//! 503 with `Retry-After` and is closed, so a connection flood costs a bounded amount of
//! memory instead of growing until the process dies. No connection holds its slot forever:
//! the head is bounded by `header_seconds`, the body by `body_seconds`, each response write
//! by `send_seconds` without progress, and a connection serves at most
//! `max_requests_per_connection` requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::header::{CONNECTION, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::gateway::Gateway;
use crate::response;
use crate::send_timeout::SendTimeout;

/// hyper's per-connection read buffer, which also caps the request head.
const MAX_READ_BUFFER: usize = 64 << 10;

/// Serves `gateway` on `listener` until `shutdown` completes, then drains.
///
/// # Errors
/// Only if the listener's address cannot be read; accept errors are logged and retried.
pub(crate) async fn run(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Slots::default();
    // The socket is already bound, so connections queue from here on. Ready first, then
    // say so: whoever waits for the "listening" line must find `/readyz` answering 200.
    gateway.set_listening();
    {
        let active = gateway.active();
        tracing::info!(
            addr = %listener.local_addr()?,
            tls = active.config.tls.is_some(),
            routes = active.config.routes.iter().count(),
            "listening"
        );
    }
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // The cap is read per connection, so a reload that changes it applies at once.
        match slots.take(gateway.active().config.max_connections) {
            Some(permit) => {
                tokio::spawn(connection(
                    stream,
                    peer,
                    Arc::clone(&gateway),
                    graceful.watcher(),
                    permit,
                ));
            }
            None => {
                gateway.metrics().connection_refused();
                tokio::spawn(refuse(stream));
            }
        }
    }
    gateway.set_draining();
    drop(listener);
    let grace = gateway.active().config.timeouts.shutdown_grace;
    tracing::info!(
        grace_seconds = grace.as_secs(),
        "shutting down: draining connections"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; dropping connections still open");
    }
    Ok(())
}

/// Open webhook connections, counted against a cap that a reload may change.
#[derive(Debug, Default, Clone)]
struct Slots(Arc<AtomicUsize>);

/// One open connection's slot, given back when dropped.
#[derive(Debug)]
struct Slot(Arc<AtomicUsize>);

impl Slots {
    /// A slot if fewer than `cap` are taken.
    fn take(&self, cap: usize) -> Option<Slot> {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < cap).then_some(open + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(&self.0)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Past the connection cap: a 503 in plain HTTP/1.1, then close. The request is drained
/// briefly (bounded in bytes and time) so the client reads the answer rather than a reset.
/// On a TLS listener the client sees the connection close instead.
async fn refuse(mut stream: TcpStream) {
    let bounded = async {
        let mut scratch = [0u8; 4096];
        let _ = stream.write_all(response::refused_connection()).await;
        let _ = stream.shutdown().await;
        let mut drained = 0;
        while drained < 64 * 1024 {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), bounded).await;
}

/// One connection: TLS if configured (the handshake bounded by the header timeout), then HTTP.
/// Holds its `permit` (a slot under the connection cap) until it ends.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    gateway: Arc<Gateway>,
    watcher: Watcher,
    permit: Slot,
) {
    let _permit = permit;
    let _ = stream.set_nodelay(true);
    let active = gateway.active();
    let header_timeout = active.config.timeouts.header;
    let stream = SendTimeout::new(stream, active.config.timeouts.send);
    match &active.config.tls {
        None => serve(stream, peer, gateway, header_timeout, watcher).await,
        Some(tls) => {
            let acceptor = TlsAcceptor::from(Arc::clone(tls));
            match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve(stream, peer, gateway, header_timeout, watcher).await,
                Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    gateway: Arc<Gateway>,
    header_timeout: Duration,
    watcher: Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let cap = gateway.active().config.max_requests_per_connection;
    let served = Arc::new(AtomicUsize::new(0));
    let service = service_fn(move |request| {
        let gateway = Arc::clone(&gateway);
        let last = served.fetch_add(1, Ordering::Relaxed) + 1 >= cap;
        async move {
            let mut response = gateway.handle(request, peer).await;
            if last {
                // hyper closes the connection once this answer is written.
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut http = http1::Builder::new();
    // A 64 KiB read buffer (hyper's default grows to ~400 KiB per connection) bounds what a
    // connection holds beyond its charged body, and the request head with it.
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_READ_BUFFER)
        .keep_alive(true);
    let connection = http.serve_connection(TokioIo::new(stream), service);
    if let Err(e) = watcher.watch(connection).await {
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_cap_they_are_asked_with() {
        let slots = Slots::default();
        let a = slots.take(2).unwrap();
        let _b = slots.take(2).unwrap();
        assert!(slots.take(2).is_none(), "full at 2");
        let c = slots.take(3).expect("a raised cap applies at once");
        assert!(slots.take(3).is_none());
        drop(a);
        drop(c);
        assert!(
            slots.take(1).is_none(),
            "a lowered cap waits for connections to end"
        );
        assert!(slots.take(2).is_some());
    }
}
