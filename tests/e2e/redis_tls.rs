//! The shared replay store as managed Redis offers it: TLS (`rediss://`) verified against a
//! CA file, and an ACL user with a password, against a real `redis-server`.

use crate::redis::redis_config;
use crate::support::redis::{RedisServer, free_port};
use crate::support::sign::sign;
use crate::support::tls::Pki;
use crate::support::{Binary, Upstream, post};

const SECRET: &str = "redis-tls-test-secret-5d2e";

fn flow(body: &[u8]) -> Vec<(String, String)> {
    sign("flow", &[SECRET], body, 0)
}

fn tls_config(upstream: &Upstream, ca_file: &std::path::Path) -> crate::support::GatewayConfig {
    redis_config(upstream).top(&format!(
        "replay: {{ store: redis, redis_url: env:REDIS_URL, redis_ca_file: '{}', timeout_ms: 500 }}",
        ca_file.display()
    ))
}

#[tokio::test]
async fn rediss_verified_against_the_ca_file_works_and_another_ca_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "redis");
    let tls_port = free_port().to_string();
    let redis = RedisServer::start_with(
        &[
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            pki.cert_file.to_str().unwrap(),
            "--tls-key-file",
            pki.key_file.to_str().unwrap(),
            "--tls-ca-cert-file",
            pki.ca_file.to_str().unwrap(),
            "--tls-auth-clients",
            "no",
        ],
        None,
    );
    let upstream = Upstream::start().await;
    let url = format!("rediss://127.0.0.1:{tls_port}/0");
    let env = [("SECRET", SECRET), ("REDIS_URL", url.as_str())];
    let trusting = Binary::start(
        &tls_config(&upstream, &pki.ca_file).write_as(dir.path(), "a.yaml"),
        &env,
    );
    let body = b"{\"over\":\"tls\"}";
    assert_eq!(
        post(trusting.addr, "/hook", &flow(body), body).await.status,
        200
    );
    assert_eq!(
        post(trusting.addr, "/hook", &flow(body), body).await.status,
        401
    );
    assert_eq!(
        redis.dbsize(),
        1,
        "the key is in the server behind the TLS port"
    );

    // A gateway trusting another CA refuses the server's certificate: fail closed, 503.
    let other = Pki::new(dir.path(), "other");
    let doubting = Binary::start(
        &tls_config(&upstream, &other.ca_file).write_as(dir.path(), "b.yaml"),
        &env,
    );
    let body = b"{\"over\":\"doubt\"}";
    let refused = post(doubting.addr, "/hook", &flow(body), body).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.body, b"{\"error\":\"replay_store_unavailable\"}");
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn an_acl_user_authenticates_and_a_wrong_password_fails_closed_unlogged() {
    let password = "alice-pw-7f3c9e";
    let redis = RedisServer::start_with(
        &[
            "--user",
            "alice",
            "on",
            &format!(">{password}"),
            "~*",
            "&*",
            "+@all",
            "--user",
            "default",
            "off",
        ],
        Some(("alice", password)),
    );
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let good = format!("redis://alice:{password}@127.0.0.1:{}/0", redis.port);
    let gateway = Binary::start(
        &redis_config(&upstream).write_as(dir.path(), "a.yaml"),
        &[("SECRET", SECRET), ("REDIS_URL", good.as_str())],
    );
    let body = b"{\"as\":\"alice\"}";
    assert_eq!(
        post(gateway.addr, "/hook", &flow(body), body).await.status,
        200
    );
    assert_eq!(redis.dbsize(), 1);

    let wrong = "wrong-pw-81d0aa";
    let bad = format!("redis://alice:{wrong}@127.0.0.1:{}/0", redis.port);
    let refused_gateway = Binary::start(
        &redis_config(&upstream).write_as(dir.path(), "b.yaml"),
        &[("SECRET", SECRET), ("REDIS_URL", bad.as_str())],
    );
    let body = b"{\"as\":\"mallory\"}";
    let refused = post(refused_gateway.addr, "/hook", &flow(body), body).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    let logged = refused_gateway.log_line("replay store").await;
    assert!(logged.contains("authentication failed"), "{logged}");
    for line in refused_gateway.logs() {
        assert!(
            !line.contains(wrong),
            "the password reached the log: {line}"
        );
    }
    assert_eq!(upstream.count(), 1);
}
