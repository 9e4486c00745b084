//! Fireblocks webhooks v2 end to end, against a local stand-in for `keys.fireblocks.io` (a
//! real https server with a certificate for Fireblocks' hosts): every vector of
//! `vectors.json` verifies under the key its `kid` names in the published key set, fetched
//! once, and reaches the app byte for byte; a replay, a tampered body, an unknown `kid` and
//! a token without one are refused, and a key set that cannot be had is a 503.

use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::support::keyserver::KeyServer;
use crate::support::{Binary, GatewayConfig, Upstream, post};

const HOSTS: &[&str] = &["keys.fireblocks.io", "keys.eu1.fireblocks.io"];
const SIGNATURE: &str = "Fireblocks-Webhook-Signature";

struct World {
    keys: KeyServer,
    upstream: Upstream,
    gateway: Binary,
    vectors: Vec<(String, Vec<u8>)>,
    set_path: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// The key server serving the vectors' key set at `served` (a path on either host), an
/// app, and the real binary with a `fireblocks-v2` route at /hook, plus `extra` route keys.
async fn world(served: &str, extra: &str) -> World {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vectors.json"
    ))
    .unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let provider = all
        .iter()
        .find(|p| p["provider"] == "fireblocks-v2")
        .unwrap();
    let raw = provider["vectors"].as_array().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyServer::start(dir.path(), HOSTS).await;
    keys.serve(served, raw[0]["jwks"].as_str().unwrap().to_owned());
    let upstream = Upstream::start().await;
    let (name, value) = keys.env();
    let (config_dir, gateway) = GatewayConfig::new(&upstream)
        .route(
            "fireblocks",
            &format!("path: /hook\nprovider: fireblocks-v2\n{extra}"),
        )
        .binary(&[(&name, &value)]);
    let vectors = raw
        .iter()
        .map(|v| {
            let token = v["headers"][SIGNATURE].as_str().unwrap().to_owned();
            (token, v["body"].as_str().unwrap().as_bytes().to_vec())
        })
        .collect();
    World {
        keys,
        upstream,
        gateway,
        vectors,
        set_path: served.to_owned(),
        _dirs: (dir, config_dir),
    }
}

fn headers(token: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        (SIGNATURE.into(), token.into()),
    ]
}

/// The token with its protected header replaced by `header` (JSON), signature kept.
fn reheader(token: &str, header: &str) -> String {
    let signature = token.rsplit('.').next().unwrap();
    format!("{}..{signature}", URL_SAFE_NO_PAD.encode(header))
}

const DEFAULT_SET: &str = "/.well-known/jwks.json";

#[tokio::test]
async fn every_fireblocks_vector_passes_once_and_tampered_copies_do_not() {
    let w = world(DEFAULT_SET, "").await;
    assert!(w.vectors.len() >= 3);
    for (i, (token, body)) in w.vectors.iter().enumerate() {
        let reply = post(w.gateway.addr, "/hook", &headers(token), body).await;
        assert_eq!(reply.status, 200, "vector {i}: {reply:?}");
        assert_eq!(&w.upstream.received()[i].body[..], &body[..], "vector {i}");
        let again = post(w.gateway.addr, "/hook", &headers(token), body).await;
        assert_eq!(again.status, 401, "vector {i}: replay");
        let mut tampered = body.clone();
        tampered.extend_from_slice(b" ");
        let reply = post(w.gateway.addr, "/hook", &headers(token), &tampered).await;
        assert_eq!(reply.status, 401, "vector {i}: tampered");
        assert_eq!(
            w.upstream.count(),
            i + 1,
            "vector {i}: nothing else forwarded"
        );
    }
    let fetches = w.keys.seen();
    assert_eq!(fetches.len(), 1, "one key set fetch: {fetches:?}");
    assert_eq!(fetches[0].target, w.set_path);
    assert_eq!(fetches[0].host, "keys.fireblocks.io");
}

#[tokio::test]
async fn an_unknown_kid_another_algorithm_or_no_kid_is_refused() {
    let w = world(DEFAULT_SET, "").await;
    let (token, body) = &w.vectors[0];
    let no_kid = reheader(token, r#"{"alg":"RS512"}"#);
    let reply = post(w.gateway.addr, "/hook", &headers(&no_kid), body).await;
    assert_eq!(reply.status, 401, "no kid: {reply:?}");
    assert_eq!(reply.body, b"{\"error\":\"signature_malformed\"}");
    let none = reheader(token, r#"{"alg":"none","kid":"hookgate-vectors-2026-01"}"#);
    let reply = post(w.gateway.addr, "/hook", &headers(&none), body).await;
    assert_eq!(reply.status, 401, "alg none: {reply:?}");
    assert!(w.keys.seen().is_empty(), "neither needs the key set");
    let unknown = reheader(token, r#"{"alg":"RS512","kid":"made-up"}"#);
    for _ in 0..3 {
        let reply = post(w.gateway.addr, "/hook", &headers(&unknown), body).await;
        assert_eq!(reply.status, 401, "unknown kid: {reply:?}");
    }
    assert_eq!(w.keys.seen().len(), 1, "made-up ids cost one fetch");
    let reply = post(w.gateway.addr, "/hook", &headers(token), body).await;
    assert_eq!(reply.status, 200, "the genuine one still passes: {reply:?}");
    assert_eq!(w.keys.seen().len(), 1);
    assert_eq!(w.upstream.count(), 1);
}

#[tokio::test]
async fn a_route_names_its_region_s_key_set() {
    let url = "https://keys.eu1.fireblocks.io/v1/jwks.json";
    let w = world("/v1/jwks.json", &format!("jwks_url: {url}\n")).await;
    let (token, body) = &w.vectors[1];
    let reply = post(w.gateway.addr, "/hook", &headers(token), body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let fetches = w.keys.seen();
    assert_eq!(fetches.len(), 1);
    assert_eq!(fetches[0].host, "keys.eu1.fireblocks.io");
    assert_eq!(fetches[0].target, "/v1/jwks.json");
}

#[tokio::test]
async fn an_unreachable_key_set_is_a_503_worth_retrying() {
    let w = world(DEFAULT_SET, "").await;
    w.keys.fail_with.store(503, Ordering::SeqCst);
    let (token, body) = &w.vectors[0];
    for _ in 0..3 {
        let reply = post(w.gateway.addr, "/hook", &headers(token), body).await;
        assert_eq!(reply.status, 503, "{reply:?}");
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            "{\"error\":\"key_unavailable\"}"
        );
    }
    assert_eq!(
        w.keys.seen().len(),
        1,
        "a failure is remembered for a while"
    );
    assert_eq!(w.upstream.count(), 0);
}
