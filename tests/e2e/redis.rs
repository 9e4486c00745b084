//! The shared replay store against a real `redis-server`: two gateway processes, Redis going
//! away and coming back, and release on upstream failure.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::redis::RedisServer;
use crate::support::sign::sign;
use crate::support::{Binary, GatewayConfig, Upstream, get, metrics, post};

const SECRET: &str = "redis-test-secret-91ac";

/// A config naming Redis through `env:REDIS_URL` and the secret through `env:SECRET`, as a
/// deployment would, with a Flow route `orders` at /hook.
pub fn redis_config(upstream: &Upstream) -> GatewayConfig {
    GatewayConfig::new(upstream)
        .admin()
        .top("replay: { store: redis, redis_url: env:REDIS_URL, timeout_ms: 300 }")
        .route(
            "orders",
            "path: /hook\nprovider: flow\nsecrets: [env:SECRET]",
        )
}

fn flow(body: &[u8]) -> Vec<(String, String)> {
    sign("flow", &[SECRET], body, 0)
}

/// Two gateway processes sharing `redis`, in front of `upstream`.
fn two_replicas(dir: &Path, redis: &RedisServer, upstream: &Upstream) -> (Binary, Binary) {
    let url = redis.url();
    let env = [("SECRET", SECRET), ("REDIS_URL", url.as_str())];
    (
        Binary::start(&redis_config(upstream).write_as(dir, "a.yaml"), &env),
        Binary::start(&redis_config(upstream).write_as(dir, "b.yaml"), &env),
    )
}

#[tokio::test]
async fn a_delivery_accepted_by_one_replica_is_a_replay_at_the_other() {
    let redis = RedisServer::start();
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_replicas(dir.path(), &redis, &upstream);
    let body = b"{\"order\":42}";
    assert_eq!(post(a.addr, "/hook", &flow(body), body).await.status, 200);
    let replay = post(b.addr, "/hook", &flow(body), body).await;
    assert_eq!(
        (replay.status, replay.body.as_slice()),
        (401, &b"{\"error\":\"replayed\"}"[..])
    );
    assert_eq!(post(a.addr, "/hook", &flow(body), body).await.status, 401);
    assert_eq!(upstream.count(), 1);
    assert_eq!(redis.dbsize(), 1, "one verified delivery, one key");

    // Forged deliveries never reach the store.
    for i in 0..20 {
        let forged = format!("{{\"forged\":{i}}}").into_bytes();
        assert_eq!(
            post(b.addr, "/hook", &flow(b"other"), &forged).await.status,
            401
        );
    }
    assert_eq!(redis.dbsize(), 1);
}

#[tokio::test]
async fn an_upstream_failure_releases_the_shared_reservation() {
    let redis = RedisServer::start();
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_replicas(dir.path(), &redis, &upstream);
    let body = b"{\"order\":7}";
    upstream.answer(503);
    assert_eq!(post(a.addr, "/hook", &flow(body), body).await.status, 503);
    assert_eq!(redis.dbsize(), 0, "released before the sender heard 503");
    upstream.answer(200);
    // The sender's retry may land on the other replica.
    assert_eq!(post(b.addr, "/hook", &flow(body), body).await.status, 200);
    assert_eq!(post(a.addr, "/hook", &flow(body), body).await.status, 401);
}

#[tokio::test]
async fn redis_down_fails_closed_and_recovers_without_a_restart() {
    let mut redis = RedisServer::start();
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let env = [("SECRET", SECRET), ("REDIS_URL", url.as_str())];
    let gateway = Binary::start(
        &redis_config(&upstream).write_as(dir.path(), "a.yaml"),
        &env,
    );
    let admin = gateway.admin();
    assert_eq!(
        post(gateway.addr, "/hook", &flow(b"1"), b"1").await.status,
        200
    );
    assert_eq!(get(admin, "/readyz").await.status, 200);

    redis.stop();
    let started = Instant::now();
    let down = post(gateway.addr, "/hook", &flow(b"2"), b"2").await;
    assert_eq!(down.status, 503, "{down:?}");
    assert_eq!(down.header("retry-after").as_deref(), Some("1"));
    assert_eq!(down.body, b"{\"error\":\"replay_store_unavailable\"}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by timeout_ms"
    );
    let ready = get(admin, "/readyz").await;
    assert_eq!(
        (ready.status, ready.body.as_slice()),
        (503, &b"not ready: replay store unreachable\n"[..])
    );
    assert_eq!(
        upstream.count(),
        1,
        "nothing forwarded while the store is down"
    );

    // Restarted empty, on the same port: the gateway reconnects by itself.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = post(gateway.addr, "/hook", &flow(b"2"), b"2").await;
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503);
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(admin, "/readyz").await.status, 200);
    let scrape = metrics::parse(&String::from_utf8(get(admin, "/metrics").await.body).unwrap());
    assert!(scrape.value("hookgate_replay_store_errors_total{operation=\"reserve\"}") >= 1.0);
    assert_eq!(
        scrape.value("hookgate_requests_total{outcome=\"rejected\",reason=\"replay_store_unavailable\",route=\"orders\"}"),
        scrape.value("hookgate_replay_store_errors_total{operation=\"reserve\"}")
    );
}

/// Replicas idle while Redis restarts hold connections that died meanwhile. Each one's first
/// delivery after Redis is back is accepted, not refused 503 because it found the dead
/// connection first; and the retry on a new connection does not take its own reservation for
/// a replay.
#[tokio::test]
async fn idle_replicas_accept_their_first_delivery_after_redis_restarts() {
    let mut redis = RedisServer::start();
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let env = [("SECRET", SECRET), ("REDIS_URL", url.as_str())];
    let replicas: Vec<Binary> = (0..3)
        .map(|i| {
            let config = redis_config(&upstream).write_as(dir.path(), &format!("r{i}.yaml"));
            Binary::start(&config, &env)
        })
        .collect();
    for (i, replica) in replicas.iter().enumerate() {
        let body = format!("{{\"warm\":{i}}}").into_bytes();
        assert_eq!(
            post(replica.addr, "/hook", &flow(&body), &body)
                .await
                .status,
            200
        );
    }
    for round in 0..2 {
        redis.restart();
        for (i, replica) in replicas.iter().enumerate() {
            let body = format!("{{\"round\":{round},\"replica\":{i}}}").into_bytes();
            let reply = post(replica.addr, "/hook", &flow(&body), &body).await;
            assert_eq!(reply.status, 200, "round {round}, replica {i}: {reply:?}");
            let again = post(replica.addr, "/hook", &flow(&body), &body).await;
            assert_eq!(again.status, 401, "still a replay afterwards");
        }
    }
    assert_eq!(upstream.count(), 9);
}

#[tokio::test]
async fn a_gateway_starts_while_redis_is_down_and_is_not_ready_until_it_answers() {
    let mut redis = RedisServer::start();
    redis.stop();
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let env = [("SECRET", SECRET), ("REDIS_URL", url.as_str())];
    let gateway = Binary::start(
        &redis_config(&upstream).write_as(dir.path(), "a.yaml"),
        &env,
    );
    let admin = gateway.admin();
    assert_eq!(get(admin, "/healthz").await.status, 200);
    assert_eq!(get(admin, "/readyz").await.status, 503);
    assert_eq!(
        post(gateway.addr, "/hook", &flow(b"1"), b"1").await.status,
        503
    );
    redis.restart();
    assert_eq!(get(admin, "/readyz").await.status, 200);
    assert_eq!(
        post(gateway.addr, "/hook", &flow(b"1"), b"1").await.status,
        200
    );
}

#[tokio::test]
async fn a_slow_redis_fails_closed_within_the_timeout_and_recovers() {
    let redis = RedisServer::start();
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let env = [("SECRET", SECRET), ("REDIS_URL", url.as_str())];
    let gateway = Binary::start(
        &redis_config(&upstream).write_as(dir.path(), "a.yaml"),
        &env,
    );
    assert_eq!(
        post(gateway.addr, "/hook", &flow(b"1"), b"1").await.status,
        200
    );
    // Redis stops answering for 2 s; the gateway's bound is 300 ms.
    let port = redis.port;
    let sleeper = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::io::Write::write_all(&mut stream, b"DEBUG SLEEP 2\r\n").unwrap();
        let mut buf = [0u8; 16];
        let _ = std::io::Read::read(&mut stream, &mut buf);
    });
    redis.wait_until_busy();
    let started = Instant::now();
    let slow = post(gateway.addr, "/hook", &flow(b"2"), b"2").await;
    assert_eq!(slow.status, 503);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        upstream.count(),
        1,
        "nothing forwarded while the store cannot answer"
    );
    sleeper.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while post(gateway.addr, "/hook", &flow(b"2"), b"2").await.status != 200 {
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(upstream.count(), 2);
}
