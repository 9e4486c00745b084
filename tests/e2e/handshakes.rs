//! Every handshake through a running gateway: answered by the route itself as each sender
//! documents, never forwarded; signed ones only after they verify; `handshake: false` turns
//! each off so the app sees the request instead.

use base64::Engine;

use crate::support::sign::hmac_sha256;
use crate::support::{
    GatewayConfig, InProcess, NOW, Reply, Upstream, one_route, post, raw, request,
};

const SECRET: &str = "handshake-secret";

async fn gateway(route: &str) -> (Upstream, InProcess) {
    let upstream = Upstream::start().await;
    let gw = one_route(&upstream, route).in_process().await;
    (upstream, gw)
}

fn preset(provider: &str) -> String {
    format!("    provider: {provider}\n    secrets: ['{SECRET}']\n")
}

async fn get(gw: &InProcess, target: &str, headers: &[(String, String)]) -> Reply {
    raw(gw.addr, &request("GET", target, headers, b"")).await
}

fn h(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn assert_answer(reply: &Reply, content_type: &str, body: &str, what: &str) {
    assert_eq!(reply.status, 200, "{what}: {reply:?}");
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some(content_type),
        "{what}"
    );
    assert_eq!(
        reply.header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(String::from_utf8_lossy(&reply.body), body, "{what}");
}

#[tokio::test]
async fn unsigned_handshakes_are_answered_before_any_body() {
    let text = "text/plain; charset=utf-8";
    let cases: [(&str, &str, &str); 3] = [
        ("nopcommerce", "/hook?echo=4f1c%2Bz", "4f1c+z"),
        ("dropbox", "/hook?challenge=JYT8sAkcb4", "JYT8sAkcb4"),
        (
            "meta",
            "/hook?hub.mode=subscribe&hub.verify_token=vt-123&hub.challenge=1158201444",
            "1158201444",
        ),
    ];
    for (provider, target, want) in cases {
        let route = format!("{}    verify_token: vt-123\n", preset(provider));
        let route = if provider == "meta" {
            route
        } else {
            preset(provider)
        };
        let (upstream, gw) = gateway(&route).await;
        assert_answer(&get(&gw, target, &[]).await, text, want, provider);
        assert_eq!(upstream.count(), 0, "{provider}");
    }

    let (upstream, gw) = gateway(&format!("{}    verify_token: vt-123\n", preset("meta"))).await;
    let wrong = get(
        &gw,
        "/hook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
        &[],
    )
    .await;
    assert_eq!(wrong.status, 403, "{wrong:?}");
    assert_eq!(
        String::from_utf8_lossy(&wrong.body),
        r#"{"error":"handshake_refused"}"#
    );
    assert_eq!(upstream.count(), 0);

    // Microsoft Graph validates with a POST carrying the token in the query.
    let route = "    provider: msgraph\n    secrets: ['graph-client-state']\n";
    let (upstream, gw) = gateway(route).await;
    let reply = post(
        gw.addr,
        "/hook?validationToken=Validation%3A+Testing+client",
        &[],
        b"",
    )
    .await;
    assert_answer(&reply, text, "Validation: Testing client", "msgraph");
    let notification =
        br#"{"value":[{"clientState":"graph-client-state","changeType":"created"}]}"#;
    assert_eq!(post(gw.addr, "/hook", &[], notification).await.status, 200);
    let forged = br#"{"value":[{"clientState":"guess","changeType":"created"}]}"#;
    assert_eq!(post(gw.addr, "/hook", &[], forged).await.status, 401);
    assert_eq!(
        upstream.count(),
        1,
        "only the real notification is forwarded"
    );

    let (upstream, gw) = gateway("    provider: okta\n    secrets: ['Bearer okta-secret']\n").await;
    let challenge = [h("X-Okta-Verification-Challenge", "X6Pn6Kn0mTvbX6YbtVLX")];
    let reply = get(&gw, "/hook", &challenge).await;
    assert_answer(
        &reply,
        "application/json",
        r#"{"verification":"X6Pn6Kn0mTvbX6YbtVLX"}"#,
        "okta",
    );
    assert_eq!(upstream.count(), 0);

    // Twitter/X: base64 HMAC-SHA256 of the crc_token under the consumer secret.
    let (upstream, gw) = gateway(&preset("twitter")).await;
    let proof = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(SECRET, b"crc-abc"));
    let reply = get(&gw, "/hook?crc_token=crc-abc", &[]).await;
    let want = format!(r#"{{"response_token":"sha256={proof}"}}"#);
    assert_answer(&reply, "application/json", &want, "twitter");
    assert_eq!(upstream.count(), 0);
}

/// Slack's, Zoom's and Twitch's signed handshake requests, signed as each documents.
fn signed(provider: &str, body: &[u8]) -> Vec<(String, String)> {
    let ts = NOW.to_string();
    match provider {
        "slack" | "zoom" => {
            let mut message = format!("v0:{ts}:").into_bytes();
            message.extend_from_slice(body);
            let sig = format!("v0={}", hex::encode(hmac_sha256(SECRET, &message)));
            if provider == "slack" {
                vec![
                    h("X-Slack-Signature", &sig),
                    h("X-Slack-Request-Timestamp", &ts),
                ]
            } else {
                vec![h("x-zm-signature", &sig), h("x-zm-request-timestamp", &ts)]
            }
        }
        "twitch" => {
            let id = "e76c6bd4-55c9-4987-8304-da1588d8988b";
            let stamp = hookgate::verify::format_rfc3339(NOW);
            let mut message = format!("{id}{stamp}").into_bytes();
            message.extend_from_slice(body);
            let sig = format!("sha256={}", hex::encode(hmac_sha256(SECRET, &message)));
            vec![
                h("Twitch-Eventsub-Message-Id", id),
                h("Twitch-Eventsub-Message-Timestamp", &stamp),
                h("Twitch-Eventsub-Message-Signature", &sig),
                h(
                    "Twitch-Eventsub-Message-Type",
                    "webhook_callback_verification",
                ),
            ]
        }
        _ => unreachable!("{provider}"),
    }
}

#[tokio::test]
async fn signed_handshakes_are_answered_only_once_they_verify() {
    let slack = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let zoom = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let twitch = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow","version":"1"}}"#;
    let zoom_answer = format!(
        r#"{{"encryptedToken":"{}","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}"#,
        hex::encode(hmac_sha256(SECRET, b"qgg8vlvZRS6UYooatFL8Aw"))
    );
    let cases: [(&str, &[u8], &str, &str); 3] = [
        (
            "slack",
            slack,
            "text/plain; charset=utf-8",
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        ),
        ("zoom", zoom, "application/json", &zoom_answer),
        (
            "twitch",
            twitch,
            "text/plain; charset=utf-8",
            "pogchamp-kappa-360noscope-vohiyo",
        ),
    ];
    for (provider, body, content_type, want) in cases {
        let (upstream, gw) = gateway(&preset(provider)).await;
        let headers = signed(provider, body);
        let reply = post(gw.addr, "/hook", &headers, body).await;
        assert_answer(&reply, content_type, want, provider);
        let unsigned: Vec<_> = headers
            .iter()
            .filter(|(n, _)| !n.to_lowercase().contains("signature"))
            .cloned()
            .collect();
        assert_eq!(
            post(gw.addr, "/hook", &unsigned, body).await.status,
            401,
            "{provider}: unsigned"
        );
        assert_eq!(upstream.count(), 0, "{provider}: never forwarded");

        // With the handshake off, the verified request goes to the app like any other.
        let (upstream, gw) = gateway(&format!("{}    handshake: false\n", preset(provider))).await;
        let reply = post(gw.addr, "/hook", &headers, body).await;
        assert_eq!(reply.status, 200, "{provider}: {reply:?}");
        assert_eq!(upstream.count(), 1, "{provider}: forwarded when off");
    }
}

#[tokio::test]
async fn discord_ping_needs_a_valid_ed25519_signature() {
    use ring::signature::{Ed25519KeyPair, KeyPair};
    let pair = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
    let public_key = hex::encode(pair.public_key().as_ref());
    let route = format!("    provider: discord\n    public_key: {public_key}\n");
    let (upstream, gw) = gateway(&route).await;
    let ts = NOW.to_string();
    let sign = |body: &[u8]| {
        let mut message = ts.clone().into_bytes();
        message.extend_from_slice(body);
        vec![
            h(
                "X-Signature-Ed25519",
                &hex::encode(pair.sign(&message).as_ref()),
            ),
            h("X-Signature-Timestamp", &ts),
        ]
    };
    let ping = br#"{"type":1,"id":"1","application_id":"2","version":1}"#;
    let reply = post(gw.addr, "/hook", &sign(ping), ping).await;
    assert_answer(&reply, "application/json", r#"{"type":1}"#, "discord");
    let other = Ed25519KeyPair::from_seed_unchecked(&[8; 32]).unwrap();
    let mut forged = ts.clone().into_bytes();
    forged.extend_from_slice(ping);
    let forged = vec![
        h(
            "X-Signature-Ed25519",
            &hex::encode(other.sign(&forged).as_ref()),
        ),
        h("X-Signature-Timestamp", &ts),
    ];
    assert_eq!(post(gw.addr, "/hook", &forged, ping).await.status, 401);
    assert_eq!(upstream.count(), 0);
    let command = br#"{"type":2,"data":{"name":"hello"}}"#;
    assert_eq!(
        post(gw.addr, "/hook", &sign(command), command).await.status,
        200
    );
    assert_eq!(
        upstream.count(),
        1,
        "an application command goes to the app"
    );
}

/// The real binary, keys read from files as operators deploy them: a PEM public key
/// (Discord), a URL-signing sender (Twilio) and a signed handshake with an RFC 3339 timestamp
/// (Twitch), on the system clock.
#[tokio::test]
async fn the_binary_serves_public_key_url_and_rfc3339_routes_from_files() {
    use hmac::{Hmac, KeyInit, Mac};
    use ring::signature::{Ed25519KeyPair, KeyPair};

    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pair = Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap();
    let spki = [
        &[
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ][..],
        pair.public_key().as_ref(),
    ]
    .concat();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&spki)
    );
    std::fs::write(dir.path().join("discord.pem"), pem).unwrap();
    std::fs::write(dir.path().join("twilio.token"), "twilio-auth-token\n").unwrap();
    let config = GatewayConfig::new(&upstream)
        .route(
            "discord",
            "path: /discord\nprovider: discord\npublic_key: file:discord.pem",
        )
        .route(
            "twilio",
            "path: /twilio\nprovider: twilio\nsecrets: [file:twilio.token]\n\
             public_url: https://hooks.example.com/",
        )
        .route(
            "twitch",
            &format!("path: /twitch\nprovider: twitch\nsecrets: ['{SECRET}']"),
        )
        .write(dir.path());
    let gw = crate::support::Binary::start(&config, &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();

    let ping = br#"{"type":1}"#;
    let signature = pair.sign(&[now.as_bytes(), ping].concat());
    let headers = [
        h("X-Signature-Ed25519", &hex::encode(signature.as_ref())),
        h("X-Signature-Timestamp", &now),
    ];
    let reply = post(gw.addr, "/discord", &headers, ping).await;
    assert_answer(
        &reply,
        "application/json",
        r#"{"type":1}"#,
        "discord via the binary",
    );

    // Twilio: base64 HMAC-SHA1 over the public URL, path and query, then the sorted fields.
    let form = b"To=%2B15550002222&From=%2B15550001111&Body=hello+there";
    let signed =
        "https://hooks.example.com/twilio?x=1Bodyhello thereFrom+15550001111To+15550002222";
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(b"twilio-auth-token").unwrap();
    mac.update(signed.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let headers = [h("X-Twilio-Signature", &sig)];
    assert_eq!(
        post(gw.addr, "/twilio?x=1", &headers, form).await.status,
        200
    );
    assert_eq!(
        post(gw.addr, "/twilio?x=2", &headers, form).await.status,
        401,
        "URL is signed"
    );

    let stamp = hookgate::verify::format_rfc3339(now.parse().unwrap());
    let body = br#"{"challenge":"abc-123"}"#;
    let id = "3f2a7a70-binary";
    let message = [id.as_bytes(), stamp.as_bytes(), body].concat();
    let headers = [
        h("Twitch-Eventsub-Message-Id", id),
        h("Twitch-Eventsub-Message-Timestamp", &stamp),
        h(
            "Twitch-Eventsub-Message-Signature",
            &format!("sha256={}", hex::encode(hmac_sha256(SECRET, &message))),
        ),
        h(
            "Twitch-Eventsub-Message-Type",
            "webhook_callback_verification",
        ),
    ];
    let reply = post(gw.addr, "/twitch", &headers, body).await;
    assert_answer(
        &reply,
        "text/plain; charset=utf-8",
        "abc-123",
        "twitch via the binary",
    );
    // The same verification again is answered again; re-labelled as a notification (the
    // message type is not signed) it is a replay of a reserved id, and never reaches the app.
    let again = post(gw.addr, "/twitch", &headers, body).await;
    assert_answer(
        &again,
        "text/plain; charset=utf-8",
        "abc-123",
        "twitch repeated",
    );
    let mut relabelled = headers.to_vec();
    relabelled[3] = h("Twitch-Eventsub-Message-Type", "notification");
    let reply = post(gw.addr, "/twitch", &relabelled, body).await;
    assert_eq!(
        reply.status, 401,
        "a captured verification replayed as a notification: {reply:?}"
    );
    assert_eq!(reply.body, br#"{"error":"replayed"}"#);

    let received = upstream.received();
    assert_eq!(
        received.len(),
        1,
        "only the Twilio delivery reaches the app"
    );
    assert_eq!(&received[0].body[..], form);
}
