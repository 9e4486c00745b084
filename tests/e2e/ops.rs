//! Operating the real binary: admin endpoints and metrics, logs, reload, shutdown, observe
//! mode and rate limits.

use std::time::{Duration, Instant};

use crate::support::sign::sign;
use crate::support::{Binary, GatewayConfig, Upstream, get, metrics, post};

const OLD: &str = "old-secret-0f3c9a";
const NEW: &str = "new-secret-7b21de";

/// An admin listener and a Flow route `orders` at /hook with `secrets` (a YAML list).
fn ops_config(upstream: &Upstream, secrets: &str) -> GatewayConfig {
    GatewayConfig::new(upstream)
        .admin()
        .top("timeouts: { upstream_seconds: 5, shutdown_grace_seconds: 5 }")
        .route(
            "orders",
            &format!("path: /hook\nprovider: flow\nsecrets: {secrets}"),
        )
}

fn flow(secret: &str, body: &[u8]) -> Vec<(String, String)> {
    sign("flow", &[secret], body, 0)
}

#[tokio::test]
async fn health_readiness_and_metrics_parse_with_the_prometheus_parser() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = ops_config(&upstream, "[env:OLD, env:NEW]")
        .with("max_body_bytes: 100\n")
        .write(dir.path());
    let gateway = Binary::start(&config, &[("OLD", OLD), ("NEW", NEW)]);
    let admin = gateway.admin();
    assert_eq!(get(admin, "/healthz").await.status, 200);
    let ready = get(admin, "/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_slice()),
        (200, &b"ready\n"[..])
    );

    // (signing secret, signed body, sent body, expected status)
    let deliveries: [(&str, &[u8], &[u8], u16); 4] = [
        (NEW, b"{\"a\":1}", b"{\"a\":1}", 200),
        (NEW, b"{\"a\":1}", b"{\"a\":1}", 401),
        (OLD, b"{\"b\":2}", b"{\"b\":2}", 200),
        (NEW, b"{\"c\":3}", b"{\"c\":4}", 401),
    ];
    for (secret, signed, sent, status) in deliveries {
        let reply = post(gateway.addr, "/hook", &flow(secret, signed), sent).await;
        assert_eq!(reply.status, status, "{reply:?}");
    }
    let big = vec![b'x'; 101];
    assert_eq!(
        post(gateway.addr, "/hook", &flow(NEW, &big), &big)
            .await
            .status,
        413
    );
    assert_eq!(post(gateway.addr, "/nowhere", &[], b"").await.status, 404);

    let reply = get(admin, "/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let scrape = metrics::parse(&String::from_utf8(reply.body).unwrap());
    let requests = |outcome: &str, reason: &str, route: &str| {
        scrape.value(&format!(
            "hookgate_requests_total{{outcome=\"{outcome}\",reason=\"{reason}\",route=\"{route}\"}}"
        ))
    };
    assert_eq!(requests("forwarded", "", "orders"), 2.0);
    assert_eq!(requests("rejected", "replayed", "orders"), 1.0);
    assert_eq!(requests("rejected", "signature_mismatch", "orders"), 1.0);
    assert_eq!(requests("rejected", "body_too_large", "orders"), 1.0);
    assert_eq!(requests("rejected", "no_route", ""), 1.0);
    // The replay verified too: the new secret matched twice, the old one once.
    let secret = |i: u8| {
        scrape.value(&format!(
            "hookgate_secret_matches_total{{route=\"orders\",secret_index=\"{i}\"}}"
        ))
    };
    assert_eq!((secret(0), secret(1)), (1.0, 2.0));
    assert_eq!(
        scrape.value("hookgate_request_duration_seconds_count{route=\"orders\"}"),
        5.0
    );
    assert_eq!(
        scrape.value("hookgate_upstream_duration_seconds_count{route=\"orders\"}"),
        2.0
    );
    // Only bodies read in full are measured: three of 7 bytes, none of the 413.
    assert_eq!(
        scrape.value("hookgate_request_body_bytes_count{route=\"orders\"}"),
        4.0
    );
    assert_eq!(
        scrape.value("hookgate_request_body_bytes_bucket{le=\"256\",route=\"orders\"}"),
        4.0
    );
    assert_eq!(scrape.value("hookgate_ready{}"), 1.0);
    assert_eq!(
        scrape.value("hookgate_replay_store_errors_total{operation=\"reserve\"}"),
        0.0
    );
    for (family, kind) in [
        ("hookgate_requests", "counter"),
        ("hookgate_request_duration_seconds", "histogram"),
        ("hookgate_upstream_duration_seconds", "histogram"),
        ("hookgate_request_body_bytes", "histogram"),
        ("hookgate_secret_matches", "counter"),
        ("hookgate_in_flight_requests", "gauge"),
    ] {
        assert_eq!(
            scrape.types.get(family).map(String::as_str),
            Some(kind),
            "{family}"
        );
    }
    assert_eq!(get(admin, "/nope").await.status, 404);

    // `hookgate probe`, as the container HEALTHCHECK runs it.
    let probe = |path: &str, admin: String| {
        std::process::Command::new(crate::support::bin())
            .args(["probe", "--admin", &admin, "--path", path])
            .output()
            .unwrap()
    };
    let ok = probe("/readyz", admin.to_string());
    assert_eq!(
        (ok.status.code(), ok.stdout.as_slice()),
        (Some(0), &b"ready\n"[..])
    );
    let missing = probe("/nope", admin.to_string());
    assert_eq!(missing.status.code(), Some(1));
    drop(gateway);
    let down = probe("/healthz", admin.to_string());
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot connect"));
}

#[tokio::test]
async fn no_log_line_at_any_level_holds_a_secret_or_an_expected_signature() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = ops_config(&upstream, "[env:OLD, env:NEW]").write(dir.path());
    let gateway = Binary::start(
        &config,
        &[("OLD", OLD), ("NEW", NEW), ("HOOKGATE_LOG", "trace")],
    );
    let sent = b"{\"order\":1}";
    let forged = b"{\"order\":2}";
    // A tampered delivery: the signatures the gateway computes for `forged` must not leak.
    let expected: Vec<String> = [OLD, NEW]
        .iter()
        .map(|s| flow(s, forged)[0].1.clone())
        .collect();
    assert_eq!(
        post(gateway.addr, "/hook", &flow(OLD, sent), forged)
            .await
            .status,
        401
    );
    assert_eq!(
        post(gateway.addr, "/hook", &flow(NEW, sent), sent)
            .await
            .status,
        200
    );
    assert_eq!(post(gateway.addr, "/hook", &[], sent).await.status, 401);
    // Request lines are written in batches: wait for the third request's.
    gateway.wait_for_log("\"request_id\":2,");
    gateway.signal("HUP");
    gateway.wait_for_log("config reloaded");
    let logs = gateway.logs();
    assert!(logs.len() > 5, "trace logging is on: {logs:?}");
    for line in &logs {
        for needle in [OLD, NEW].iter().map(|s| s.to_string()).chain(
            expected
                .iter()
                .map(|sig| sig.trim_start_matches("sha-256=").to_owned()),
        ) {
            assert!(!line.contains(&needle), "log line leaks {needle:?}: {line}");
        }
    }
    let request = logs
        .iter()
        .find(|l| l.contains("\"message\":\"request\"") && l.contains("\"status\":200"))
        .expect("a request line");
    for field in [
        "\"request_id\":",
        "\"route\":\"orders\"",
        "\"outcome\":\"forwarded\"",
        "\"upstream_status\":200",
        "\"secret_index\":1",
        "\"latency_us\":",
    ] {
        assert!(request.contains(field), "{field} missing: {request}");
    }
}

#[tokio::test]
async fn sighup_swaps_the_config_and_refuses_a_broken_one() {
    sighup_reloads("2").await;
}

/// One worker runs every task on the current-thread scheduler: signals still arrive.
#[tokio::test]
async fn sighup_on_one_worker_swaps_the_config_and_refuses_a_broken_one() {
    sighup_reloads("1").await;
}

async fn sighup_reloads(workers: &str) {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = ops_config(&upstream, "[env:OLD]").write(dir.path());
    let gateway = Binary::start(
        &config,
        &[
            ("OLD", OLD),
            ("NEW", NEW),
            ("TOKIO_WORKER_THREADS", workers),
        ],
    );
    let body = |n: u32| format!("{{\"n\":{n}}}").into_bytes();
    assert_eq!(
        post(gateway.addr, "/hook", &flow(NEW, &body(1)), &body(1))
            .await
            .status,
        401
    );

    ops_config(&upstream, "[env:NEW]").write(dir.path());
    gateway.signal("HUP");
    gateway.wait_for_log("config reloaded");
    assert_eq!(
        post(gateway.addr, "/hook", &flow(NEW, &body(2)), &body(2))
            .await
            .status,
        200
    );
    assert_eq!(
        post(gateway.addr, "/hook", &flow(OLD, &body(3)), &body(3))
            .await
            .status,
        401
    );

    std::fs::write(&config, "listen: 127.0.0.1:0\nroutes: [\n").unwrap();
    gateway.signal("HUP");
    let refused = gateway.wait_for_log("config reload refused");
    assert!(
        refused.contains("gateway.yaml:"),
        "the error points at the file: {refused}"
    );
    assert_eq!(
        post(gateway.addr, "/hook", &flow(NEW, &body(4)), &body(4))
            .await
            .status,
        200
    );
    let scrape =
        metrics::parse(&String::from_utf8(get(gateway.admin(), "/metrics").await.body).unwrap());
    assert_eq!(
        scrape.value("hookgate_config_reloads_total{result=\"success\"}"),
        2.0
    );
    assert_eq!(
        scrape.value("hookgate_config_reloads_total{result=\"failure\"}"),
        1.0
    );
}

#[tokio::test]
async fn reloads_under_load_fail_no_request_and_in_flight_ones_keep_their_config() {
    let upstream = Upstream::start().await;
    let other = Upstream::start().await;
    upstream
        .delay_ms
        .store(1000, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let config = ops_config(&upstream, "[env:OLD]").write(dir.path());
    let gateway = Binary::start(&config, &[("OLD", OLD)]);
    let addr = gateway.addr;
    // Started on the old config: its answer must come back from the old upstream even
    // though the config changes while it is in flight.
    let slow = tokio::spawn(async move { post(addr, "/hook", &flow(OLD, b"slow"), b"slow").await });
    upstream.wait_for(1).await;
    ops_config(&other, "[env:OLD]").write(dir.path());
    gateway.signal("HUP");
    gateway.wait_for_log("config reloaded");
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(upstream.count(), 1);

    // 2,000 deliveries, 50 at a time, while the config is reloaded every 20 ms.
    let load = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for wave in 0..40 {
            let batch: Vec<_> = (0..50)
                .map(|i| {
                    let body = format!("{{\"wave\":{wave},\"i\":{i}}}").into_bytes();
                    tokio::spawn(async move {
                        post(addr, "/hook", &flow(OLD, &body), &body).await.status
                    })
                })
                .collect();
            for task in batch {
                statuses.push(task.await.unwrap());
            }
        }
        statuses
    });
    while !load.is_finished() {
        gateway.signal("HUP");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let statuses = load.await.unwrap();
    assert_eq!(statuses.len(), 2000);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(other.count(), 2000, "each delivery forwarded exactly once");
}

#[tokio::test]
async fn sigterm_fails_readiness_at_once_and_drains_in_flight_requests() {
    let upstream = Upstream::start().await;
    upstream
        .delay_ms
        .store(1000, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let config = ops_config(&upstream, "[env:OLD]").write(dir.path());
    let mut gateway = Binary::start(&config, &[("OLD", OLD)]);
    let admin = gateway.admin();
    let addr = gateway.addr;
    let in_flight = tokio::spawn(async move { post(addr, "/hook", &flow(OLD, b"x"), b"x").await });
    upstream.wait_for(1).await;
    gateway.signal("TERM");
    gateway.wait_for_log("shutting down");
    let ready = get(admin, "/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_slice()),
        (503, &b"not ready: draining\n"[..])
    );
    assert_eq!(get(admin, "/healthz").await.status, 200);
    assert_eq!(in_flight.await.unwrap().status, 200);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = gateway.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
}

/// Scrapes the binary's `/metrics` through the reference parser.
async fn scrape(gateway: &Binary) -> metrics::Scrape {
    metrics::parse(&String::from_utf8(get(gateway.admin(), "/metrics").await.body).unwrap())
}

#[tokio::test]
async fn observe_mode_forwards_what_it_would_reject_and_counts_it() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = ops_config(&upstream, "[env:OLD]")
        .with("mode: observe\nmax_body_bytes: 4096")
        .write(dir.path());
    let gateway = Binary::start(&config, &[("OLD", OLD)]);
    let good = flow(OLD, b"{}");
    assert_eq!(post(gateway.addr, "/hook", &good, b"{}").await.status, 200);
    let observed = [
        (good.clone(), &b"{}"[..], "a replay"),
        (good.clone(), &b"{\"x\":1}"[..], "tampered"),
        (vec![], &b"{}"[..], "unsigned"),
    ];
    for (headers, body, what) in observed {
        let reply = post(gateway.addr, "/hook", &headers, body).await;
        assert_eq!(reply.status, 200, "{what}, observed");
    }
    assert_eq!(upstream.count(), 4);
    let big = vec![b'x'; 5000];
    let reply = post(gateway.addr, "/hook", &good, &big).await;
    assert_eq!(reply.status, 413, "limits apply in every mode");
    upstream.answer(500);
    assert_eq!(
        post(gateway.addr, "/hook", &good, b"{\"y\":1}")
            .await
            .status,
        500
    );
    let scrape = scrape(&gateway).await;
    let observed = |reason: &str| {
        scrape.value(&format!(
            "hookgate_requests_total{{outcome=\"observed\",reason=\"{reason}\",route=\"orders\"}}"
        ))
    };
    assert_eq!(observed("replayed"), 1.0);
    assert_eq!(observed("signature_mismatch"), 2.0);
    assert_eq!(observed("signature_missing"), 1.0);
    let forwarded = "hookgate_requests_total{outcome=\"forwarded\",reason=\"\",route=\"orders\"}";
    assert_eq!(scrape.value(forwarded), 1.0);
    let logged = gateway.wait_for_log("\"outcome\":\"observed\"");
    assert!(logged.contains("\"reason\":\"replayed\""), "{logged}");
}

#[tokio::test]
async fn a_rate_limit_answers_429_with_retry_after_before_reading_the_body() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = ops_config(&upstream, "[env:OLD]")
        .with("rate_limit: { per_second: 1, burst: 3 }\n")
        .write(dir.path());
    let gateway = Binary::start(&config, &[("OLD", OLD)]);
    let mut statuses = Vec::new();
    for i in 0..6 {
        let body = format!("{{\"i\":{i}}}").into_bytes();
        // Half of them forged: the limit counts every request, valid or not.
        let secret = if i % 2 == 0 { OLD } else { "forged" };
        let reply = post(gateway.addr, "/hook", &flow(secret, &body), &body).await;
        if reply.status == 429 {
            let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=2).contains(&retry), "{retry}");
            assert_eq!(reply.body, b"{\"error\":\"rate_limited\"}");
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses, [200, 401, 200, 429, 429, 429]);
    assert_eq!(upstream.count(), 2);
    let limited =
        "hookgate_requests_total{outcome=\"rejected\",reason=\"rate_limited\",route=\"orders\"}";
    assert_eq!(scrape(&gateway).await.value(limited), 3.0);
}

#[tokio::test]
async fn a_head_trickled_past_the_header_timeout_is_cut_while_others_pass() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = GatewayConfig::new(&upstream)
        .admin()
        .top("timeouts: { header_seconds: 1, upstream_seconds: 5, shutdown_grace_seconds: 5 }")
        .route("orders", "path: /hook\nprovider: flow\nsecrets: [env:OLD]")
        .write(dir.path());
    let gateway = Binary::start(&config, &[("OLD", OLD)]);
    let mut slow = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    slow.write_all(b"POST /hook HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        post(gateway.addr, "/hook", &flow(OLD, b"ok"), b"ok")
            .await
            .status,
        200
    );
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the slow connection was not cut");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    assert_eq!(upstream.count(), 1);
}
