//! Shared helpers: upstreams (recording and scripted), the gateway in-process or as the real
//! binary, one config builder, a raw HTTP/1.1 client, and signing done independently of
//! hookgate's engine.

#![allow(dead_code)]

pub mod client;
pub mod config;
pub mod gateway;
pub mod keyserver;
pub mod metrics;
pub mod redis;
pub mod sign;
pub mod tls;
pub mod upstream;

pub use client::{Reply, chunked_post, get, parse_reply, post, raw, request, try_post};
pub use config::GatewayConfig;
pub use gateway::{Binary, InProcess, NOW, bin};
pub use upstream::{Act, RawUpstream, Upstream};

/// A config with one route named `r` at `/hook` in front of `upstream`, with the small body
/// cap and short timeouts the in-process tests share; `route_keys` are the route's other keys.
pub fn one_route(upstream: &Upstream, route_keys: &str) -> GatewayConfig {
    GatewayConfig::new(upstream)
        .top("max_body_bytes: 4096\ntimeouts: { upstream_seconds: 2, body_seconds: 2 }")
        .route("r", "path: /hook")
        .with(route_keys)
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

/// A loopback address nothing listens on (bound, then released): an app that is down.
pub fn free_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}
