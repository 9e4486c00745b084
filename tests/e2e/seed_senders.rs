//! Every seed preset, end to end: what verifies is forwarded byte for byte; what does not is
//! answered 401 and never forwarded.

use crate::support::sign::{SEEDS, sign};
use crate::support::{InProcess, NOW, Upstream, one_route, post};

const SECRET: &str = "seed-secret";
const BODY: &[u8] = br#"{"event":"order.created","id":42,"note":"caf\u00e9"}"#;

async fn gateway(provider: &str, secrets: &[&str]) -> (Upstream, InProcess) {
    let upstream = Upstream::start().await;
    let list: Vec<String> = secrets.iter().map(|s| format!("\"{s}\"")).collect();
    let config = one_route(
        &upstream,
        &format!(
            "    provider: {provider}\n    secrets: [{}]\n",
            list.join(", ")
        ),
    );
    let gateway = config.in_process().await;
    (upstream, gateway)
}

#[tokio::test]
async fn valid_deliveries_are_forwarded_byte_for_byte() {
    for (provider, _) in SEEDS {
        let (upstream, gw) = gateway(provider, &[SECRET]).await;
        let mut headers = sign(provider, &[SECRET], BODY, NOW);
        headers.push(("X-Custom".into(), "kept as is".into()));
        headers.push(("Connection".into(), "close, X-Hop".into()));
        headers.push(("X-Hop".into(), "dropped".into()));
        let reply = post(gw.addr, "/hook?a=1&b=%20x", &headers, BODY).await;
        assert_eq!(reply.status, 200, "{provider}: {reply:?}");
        assert_eq!(
            reply.body, b"upstream says hi",
            "{provider}: the upstream's body comes back"
        );
        assert_eq!(
            reply.header("x-upstream").as_deref(),
            Some("yes"),
            "{provider}"
        );

        let received = upstream.received();
        assert_eq!(received.len(), 1, "{provider}");
        let got = &received[0];
        assert_eq!(got.method, "POST");
        assert_eq!(
            got.uri, "/hook?a=1&b=%20x",
            "{provider}: path and query unchanged"
        );
        assert_eq!(&got.body[..], BODY, "{provider}: body byte for byte");
        for (name, value) in headers
            .iter()
            .filter(|(n, _)| n != "Connection" && n != "X-Hop")
        {
            assert_eq!(
                got.headers.get(name).map(|v| v.as_bytes()),
                Some(value.as_bytes()),
                "{provider}: header {name}"
            );
        }
        assert_eq!(
            got.headers["host"], "gateway.test",
            "{provider}: Host is the sender's"
        );
        assert_eq!(got.headers["content-length"], BODY.len().to_string());
        assert!(
            got.headers.get("x-hop").is_none() && got.headers.get("connection").is_none(),
            "{provider}: hop-by-hop stripped"
        );
        assert_eq!(got.headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(got.headers["x-forwarded-proto"], "http");
    }
}

#[tokio::test]
async fn one_changed_body_byte_is_rejected_and_not_forwarded() {
    for (provider, _) in SEEDS {
        let (upstream, gw) = gateway(provider, &[SECRET]).await;
        let headers = sign(provider, &[SECRET], BODY, NOW);
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 0x01;
        let reply = post(gw.addr, "/hook", &headers, &tampered).await;
        assert_eq!(reply.status, 401, "{provider}");
        assert_eq!(
            reply.body, br#"{"error":"signature_mismatch"}"#,
            "{provider}"
        );
        assert_eq!(upstream.count(), 0, "{provider}: nothing forwarded");
    }
}

#[tokio::test]
async fn missing_garbage_and_wrong_secret_signatures_are_rejected() {
    for (provider, _) in SEEDS {
        let (upstream, gw) = gateway(provider, &[SECRET]).await;
        let good = sign(provider, &[SECRET], BODY, NOW);
        let signature_header = good.last().unwrap().0.clone();

        let without: Vec<_> = good
            .iter()
            .filter(|(n, _)| *n != signature_header)
            .cloned()
            .collect();
        let reply = post(gw.addr, "/hook", &without, BODY).await;
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (401, &br#"{"error":"signature_missing"}"#[..]),
            "{provider}"
        );

        for garbage in ["sha256=", "zzzz", "t=1,v1=@@@", "v1=,t=", "\u{e9}\u{e9}"] {
            let mut bad = without.clone();
            bad.push((signature_header.clone(), garbage.to_owned()));
            let reply = post(gw.addr, "/hook", &bad, BODY).await;
            assert_eq!(reply.status, 401, "{provider} {garbage:?}");
        }

        let wrong = sign(provider, &["not-the-secret"], BODY, NOW);
        let reply = post(gw.addr, "/hook", &wrong, BODY).await;
        assert_eq!(
            (reply.status, reply.body.as_slice()),
            (401, &br#"{"error":"signature_mismatch"}"#[..]),
            "{provider}"
        );
        assert_eq!(upstream.count(), 0, "{provider}: nothing forwarded");
    }
}

#[tokio::test]
async fn non_utf8_bytes_in_the_signature_header_are_a_401() {
    let (upstream, gw) = gateway("flow", &[SECRET]).await;
    let request = b"POST /hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-flow-signature: sha-256=\xff\xfe\r\ncontent-length: 2\r\n\r\n{}".to_vec();
    let reply = crate::support::raw(gw.addr, &request).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (401, &br#"{"error":"signature_malformed"}"#[..])
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn stale_and_future_timestamps_are_rejected() {
    for (provider, timestamped) in SEEDS.into_iter().filter(|(_, t)| *t) {
        assert!(timestamped);
        let (upstream, gw) = gateway(provider, &[SECRET]).await;
        for (ts, status) in [
            (NOW - 301, 401),
            (NOW + 301, 401),
            (NOW - 300, 200),
            (NOW + 300, 200),
        ] {
            let reply = post(gw.addr, "/hook", &sign(provider, &[SECRET], BODY, ts), BODY).await;
            assert_eq!(reply.status, status, "{provider} at {}", ts - NOW);
            if status == 401 {
                assert_eq!(reply.body, br#"{"error":"timestamp_out_of_tolerance"}"#);
            }
        }
        assert_eq!(
            upstream.count(),
            2,
            "{provider}: only the in-tolerance deliveries"
        );
    }
}

#[tokio::test]
async fn replays_are_rejected_and_forwarded_once() {
    for (provider, _) in SEEDS {
        let (upstream, gw) = gateway(provider, &[SECRET]).await;
        let headers = sign(provider, &[SECRET], BODY, NOW);
        assert_eq!(
            post(gw.addr, "/hook", &headers, BODY).await.status,
            200,
            "{provider}"
        );
        let again = post(gw.addr, "/hook", &headers, BODY).await;
        assert_eq!(
            (again.status, again.body.as_slice()),
            (401, &br#"{"error":"replayed"}"#[..]),
            "{provider}"
        );
        assert_eq!(upstream.count(), 1, "{provider}: forwarded once");
    }
}

#[tokio::test]
async fn a_replay_with_uppercase_hex_is_still_a_replay() {
    let (upstream, gw) = gateway("flow", &[SECRET]).await;
    let headers = sign("flow", &[SECRET], BODY, NOW);
    assert_eq!(post(gw.addr, "/hook", &headers, BODY).await.status, 200);
    let bare = headers[0].1.trim_start_matches("sha-256=").to_uppercase();
    let disguised = vec![(headers[0].0.clone(), bare)];
    assert_eq!(post(gw.addr, "/hook", &disguised, BODY).await.status, 401);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn with_two_secrets_either_passes() {
    for (provider, _) in SEEDS {
        let (upstream, gw) = gateway(provider, &["old-secret", "new-secret"]).await;
        for (i, secret) in ["old-secret", "new-secret"].into_iter().enumerate() {
            let body = format!("{{\"n\":{i}}}");
            let reply = post(
                gw.addr,
                "/hook",
                &sign(provider, &[secret], body.as_bytes(), NOW),
                body.as_bytes(),
            )
            .await;
            assert_eq!(reply.status, 200, "{provider} with {secret}");
        }
        assert_eq!(upstream.count(), 2, "{provider}");
    }
}

#[tokio::test]
async fn upstream_failure_releases_the_replay_reservation_for_the_retry() {
    for (provider, _) in SEEDS {
        let (upstream, gw) = gateway(provider, &[SECRET]).await;
        let headers = sign(provider, &[SECRET], BODY, NOW);
        upstream.answer(500);
        let first = post(gw.addr, "/hook", &headers, BODY).await;
        assert_eq!(
            first.status, 500,
            "{provider}: the upstream's status comes back, never a 2xx"
        );
        upstream.answer(200);
        let retry = post(gw.addr, "/hook", &headers, BODY).await;
        assert_eq!(retry.status, 200, "{provider}: the identical retry passes");
        assert_eq!(
            post(gw.addr, "/hook", &headers, BODY).await.status,
            401,
            "{provider}: then it is a replay"
        );
        assert_eq!(upstream.count(), 2, "{provider}");
    }
}

#[tokio::test]
async fn empty_and_non_utf8_bodies_verify() {
    for (provider, _) in SEEDS {
        let (upstream, gw) = gateway(provider, &[SECRET]).await;
        let binary: &[u8] = b"\x00\xff\xfe\x80binary\r\n\r\n";
        for body in [&b""[..], binary] {
            let reply = post(
                gw.addr,
                "/hook",
                &sign(provider, &[SECRET], body, NOW),
                body,
            )
            .await;
            assert_eq!(reply.status, 200, "{provider} {body:?}");
        }
        let received = upstream.received();
        assert_eq!(&received[0].body[..], b"");
        assert_eq!(&received[1].body[..], binary);
    }
}

#[tokio::test]
async fn nopcommerce_echo_handshake_is_answered_by_the_gateway() {
    let (upstream, gw) = gateway("nopcommerce", &[SECRET]).await;
    let reply = crate::support::raw(
        gw.addr,
        b"GET /hook?echo=5f1c2a9e0b7d4c3f HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, b"5f1c2a9e0b7d4c3f");
    let reply = crate::support::raw(
        gw.addr,
        b"GET /hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(upstream.count(), 0, "the app never sees the handshake");

    // Other presets do not answer it: GET is not a delivery.
    let (upstream, gw) = gateway("flow", &[SECRET]).await;
    let reply = crate::support::raw(
        gw.addr,
        b"GET /hook?echo=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow").as_deref(), Some("POST"));
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn handshake_can_be_turned_off() {
    let upstream = Upstream::start().await;
    let config = one_route(
        &upstream,
        "    provider: nopcommerce\n    secrets: [x]\n    handshake: false\n",
    );
    let gw = config.in_process().await;
    let reply = crate::support::raw(
        gw.addr,
        b"GET /hook?echo=1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn patchworks_ripemd128_route() {
    let upstream = Upstream::start().await;
    let config = one_route(
        &upstream,
        "    provider: patchworks\n    algorithm: ripemd128\n    secrets: [Jefe]\n",
    );
    let gw = config.in_process().await;
    // RFC 2286 test case 2.
    let body = b"what do ya want for nothing?";
    let headers = vec![(
        "X-HMAC-HASH".to_owned(),
        "875f828862b6b334b427c55f9f7ff09b".to_owned(),
    )];
    assert_eq!(post(gw.addr, "/hook", &headers, body).await.status, 200);
    let sha = sign("patchworks", &["Jefe"], body, NOW);
    assert_eq!(
        post(gw.addr, "/hook", &sha, body).await.status,
        401,
        "SHA-256 is not accepted on a RIPEMD-128 route"
    );
    assert_eq!(upstream.count(), 1);
}
