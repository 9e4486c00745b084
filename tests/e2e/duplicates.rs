//! `duplicates: acknowledge`: a sender's retry of a delivery the app already took is answered
//! 200 without reaching the app; one whose first copy is still in flight is told to retry;
//! one whose first copy failed is forwarded. In-process with the memory store, and across two
//! real gateway processes sharing a real `redis-server`.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::redis::redis_config;
use crate::support::redis::RedisServer;
use crate::support::sign::sign;
use crate::support::{Binary, NOW, Upstream, get, metrics, one_route, post};

/// A Standard Webhooks secret: `whsec_` + base64 of the key bytes.
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const FLOW_SECRET: &str = "dup-flow-secret-5e1d";

/// Signs like a Standard Webhooks sender, independently of hookgate: every attempt, retries
/// included, carries the message id, its own timestamp and a fresh signature.
fn standard(id: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(WHSEC.trim_start_matches("whsec_")).unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let signature = b64.encode(mac.finalize().into_bytes());
    vec![
        ("webhook-id".to_owned(), id.to_owned()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), format!("v1,{signature}")),
    ]
}

const DUPLICATE: &[u8] = b"{\"status\":\"duplicate\"}";

#[tokio::test]
async fn a_retry_of_an_answered_delivery_is_acknowledged_without_reaching_the_app() {
    let upstream = Upstream::start().await;
    let config = one_route(
        &upstream,
        &format!("provider: standard-webhooks\nsecrets: [{WHSEC}]\nduplicates: acknowledge"),
    )
    .route(
        "strict",
        &format!("path: /strict\nprovider: standard-webhooks\nsecrets: [{WHSEC}]"),
    );
    let gateway = config.in_process().await;
    let body = b"{\"type\":\"invoice.paid\"}";

    let first = post(gateway.addr, "/hook", &standard("msg_1", NOW, body), body).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(upstream.count(), 1);
    // The sender lost our 200 and retries: same id, later timestamp, new signature.
    let retry = post(
        gateway.addr,
        "/hook",
        &standard("msg_1", NOW + 30, body),
        body,
    )
    .await;
    assert_eq!((retry.status, retry.body.as_slice()), (200, DUPLICATE));
    assert_eq!(
        retry.header("content-type").as_deref(),
        Some("application/json")
    );
    // A byte-for-byte replay of the first attempt is a duplicate too: it reaches nothing.
    let replay = post(gateway.addr, "/hook", &standard("msg_1", NOW, body), body).await;
    assert_eq!((replay.status, replay.body.as_slice()), (200, DUPLICATE));
    // Verification still comes first: a forged copy of the id is refused as forged.
    let mut forged = standard("msg_1", NOW, body);
    forged[2].1 = "v1,AAAA".to_owned();
    let forged = post(gateway.addr, "/hook", &forged, body).await;
    assert_eq!(forged.status, 401);
    assert_eq!(upstream.count(), 1, "only the first copy was forwarded");

    // The default answers the same retry 401, as a replay.
    let strict = post(gateway.addr, "/strict", &standard("msg_1", NOW, body), body).await;
    assert_eq!(strict.status, 200);
    let strict = post(
        gateway.addr,
        "/strict",
        &standard("msg_1", NOW + 30, body),
        body,
    )
    .await;
    assert_eq!(
        (strict.status, strict.body.as_slice()),
        (401, &b"{\"error\":\"replayed\"}"[..])
    );

    // A first copy the app refused is no reason to refuse its retry: forwarded again.
    upstream.answer(500);
    let failed = post(gateway.addr, "/hook", &standard("msg_2", NOW, body), body).await;
    assert_eq!(failed.status, 500);
    upstream.answer(200);
    let retry = post(
        gateway.addr,
        "/hook",
        &standard("msg_2", NOW + 60, body),
        body,
    )
    .await;
    assert_eq!(
        (retry.status, retry.body.as_slice()),
        (200, &b"upstream says hi"[..]),
        "the app's own answer"
    );
    assert_eq!(upstream.count(), 4);
}

#[tokio::test]
async fn a_retry_while_the_first_copy_is_in_flight_is_told_to_retry() {
    let upstream = Upstream::start().await;
    upstream
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let config = one_route(
        &upstream,
        &format!(
            "    provider: standard-webhooks\n    secrets: [{WHSEC}]\n    duplicates: acknowledge\n"
        ),
    );
    let gateway = config.in_process().await;
    let body = b"{\"slow\":true}";
    let addr = gateway.addr;
    let first =
        tokio::spawn(async move { post(addr, "/hook", &standard("msg_9", NOW, body), body).await });
    upstream.wait_for(1).await;
    let early = post(addr, "/hook", &standard("msg_9", NOW + 1, body), body).await;
    assert_eq!(
        (early.status, early.body.as_slice()),
        (409, &b"{\"error\":\"in_flight\"}"[..])
    );
    assert_eq!(early.header("retry-after").as_deref(), Some("1"));
    assert_eq!(first.await.unwrap().status, 200);
    let late = post(addr, "/hook", &standard("msg_9", NOW + 2, body), body).await;
    assert_eq!((late.status, late.body.as_slice()), (200, DUPLICATE));
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn replicas_sharing_redis_acknowledge_each_others_answered_deliveries() {
    let redis = RedisServer::start();
    let upstream = Upstream::start().await;
    upstream
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let url = redis.url();
    let env = [("SECRET", FLOW_SECRET), ("REDIS_URL", url.as_str())];
    // A Flow route: no timestamp, so a retry is the identical signed request.
    let acknowledge = "    duplicates: acknowledge\n";
    let a = Binary::start(
        &redis_config(&upstream)
            .with(acknowledge)
            .write_as(dir.path(), "a.yaml"),
        &env,
    );
    let b = Binary::start(
        &redis_config(&upstream)
            .with(acknowledge)
            .write_as(dir.path(), "b.yaml"),
        &env,
    );
    let body = b"{\"order\":7}";
    let headers = sign("flow", &[FLOW_SECRET], body, 0);

    let (a_addr, sent) = (a.addr, headers.clone());
    let first = tokio::spawn(async move { post(a_addr, "/hook", &sent, body).await });
    upstream.wait_for(1).await;
    let early = post(b.addr, "/hook", &headers, body).await;
    assert_eq!(early.status, 409, "{early:?}");
    assert_eq!(first.await.unwrap().status, 200);
    let late = post(b.addr, "/hook", &headers, body).await;
    assert_eq!((late.status, late.body.as_slice()), (200, DUPLICATE));
    assert_eq!(upstream.count(), 1);
    assert_eq!(redis.dbsize(), 1);

    let scrape = metrics::parse(&String::from_utf8(get(b.admin(), "/metrics").await.body).unwrap());
    let requests = |outcome: &str, reason: &str| {
        scrape.value(&format!(
            "hookgate_requests_total{{outcome=\"{outcome}\",reason=\"{reason}\",route=\"orders\"}}"
        ))
    };
    assert_eq!(requests("duplicate", ""), 1.0);
    assert_eq!(requests("rejected", "in_flight"), 1.0);
    assert_eq!(requests("forwarded", ""), 0.0);
    let line = b.wait_for_log("\"outcome\":\"duplicate\"");
    assert!(line.contains("\"status\":200"), "{line}");
}

/// A sender's later copy of the same message id, re-signed with a newer timestamp, could be
/// accepted until its own timestamp goes stale: it must keep the id reserved that long, past
/// the first copy's expiry. Both duplicate modes, the memory store (pinned clock) and a real
/// Redis (whose expiries are real seconds, so the clock moves with real time).
#[tokio::test]
async fn a_re_signed_copy_keeps_its_id_reserved_past_the_first_copys_expiry() {
    let redis = RedisServer::start();
    for (store, duplicates) in [
        ("", "reject"),
        ("", "acknowledge"),
        ("redis", "reject"),
        ("redis", "acknowledge"),
    ] {
        let upstream = Upstream::start().await;
        let mut config = one_route(
            &upstream,
            &format!(
                "    provider: standard-webhooks\n    secrets: [{WHSEC}]\n    tolerance_seconds: 4\n    duplicates: {duplicates}\n"
            ),
        );
        if store == "redis" {
            config = config.top(&format!(
                "replay: {{ store: redis, redis_url: '{}' }}",
                redis.url()
            ));
        }
        let gateway = config.in_process().await;
        let what = format!("{store} {duplicates}");
        // Each case its own id: the Redis cases share one server.
        let id = format!("msg_{store}_{duplicates}");
        let body = b"{\"type\":\"invoice.paid\"}";
        // Real seconds pass only where Redis keeps the time.
        let pass = |seconds: f64| async move {
            if store == "redis" {
                tokio::time::sleep(std::time::Duration::from_secs_f64(seconds)).await;
            }
        };

        // The first copy: reserved until NOW + 4 + 1. The margins are a second and more either
        // side, so a loaded machine's late timers do not decide the outcome.
        let first = post(gateway.addr, "/hook", &standard(&id, NOW, body), body).await;
        assert_eq!(first.status, 200, "{what}: {first:?}");
        // Its re-signed retry at NOW + 2 is a duplicate, and raises the expiry to NOW + 7.
        pass(2.0).await;
        gateway.clock.set(NOW + 2);
        let retry = standard(&id, NOW + 2, body);
        let answer = post(gateway.addr, "/hook", &retry, body).await;
        assert!(matches!(answer.status, 200 | 401), "{what}: {answer:?}");
        // At NOW + 5.5 the first copy's reservation is gone, but the retry is still fresh.
        pass(3.5).await;
        gateway.clock.set(NOW + 5);
        let again = post(gateway.addr, "/hook", &retry, body).await;
        let want: &[u8] = if duplicates == "reject" {
            br#"{"error":"replayed"}"#
        } else {
            DUPLICATE
        };
        assert_eq!(again.body, want, "{what}: {again:?}");
        assert_eq!(
            upstream.count(),
            1,
            "{what}: the re-signed copy reached the app again"
        );
    }
}
