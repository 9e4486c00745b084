//! Upstream connections: made on demand, kept alive, reused most-recent first.
//!
//! Each connection is a hyper HTTP/1.1 client connection (plain or TLS). Its I/O is driven
//! by the task that uses it, inside [`Conn::round_trip`], instead of by a task of its own:
//! a request then costs no hand-off to another task and back, only the polls of the task
//! that already runs it. An idle connection in the pool is polled by no one; one the
//! upstream closed meanwhile is found closed when it is next polled, before the request is
//! sent, and the request goes out on a new connection. One idle for a minute is dropped at
//! checkout, which closes it.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::MAX_RESPONSE_BYTES;
use super::local_wake::Local;

/// Idle connections kept, over all upstreams; more are closed once their request is done.
const MAX_IDLE: usize = 1024;
/// Idle connections older than this are not reused (upstreams often close at 60-75 s).
const IDLE_FOR: Duration = Duration::from_secs(55);

type Body = super::Outgoing;

/// The I/O half of a connection: hyper's connection state machine over TCP or TLS.
// Its variants differ in size, but it lives boxed, in [`Conn`], whatever the variant.
#[allow(clippy::large_enum_variant)]
enum Driver {
    Plain(Connection<TokioIo<TcpStream>, Body>),
    Tls(Connection<TokioIo<TlsStream<TcpStream>>, Body>),
}

impl Driver {
    /// Moves the connection's I/O along; `Ready` once the connection has ended.
    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<hyper::Result<()>> {
        match self {
            Driver::Plain(c) => c.poll_without_shutdown(cx),
            Driver::Tls(c) => c.poll_without_shutdown(cx),
        }
    }
}

/// Why a round trip failed, and whether the request is still unsent.
pub(crate) enum Failure {
    /// The connection was closed before the request went out: it may be sent elsewhere.
    Unsent(Box<Request<Body>>, String),
    /// Anything else; the request may have reached the upstream.
    Failed(String),
}

/// One upstream connection: its request handle and its I/O, driven by whoever holds it.
/// Boxed, so that checking it out and in moves a pointer rather than hyper's whole state.
pub(crate) struct Conn(Box<Parts>);

struct Parts {
    sender: SendRequest<Body>,
    driver: Driver,
    ended: bool,
    local: Local,
}

impl Conn {
    /// Sends `request` and reads the whole response (at most [`MAX_RESPONSE_BYTES`]),
    /// driving the connection's I/O meanwhile in this task.
    pub(crate) async fn round_trip(
        &mut self,
        request: Request<Body>,
    ) -> Result<Response<Bytes>, Failure> {
        if !self.ready().await {
            return Err(Failure::Unsent(
                Box::new(request),
                "connection closed".into(),
            ));
        }
        let Parts {
            sender,
            driver,
            ended,
            local,
        } = &mut *self.0;
        let exchange = async move {
            let response = sender.try_send_request(request).await.map_err(|mut e| {
                let text = super::error_chain(e.error());
                match e.take_message() {
                    Some(request) => Failure::Unsent(Box::new(request), text),
                    None => Failure::Failed(text),
                }
            })?;
            let (head, body) = response.into_parts();
            let bytes = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| Failure::Failed(format!("response body: {e}")))?
                .to_bytes();
            Ok(Response::from_parts(head, bytes))
        };
        let mut exchange = pin!(exchange);
        poll_fn(|cx| {
            local.poll(cx, |cx| {
                if let Poll::Ready(done) = exchange.as_mut().poll(cx) {
                    return Poll::Ready(done);
                }
                // The exchange waits on the connection: move its I/O along, then look again,
                // so what the connection just read is taken in this same poll.
                if !*ended && let Poll::Ready(result) = driver.poll(cx) {
                    *ended = true;
                    log_end(result);
                }
                match exchange.as_mut().poll(cx) {
                    // The connection has handed over everything it will: nothing else can
                    // wake this exchange.
                    Poll::Pending if *ended => Poll::Ready(Err(Failure::Failed(
                        "connection closed before the response was complete".into(),
                    ))),
                    other => other,
                }
            })
        })
        .await
    }

    /// Waits until the connection takes a request; false if it closed first. The
    /// connection is polled before it is asked: one that sat idle in the pool has read
    /// nothing since, and only reading finds that the upstream closed it meanwhile.
    async fn ready(&mut self) -> bool {
        let Parts {
            sender,
            driver,
            ended,
            local,
        } = &mut *self.0;
        poll_fn(|cx| {
            local.poll(cx, |cx| {
                if !*ended && let Poll::Ready(result) = driver.poll(cx) {
                    *ended = true;
                    log_end(result);
                }
                match sender.poll_ready(cx) {
                    Poll::Ready(Ok(())) => Poll::Ready(!*ended),
                    Poll::Ready(Err(_)) => Poll::Ready(false),
                    Poll::Pending if *ended => Poll::Ready(false),
                    // A wake from the connection (ready for a request) runs this pass again.
                    Poll::Pending => Poll::Pending,
                }
            })
        })
        .await
    }

    /// Whether the connection may carry another request.
    fn reusable(&self) -> bool {
        !self.0.ended && !self.0.sender.is_closed()
    }
}

fn log_end(result: hyper::Result<()>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "upstream connection ended with an error");
    }
}

struct Idle {
    https: bool,
    authority: Authority,
    conn: Conn,
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

    /// The most recently used connection to `scheme://authority`, if any.
    pub(crate) fn checkout(&self, scheme: &Scheme, authority: &Authority) -> Option<Conn> {
        let https = *scheme == Scheme::HTTPS;
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        idle.retain(|c| now.duration_since(c.since) < IDLE_FOR);
        let at = idle
            .iter()
            .rposition(|c| c.https == https && c.authority == *authority)?;
        Some(idle.swap_remove(at).conn)
    }

    /// Returns a connection whose exchange completed.
    pub(crate) fn put(&self, scheme: &Scheme, authority: &Authority, conn: Conn) {
        if !conn.reusable() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                https: *scheme == Scheme::HTTPS,
                authority: authority.clone(),
                conn,
                since: Instant::now(),
            });
        }
    }

    /// A new connection, TLS for https, with Nagle off.
    pub(crate) async fn connect(
        &self,
        scheme: &Scheme,
        authority: &Authority,
    ) -> Result<Conn, String> {
        let https = *scheme == Scheme::HTTPS;
        let host = authority.host();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        // `[::1]` in a URL is `::1` to the resolver and in a certificate.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let stream = TcpStream::connect((bare, port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, driver) = if https {
            let name = ServerName::try_from(bare.to_owned())
                .map_err(|e| format!("invalid server name {bare}: {e}"))?;
            let stream = self
                .tls
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            let (sender, connection) = handshake(TokioIo::new(stream)).await?;
            (sender, Driver::Tls(connection))
        } else {
            let (sender, connection) = handshake(TokioIo::new(stream)).await?;
            (sender, Driver::Plain(connection))
        };
        Ok(Conn(Box::new(Parts {
            sender,
            driver,
            ended: false,
            local: Local::default(),
        })))
    }
}

async fn handshake<T>(
    io: TokioIo<T>,
) -> Result<(SendRequest<Body>, Connection<TokioIo<T>, Body>), String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))
}
