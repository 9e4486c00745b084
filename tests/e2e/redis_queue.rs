//! Durable delivery with the queue in Redis: real `redis-server` processes with an
//! append-only file, several gateway processes, `kill -9` of either.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::redis::RedisServer;
use crate::support::sign::sign;
use crate::support::{Binary, GatewayConfig, Reply, Upstream, free_addr, get, metrics, post};

const SECRET: &str = "redis-queue-secret-5d2e";
/// A take whose answer a killed Redis never sent leaves its delivery waiting for
/// `claim_after_seconds`; the kill tests keep that short.
const CLAIM_SOON: &str = ", claim_after_seconds: 3";

fn flow(body: &[u8]) -> Vec<(String, String)> {
    sign("flow", &[SECRET], body, 0)
}

/// A durable Flow route `orders` at /hook in front of `upstream`, its queue in the Redis at
/// `env:REDIS_URL`, with `queue` keys added.
fn config(upstream: &str, queue: &str) -> GatewayConfig {
    config_with(
        upstream,
        queue,
        "retry: { first_seconds: 1, max_seconds: 1 }",
    )
}

/// As [`config`], with these `delivery` keys besides `mode: durable`.
fn config_with(upstream: &str, queue: &str, delivery: &str) -> GatewayConfig {
    GatewayConfig::to(upstream)
        .admin()
        .top(&format!(
            "queue: {{ store: redis, redis_url: env:REDIS_URL, timeout_ms: 500{queue} }}"
        ))
        .top("timeouts: { upstream_seconds: 2, shutdown_grace_seconds: 2 }")
        .flow("orders", "/hook", SECRET)
        .with(&format!("delivery: {{ mode: durable, {delivery} }}"))
}

fn start(dir: &Path, name: &str, upstream: &str, queue: &str, redis: &RedisServer) -> Binary {
    let url = redis.url();
    let file = config(upstream, queue).write_as(dir, &format!("{name}.yaml"));
    // Each replica its own control socket.
    let yaml = std::fs::read_to_string(&file).unwrap().replace(
        "queue: {",
        &format!(
            "queue: {{ control_socket: {}, ",
            dir.join(format!("{name}.sock")).display()
        ),
    );
    std::fs::write(&file, yaml).unwrap();
    Binary::start(&file, &[("REDIS_URL", url.as_str())])
}

fn queued_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{reply:?}");
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    json["id"].as_str().unwrap().to_owned()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends deliveries `numbers` (bodies from [`body`]) to `addr`, each acknowledged as queued;
/// returns them by id.
async fn send(addr: SocketAddr, numbers: std::ops::Range<u32>) -> HashMap<String, Vec<u8>> {
    let mut sent = HashMap::new();
    for n in numbers {
        let body = body(n);
        sent.insert(
            queued_id(&post(addr, "/hook", &flow(&body), &body).await),
            body,
        );
    }
    sent
}

fn body(n: u32) -> Vec<u8> {
    // Every byte value, so nothing is re-encoded on the way through Redis.
    (0..(200 + n * 13 % 700))
        .map(|i| ((i * 7 + n) % 256) as u8)
        .collect()
}

/// The deliveries of `sent` that arrived at `app`, each byte for byte under its id, with the
/// attempt number it arrived with. (A delivery stored whose answer the sender never got, as
/// when Redis died before answering, may arrive too; it is not in `sent`.)
fn arrived(app: &Upstream, sent: &HashMap<String, Vec<u8>>) -> HashMap<String, u32> {
    let mut seen = HashMap::new();
    for got in app.received() {
        let id = got.headers["x-hookgate-delivery-id"]
            .to_str()
            .unwrap()
            .to_owned();
        if !sent.contains_key(&id) {
            continue;
        }
        let attempt = got.headers["x-hookgate-attempt"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            got.body.as_ref(),
            sent[&id].as_slice(),
            "{id} arrived changed"
        );
        seen.insert(id, attempt);
    }
    seen
}

#[tokio::test]
async fn what_one_replica_accepted_while_its_app_was_down_the_other_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::durable(dir.path(), "always");
    let down = format!("http://{}", free_addr());
    let app = Upstream::start().await;
    let a = start(dir.path(), "a", &down, "", &redis);
    let b = start(dir.path(), "b", &format!("http://{}", app.addr), "", &redis);
    let sent = send(a.addr, 0..20).await;
    // A forged delivery is never stored; a replay at the other replica is refused.
    let keys = redis.dbsize();
    assert_eq!(
        post(b.addr, "/hook", &flow(b"x"), b"forged").await.status,
        401
    );
    assert_eq!(
        post(a.addr, "/hook", &flow(b"x"), b"forged").await.status,
        401
    );
    assert_eq!(redis.dbsize(), keys, "nothing stored for forgeries");
    let first = body(0);
    let replay = post(b.addr, "/hook", &flow(&first), &first).await;
    assert_eq!(replay.body, b"{\"error\":\"replayed\"}");

    wait_until(
        "every delivery at B's app",
        Duration::from_secs(40),
        async || app.count() >= 20,
    )
    .await;
    let seen = arrived(&app, &sent);
    assert_eq!(
        (seen.len(), app.count()),
        (20, 20),
        "each delivered once, to B's app"
    );
    assert!(
        a.logs()
            .iter()
            .any(|l| l.contains("delivery attempt failed"))
    );
    // Delivered deliveries leave Redis; their replay keys stay.
    wait_until("an empty queue", Duration::from_secs(5), async || {
        redis.cli(&["HGET", "hookgate:queue:stats", "deliveries"]) == "0"
    })
    .await;
    assert_eq!(
        redis.cli(&["XLEN", "hookgate:queue:s:orders"]),
        "0",
        "delivered entries deleted"
    );
    assert_eq!(redis.cli(&["KEYS", "hookgate:queue:d:*"]), "");
}

/// An app that reads requests and never answers.
async fn stalled_app() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

#[tokio::test]
async fn attempts_a_killed_replica_left_unfinished_are_claimed_by_another() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::durable(dir.path(), "always");
    let stalled = format!("http://{}", stalled_app().await);
    let app = Upstream::start().await;
    let mut a = start(
        dir.path(),
        "a",
        &stalled,
        ", claim_after_seconds: 3",
        &redis,
    );
    let sent = send(a.addr, 0..6).await;
    // A takes them (its app holds them), then dies mid-attempt.
    wait_until(
        "A's attempts in flight",
        Duration::from_secs(5),
        async || redis.cli(&["HGET", "hookgate:queue:stats", "in_flight:orders"]) == "4",
    )
    .await;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let killed = Instant::now();
    let b = start(
        dir.path(),
        "b",
        &format!("http://{}", app.addr),
        ", claim_after_seconds: 3",
        &redis,
    );
    wait_until(
        "every delivery at B's app",
        Duration::from_secs(20),
        async || app.count() >= 6,
    )
    .await;
    let seen = arrived(&app, &sent);
    assert_eq!(seen.len(), 6, "nothing acknowledged was lost");
    let claimed: Vec<_> = seen.values().filter(|&&attempt| attempt == 2).collect();
    eprintln!(
        "kill -9 of a replica: {} acknowledged, all delivered by the other, {} claimed at attempt 2, {:?} after the kill",
        seen.len(),
        claimed.len(),
        killed.elapsed()
    );
    assert_eq!(
        claimed.len(),
        4,
        "the dead replica's attempts count: {seen:?}"
    );
    assert!(
        killed.elapsed() >= Duration::from_millis(2500),
        "claimed only after claim_after_seconds"
    );
    // The dead replica's consumer, its attempts claimed, leaves the group; B's stays.
    wait_until(
        "the dead consumer reaped",
        Duration::from_secs(10),
        async || {
            redis
                .cli(&["XINFO", "CONSUMERS", "hookgate:queue:s:orders", "hookgate"])
                .matches("hookgate-")
                .count()
                == 1
        },
    )
    .await;
    drop(b);
}

#[tokio::test]
async fn every_acknowledged_delivery_survives_kill_9_of_redis_with_appendfsync_always() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::durable(dir.path(), "always");
    let app_addr = free_addr();
    let gw = start(
        dir.path(),
        "a",
        &format!("http://{app_addr}"),
        CLAIM_SOON,
        &redis,
    );
    let addr = gw.addr;
    let stored = |redis: &RedisServer| {
        redis
            .cli(&["HGET", "hookgate:queue:stats", "deliveries"])
            .parse::<usize>()
            .unwrap_or(0)
    };
    let mut sent = HashMap::new();
    const ROUNDS: u32 = 5;
    for round in 0..ROUNDS {
        // Senders in parallel; Redis is killed while they send.
        let senders: Vec<_> = (0..4u32)
            .map(|s| {
                tokio::spawn(async move {
                    let mut acknowledged = HashMap::new();
                    for n in 0..400u32 {
                        let body = body(round * 10_000 + s * 1000 + n);
                        let reply = post(addr, "/hook", &flow(&body), &body).await;
                        if reply.status == 200 {
                            acknowledged.insert(queued_id(&reply), body);
                        }
                    }
                    acknowledged
                })
            })
            .collect();
        let before = stored(&redis);
        wait_until("some accepted", Duration::from_secs(10), async || {
            stored(&redis) > before + 60
        })
        .await;
        redis.stop();
        for sender in senders {
            sent.extend(sender.await.unwrap());
        }
        redis.restart();
    }
    let app = Upstream::start_on(app_addr).await;
    let total = sent.len();
    assert!(
        total > 60 * ROUNDS as usize && total < 1600 * ROUNDS as usize,
        "Redis died mid-run each round: {total} acknowledged"
    );
    wait_until(
        "every acknowledged delivery",
        Duration::from_secs(60),
        async || arrived(&app, &sent).len() >= total,
    )
    .await;
    // The figures, for the record (`--nocapture`): stored but unanswered ones arrive too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    eprintln!(
        "kill -9 of redis-server, {ROUNDS} rounds: {total} acknowledged, all delivered; {} requests reached the app",
        app.count()
    );
}

#[tokio::test]
async fn weak_settings_are_refused_until_fixed_or_opted_into() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::durable(dir.path(), "everysec");
    let app = Upstream::start().await;
    let strict = start(dir.path(), "a", &format!("http://{}", app.addr), "", &redis);
    let refused = post(strict.addr, "/hook", &flow(b"1"), b"1").await;
    assert_eq!(
        (refused.status, refused.body.as_slice()),
        (503, &b"{\"error\":\"queue_unsafe\"}"[..])
    );
    strict.log_line("appendfsync is `everysec`").await;
    let admin = strict.admin();
    wait_until("readyz to say why", Duration::from_secs(5), async || {
        String::from_utf8_lossy(&get(admin, "/readyz").await.body).contains("appendfsync")
    })
    .await;
    for (setting, value, says) in [
        ("appendonly", "no", "appendonly"),
        ("maxmemory-policy", "allkeys-lru", "noeviction"),
    ] {
        redis.cli(&["CONFIG", "SET", "appendfsync", "always"]);
        redis.cli(&["CONFIG", "SET", setting, value]);
        strict.log_line(says).await;
        assert_eq!(
            post(strict.addr, "/hook", &flow(b"2"), b"2").await.status,
            503
        );
        redis.cli(&[
            "CONFIG",
            "SET",
            setting,
            if setting == "appendonly" {
                "yes"
            } else {
                "noeviction"
            },
        ]);
    }
    // Fixed: accepted again, without a restart.
    wait_until("accepting once fixed", Duration::from_secs(5), async || {
        post(strict.addr, "/hook", &flow(b"3"), b"3").await.status == 200
    })
    .await;

    // Opted in: accepted, with a warning and a count. A process kill of Redis loses nothing
    // here, because what Redis wrote sits in the kernel's page cache; what everysec can lose is
    // the last second on a machine crash or power loss, which no test on one machine causes.
    redis.cli(&["CONFIG", "SET", "appendfsync", "everysec"]);
    let weak = start(
        dir.path(),
        "b",
        &format!("http://{}", app.addr),
        ", allow_weak_durability: true",
        &redis,
    );
    let sent = send(weak.addr, 0..30).await;
    weak.log_line("accepting them anyway").await;
    let scrape =
        metrics::parse(&String::from_utf8(get(weak.admin(), "/metrics").await.body).unwrap());
    assert_eq!(
        scrape.value("hookgate_queue_weak_durability_writes_total{}"),
        30.0
    );
    redis.stop();
    redis.restart();
    wait_until(
        "the opted-in deliveries",
        Duration::from_secs(20),
        async || arrived(&app, &sent).len() >= 30,
    )
    .await;
}

#[tokio::test]
async fn with_redis_down_durable_routes_answer_503_and_every_replica_recovers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::durable(dir.path(), "always");
    let app = Upstream::start().await;
    let a = start(dir.path(), "a", &format!("http://{}", app.addr), "", &redis);
    let b = start(dir.path(), "b", &format!("http://{}", app.addr), "", &redis);
    assert_eq!(post(a.addr, "/hook", &flow(b"0"), b"0").await.status, 200);
    // Delivered first: an attempt whose take Redis applied but never answered waits for
    // claim_after_seconds, which is not what this test is about.
    wait_until("the first delivery", Duration::from_secs(5), async || {
        app.count() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.stop();
    // Only A is asked anything while Redis is down.
    let down = post(a.addr, "/hook", &flow(b"1"), b"1").await;
    assert_eq!(
        (down.status, down.body.as_slice()),
        (503, &b"{\"error\":\"queue_unavailable\"}"[..])
    );
    wait_until("A not ready", Duration::from_secs(5), async || {
        get(a.admin(), "/readyz").await.status == 503
    })
    .await;
    redis.restart();
    // The first request after Redis is back is served, on each replica.
    for (gw, n) in [(&a, b"2"), (&b, b"3")] {
        let reply = post(gw.addr, "/hook", &flow(n), n).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    wait_until("delivered", Duration::from_secs(10), async || {
        app.count() >= 3
    })
    .await;
}

#[tokio::test]
async fn near_maxmemory_senders_hear_queue_full_and_nothing_accepted_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::durable(dir.path(), "always");
    redis.cli(&["CONFIG", "SET", "maxmemory", "8mb"]);
    let app_addr = free_addr();
    let gw = start(dir.path(), "a", &format!("http://{app_addr}"), "", &redis);
    let mut sent = HashMap::new();
    let mut full = 0;
    for n in 0..400u32 {
        let mut big = body(n);
        big.resize(64 << 10, n as u8);
        let reply = post(gw.addr, "/hook", &flow(&big), &big).await;
        match reply.status {
            200 => {
                sent.insert(queued_id(&reply), big);
            }
            503 => {
                assert_eq!(
                    reply.body,
                    b"{\"error\":\"queue_full\"}",
                    "{reply:?} {:?}",
                    gw.logs()
                        .iter()
                        .filter(|l| l.contains("queue store"))
                        .collect::<Vec<_>>()
                );
                full += 1;
                if full >= 5 {
                    break;
                }
            }
            other => panic!("{other}: {reply:?}"),
        }
        // Let the once-a-second look at Redis's memory catch up now and then.
        if n % 16 == 15 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    assert!(full >= 5, "queue_full before 400 x 64 KiB in an 8 MB Redis");
    assert!(sent.len() > 20, "{} accepted", sent.len());
    let app = Upstream::start_on(app_addr).await;
    wait_until(
        "every accepted delivery",
        Duration::from_secs(60),
        async || arrived(&app, &sent).len() >= sent.len(),
    )
    .await;
    wait_until("room again", Duration::from_secs(10), async || {
        let body = b"{\"after\":1}";
        post(gw.addr, "/hook", &flow(body), body).await.status == 200
    })
    .await;
}

#[tokio::test]
async fn where_the_server_has_waitaof_each_accept_waits_for_the_fsync_instead() {
    let dir = tempfile::tempdir().unwrap();
    // Valkey 8 speaks Redis 7.2: everysec plus WAITAOF 1 0 per accept is durable.
    let mut valkey = RedisServer::durable_valkey(dir.path(), "everysec");
    let app_addr = free_addr();
    let gw = start(
        dir.path(),
        "a",
        &format!("http://{app_addr}"),
        CLAIM_SOON,
        &valkey,
    );
    let sent = send(gw.addr, 0..50).await;
    gw.log_line("\"waitaof\":true").await;
    valkey.stop();
    valkey.restart();
    let app = Upstream::start_on(app_addr).await;
    wait_until("every delivery", Duration::from_secs(30), async || {
        arrived(&app, &sent).len() >= 50
    })
    .await;
    // The settings are still checked: no append-only file, no durability.
    valkey.cli(&["CONFIG", "SET", "appendonly", "no"]);
    gw.log_line("appendonly is `no`").await;
    let refused = post(gw.addr, "/hook", &flow(b"late"), b"late").await;
    assert_eq!(refused.body, b"{\"error\":\"queue_unsafe\"}");
}

#[tokio::test]
async fn the_queue_cli_lists_redrives_and_purges_deliveries_held_in_redis() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::durable(dir.path(), "always");
    let app = Upstream::start().await;
    app.answer(500);
    let url = redis.url();
    let file = config_with(
        &format!("http://{}", app.addr),
        &format!(", control_socket: {}", dir.path().join("q.sock").display()),
        "retry: { first_seconds: 1, max_seconds: 1, give_up_after_seconds: 1 }",
    )
    .write_as(dir.path(), "a.yaml");
    let gw = Binary::start(&file, &[("REDIS_URL", url.as_str())]);
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(crate::support::bin())
            .arg("--config")
            .arg(&file)
            .arg("queue")
            .args(args)
            .env("REDIS_URL", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let mut ids = Vec::new();
    for body in [b"{\"a\":1}", b"{\"a\":2}"] {
        ids.push(queued_id(&post(gw.addr, "/hook", &flow(body), body).await));
    }
    wait_until("two dead deliveries", Duration::from_secs(15), async || {
        cli(&["list", "--state", "dead", "--json"]).len() == 2
    })
    .await;
    let dead = cli(&["list", "--state", "dead", "--json"]);
    assert!(
        dead.iter()
            .all(|row| row["attempts"].as_u64() >= Some(1) && row["last_status"] == 500),
        "{dead:?}"
    );
    app.answer(200);
    let before = app.count();
    assert_eq!(cli(&["redrive", &ids[0], "--json"]).len(), 1);
    wait_until(
        "the redriven delivery",
        Duration::from_secs(10),
        async || app.count() > before,
    )
    .await;
    assert_eq!(cli(&["purge", &ids[1], "--json"]).len(), 1);
    wait_until("an empty queue", Duration::from_secs(5), async || {
        cli(&["list", "--json"]).is_empty()
    })
    .await;
    assert_eq!(
        redis.cli(&["HGET", "hookgate:queue:stats", "deliveries"]),
        "0"
    );
}
