//! Shared helpers: a recording upstream, the gateway in-process or as the real binary, a raw
//! HTTP/1.1 client, and signing done independently of hookgate's engine.

#![allow(dead_code)]

pub mod metrics;
pub mod redis;
pub mod sign;
pub mod tls;

use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hookgate::access_log::AccessLog;
use hookgate::clock::Clock;
use hookgate::config::Config;
use hookgate::gateway::Gateway;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The pinned time of in-process gateways.
pub const NOW: i64 = 1_800_000_000;

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
}

impl Upstream {
    pub async fn start() -> Upstream {
        Upstream::serve(None).await
    }

    /// An upstream speaking https with `tls`.
    pub async fn start_tls(tls: Arc<rustls::ServerConfig>) -> Upstream {
        Upstream::serve(Some(tokio_rustls::TlsAcceptor::from(tls))).await
    }

    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = Upstream {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::default(),
        };
        let state = upstream.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
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

/// The gateway library serving on an ephemeral port with a pinned clock.
pub struct InProcess {
    pub addr: SocketAddr,
    pub clock: Clock,
    pub gateway: Arc<Gateway>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl InProcess {
    /// The real wiring (`hookgate::app::App`, as `main` uses it) with a pinned clock.
    pub async fn start(config_yaml: &str) -> InProcess {
        let config = Config::parse(config_yaml, Path::new("test.yaml"), Path::new("."), &|_| {
            None
        })
        .unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
        let clock = Clock::fixed(NOW);
        let app = hookgate::app::App::bind(config, clock.clone(), AccessLog::disabled())
            .await
            .unwrap();
        let addr = app.addr().unwrap();
        let gateway = Arc::clone(&app.gateway);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        InProcess {
            addr,
            clock,
            gateway,
            stop: Some(stop),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A config with one route named `r` at `/hook` in front of `upstream`.
pub fn one_route(upstream: &Upstream, route_body: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nupstream: http://{}\nmax_body_bytes: 4096\ntimeouts: {{ upstream_seconds: 2, body_seconds: 2 }}\nroutes:\n  - name: r\n    path: /hook\n{route_body}",
        upstream.addr
    )
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Sends raw request bytes and reads the reply until the server closes.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    parse_reply(&out)
}

pub fn parse_reply(out: &[u8]) -> Reply {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out.get(split + 4..).unwrap_or_default().to_vec();
    Reply { status, head, body }
}

/// A request with a Content-Length body and `Connection: close`.
pub fn request(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("{method} {target} HTTP/1.1\r\nhost: gateway.test\r\nconnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// GETs `target`.
pub async fn get(addr: SocketAddr, target: &str) -> Reply {
    raw(addr, &request("GET", target, &[], b"")).await
}

/// POSTs `body` with `headers` to `target`.
pub async fn post(
    addr: SocketAddr,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    raw(addr, &request("POST", target, headers, body)).await
}

/// The real binary, started with a config file, on the port it reports.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hookgate"))
}

impl Binary {
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Binary {
        let mut child = Command::new(bin())
            .args(["serve", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("\"message\":\"listening\"") {
                    let _ = tx.send(field(&line, "addr").unwrap_or_default());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!("gateway did not start; stderr: {:?}", lines.lock().unwrap())
            });
        Binary {
            child,
            addr: addr.parse().unwrap(),
            stderr: lines,
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to 10 s for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no log line with {needle:?}; stderr: {:?}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The admin listener's address, from its startup log line.
    pub fn admin(&self) -> SocketAddr {
        let line = self.wait_for_log("\"message\":\"admin listening\"");
        field(&line, "addr").unwrap().parse().unwrap()
    }

    /// Sends a signal (`"HUP"`, `"TERM"`) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// The real binary in front of `upstream` with a config of `listen: 127.0.0.1:0`, JSON logs,
/// the upstream, then `rest` (more top-level keys and `routes:`), written to a temporary
/// directory that lives as long as the returned guard.
pub fn binary_in_front_of(upstream: &Upstream, rest: &str) -> (tempfile::TempDir, Binary) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nlog_format: json\nupstream: http://{}\n{rest}",
            upstream.addr
        ),
    )
    .unwrap();
    let binary = Binary::start(&config, &[]);
    (dir, binary)
}

/// The wall clock in Unix seconds, for deliveries to the real binary.
pub fn unix_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.unwrap().as_secs()).unwrap()
}

/// A `/proc/<pid>/status` figure in KiB, such as `VmRSS:` or `VmHWM:`.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap()
}

/// The string value of `"key":"..."` in a JSON log line.
pub fn field(line: &str, key: &str) -> Option<String> {
    let rest = line.split(&format!("\"{key}\":\"")).nth(1)?;
    Some(rest.split('"').next()?.to_owned())
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
