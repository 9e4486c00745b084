//! Hostile clients and failing upstreams: the gateway keeps serving, forwards nothing it did
//! not verify, and never answers 2xx for a delivery the app did not get.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::redis::RedisServer;
use crate::support::sign::sign;
use crate::support::{
    Act, GatewayConfig, InProcess, RawUpstream, Upstream, get, metrics, one_route, parse_reply,
    post, proc_status_kib, raw, request, try_post,
};

const SECRET: &str = "hostile-test-secret";

fn flow(body: &[u8]) -> Vec<(String, String)> {
    sign("flow", &[SECRET], body, 0)
}

/// The binary's config: an admin listener, `top`, and one Flow route `orders` at /hook.
fn flow_config(upstream: &Upstream, top: &str) -> GatewayConfig {
    GatewayConfig::new(upstream)
        .admin()
        .top(top)
        .flow("orders", "/hook", SECRET)
}

async fn flow_gateway() -> (Upstream, InProcess) {
    let upstream = Upstream::start().await;
    let config = one_route(
        &upstream,
        &format!("    provider: flow\n    secrets: [{SECRET}]\n"),
    );
    (upstream.clone(), config.in_process().await)
}

/// Reads until the peer closes or `limit` passes; `None` if it was still open then.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut out))
        .await
        .ok()
        .map(|_| out)
}

#[tokio::test]
async fn two_hundred_trickled_heads_are_cut_while_valid_deliveries_pass() {
    let upstream = Upstream::start().await;
    let (_dir, gateway) = flow_config(&upstream, "timeouts: { header_seconds: 2 }\n").binary(&[]);
    let addr = gateway.addr;
    let cut = Arc::new(AtomicUsize::new(0));
    let mut slow = Vec::new();
    for _ in 0..200 {
        let cut = Arc::clone(&cut);
        slow.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"POST /hook HTTP/1.1\r\nhost: x\r\n")
                .await
                .unwrap();
            // One more header byte every 300 ms: never a complete head.
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if stream.write_all(b"x").await.is_err() {
                    break;
                }
            }
            let closed = read_until_closed(&mut stream, Duration::from_secs(2)).await;
            if closed.is_some() {
                cut.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..5 {
        let body = format!("{{\"i\":{i}}}").into_bytes();
        let started = Instant::now();
        let reply = post(addr, "/hook", &flow(&body), &body).await;
        assert_eq!(reply.status, 200);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
    for task in slow {
        task.await.unwrap();
    }
    assert_eq!(cut.load(Ordering::SeqCst), 200, "every slow head was cut");
    assert_eq!(upstream.count(), 5);
}

#[tokio::test]
async fn smuggling_shapes_are_refused_and_forward_nothing() {
    let (upstream, gateway) = flow_gateway().await;
    let body = b"{}";
    let signature = &flow(body)[0].1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "two different content-lengths",
            format!("POST /hook HTTP/1.1\r\nhost: x\r\nx-flow-signature: {signature}\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{{}}x").into_bytes(),
        ),
        (
            "obs-fold",
            format!("POST /hook HTTP/1.1\r\nhost: x\r\nx-flow-signature: {}\r\n {}\r\ncontent-length: 2\r\n\r\n{{}}", &signature[..20], &signature[20..]).into_bytes(),
        ),
        (
            "invalid chunk size",
            format!("POST /hook HTTP/1.1\r\nhost: x\r\nx-flow-signature: {signature}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n").into_bytes(),
        ),
        (
            "transfer-encoding other than chunked",
            format!("POST /hook HTTP/1.1\r\nhost: x\r\nx-flow-signature: {signature}\r\ntransfer-encoding: gzip\r\n\r\n{{}}").into_bytes(),
        ),
    ];
    for (what, bytes) in cases {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        let out = read_until_closed(&mut stream, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{what}: connection left open"));
        let reply = parse_reply(&out);
        assert!(
            reply.status == 400 || reply.status == 0,
            "{what}: {}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(upstream.count(), 0, "{what}: something was forwarded");
    }
}

#[tokio::test]
async fn content_length_beside_chunked_cannot_smuggle_a_second_request_to_the_app() {
    let (upstream, gateway) = flow_gateway().await;
    let signature = &flow(b"{}")[0].1;
    // Read as chunked, the body is `{}` and what follows is a second request. Read by
    // Content-Length, the body would swallow it. The app must see exactly one request, framed
    // by its exact length, with the verified body.
    let smuggled = "POST /hook HTTP/1.1\r\nhost: x\r\nx-flow-signature: sha-256=00\r\ncontent-length: 2\r\n\r\n{}";
    let first = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\nx-flow-signature: {signature}\r\ncontent-length: {}\r\n\
         transfer-encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n",
        7 + smuggled.len()
    );
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(format!("{first}{smuggled}").as_bytes())
        .await
        .unwrap();
    // RFC 9112 6.3: answer it, then close; the trailing bytes are never read as a request.
    let out = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "{text}");
    let received = upstream.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body.as_ref(), b"{}");
    assert_eq!(
        received[0].headers.get_all("content-length").iter().count(),
        1
    );
    assert_eq!(received[0].headers["content-length"], "2");
    assert!(!received[0].headers.contains_key("transfer-encoding"));
}

#[tokio::test]
async fn pipelined_requests_after_a_rejection_are_each_judged_on_their_own() {
    let (upstream, gateway) = flow_gateway().await;
    let good = br#"{"ok":1}"#;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    // A forged delivery, then a good one, then a malformed one, then a good one that must
    // never be read: after a framing error the connection is closed.
    let mut bytes = request("POST", "/hook", &flow(b"other"), good);
    bytes = String::from_utf8(bytes)
        .unwrap()
        .replace("connection: close\r\n", "")
        .into_bytes();
    let mut second = String::from_utf8(request("POST", "/hook", &flow(good), good)).unwrap();
    second = second.replace("connection: close\r\n", "");
    bytes.extend_from_slice(second.as_bytes());
    bytes.extend_from_slice(
        b"POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 9\r\n\r\n{}",
    );
    let third = br#"{"late":1}"#;
    bytes.extend_from_slice(&request("POST", "/hook", &flow(third), third));
    stream.write_all(&bytes).await.unwrap();
    let out = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["401", "200", "400"], "{text}");
    let received = upstream.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body.as_ref(), good);
}

#[tokio::test]
async fn header_bombs_are_refused_before_anything_is_forwarded() {
    let (upstream, gateway) = flow_gateway().await;
    let huge = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\ncontent-length: 2\r\n\r\n{{}}",
        "a".repeat(1 << 20)
    );
    let mut many = String::from("POST /hook HTTP/1.1\r\nhost: x\r\n");
    for i in 0..10_000 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("content-length: 2\r\n\r\n{}");
    for (what, bytes) in [("1 MiB of headers", huge), ("10,000 headers", many)] {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        // The gateway may close before reading it all; a write error is an answer too.
        let _ = stream.write_all(bytes.as_bytes()).await;
        let out = read_until_closed(&mut stream, Duration::from_secs(5))
            .await
            .unwrap_or_default();
        let reply = parse_reply(&out);
        assert!(
            reply.status == 431 || reply.status == 0,
            "{what}: {}",
            reply.head
        );
    }
    assert_eq!(upstream.count(), 0);
    // Still serving.
    let reply = post(gateway.addr, "/hook", &flow(b"{}"), b"{}").await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn control_bytes_and_repeated_signature_headers_never_pass() {
    let (upstream, gateway) = flow_gateway().await;
    let body = b"{}";
    let good = flow(body).remove(0);
    // Control bytes are refused by the HTTP parser itself (400), before any route sees them.
    let control = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-flow-signature: {}\x01\r\ncontent-length: 2\r\n\r\n{{}}",
        good.1
    );
    assert_eq!(raw(gateway.addr, control.as_bytes()).await.status, 400);
    // A good and a bad signature header, in either order: the same answer, a refusal.
    let bad = (
        "X-Flow-Signature".to_owned(),
        format!("sha-256={}", "0".repeat(64)),
    );
    for headers in [vec![good.clone(), bad.clone()], vec![bad, good]] {
        let reply = post(gateway.addr, "/hook", &headers, body).await;
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (401, &br#"{"error":"signature_malformed"}"#[..])
        );
    }
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn a_flood_of_forgeries_leaves_valid_traffic_fast_memory_flat_and_the_store_empty() {
    let redis = RedisServer::start();
    let upstream = Upstream::start().await;
    let (_dir, gateway) = flow_config(
        &upstream,
        &format!("replay: {{ store: redis, redis_url: '{}' }}\n", redis.url()),
    )
    .binary(&[]);
    let addr = gateway.addr;
    let rss = |pid: u32| proc_status_kib(pid, "VmRSS:");
    let pid = gateway.child.id();
    // Warm up, then measure.
    for i in 0..200 {
        let body = format!("{{\"warm\":{i}}}").into_bytes();
        post(addr, "/hook", &flow(b"forged"), &body).await;
    }
    let before = rss(pid);
    let flood = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for wave in 0..60 {
            let batch: Vec<_> = (0..50)
                .map(|i| {
                    tokio::spawn(async move {
                        let body = format!("{{\"forged\":{wave},\"i\":{i}}}").into_bytes();
                        post(addr, "/hook", &flow(b"not this body"), &body)
                            .await
                            .status
                    })
                })
                .collect();
            for task in batch {
                statuses.push(task.await.unwrap());
            }
        }
        statuses
    });
    let mut slowest = Duration::ZERO;
    let mut valid = 0;
    while !flood.is_finished() {
        let body = format!("{{\"valid\":{valid}}}").into_bytes();
        let started = Instant::now();
        assert_eq!(post(addr, "/hook", &flow(&body), &body).await.status, 200);
        slowest = slowest.max(started.elapsed());
        valid += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let statuses = flood.await.unwrap();
    assert_eq!(statuses.len(), 3000);
    assert!(statuses.iter().all(|s| *s == 401));
    assert!(
        slowest < Duration::from_secs(1),
        "valid deliveries slowed to {slowest:?}"
    );
    let after = rss(pid);
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert_eq!(upstream.count(), valid);
    assert_eq!(
        redis.dbsize(),
        valid as u64,
        "only verified deliveries hold replay keys"
    );
    eprintln!(
        "flood: 3000 forgeries, {valid} valid deliveries, slowest {slowest:?}, RSS {before} -> {after} KiB"
    );
}

#[tokio::test]
async fn an_upstream_reset_mid_response_is_a_502_and_the_retry_passes() {
    // The first answer promises 100 bytes, sends 7, then resets.
    let upstream = RawUpstream::start(|n| match n {
        0 => Act::Reset(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial"),
        _ => Act::Close(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
    })
    .await;
    let gateway = GatewayConfig::to(&format!("http://{}", upstream.addr))
        .top("timeouts: { upstream_seconds: 2 }")
        .flow("r", "/hook", SECRET)
        .in_process()
        .await;
    let body = b"{\"order\":1}";
    let reply = post(gateway.addr, "/hook", &flow(body), body).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (502, &br#"{"error":"upstream_unreachable"}"#[..])
    );
    // The identical retry is not a replay: the reservation was released.
    let retry = post(gateway.addr, "/hook", &flow(body), body).await;
    assert_eq!((retry.status, retry.body.as_slice()), (200, &b"ok"[..]));
}

#[tokio::test]
async fn sigterm_under_load_answers_every_request_and_delivers_none_twice() {
    sigterm_under_load(&[]).await;
}

/// One worker runs every task on the current-thread scheduler instead: the same promises.
#[tokio::test]
async fn sigterm_under_load_on_one_worker_answers_every_request_and_delivers_none_twice() {
    sigterm_under_load(&[("TOKIO_WORKER_THREADS", "1")]).await;
}

async fn sigterm_under_load(env: &[(&str, &str)]) {
    let upstream = Upstream::start().await;
    upstream.delay_ms.store(20, Ordering::SeqCst);
    let (_dir, mut gateway) =
        flow_config(&upstream, "timeouts: { shutdown_grace_seconds: 10 }\n").binary(env);
    let addr = gateway.addr;
    let load = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        for wave in 0..40 {
            let batch: Vec<_> = (0..50)
                .map(|i| {
                    tokio::spawn(async move {
                        let body = format!("{{\"wave\":{wave},\"i\":{i}}}").into_bytes();
                        // A refused connection (listener closed) is a correct answer: the
                        // sender retries later.
                        let status = try_post(addr, &flow(&body), &body).await;
                        (body, status)
                    })
                })
                .collect();
            for task in batch {
                outcomes.push(task.await.unwrap());
            }
        }
        outcomes
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    gateway.signal("TERM");
    let outcomes = load.await.unwrap();
    let exit = gateway.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    assert_eq!(outcomes.len(), 2000);
    let received: Vec<Vec<u8>> = upstream
        .received()
        .iter()
        .map(|r| r.body.to_vec())
        .collect();
    let mut unique = received.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        received.len(),
        "a delivery reached the app twice"
    );
    let ok: Vec<&Vec<u8>> = outcomes
        .iter()
        .filter(|(_, s)| *s == 200)
        .map(|(b, _)| b)
        .collect();
    for (body, status) in &outcomes {
        assert!(
            [200, 0].contains(status),
            "unexpected status {status} for {}",
            String::from_utf8_lossy(body)
        );
    }
    for body in &ok {
        assert!(received.contains(body), "200 without delivery");
    }
    assert_eq!(
        ok.len(),
        received.len(),
        "a delivery reached the app without a 200"
    );
    assert!(
        ok.len() > 50 && ok.len() < 2000,
        "the signal landed mid-load: {} delivered",
        ok.len()
    );
    eprintln!(
        "sigterm under load: {} delivered, {} refused after close",
        ok.len(),
        2000 - ok.len()
    );
}

#[tokio::test]
async fn a_hundred_900_kib_bodies_stay_within_the_memory_bound() {
    let upstream = Upstream::start().await;
    upstream.delay_ms.store(1000, Ordering::SeqCst);
    let (_dir, gateway) = flow_config(
        &upstream,
        "max_body_bytes: 1048576\ntimeouts: { upstream_seconds: 10 }\n",
    )
    .with("replay: false\n")
    .binary(&[]);
    let addr = gateway.addr;
    let body: Arc<Vec<u8>> = Arc::new((0..900 * 1024).map(|i| (i % 251) as u8).collect());
    let headers = Arc::new(flow(&body));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (body, headers) = (Arc::clone(&body), Arc::clone(&headers));
            tokio::spawn(async move { post(addr, "/hook", &headers, &body).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    if statuses.iter().any(|s| *s != 200) {
        panic!(
            "{statuses:?}\n{:?}",
            gateway.logs().iter().rev().take(5).collect::<Vec<_>>()
        );
    }
    let peak_kib = proc_status_kib(gateway.child.id(), "VmHWM:");
    let bound_kib = 100 * 1024 * 3 + 64 * 1024;
    assert!(
        peak_kib < bound_kib,
        "peak RSS {peak_kib} KiB over {bound_kib} KiB"
    );
    assert_eq!(upstream.count(), 100);
    eprintln!(
        "100 x 900 KiB: peak RSS {} MiB (bound {} MiB)",
        peak_kib / 1024,
        bound_kib / 1024
    );
}

#[tokio::test]
async fn connections_past_the_cap_get_503_and_the_gateway_recovers() {
    let upstream = Upstream::start().await;
    let (_dir, gateway) = flow_config(&upstream, "max_connections: 20\n").binary(&[]);
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
        stream
            .write_all(b"POST /hook HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let over = post(gateway.addr, "/hook", &flow(b"{}"), b"{}").await;
    assert_eq!(
        (
            over.status,
            over.header("retry-after").as_deref(),
            over.body.as_slice()
        ),
        (503, Some("1"), &br#"{"error":"overloaded"}"#[..])
    );
    assert_eq!(upstream.count(), 0);
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        post(gateway.addr, "/hook", &flow(b"{}"), b"{}")
            .await
            .status,
        200
    );
    let scrape =
        metrics::parse(&String::from_utf8(get(gateway.admin(), "/metrics").await.body).unwrap());
    assert_eq!(scrape.value("hookgate_connections_refused_total{}"), 1.0);
}
