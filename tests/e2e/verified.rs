//! What the app receives is what was verified: no hop may remove or double a header the
//! scheme read. Attacked through the real binary.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::support::sign::sign;
use crate::support::{GatewayConfig, Upstream, post, unix_now};

const KEY: &[u8] = b"verified-headers-key";

type Headers = Vec<(String, String)>;

/// Standard Webhooks headers for `body` under message id `id`.
fn standard(id: &str, body: &[u8]) -> Vec<(String, String)> {
    let ts = unix_now();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(KEY).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        ("webhook-id".to_owned(), id.to_owned()),
        ("webhook-timestamp".to_owned(), ts.to_string()),
        (
            "webhook-signature".to_owned(),
            format!("v1,{}", b64.encode(mac.finalize().into_bytes())),
        ),
    ]
}

fn h(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

#[tokio::test]
async fn no_hop_can_remove_or_double_a_header_the_scheme_read() {
    let upstream = Upstream::start().await;
    let whsec = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(KEY)
    );
    let (_dir, gw) = GatewayConfig::new(&upstream)
        .route(
            "sw",
            &format!("path: /sw\nprovider: standard-webhooks\nsecrets: ['{whsec}']"),
        )
        .flow("flow", "/flow", "flow-secret")
        .binary(&[]);
    let body = br#"{"type":"invoice.paid"}"#;

    let mut cases: Vec<(&str, &str, Headers)> = Vec::new();
    // `Connection` naming a signed header: a hop strips it after verification.
    let mut named = standard("msg_1", body);
    named.push(h("Connection", "keep-alive, Webhook-Id"));
    cases.push(("Connection names webhook-id", "/sw", named));
    let mut named = sign("flow", &["flow-secret"], body, 0);
    named.push(h("Connection", "x-flow-signature"));
    cases.push(("Connection names the signature", "/flow", named));
    let mut stamp = standard("msg_2", body);
    stamp.push(h("Connection", "webhook-timestamp"));
    cases.push(("Connection names the timestamp", "/sw", stamp));
    // A second copy of a signed header: verified as one, forwarded as two.
    let mut doubled = standard("msg_3", body);
    doubled.push(h("webhook-id", "msg_other"));
    cases.push(("a second webhook-id", "/sw", doubled));
    for (what, path, headers) in cases {
        let reply = post(gw.addr, path, &headers, body).await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        assert_eq!(reply.body, br#"{"error":"signature_malformed"}"#, "{what}");
    }
    assert_eq!(upstream.count(), 0, "{:?}", upstream.received());

    // Connection naming an unsigned header is fine: that header is hop-by-hop by request.
    let mut fine = standard("msg_4", body);
    fine.push(h("Connection", "x-trace"));
    fine.push(h("x-trace", "1"));
    let reply = post(gw.addr, "/sw", &fine, body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let got = &upstream.received()[0];
    assert_eq!(got.headers["webhook-id"], "msg_4");
    assert!(!got.headers.contains_key("x-trace"));
}

/// A Microsoft Graph batch verifies only when every notification carries the subscription's
/// clientState: a forged notification appended to a genuine one does not ride along.
#[tokio::test]
async fn a_graph_batch_is_verified_whole() {
    let upstream = Upstream::start().await;
    let (_dir, gw) = GatewayConfig::new(&upstream)
        .route(
            "graph",
            "path: /graph\nprovider: msgraph\nsecrets: [client-state-1]",
        )
        .binary(&[]);
    let json = [h("Content-Type", "application/json")];
    let genuine = r#"{"value":[{"subscriptionId":"s1","clientState":"client-state-1","changeType":"created"},{"subscriptionId":"s1","clientState":"client-state-1","changeType":"updated"}]}"#;
    assert_eq!(
        post(gw.addr, "/graph", &json, genuine.as_bytes())
            .await
            .status,
        200
    );
    for forged in [
        r#"{"value":[{"subscriptionId":"s1","clientState":"client-state-1"},{"subscriptionId":"evil","clientState":"guess"}]}"#,
        r#"{"value":[{"subscriptionId":"s1","clientState":"client-state-1"},{"subscriptionId":"evil"}]}"#,
    ] {
        let reply = post(gw.addr, "/graph", &json, forged.as_bytes()).await;
        assert_eq!(reply.status, 401, "{forged}: {reply:?}");
    }
    assert_eq!(upstream.count(), 1);
}

/// A sender cannot tell the app it is someone else: client-sent forwarding headers reach the
/// app only from a `trusted_proxies` peer.
#[tokio::test]
async fn forwarding_claims_reach_the_app_only_from_trusted_proxies() {
    for (trusted, kept) in [("", false), ("trusted_proxies: [127.0.0.0/8]\n", true)] {
        let upstream = Upstream::start().await;
        let (_dir, gw) = GatewayConfig::new(&upstream)
            .top(trusted)
            .flow("flow", "/flow", "flow-secret")
            .binary(&[]);
        let body = br#"{"order":1}"#;
        let mut headers = sign("flow", &["flow-secret"], body, 0);
        headers.push(h("X-Forwarded-For", "203.0.113.7"));
        headers.push(h("X-Real-IP", "203.0.113.7"));
        headers.push(h("Forwarded", "for=203.0.113.7;host=bank.example"));
        headers.push(h("X-Forwarded-Host", "bank.example"));
        assert_eq!(post(gw.addr, "/flow", &headers, body).await.status, 200);
        let got = &upstream.received()[0].headers;
        let xff = got["x-forwarded-for"].to_str().unwrap();
        if kept {
            assert_eq!(xff, "203.0.113.7, 127.0.0.1");
            assert_eq!(got["x-real-ip"], "203.0.113.7");
        } else {
            assert_eq!(xff, "127.0.0.1", "the peer alone");
            for name in ["x-real-ip", "forwarded", "x-forwarded-host"] {
                assert!(
                    !got.contains_key(name),
                    "{name} reached the app from an untrusted peer"
                );
            }
        }
    }
}
