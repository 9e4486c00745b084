//! Connection slots always come back: a client that pipelines requests and never reads the
//! answers, or floods the admin port, holds nothing for long. Attacked through the real binary.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::sign::sign;
use crate::support::{Binary, GatewayConfig, Upstream, get, post};

const SECRET: &str = "slots-secret";

fn start(upstream: &Upstream, top: &str) -> (tempfile::TempDir, Binary) {
    GatewayConfig::new(upstream)
        .admin()
        .top("max_connections: 4")
        .top(top)
        .flow("orders", "/hook", SECRET)
        .binary(&[])
}

/// A socket that pipelines 4 MiB of cheap requests (answers far larger than the socket
/// buffers) and never reads; held open until the returned stream is dropped.
async fn pipeline_and_never_read(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    tokio::spawn(async move {
        let one = b"GET /nope HTTP/1.1\r\nhost: gateway.test\r\n\r\n";
        let chunk: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
        for _ in 0..100 {
            if stream.write_all(&chunk).await.is_err() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    })
}

/// Sends a valid delivery until one gets 200; how long that took, or `None` past `limit`.
async fn time_until_served(addr: SocketAddr, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let body = br#"{"order":1}"#;
    let mut n = 0;
    while started.elapsed() < limit {
        n += 1;
        let body = format!("{{\"order\":{n}}}");
        let reply = post(
            addr,
            "/hook",
            &sign("flow", &[SECRET], body.as_bytes(), 0),
            body.as_bytes(),
        )
        .await;
        if reply.status == 200 {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = body;
    None
}

#[tokio::test]
async fn clients_that_never_read_give_their_slots_back() {
    // Once by the write deadline alone (no request cap in reach), once by the default
    // request cap per connection.
    for (what, top) in [
        (
            "send timeout",
            "max_requests_per_connection: 100000000\ntimeouts: { send_seconds: 1 }\n",
        ),
        ("request cap", ""),
    ] {
        let upstream = Upstream::start().await;
        let (_dir, gw) = start(&upstream, top);
        let mut floods = Vec::new();
        for _ in 0..4 {
            floods.push(pipeline_and_never_read(gw.addr).await);
        }
        // All four slots are taken now.
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A bound on liveness, not a speed goal: the floods' 400,000 requests are parsed
        // and answered first, which on a loaded machine takes seconds.
        let took = time_until_served(gw.addr, Duration::from_secs(20)).await;
        let took = took.unwrap_or_else(|| panic!("{what}: 20 s later every slot was still held"));
        eprintln!(
            "{what}: a valid delivery was served {took:?} after four never-reading pipelines"
        );
        for flood in floods {
            flood.abort();
        }
    }
}

/// `/proc/<pid>/fd` entries: the process's open sockets and files.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[tokio::test]
async fn an_admin_connection_flood_is_capped_and_probes_recover() {
    let upstream = Upstream::start().await;
    let (_dir, gw) = start(&upstream, "");
    let admin = gw.admin();
    let before = open_fds(gw.child.id());
    let mut idle = Vec::new();
    for _ in 0..300 {
        if let Ok(stream) = TcpStream::connect(admin).await {
            idle.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = open_fds(gw.child.id());
    assert!(
        during <= before + 64 + 8,
        "{during} fds open with 300 idle admin connections (from {before})"
    );
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = get(admin, "/healthz").await;
        if reply.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz did not recover: {reply:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
