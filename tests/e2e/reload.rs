//! A reload that changes the replay settings keeps every reservation the store holds: raising
//! `max_entries` after a "store full" answer must not reopen the window for replays.

use std::path::Path;

use crate::support::sign::sign;
use crate::support::{Binary, GatewayConfig, Upstream, post};

const SECRET: &str = "reload-replay-secret";

fn write(dir: &Path, upstream: &Upstream, max_entries: u32) -> std::path::PathBuf {
    GatewayConfig::new(upstream)
        .top(&format!(
            "replay: {{ store: memory, max_entries: {max_entries} }}"
        ))
        .flow("orders", "/hook", SECRET)
        .write(dir)
}

#[tokio::test]
async fn raising_max_entries_on_reload_keeps_every_reservation() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Binary::start(&write(dir.path(), &upstream, 2), &[]);
    let delivery = |n: u32| {
        let body = format!("{{\"order\":{n}}}").into_bytes();
        (sign("flow", &[SECRET], &body, 0), body)
    };
    for n in 0..2 {
        let (headers, body) = delivery(n);
        assert_eq!(post(gw.addr, "/hook", &headers, &body).await.status, 200);
    }
    let (headers, body) = delivery(2);
    let full = post(gw.addr, "/hook", &headers, &body).await;
    assert_eq!(full.status, 503, "{full:?}");

    write(dir.path(), &upstream, 10);
    gw.signal("HUP");
    gw.wait_for_log("config reloaded");
    for n in 0..2 {
        let (headers, body) = delivery(n);
        let replay = post(gw.addr, "/hook", &headers, &body).await;
        assert_eq!(
            replay.status, 401,
            "delivery {n} replayed after the reload: {replay:?}"
        );
    }
    let (headers, body) = delivery(2);
    assert_eq!(
        post(gw.addr, "/hook", &headers, &body).await.status,
        200,
        "room now"
    );
    assert_eq!(upstream.count(), 3);
}

/// A reload applies a changed `max_connections` to the next connection, and says that a
/// changed `log_format` needs a restart (the log writer is set up once).
#[tokio::test]
async fn reload_applies_max_connections_and_names_restart_only_keys() {
    use tokio::io::AsyncWriteExt;
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = |cap: u32, format: &str| {
        GatewayConfig::new(&upstream)
            .log_format(format)
            .top(&format!("max_connections: {cap}"))
            .flow("orders", "/hook", SECRET)
            .write(dir.path())
    };
    let gw = Binary::start(&config(2, "json"), &[]);
    // Two connections hold both slots with an unfinished head.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        stream.write_all(b"POST /hook HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let body = br#"{"order":1}"#;
    let headers = sign("flow", &[SECRET], body, 0);
    assert_eq!(
        post(gw.addr, "/hook", &headers, body).await.status,
        503,
        "the cap holds"
    );

    config(3, "text");
    gw.signal("HUP");
    gw.wait_for_log("config reloaded");
    gw.wait_for_log("\"key\":\"log_format\"");
    assert_eq!(
        post(gw.addr, "/hook", &headers, body).await.status,
        200,
        "the raised cap applies"
    );
    drop(held);
}
