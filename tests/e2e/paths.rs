//! Path confusion, attacked through the real binary: apps normalize a path before they route
//! it, so every spelling of a strict route's path must meet that route here, and the app must
//! receive exactly the normalized path that was matched and verified.

use crate::support::sign::sign;
use crate::support::{Binary, GatewayConfig, Upstream, post, raw};

const STRICT: &str = "strict-secret";

/// A strict route at /webhooks/orders, a partner's prefix and an observe-mode catch-all that
/// forwards whatever it sees: the weaker routes an attacker would aim for.
fn start(upstream: &Upstream) -> (tempfile::TempDir, Binary) {
    GatewayConfig::new(upstream)
        .flow("orders", "/webhooks/orders", STRICT)
        .route(
            "partner",
            "path_prefix: /partner-a/\nprovider: flow\nsecrets: [partner-secret]",
        )
        .route(
            "catchall",
            "path_prefix: /\nprovider: flow\nsecrets: [other]\nmode: observe",
        )
        .binary(&[])
}

fn raw_post(target: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST {target} HTTP/1.1\r\nhost: gateway.test\r\nconnection: close\r\n{extra}content-length: 2\r\n\r\n{{}}"
    )
    .into_bytes()
}

#[tokio::test]
async fn every_spelling_of_a_strict_path_meets_the_strict_route() {
    let upstream = Upstream::start().await;
    let (_dir, gw) = start(&upstream);

    // Spellings an app routes to /webhooks/orders: unsigned, each meets the strict route (401).
    for target in [
        "/webhooks/%6frders",
        "/webhooks/%6Frders",
        "/partner-a/../webhooks/orders",
        "/partner-a/%2e%2e/webhooks/orders",
        "/a/%2E%2E/webhooks/./orders",
        "//webhooks//orders",
        "/webhooks/orders/",
        "/Webhooks/ORDERS",
    ] {
        let reply = raw(gw.addr, &raw_post(target, "")).await;
        assert_eq!(reply.status, 401, "{target}: {reply:?}");
        assert_eq!(reply.body, br#"{"error":"signature_missing"}"#, "{target}");
    }
    // What cannot be normalized safely is refused before any route sees it.
    for target in [
        "/partner-a/..%2fwebhooks/orders",
        "/partner-a/..%2Fwebhooks%2forders",
        "/partner-a/..%5Cwebhooks/orders",
        "/partner-a/..;/webhooks/orders",
        "/webhooks/orders;x=1",
        "/../webhooks/orders",
        "/partner-a/%2e%2e/%2e%2e/webhooks/orders",
        "http://gateway.test/webhooks/orders",
        "http://gateway.test/partner-a/../webhooks/orders",
    ] {
        let reply = raw(gw.addr, &raw_post(target, "")).await;
        assert_eq!(reply.status, 400, "{target}: {reply:?}");
    }
    // A raw backslash is refused too, by hyper's parser or by the path check.
    let reply = raw(gw.addr, &raw_post("/partner-a/..\\webhooks\\orders", "")).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(upstream.count(), 0, "{:?}", upstream.received());

    // A signed delivery under an equivalent spelling is forwarded with the normalized path,
    // the query untouched, and the path-override headers removed.
    let body = br#"{"order":1}"#;
    let mut headers = sign("flow", &[STRICT], body, 0);
    for name in ["X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override"] {
        headers.push((name.to_owned(), "/admin/delete".to_owned()));
    }
    let reply = post(
        gw.addr,
        "/partner-a/../webhooks/%6frders?x=%2F",
        &headers,
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let got = upstream.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].uri, "/webhooks/orders?x=%2F");
    assert_eq!(&got[0].body[..], body);
    for name in ["x-original-url", "x-rewrite-url", "x-http-method-override"] {
        assert!(!got[0].headers.contains_key(name), "{name} reached the app");
    }
    // The catch-all still observes what no stricter route claims.
    let reply = raw(gw.addr, &raw_post("/elsewhere/%7Ex", "")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(upstream.received()[1].uri, "/elsewhere/~x");
}
