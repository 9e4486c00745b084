//! PayPal end to end, against a local stand-in for `api.sandbox.paypal.com` (a real https
//! server with a certificate for PayPal's API hosts): every vector of `vectors.json` verifies
//! under the certificate `PAYPAL-CERT-URL` names, fetched once, and reaches the app byte for
//! byte; a replay, a tampered body, another webhook id and a certificate URL pointing
//! anywhere else are refused with nothing fetched or forwarded.

use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::support::keyserver::KeyServer;
use crate::support::{Binary, GatewayConfig, Upstream, post};

const HOSTS: &[&str] = &[
    "api.paypal.com",
    "api-m.paypal.com",
    "api.sandbox.paypal.com",
    "api-m.sandbox.paypal.com",
];

struct Vector {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct World {
    keys: KeyServer,
    upstream: Upstream,
    gateway: Binary,
    vectors: Vec<Vector>,
    cert_path: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// The key server serving the vectors' certificate, an app, and the real binary with a
/// PayPal route for `webhook_id` at /hook.
async fn world(webhook_id: &str) -> World {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vectors.json"
    ))
    .unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let paypal = all.iter().find(|p| p["provider"] == "paypal").unwrap();
    let raw = paypal["vectors"].as_array().unwrap();
    let url: http::Uri = raw[0]["signing_cert_url"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyServer::start(dir.path(), HOSTS).await;
    keys.serve(
        url.path(),
        raw[0]["signing_cert"].as_str().unwrap().to_owned(),
    );
    let upstream = Upstream::start().await;
    let (name, value) = keys.env();
    // The vectors' times are fixed (2023, 2025): a tolerance that covers them.
    let (config_dir, gateway) = GatewayConfig::new(&upstream)
        .route(
            "paypal",
            &format!("path: /hook\nprovider: paypal\nwebhook_id: {webhook_id}\ntolerance_seconds: 999999999"),
        )
        .binary(&[(&name, &value)]);
    let vectors = raw
        .iter()
        .map(|v| Vector {
            headers: v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
            body: v["body"].as_str().unwrap().as_bytes().to_vec(),
        })
        .collect();
    World {
        keys,
        upstream,
        gateway,
        vectors,
        cert_path: url.path().to_owned(),
        _dirs: (dir, config_dir),
    }
}

fn with(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut out: Vec<_> = headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    out.push((name.to_owned(), value.to_owned()));
    out
}

#[tokio::test]
async fn every_paypal_vector_passes_once_and_tampered_copies_do_not() {
    let w = world("9XL90610J3647323C").await;
    assert!(w.vectors.len() >= 6);
    for (i, v) in w.vectors.iter().enumerate() {
        let reply = post(w.gateway.addr, "/hook", &v.headers, &v.body).await;
        assert_eq!(reply.status, 200, "vector {i}: {reply:?}");
        let received = w.upstream.received();
        assert_eq!(
            &received[i].body[..],
            &v.body[..],
            "vector {i}: byte for byte"
        );
        let again = post(w.gateway.addr, "/hook", &v.headers, &v.body).await;
        assert_eq!(again.status, 401, "vector {i}: replay");
        let mut tampered = v.body.clone();
        tampered.extend_from_slice(b" ");
        let fresh = with(&v.headers, "PAYPAL-TRANSMISSION-ID", &format!("t-{i}"));
        let reply = post(w.gateway.addr, "/hook", &fresh, &tampered).await;
        assert_eq!(reply.status, 401, "vector {i}: tampered");
        assert_eq!(
            w.upstream.count(),
            i + 1,
            "vector {i}: nothing else forwarded"
        );
    }
    let fetches = w.keys.seen();
    assert_eq!(fetches.len(), 1, "one certificate fetch: {fetches:?}");
    assert_eq!(fetches[0].target, w.cert_path);
    assert_eq!(fetches[0].host, "api.sandbox.paypal.com");
}

#[tokio::test]
async fn another_webhook_id_or_certificate_url_is_refused_without_a_fetch() {
    let w = world("SOMEONE-ELSES-WEBHOOK").await;
    let v = &w.vectors[0];
    let reply = post(w.gateway.addr, "/hook", &v.headers, &v.body).await;
    assert_eq!(
        reply.status, 401,
        "signed for another webhook id: {reply:?}"
    );
    let fetched = w.keys.seen().len();
    assert_eq!(fetched, 1, "a signature check needs the certificate");
    let port = w.keys.addr.port();
    let cert = &w.cert_path;
    for url in [
        format!("https://127.0.0.1:{port}{cert}"),
        format!("http://api.sandbox.paypal.com{cert}"),
        format!("https://api.sandbox.paypal.com.evil.example{cert}"),
        format!("https://evil.example{cert}"),
        format!("https://api.sandbox.paypal.com:{port}{cert}"),
        format!("https://paypal.com@127.0.0.1{cert}"),
        "https://api.sandbox.paypal.com/v1/oauth2/token".to_owned(),
        "https://api.sandbox.paypal.com/v1/notifications/certs/".to_owned(),
        format!("https://api.sandbox.paypal.com{cert}?x=1"),
    ] {
        let headers = with(&v.headers, "PAYPAL-CERT-URL", &url);
        let reply = post(w.gateway.addr, "/hook", &headers, &v.body).await;
        assert_eq!(reply.status, 401, "{url}: {reply:?}");
    }
    let mut twice = v.headers.clone();
    twice.push((
        "PAYPAL-CERT-URL".into(),
        "https://api.paypal.com/v1/notifications/certs/X".into(),
    ));
    let reply = post(w.gateway.addr, "/hook", &twice, &v.body).await;
    assert_eq!(reply.status, 401, "a repeated certificate URL: {reply:?}");
    assert_eq!(w.keys.seen().len(), fetched, "nothing more was fetched");
    assert_eq!(w.upstream.count(), 0);
}

#[tokio::test]
async fn an_unreachable_certificate_is_a_503_worth_retrying() {
    let w = world("9XL90610J3647323C").await;
    w.keys.fail_with.store(503, Ordering::SeqCst);
    let v = &w.vectors[0];
    let reply = post(w.gateway.addr, "/hook", &v.headers, &v.body).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        "{\"error\":\"key_unavailable\"}"
    );
    assert_eq!(w.upstream.count(), 0);
}
