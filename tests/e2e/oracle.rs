//! The forgery oracle of an unsigned MAC handshake, attacked through the real binary: X's CRC
//! answers HMAC(secret, crc_token) to anyone, so a token equal to a delivery's signed payload
//! would hand out that delivery's signature. Tokens that could be a payload are refused, every
//! delivery whose payload a token could be is refused, and handshakes are rate limited.

use base64::Engine;

use crate::support::sign::hmac_sha256;
use crate::support::{Binary, Upstream, get, post};

const SECRET: &str = "x-consumer-secret";

fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.unwrap().as_secs()).unwrap()
}

/// The `sha256=<base64>` value a CRC answer carries.
fn response_token(body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    json["response_token"].as_str().unwrap().to_owned()
}

fn query_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_crc_handshake_signs_no_delivery() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.yaml");
    // A second route shares the secret and signs `{timestamp}{body}`: a token of digits
    // followed by text would be its payload.
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nlog_format: json\nupstream: http://{}\nroutes:\n\
             \x20 - name: x\n    path: /x\n    provider: twitter\n    secrets: ['{SECRET}']\n\
             \x20 - name: ts\n    path: /ts\n    secrets: ['{SECRET}']\n    scheme:\n\
             \x20     signature_header: X-Sig\n      timestamp_header: X-Ts\n      signed_payload: '{{timestamp}}{{body}}'\n",
            upstream.addr
        ),
    )
    .unwrap();
    let gw = Binary::start(&config, &[]);

    // A real delivery still passes, and the CRC is answered as X documents.
    let event = br#"{"for_user_id":"2244994945","tweet_create_events":[]}"#;
    let sig = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(SECRET, event));
    let signed = [(
        "x-twitter-webhooks-signature".into(),
        format!("sha256={sig}"),
    )];
    assert_eq!(post(gw.addr, "/x", &signed, event).await.status, 200);
    assert_eq!(upstream.count(), 1);
    let crc = get(gw.addr, "/x?crc_token=NzM0NTc1NDk0Nzg5NTE2Nzk1").await;
    assert_eq!(crc.status, 200, "{crc:?}");
    let want = hmac_sha256(SECRET, b"NzM0NTc1NDk0Nzg5NTE2Nzk1");
    let want = base64::engine::general_purpose::STANDARD.encode(want);
    assert_eq!(response_token(&crc.body), format!("sha256={want}"));

    // Attack 1: ask the CRC to sign a JSON event. Refused: no MAC comes back.
    let forged = r#"{"for_user_id":"1","direct_message_events":[{"text":"pay me"}]}"#;
    let reply = get(gw.addr, &format!("/x?crc_token={}", query_encode(forged))).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body, br#"{"error":"handshake_malformed"}"#);

    // Attack 2: a token-shaped "body" is answered, but its MAC verifies as no delivery, on the
    // twitter route nor on the route sharing its secret.
    for (path, token, body, headers) in [
        (
            "/x",
            "forgedbody".to_owned(),
            "forgedbody".to_owned(),
            Vec::new(),
        ),
        (
            "/ts",
            format!("{}abc", now()),
            "abc".to_owned(),
            vec![("X-Ts".to_owned(), now().to_string())],
        ),
    ] {
        let answer = get(gw.addr, &format!("/x?crc_token={token}")).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let mac = response_token(&answer.body);
        let mac = mac.strip_prefix("sha256=").unwrap();
        let mut headers = headers;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(mac)
            .unwrap();
        let value = if path == "/x" {
            format!("sha256={mac}")
        } else {
            hex::encode(raw)
        };
        let name = if path == "/x" {
            "x-twitter-webhooks-signature"
        } else {
            "X-Sig"
        };
        headers.push((name.to_owned(), value));
        let reply = post(gw.addr, path, &headers, body.as_bytes()).await;
        assert_eq!(reply.status, 401, "{path}: {reply:?}");
        assert_eq!(reply.body, br#"{"error":"signature_mismatch"}"#, "{path}");
    }
    assert_eq!(upstream.count(), 1, "a forgery reached the app");

    // Handshakes are rate limited per route: a burst, then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..40 {
        let reply = get(gw.addr, "/x?crc_token=abc").await;
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let limited = limited.expect("40 handshakes in a row were all answered");
    assert!(limited.header("retry-after").is_some(), "{limited:?}");
}
