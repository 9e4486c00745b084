//! Upstream connections: made on demand, kept alive, reused most-recent first.
//!
//! Each connection is a hyper HTTP/1.1 client connection (plain or TLS) whose I/O runs in its
//! own task; the pool keeps the request handles. A handle whose connection closed, or that
//! sat idle for a minute, is dropped at checkout, which closes the connection.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Idle connections kept, over all upstreams; more are closed once their request is done.
const MAX_IDLE: usize = 1024;
/// Idle connections older than this are not reused (upstreams often close at 60-75 s).
const IDLE_FOR: Duration = Duration::from_secs(55);

/// A request handle on an upstream connection.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

#[derive(Debug)]
struct Idle {
    https: bool,
    authority: Authority,
    sender: Sender,
    since: Instant,
}

/// Connections to every upstream.
#[derive(Clone)]
pub(crate) struct Pool {
    idle: Arc<Mutex<Vec<Idle>>>,
    tls: TlsConnector,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map_or(0, |idle| idle.len());
        f.debug_struct("Pool")
            .field("idle", &idle)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(tls: Arc<rustls::ClientConfig>) -> Pool {
        Pool {
            idle: Arc::new(Mutex::new(Vec::new())),
            tls: TlsConnector::from(tls),
        }
    }

    /// The most recently used live connection to `scheme://authority`, if any.
    pub(crate) fn checkout(&self, scheme: &Scheme, authority: &Authority) -> Option<Sender> {
        let https = *scheme == Scheme::HTTPS;
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        idle.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < IDLE_FOR);
        let at = idle
            .iter()
            .rposition(|c| c.https == https && c.authority == *authority)?;
        Some(idle.swap_remove(at).sender)
    }

    /// Returns a connection whose exchange completed.
    pub(crate) fn put(&self, scheme: &Scheme, authority: &Authority, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                https: *scheme == Scheme::HTTPS,
                authority: authority.clone(),
                sender,
                since: Instant::now(),
            });
        }
    }

    /// A new connection, TLS for https, with Nagle off.
    pub(crate) async fn connect(
        &self,
        scheme: &Scheme,
        authority: &Authority,
    ) -> Result<Sender, String> {
        let https = *scheme == Scheme::HTTPS;
        let host = authority.host();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        // `[::1]` in a URL is `::1` to the resolver and in a certificate.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let stream = TcpStream::connect((bare, port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        if https {
            let name = ServerName::try_from(bare.to_owned())
                .map_err(|e| format!("invalid server name {bare}: {e}"))?;
            let stream = self
                .tls
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            handshake(TokioIo::new(stream)).await
        } else {
            handshake(TokioIo::new(stream)).await
        }
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<Sender, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "upstream connection ended with an error");
        }
    });
    Ok(sender)
}
