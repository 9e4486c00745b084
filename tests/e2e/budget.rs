//! The process-wide body budget, attacked through the real binary: a flood of uploads stalled
//! one byte short of 1 MiB stays within the budget, while small valid deliveries still pass.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::sign::sign;
use crate::support::{GatewayConfig, Upstream, get, metrics, post, proc_status_kib};

const SECRET: &str = "budget-secret";

#[tokio::test]
async fn stalled_uploads_stay_within_the_budget_while_valid_deliveries_pass() {
    let upstream = Upstream::start().await;
    let (_dir, gw) = GatewayConfig::new(&upstream)
        .admin()
        .top("max_body_bytes: 1048576\nmax_buffered_body_bytes: 33554432\nmax_connections: 1024")
        .flow("orders", "/hook", SECRET)
        .binary(&[]);
    let admin = gw.admin();
    let base_kib = proc_status_kib(gw.child.id(), "VmRSS:");

    // 300 uploads declare 1 MiB, send all but the last byte, and stall.
    let part = vec![b'x'; (1 << 20) - 1];
    let mut stalled = Vec::new();
    let mut refused = 0;
    for _ in 0..300 {
        let mut stream = TcpStream::connect(gw.addr).await.unwrap();
        let head = "POST /hook HTTP/1.1\r\nhost: gateway.test\r\nx-flow-signature: sha-256=00\r\ncontent-length: 1048576\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&part).await.is_err()
        {
            refused += 1;
        }
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Small valid deliveries still pass, each within a second.
    for n in 0..20 {
        let body = format!("{{\"order\":{n}}}");
        let started = Instant::now();
        let reply = post(
            gw.addr,
            "/hook",
            &sign("flow", &[SECRET], body.as_bytes(), 0),
            body.as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 200, "delivery {n}: {reply:?}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "delivery {n} took {:?}",
            started.elapsed()
        );
    }
    let peak_kib = proc_status_kib(gw.child.id(), "VmHWM:");
    let grown_mib = (peak_kib - base_kib.min(peak_kib)) / 1024;
    eprintln!(
        "300 stalled 1 MiB uploads, 32 MiB budget: RSS grew {grown_mib} MiB (peak {} MiB), {refused} writes failed",
        peak_kib / 1024
    );
    assert!(
        grown_mib < 32 + 64,
        "RSS grew {grown_mib} MiB: past the 32 MiB budget plus ~200 KiB for each of 300 connections"
    );
    let scrape = metrics::parse(&String::from_utf8(get(admin, "/metrics").await.body).unwrap());
    let over = scrape
        .value(r#"hookgate_requests_total{outcome="rejected",reason="overloaded",route="orders"}"#);
    assert!(
        over >= 200.0,
        "only {over} uploads were refused as overloaded"
    );
    assert_eq!(upstream.count(), 20);
    drop(stalled);
}
