//! Upstreams the gateway forwards to: one that records what it receives and answers as told,
//! and one that plays a script of raw bytes for faults a well-behaved server never makes.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the upstream received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A real HTTP server that records every request and answers `status` (200 by default).
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Recorded>>>,
    pub status: Arc<AtomicU16>,
    pub delay_ms: Arc<AtomicU64>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicU64>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        Upstream::serve(None).await
    }

    /// An upstream speaking https with `tls`.
    pub async fn start_tls(tls: Arc<rustls::ServerConfig>) -> Upstream {
        Upstream::serve(Some(tokio_rustls::TlsAcceptor::from(tls))).await
    }

    /// An upstream on a given address: an app that comes back where it was.
    pub async fn start_on(addr: SocketAddr) -> Upstream {
        Upstream::listen(TcpListener::bind(addr).await.unwrap(), None)
    }

    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
        Upstream::listen(TcpListener::bind("127.0.0.1:0").await.unwrap(), tls)
    }

    fn listen(listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
        let upstream = Upstream {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::default(),
            connections: Arc::default(),
        };
        let state = upstream.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                state.connections.fetch_add(1, Ordering::SeqCst);
                let state = state.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            state.received.lock().unwrap().push(Recorded {
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            });
                            let delay = state.delay_ms.load(Ordering::SeqCst);
                            if delay > 0 {
                                tokio::time::sleep(Duration::from_millis(delay)).await;
                            }
                            let mut response =
                                Response::new(Full::new(Bytes::from_static(b"upstream says hi")));
                            *response.status_mut() =
                                http::StatusCode::from_u16(state.status.load(Ordering::SeqCst))
                                    .unwrap();
                            response
                                .headers_mut()
                                .insert("x-upstream", "yes".parse().unwrap());
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
        });
        upstream
    }

    pub fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Waits (up to 10 s) until `n` requests have arrived: they are recorded on arrival,
    /// before any `delay_ms`, so this is how a test knows a request is in flight.
    pub async fn wait_for(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.count() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "upstream got {} of {n}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

/// What a [`RawUpstream`] does with a request, given how many came before it.
#[derive(Clone, Copy, Debug)]
pub enum Act {
    /// Writes these bytes and closes the connection without saying so beforehand (no
    /// `Connection: close`), as a keep-alive timeout does.
    Close(&'static [u8]),
    /// Writes these bytes and resets the connection (RST), as a crashed app does.
    Reset(&'static [u8]),
    /// Writes these bytes, then closes the idle connection this many milliseconds later
    /// without saying so, as a short keep-alive timeout does.
    CloseIdle(&'static [u8], u64),
}

/// An upstream that reads one request per connection and plays `script` for it.
#[derive(Clone)]
pub struct RawUpstream {
    pub addr: SocketAddr,
    requests: Arc<std::sync::atomic::AtomicUsize>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl RawUpstream {
    pub async fn start(script: impl Fn(usize) -> Act + Send + Sync + 'static) -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = RawUpstream {
            addr: listener.local_addr().unwrap(),
            requests: Arc::default(),
            bodies: Arc::default(),
        };
        let requests = Arc::clone(&upstream.requests);
        let bodies = Arc::clone(&upstream.bodies);
        let script = Arc::new(script);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let requests = Arc::clone(&requests);
                let bodies = Arc::clone(&bodies);
                let script = Arc::clone(&script);
                tokio::spawn(async move {
                    let Some(body) = read_request(&mut stream).await else {
                        return;
                    };
                    let n = {
                        let mut bodies = bodies.lock().unwrap();
                        bodies.push(body);
                        requests.fetch_add(1, Ordering::SeqCst)
                    };
                    match script(n) {
                        Act::Close(bytes) => {
                            let _ = stream.write_all(bytes).await;
                            let _ = stream.shutdown().await;
                        }
                        Act::Reset(bytes) => {
                            let _ = stream.write_all(bytes).await;
                            let _ = stream.set_zero_linger();
                        }
                        Act::CloseIdle(bytes, ms) => {
                            let _ = stream.write_all(bytes).await;
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            let _ = stream.shutdown().await;
                        }
                    }
                });
            }
        });
        upstream
    }

    /// How many requests it has read.
    pub fn count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The bodies of the requests it read, in the order it read them.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Reads one request (head, then a Content-Length body) and returns its body; `None` if the
/// peer left first.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    let head_end = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while got.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(got[head_end..head_end + length].to_vec())
}
