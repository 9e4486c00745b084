//! Durable delivery with the real binary, real files and a real upstream: what a sender was
//! told is queued reaches the app, through outages, retries, restarts and `kill -9`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::sign::sign;
use crate::support::{
    Act, Binary, GatewayConfig, RawUpstream, Reply, Upstream, free_addr, get, metrics, post,
    try_post,
};

const SECRET: &str = "durable-secret-4c1f";

fn flow(body: &[u8]) -> Vec<(String, String)> {
    sign("flow", &[SECRET], body, 0)
}

/// An admin listener, a queue in `dir`, and a durable Flow route `orders` at /hook with
/// `delivery` keys added.
fn durable(upstream: &str, dir: &Path, delivery: &str) -> GatewayConfig {
    GatewayConfig::to(upstream)
        .admin()
        .top(&format!(
            "queue: {{ path: {} }}",
            dir.join("queue.db").display()
        ))
        .top("timeouts: { upstream_seconds: 2, shutdown_grace_seconds: 5 }")
        .flow("orders", "/hook", SECRET)
        .with(&format!("delivery: {{ mode: durable{delivery} }}"))
}

fn queued_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{reply:?}");
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json["status"], "queued", "{reply:?}");
    json["id"].as_str().unwrap().to_owned()
}

async fn scrape(admin: SocketAddr) -> metrics::Scrape {
    metrics::parse(&String::from_utf8(get(admin, "/metrics").await.body).unwrap())
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn deliveries_accepted_while_the_app_is_down_all_arrive_byte_for_byte() {
    let app = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let config = durable(
        &format!("http://{app}"),
        dir.path(),
        ", retry: { first_seconds: 1, max_seconds: 1 }",
    )
    .write(dir.path());
    let gw = Binary::start(&config, &[]);
    let admin = gw.admin();
    let mut sent = HashMap::new();
    for n in 0..40u32 {
        // Bodies of every byte value, so nothing is re-encoded on the way.
        let body: Vec<u8> = (0..(n * 37 % 900))
            .map(|i| ((i * 7 + n) % 256) as u8)
            .collect();
        let reply = post(gw.addr, "/hook", &flow(&body), &body).await;
        sent.insert(queued_id(&reply), body);
    }
    wait_until("failed attempts", Duration::from_secs(10), async || {
        scrape(admin)
            .await
            .samples
            .contains_key("hookgate_delivery_attempts_total{result=\"failed\",route=\"orders\"}")
    })
    .await;
    let before = scrape(admin).await;
    let held: f64 = ["pending", "in_flight", "retrying"]
        .iter()
        .filter_map(|state| {
            let key = format!("hookgate_queue_deliveries{{route=\"orders\",state=\"{state}\"}}");
            before.samples.get(&key).copied()
        })
        .sum();
    assert_eq!(held, 40.0);

    // The app comes back where it was.
    let upstream = Upstream::start_on(app).await;
    wait_until("every delivery", Duration::from_secs(20), async || {
        upstream.count() >= 40
    })
    .await;
    let mut seen = HashSet::new();
    for got in upstream.received() {
        let id = got.headers["x-hookgate-delivery-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let attempt: u32 = got.headers["x-hookgate-attempt"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(attempt >= 2, "the app was down for the first attempt");
        assert_eq!(
            got.body.as_ref(),
            sent[&id].as_slice(),
            "{id} arrived changed"
        );
        // The sender's signature arrives too, so an app that verifies still can.
        assert_eq!(
            got.headers["x-flow-signature"],
            flow(&sent[&id])[0].1.as_str()
        );
        seen.insert(id);
    }
    assert_eq!(seen.len(), 40);
    wait_until("an empty queue", Duration::from_secs(5), async || {
        !scrape(admin)
            .await
            .samples
            .keys()
            .any(|k| k.starts_with("hookgate_queue_deliveries{"))
    })
    .await;
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_delivery_dies_after_give_up() {
    // 503 with Retry-After: 2 twice, then 200.
    let upstream = RawUpstream::start(|n| match n {
        0 | 1 => Act::Close(
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\ncontent-length: 0\r\n\r\n",
        ),
        _ => Act::Close(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_d, gw) = durable(
        &format!("http://{}", upstream.addr),
        dir.path(),
        ", retry: { first_seconds: 1, max_seconds: 60 }",
    )
    .binary(&[]);
    let started = Instant::now();
    queued_id(&post(gw.addr, "/hook", &flow(b"{}"), b"{}").await);
    wait_until("the third attempt", Duration::from_secs(15), async || {
        upstream.count() >= 3
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "two Retry-After waits of 2 s: {:?}",
        started.elapsed()
    );

    // An app that always fails: dead once give_up_after_seconds has passed.
    let failing =
        RawUpstream::start(|_| Act::Close(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n")).await;
    let dir = tempfile::tempdir().unwrap();
    let (_d, gw) = durable(
        &format!("http://{}", failing.addr),
        dir.path(),
        ", retry: { first_seconds: 1, max_seconds: 1, give_up_after_seconds: 2 }",
    )
    .binary(&[]);
    let admin = gw.admin();
    queued_id(&post(gw.addr, "/hook", &flow(b"{}"), b"{}").await);
    wait_until("a dead delivery", Duration::from_secs(15), async || {
        scrape(admin)
            .await
            .samples
            .get("hookgate_dead_deliveries_total{route=\"orders\"}")
            == Some(&1.0)
    })
    .await;
    let scrape = scrape(admin).await;
    assert_eq!(
        scrape.value("hookgate_queue_deliveries{route=\"orders\",state=\"dead\"}"),
        1.0
    );
    let attempts = failing.count();
    assert!(attempts >= 2, "{attempts} attempts");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        failing.count(),
        attempts,
        "a dead delivery is not attempted again"
    );
    gw.wait_for_log("delivery given up: dead");
}

#[tokio::test]
async fn a_sender_retry_of_a_queued_delivery_makes_no_second_copy_across_restarts() {
    let app = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let config = durable(
        &format!("http://{app}"),
        dir.path(),
        ", retry: { first_seconds: 1, max_seconds: 1 }",
    )
    .with("duplicates: acknowledge")
    .write(dir.path());
    let body = b"{\"order\":7}";
    let gw = Binary::start(&config, &[]);
    queued_id(&post(gw.addr, "/hook", &flow(body), body).await);
    let again = post(gw.addr, "/hook", &flow(body), body).await;
    assert_eq!(
        (again.status, again.body.as_slice()),
        (200, &br#"{"status":"duplicate"}"#[..])
    );
    drop(gw);
    // A new process knows it from the queue's own copy of the replay key.
    let gw = Binary::start(&config, &[]);
    let after = post(gw.addr, "/hook", &flow(body), body).await;
    assert_eq!(
        (after.status, after.body.as_slice()),
        (200, &br#"{"status":"duplicate"}"#[..])
    );
    // Forgeries are refused and never stored.
    let forged = post(gw.addr, "/hook", &flow(b"{\"order\":8}"), b"{\"order\":9}").await;
    assert_eq!(forged.status, 401);
    assert_eq!(post(gw.addr, "/hook", &[], body).await.status, 401);
    let upstream = Upstream::start_on(app).await;
    upstream.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(upstream.count(), 1, "one copy, and nothing forged");
    assert_eq!(upstream.received()[0].body.as_ref(), body);
}

#[tokio::test]
async fn past_max_deliveries_senders_hear_503_queue_full_until_it_drains() {
    let app = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let (_d, gw) = durable(
        &format!("http://{app}"),
        dir.path(),
        ", retry: { first_seconds: 1, max_seconds: 1 }",
    )
    .top(&format!(
        "queue: {{ path: {}, max_deliveries: 2 }}",
        dir.path().join("q.db").display()
    ))
    .binary(&[]);
    let admin = gw.admin();
    for n in 0..2 {
        let body = format!("{{\"n\":{n}}}").into_bytes();
        queued_id(&post(gw.addr, "/hook", &flow(&body), &body).await);
    }
    let full = post(gw.addr, "/hook", &flow(b"{\"n\":2}"), b"{\"n\":2}").await;
    assert_eq!(
        (full.status, full.body.as_slice()),
        (503, &br#"{"error":"queue_full"}"#[..])
    );
    assert_eq!(full.header("retry-after").as_deref(), Some("1"));
    let ready = get(admin, "/readyz").await;
    assert_eq!(ready.status, 503);
    assert!(
        String::from_utf8_lossy(&ready.body).contains("queue full"),
        "{ready:?}"
    );
    let upstream = Upstream::start_on(app).await;
    upstream.wait_for(2).await;
    wait_until("room in the queue", Duration::from_secs(5), async || {
        get(admin, "/readyz").await.status == 200
    })
    .await;
    queued_id(&post(gw.addr, "/hook", &flow(b"{\"n\":2}"), b"{\"n\":2}").await);
}

#[tokio::test]
async fn sigterm_lets_an_attempt_in_flight_finish_and_leaves_nothing_to_redeliver() {
    let upstream = Upstream::start().await;
    upstream
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let config = durable(&format!("http://{}", upstream.addr), dir.path(), "").write(dir.path());
    let mut gw = Binary::start(&config, &[]);
    queued_id(&post(gw.addr, "/hook", &flow(b"{}"), b"{}").await);
    upstream.wait_for(1).await;
    gw.signal("TERM");
    // Polled, not waited on: this runtime also serves the upstream.
    let status = loop {
        if let Some(status) = gw.child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    // The attempt finished before exit, so a restart has nothing to send again.
    upstream
        .delay_ms
        .store(0, std::sync::atomic::Ordering::SeqCst);
    let _gw = Binary::start(&config, &[]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(upstream.count(), 1);
}

/// `kill -9` at random moments while signed senders keep sending: every delivery a sender
/// heard 2xx for reaches the app.
#[tokio::test]
async fn kill_9_at_random_moments_loses_no_acknowledged_delivery() {
    const ROUNDS: u32 = 50;
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = durable(&format!("http://{}", upstream.addr), dir.path(), "").write(dir.path());
    let mut acknowledged: HashSet<Vec<u8>> = HashSet::new();
    let mut seed = 0x9e37_79b9_u64;
    let mut next = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        seed >> 33
    };
    for round in 0..ROUNDS {
        let mut gw = Binary::start(&config, &[]);
        let addr = gw.addr;
        let mut senders = Vec::new();
        for sender in 0..8 {
            senders.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0.. {
                    let body =
                        format!("{{\"round\":{round},\"sender\":{sender},\"n\":{n}}}").into_bytes();
                    match try_post(addr, &flow(&body), &body).await {
                        0 => break,
                        200 => acked.push(body),
                        _ => {}
                    }
                }
                acked
            }));
        }
        tokio::time::sleep(Duration::from_millis(20 + next() % 150)).await;
        gw.child.kill().unwrap();
        gw.child.wait().unwrap();
        for s in senders {
            acknowledged.extend(s.await.unwrap());
        }
    }
    assert!(
        acknowledged.len() > 500,
        "only {} deliveries acknowledged",
        acknowledged.len()
    );
    let _gw = Binary::start(&config, &[]);
    wait_until(
        "every acknowledged delivery",
        Duration::from_secs(30),
        async || {
            let got: HashSet<Vec<u8>> = upstream
                .received()
                .into_iter()
                .map(|r| r.body.to_vec())
                .collect();
            acknowledged.iter().all(|b| got.contains(b))
        },
    )
    .await;
    let received = upstream.count();
    eprintln!(
        "kill -9: {ROUNDS} rounds, {} acknowledged, {received} received (duplicates are redeliveries)",
        acknowledged.len()
    );
}

/// A torn or corrupted file tail (a crash mid-write, a bad sector): the gateway recovers to
/// its last commit, or refuses to start and says why; it never serves from a broken queue.
#[tokio::test]
async fn a_torn_or_corrupt_queue_file_recovers_or_refuses_to_start_clearly() {
    let app = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let config = durable(&format!("http://{app}"), dir.path(), "").write(dir.path());
    let mut bodies = Vec::new();
    {
        let gw = Binary::start(&config, &[]);
        for n in 0..20 {
            let body = format!("{{\"n\":{n}}}").into_bytes();
            queued_id(&post(gw.addr, "/hook", &flow(&body), &body).await);
            bodies.push(body);
        }
    }
    let file = dir.path().join("queue.db");
    let pristine = std::fs::read(&file).unwrap();
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let damages: [(&str, Damage); 3] = [
        (
            "last 4 KiB cut off",
            Box::new(|f: &mut Vec<u8>| f.truncate(f.len().saturating_sub(4096))),
        ),
        (
            "last 4 KiB overwritten",
            Box::new(|f: &mut Vec<u8>| {
                let n = f.len();
                for b in &mut f[n.saturating_sub(4096)..] {
                    *b = 0xA5;
                }
            }),
        ),
        (
            "header overwritten",
            Box::new(|f: &mut Vec<u8>| {
                for b in &mut f[..512] {
                    *b = 0x5A;
                }
            }),
        ),
    ];
    let mut app_up: Option<Upstream> = None;
    for (what, damage) in damages {
        let mut bytes = pristine.clone();
        damage(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();
        let mut child = std::process::Command::new(crate::support::bin())
            .args(["serve", "--config"])
            .arg(&config)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let outcome = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(3) {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        match outcome {
            // Refused: non-zero, naming the queue file.
            Some(status) => {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                assert!(!status.success(), "{what}: exited 0");
                assert!(
                    err.contains("cannot open the queue") && err.contains("queue.db"),
                    "{what}: {err}"
                );
            }
            // Running: it recovered to a commit; what it delivers is whole, never garbage.
            None => {
                if app_up.is_none() {
                    app_up = Some(Upstream::start_on(app).await);
                }
                tokio::time::sleep(Duration::from_millis(1500)).await;
                let _ = child.kill();
                let _ = child.wait();
                for got in app_up.as_ref().unwrap().received() {
                    assert!(
                        bodies.contains(&got.body.to_vec()),
                        "{what}: delivered {:?}",
                        got.body
                    );
                }
            }
        }
        eprintln!(
            "{what}: {}",
            if outcome.is_some() {
                "refused to start"
            } else {
                "recovered"
            }
        );
    }
}

/// `ordering: route`: one at a time in arrival order; a failing head holds the rest back.
#[tokio::test]
async fn an_ordered_route_delivers_in_arrival_order_behind_a_failing_head() {
    let upstream = RawUpstream::start(|n| match n {
        0 | 1 => Act::Close(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n"),
        _ => Act::Close(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_d, gw) = durable(
        &format!("http://{}", upstream.addr),
        dir.path(),
        ", ordering: route, concurrency: 8, retry: { first_seconds: 1, max_seconds: 1 }",
    )
    .binary(&[]);
    let bodies: Vec<Vec<u8>> = (0..6)
        .map(|n| format!("{{\"seq\":{n}}}").into_bytes())
        .collect();
    for body in &bodies {
        queued_id(&post(gw.addr, "/hook", &flow(body), body).await);
    }
    wait_until("every delivery", Duration::from_secs(15), async || {
        upstream.count() >= 8
    })
    .await;
    let got = upstream.bodies();
    // The head twice (refused), then everything in order, nothing overtaking.
    let mut expected = vec![bodies[0].clone(), bodies[0].clone()];
    expected.extend(bodies.iter().cloned());
    assert_eq!(got, expected);
}

/// Below `min_free_bytes` free on the queue's file system, senders hear 503 `queue_full`
/// before anything is written.
#[tokio::test]
async fn a_disk_short_of_space_answers_queue_full() {
    let dir = tempfile::tempdir().unwrap();
    let (_d, gw) = durable("http://127.0.0.1:9", dir.path(), "")
        .top(&format!(
            "queue: {{ path: {}, min_free_bytes: 1125899906842624 }}",
            dir.path().join("q.db").display()
        ))
        .binary(&[]);
    let full = post(gw.addr, "/hook", &flow(b"{}"), b"{}").await;
    assert_eq!(
        (full.status, full.body.as_slice()),
        (503, &br#"{"error":"queue_full"}"#[..])
    );
    let ready = get(gw.admin(), "/readyz").await;
    assert!(
        String::from_utf8_lossy(&ready.body).contains("short of space"),
        "{ready:?}"
    );
}

/// A reload applies to deliveries already queued: moved to a new upstream, they arrive there.
#[tokio::test]
async fn a_reload_sends_queued_deliveries_to_the_new_upstream() {
    let down = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let delivery = ", retry: { first_seconds: 1, max_seconds: 1 }";
    let config = durable(&format!("http://{down}"), dir.path(), delivery).write(dir.path());
    let gw = Binary::start(&config, &[]);
    let body = b"{\"moved\":true}";
    let id = queued_id(&post(gw.addr, "/hook", &flow(body), body).await);
    let up = Upstream::start().await;
    durable(&format!("http://{}", up.addr), dir.path(), delivery).write(dir.path());
    gw.signal("HUP");
    gw.log_line("config reloaded").await;
    up.wait_for(1).await;
    let got = &up.received()[0];
    assert_eq!(got.body.as_ref(), body);
    assert_eq!(got.headers["x-hookgate-delivery-id"], id.as_str());
}

/// A sender that hangs up while its delivery is being committed: whatever reached the disk
/// is delivered now, not only after the next restart.
#[tokio::test]
async fn deliveries_committed_after_the_sender_hung_up_are_delivered_at_once() {
    use tokio::io::AsyncWriteExt;
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = durable(&format!("http://{}", upstream.addr), dir.path(), "").write(dir.path());
    let gw = Binary::start(&config, &[]);
    for n in 0..200 {
        let body = format!("{{\"hung_up\":{n}}}").into_bytes();
        let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        let request = crate::support::request("POST", "/hook", &flow(&body), &body);
        stream.write_all(&request).await.unwrap();
        drop(stream);
    }
    // Let every commit and every delivery finish.
    let mut settled = upstream.count();
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if upstream.count() == settled {
            break;
        }
        settled = upstream.count();
    }
    // A clean stop (which makes every removal durable), then a restart: it finds nothing on
    // disk that was not delivered already.
    let mut gw = gw;
    gw.signal("TERM");
    while gw.child.try_wait().unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _gw = Binary::start(&config, &[]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        upstream.count(),
        settled,
        "deliveries stored but never scheduled surfaced only after a restart"
    );
    eprintln!("hung-up senders: {settled} of 200 stored and delivered");
}
