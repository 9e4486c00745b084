//! The request path without a listening socket: requests with in-memory bodies go through
//! `Gateway::handle`. The upstream is a closed port, so a request that reaches the forward
//! stage answers 502 `upstream_unreachable`, which tells "verified and forwarded" from
//! "refused" without an app.

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};

use super::*;
use crate::error::Rejection;
use crate::replay::{MemoryStore, ReplayStore};
use crate::route::Route;
use crate::verify::Tag;

const NOW: i64 = 1_800_000_000;

fn config(routes: &str) -> Config {
    // Port 9 on loopback: nothing listens, so forwarding fails fast with 502.
    let text = format!("listen: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nroutes:\n{routes}");
    Config::parse(&text, Path::new("t.yaml"), Path::new("."), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn gateway(routes: &str) -> Gateway {
    Gateway::new(config(routes), Clock::fixed(NOW)).unwrap()
}

fn peer() -> SocketAddr {
    "127.0.0.1:50000".parse().unwrap()
}

/// A Flow delivery of `body` to `path`, signed with `secret`.
fn flow(path: &str, secret: &str, body: &'static [u8]) -> Request<Full<Bytes>> {
    let sig = crate::verify::KeyedMac::new(crate::scheme::Algorithm::Sha256, secret.as_bytes())
        .tag_of(body);
    Request::post(path)
        .header(
            "x-flow-signature",
            format!("sha-256={}", hex::encode(sig.as_bytes())),
        )
        .body(Full::new(Bytes::from_static(body)))
        .unwrap()
}

async fn answer(gateway: &Gateway, request: Request<Full<Bytes>>) -> (StatusCode, String) {
    let response = gateway.handle(request, peer()).await;
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn exact_paths_win_then_the_longest_prefix() {
    let gw = gateway(
        "  - { name: exact, path: /a/b, provider: flow, secrets: [exact] }\n\
         \x20 - { name: short, path_prefix: /a/, provider: flow, secrets: [short] }\n\
         \x20 - { name: long, path_prefix: /a/b/, provider: flow, secrets: [long] }\n",
    );
    // Each path verifies only with the secret of the route that should claim it.
    for (path, owner) in [
        ("/a/b", "exact"),
        ("/a/x", "short"),
        ("/a/b/c", "long"),
        ("/A/B/", "exact"),
    ] {
        for secret in ["exact", "short", "long"] {
            let (status, _) = answer(&gw, flow(path, secret, b"{}")).await;
            let verified = status == StatusCode::BAD_GATEWAY;
            assert_eq!(
                verified,
                secret == owner,
                "{path} with the {secret} secret: {status}"
            );
        }
    }
    assert_eq!(
        answer(&gw, flow("/b", "exact", b"{}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn observe_mode_forwards_each_observable_rejection_and_enforce_refuses_it() {
    let route = |mode: &str| {
        format!(
            "  - name: r\n    path: /hook\n    provider: timestamped-v1\n    secrets: [s]\n    mode: {mode}\n"
        )
    };
    let signed = |ts: i64, body: &'static [u8]| {
        let mut message = body.to_vec();
        message.extend_from_slice(ts.to_string().as_bytes());
        let sig =
            crate::verify::KeyedMac::new(crate::scheme::Algorithm::Sha256, b"s").tag_of(&message);
        use base64::Engine;
        let sig = base64::engine::general_purpose::STANDARD.encode(sig.as_bytes());
        format!("t={ts},v1={sig}")
    };
    let request = |header: Option<String>| {
        let mut builder = Request::post("/hook");
        if let Some(value) = header {
            builder = builder.header("X-Webhook-Signature", value);
        }
        builder.body(Full::new(Bytes::from_static(b"{}"))).unwrap()
    };
    let cases: [(&str, Option<String>); 6] = [
        ("signature_missing", None),
        ("signature_malformed", Some(format!("t={NOW},v1=%%%"))),
        (
            "signature_mismatch",
            Some(format!(
                "t={NOW},v1=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
            )),
        ),
        ("timestamp_missing", Some("v1=AAAA".to_owned())),
        ("timestamp_malformed", Some("t=soon,v1=AAAA".to_owned())),
        (
            "timestamp_out_of_tolerance",
            Some(signed(NOW - 10_000, b"{}")),
        ),
    ];
    let observing = gateway(&route("observe"));
    let enforcing = gateway(&route("enforce"));
    for (reason, header) in cases {
        let (status, body) = answer(&enforcing, request(header.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{reason}: {body}");
        assert_eq!(body, format!("{{\"error\":\"{reason}\"}}"));
        let (status, _) = answer(&observing, request(header)).await;
        assert_eq!(
            status,
            StatusCode::BAD_GATEWAY,
            "{reason} is forwarded in observe mode"
        );
    }
    // `replayed`, `in_flight` and `replay_store_unavailable` are observable by the same
    // table row (`error::tests`); the replay step's own tests below cover how they arise.
    // Limits apply in every mode: a wrong method is refused while observing.
    let get = Request::get("/hook").body(Full::new(Bytes::new())).unwrap();
    assert_eq!(
        answer(&observing, get).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

fn route(duplicates: &str) -> Route {
    let config = config(&format!(
        "  - {{ name: r, path: /hook, provider: flow, secrets: [s], duplicates: {duplicates} }}\n"
    ));
    config.routes.into_routes().remove(0)
}

fn verified(n: u8) -> crate::verify::Verified {
    crate::verify::Verified {
        secret_index: 0,
        timestamp: None,
        fingerprint: Tag::from([n; 32]),
    }
}

#[tokio::test]
async fn a_reservation_is_kept_on_2xx_and_given_back_otherwise_or_when_cancelled() {
    let store: Arc<dyn ReplayStore> = Arc::new(MemoryStore::new(100));
    let metrics = Metrics::new();
    let r = route("reject");
    let take = |n| {
        let (store, metrics, r) = (&store, &metrics, &r);
        async move {
            let key = replay_step::key_until(r, &verified(n), NOW);
            replay_step::reserve(store, metrics, r, key, NOW).await
        }
    };
    // 2xx: kept, so the same delivery is a replay.
    let Ok(replay_step::Taken::Forward(first)) = take(1).await else {
        panic!()
    };
    replay_step::settle(&metrics, &r, first, true).await;
    assert!(matches!(take(1).await, Err(Rejection::Replayed)));
    // Not 2xx: given back before the sender hears, so its retry passes.
    let Ok(replay_step::Taken::Forward(first)) = take(2).await else {
        panic!()
    };
    replay_step::settle(&metrics, &r, first, false).await;
    assert!(matches!(
        take(2).await,
        Ok(replay_step::Taken::Forward(Some(_)))
    ));
    // Cancelled mid-flight (dropped unsettled): given back in the background.
    let Ok(replay_step::Taken::Forward(first)) = take(3).await else {
        panic!()
    };
    drop(first);
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    assert!(matches!(
        take(3).await,
        Ok(replay_step::Taken::Forward(Some(_)))
    ));
}

#[tokio::test]
async fn duplicates_are_acknowledged_once_answered_and_in_flight_before() {
    let store: Arc<dyn ReplayStore> = Arc::new(MemoryStore::new(100));
    let metrics = Metrics::new();
    let r = route("acknowledge");
    let delivery = verified(9);
    let key = replay_step::key_until(&r, &delivery, NOW);
    let take = || replay_step::reserve(&store, &metrics, &r, key, NOW);
    let Ok(replay_step::Taken::Forward(first)) = take().await else {
        panic!()
    };
    assert!(
        matches!(take().await, Err(Rejection::InFlight)),
        "its first copy has no answer"
    );
    replay_step::settle(&metrics, &r, first, true).await;
    assert!(matches!(take().await, Ok(replay_step::Taken::Duplicate)));
    let reject = route("reject");
    let key = replay_step::key_until(&reject, &delivery, NOW);
    let Err(Rejection::Replayed) = replay_step::reserve(&store, &metrics, &reject, key, NOW).await
    else {
        panic!("a rejecting route refuses the duplicate")
    };
}
