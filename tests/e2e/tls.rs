//! TLS on the listener (reloaded on SIGHUP) and to https upstreams, with certificates made
//! per test.

use crate::support::sign::sign;
use crate::support::tls::{Pki, tls_raw};
use crate::support::{Binary, GatewayConfig, Upstream, post, request};

const SECRET: &str = "tls-test-secret";

/// A Flow route `orders` at /hook in front of `upstream` (a URL), `top` added.
fn tls_config(upstream: &str, top: &str) -> GatewayConfig {
    GatewayConfig::to(upstream)
        .top(top)
        .top("timeouts: { upstream_seconds: 5 }")
        .flow("orders", "/hook", SECRET)
}

fn delivery(body: &[u8]) -> Vec<u8> {
    request("POST", "/hook", &sign("flow", &[SECRET], body, 0), body)
}

#[tokio::test]
async fn the_listener_serves_tls_and_reloads_its_certificate_on_sighup() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let first = Pki::new(dir.path(), "first");
    let tls = format!(
        "tls: {{ cert_file: {}, key_file: {} }}\n",
        first.cert_file.display(),
        first.key_file.display()
    );
    let config = tls_config(&format!("http://{}", upstream.addr), &tls).write(dir.path());
    let gateway = Binary::start(&config, &[]);

    let (reply, presented) = tls_raw(gateway.addr, &first.ca_pem, &delivery(b"{\"a\":1}"))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(presented, first.leaf_der);
    let received = upstream.received();
    assert_eq!(received[0].body.as_ref(), b"{\"a\":1}");
    assert_eq!(received[0].headers["x-forwarded-proto"], "https");
    let (tampered, _) = tls_raw(gateway.addr, &first.ca_pem, &{
        let mut r = delivery(b"{\"a\":2}");
        r.pop();
        r.push(b'3');
        r
    })
    .await
    .unwrap();
    assert_eq!(tampered.status, 401);
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert_eq!(post(gateway.addr, "/hook", &[], b"").await.status, 0);

    // Rotate: new files at the same paths, then SIGHUP. New connections get the new leaf.
    let second = Pki::new(dir.path(), "second");
    std::fs::copy(&second.cert_file, &first.cert_file).unwrap();
    std::fs::copy(&second.key_file, &first.key_file).unwrap();
    gateway.signal("HUP");
    gateway.wait_for_log("config reloaded");
    let (reply, presented) = tls_raw(gateway.addr, &second.ca_pem, &delivery(b"{\"b\":1}"))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(presented, second.leaf_der);
    let refused = tls_raw(gateway.addr, &first.ca_pem, &delivery(b"{\"c\":1}")).await;
    assert!(
        refused.is_err(),
        "the old CA no longer vouches for the listener"
    );
}

#[tokio::test]
async fn https_upstreams_are_trusted_through_upstream_ca_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path(), "upstream");
    let upstream = Upstream::start_tls(pki.server_config()).await;
    let url = format!("https://localhost:{}", upstream.addr.port());

    let trusted = tls_config(
        &url,
        &format!("upstream_ca_file: {}", pki.ca_file.display()),
    )
    .write(dir.path());
    let gateway = Binary::start(&trusted, &[]);
    let reply = crate::support::raw(gateway.addr, &delivery(b"{\"tls\":1}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(upstream.received()[0].body.as_ref(), b"{\"tls\":1}");
    drop(gateway);

    // Without the CA, the system roots do not know the test CA: 502, nothing delivered.
    let untrusted = tls_config(&url, "").write(dir.path());
    let gateway = Binary::start(&untrusted, &[]);
    let reply = crate::support::raw(gateway.addr, &delivery(b"{\"tls\":2}")).await;
    assert_eq!(reply.status, 502, "{reply:?}");
    assert_eq!(upstream.count(), 1);
    let log = gateway.wait_for_log("upstream request failed");
    assert!(log.to_lowercase().contains("certificate"), "{log}");
}
