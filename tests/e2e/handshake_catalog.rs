//! The handshakes of the second sender round, through a running gateway: each answered as its
//! sender documents and never forwarded, refused when its token is wrong, and, where it
//! answers a MAC or a digest, checked against one computed here independently.

use sha2::{Digest, Sha256};

use crate::support::sign::hmac_sha256;
use crate::support::{InProcess, NOW, Reply, Upstream, one_route, post, raw, request};

const SECRET: &str = "handshake-catalog-secret";

async fn gateway(route: &str) -> (Upstream, InProcess) {
    let upstream = Upstream::start().await;
    let gw = one_route(&upstream, route).in_process().await;
    (upstream, gw)
}

/// A route of a custom HMAC scheme that answers `handshake`, plus `extra` keys.
fn custom(handshake: &str, extra: &str) -> String {
    format!(
        "    secrets: ['{SECRET}']\n    scheme:\n      signature_header: X-Sig\n      handshake: {handshake}\n{extra}"
    )
}

fn h(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

async fn send(
    gw: &InProcess,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    raw(gw.addr, &request(method, target, headers, body)).await
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

#[tokio::test]
async fn probes_answer_head_and_get_with_an_empty_200() {
    for (provider, keys) in [
        ("trello", format!("    secrets: ['{SECRET}']\n    public_url: https://hooks.example.com\n")),
        ("circle", "    public_key: MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEjtGvWrl+uMfxbPoOzPvHDqMpVXUBnXDrIavdQ4WZ3YXXMuDUYbxXOCTqyx5UcY/jcIWThWPT4+1wvLnqXzPlzw==\n".to_owned()),
    ] {
        let (upstream, gw) = gateway(&format!("    provider: {provider}\n{keys}")).await;
        let reply = send(&gw, "HEAD", "/hook", &[], b"").await;
        assert_eq!(reply.status, 200, "{provider}: {reply:?}");
        assert!(reply.body.is_empty(), "{provider}");
        assert_eq!(send(&gw, "GET", "/hook", &[], b"").await.status, 405, "{provider}: GET is no probe");
        assert_eq!(upstream.count(), 0, "{provider}");
    }
    let (upstream, gw) = gateway(&custom("get_probe", "")).await;
    assert_eq!(send(&gw, "GET", "/hook", &[], b"").await.status, 200);
    assert_eq!(send(&gw, "HEAD", "/hook", &[], b"").await.status, 405);
    assert_eq!(upstream.count(), 0);
    // Off, the probe is an ordinary request: not a POST, so 405.
    let keys = format!(
        "    provider: trello\n    secrets: ['{SECRET}']\n    public_url: https://h.example\n    handshake: false\n"
    );
    let (_upstream, gw) = gateway(&keys).await;
    assert_eq!(send(&gw, "HEAD", "/hook", &[], b"").await.status, 405);
}

#[tokio::test]
async fn verify_token_checks_answer_only_the_configured_token() {
    let token = "    verify_token: strava-verify-0000\n";
    let (upstream, gw) = gateway(&custom("strava_subscribe", token)).await;
    let ok = "/hook?hub.mode=subscribe&hub.verify_token=strava-verify-0000&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3";
    let reply = send(&gw, "GET", ok, &[], b"").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        text(&reply),
        r#"{"hub.challenge":"15f7d1a91c1f40f8a748fd134752feb3"}"#
    );
    let wrong = ok.replace("strava-verify-0000", "guess");
    assert_eq!(send(&gw, "GET", &wrong, &[], b"").await.status, 403);

    let token = "    verify_token: oura-verify-0000\n";
    let (upstream2, gw) = gateway(&custom("oura_verification", token)).await;
    let reply = send(
        &gw,
        "GET",
        "/hook?verification_token=oura-verify-0000&challenge=c-42",
        &[],
        b"",
    )
    .await;
    assert_eq!(text(&reply), r#"{"challenge":"c-42"}"#, "{reply:?}");
    let wrong = send(
        &gw,
        "GET",
        "/hook?verification_token=x&challenge=c-42",
        &[],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 403);
    assert_eq!(upstream.count() + upstream2.count(), 0);
}

#[tokio::test]
async fn ebay_answers_the_digest_of_code_token_and_endpoint() {
    let token = "ebay-verification-token-0000-abcdefghijklmnop";
    let keys = format!("    verify_token: {token}\n    public_url: https://hooks.example.com/\n");
    let (upstream, gw) = gateway(&custom("ebay_challenge", &keys)).await;
    let reply = send(
        &gw,
        "GET",
        "/hook?challenge_code=a8628072-3d33-45ee-9004-bee86830a22d",
        &[],
        b"",
    )
    .await;
    let digest = Sha256::digest(
        format!("a8628072-3d33-45ee-9004-bee86830a22d{token}https://hooks.example.com/hook")
            .as_bytes(),
    );
    let want = format!(r#"{{"challengeResponse":"{}"}}"#, hex::encode(digest));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(text(&reply), want);
    assert_eq!(
        send(&gw, "GET", "/hook", &[], b"").await.status,
        400,
        "a GET without its code is a malformed handshake"
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn linkedin_proves_the_secret_only_for_token_shaped_codes() {
    let keys = format!("    provider: linkedin\n    secrets: ['{SECRET}']\n");
    let (upstream, gw) = gateway(&keys).await;
    let code = "890e4f5a-1df8-4a2c-9d3e-2a6f0c7b1d44";
    let reply = send(&gw, "GET", &format!("/hook?challengeCode={code}"), &[], b"").await;
    let proof = hex::encode(hmac_sha256(SECRET, code.as_bytes()));
    assert_eq!(
        text(&reply),
        format!(r#"{{"challengeCode":"{code}","challengeResponse":"{proof}"}}"#)
    );
    // A code that could be a signed payload is never MACed.
    let reply = send(
        &gw,
        "GET",
        "/hook?challengeCode=%7B%22a%22%3A1%7D",
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn header_challenges_are_echoed_where_each_sender_reads_them() {
    let (upstream, gw) = gateway(&format!(
        "    provider: smartsheet\n    secrets: ['{SECRET}']\n"
    ))
    .await;
    let body = br#"{"challenge":"d78dd1d3-01ce-4835-9f29-45c9d7b0c5a4","webhookId":1}"#;
    let challenge = [h(
        "Smartsheet-Hook-Challenge",
        "d78dd1d3-01ce-4835-9f29-45c9d7b0c5a4",
    )];
    let reply = post(gw.addr, "/hook", &challenge, body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("smartsheet-hook-response").as_deref(),
        Some("d78dd1d3-01ce-4835-9f29-45c9d7b0c5a4")
    );
    assert_eq!(
        text(&reply),
        r#"{"smartsheetHookResponse":"d78dd1d3-01ce-4835-9f29-45c9d7b0c5a4"}"#
    );
    assert_eq!(upstream.count(), 0);

    let (upstream, gw) =
        gateway(&format!("    provider: front\n    secrets: ['{SECRET}']\n")).await;
    let reply = post(
        gw.addr,
        "/hook",
        &[h("X-Front-Challenge", "front-challenge-17")],
        b"{}",
    )
    .await;
    assert_eq!(
        (reply.status, text(&reply)),
        (200, "front-challenge-17".to_owned())
    );
    assert_eq!(upstream.count(), 0);

    let (upstream, gw) = gateway("    provider: ringcentral\n    secrets: ['rc-token']\n").await;
    let reply = post(
        gw.addr,
        "/hook",
        &[h("Validation-Token", "rc-validation-99")],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("validation-token").as_deref(),
        Some("rc-validation-99")
    );
    assert!(reply.body.is_empty());
    // Deliveries still need the verification token.
    assert_eq!(
        post(
            gw.addr,
            "/hook",
            &[h("Verification-Token", "rc-token")],
            b"{}"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        post(gw.addr, "/hook", &[h("Verification-Token", "guess")], b"{}")
            .await
            .status,
        401
    );
    assert_eq!(upstream.count(), 1);

    let (upstream, gw) = gateway(&format!(
        "    provider: worldline\n    secrets: ['{SECRET}']\n"
    ))
    .await;
    let verification = [h("X-GCS-Webhooks-Endpoint-Verification", "wl-4711")];
    let reply = send(&gw, "GET", "/hook", &verification, b"").await;
    assert_eq!((reply.status, text(&reply)), (200, "wl-4711".to_owned()));
    assert_eq!(upstream.count(), 0);

    let (upstream, gw) = gateway(&custom("cloudevents_options", "")).await;
    let origin = [h("WebHook-Request-Origin", "eventgrid.azure.net")];
    let reply = send(&gw, "OPTIONS", "/hook", &origin, b"").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("webhook-allowed-origin").as_deref(),
        Some("eventgrid.azure.net")
    );
    assert_eq!(
        send(&gw, "OPTIONS", "/hook", &[], b"").await.status,
        405,
        "no origin: no handshake"
    );
    assert_eq!(upstream.count(), 0);

    let keys = format!(
        "    provider: onfleet\n    secrets: ['{}']\n",
        hex::encode(SECRET)
    );
    let (upstream, gw) = gateway(&keys).await;
    let reply = send(&gw, "GET", "/hook?check=onfleet-42", &[], b"").await;
    assert_eq!((reply.status, text(&reply)), (200, "onfleet-42".to_owned()));
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn body_challenges_are_answered_only_in_their_exact_shape() {
    let (upstream, gw) = gateway(&custom("monday_challenge", "")).await;
    let body = br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
    let reply = post(gw.addr, "/hook", &[], body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, body.to_vec());
    // A delivery that merely carries a challenge field is verified like any other.
    let reply = post(gw.addr, "/hook", &[], br#"{"challenge":"x","event":{}}"#).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        post(gw.addr, "/hook", &[], br#"{"challenge":7}"#)
            .await
            .status,
        400
    );
    assert_eq!(upstream.count(), 0);

    let (upstream, gw) = gateway(&custom("event_grid_validation", "")).await;
    let validation = br#"[{"id":"2d1781af","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6","validationUrl":"https://rp.example/x"},"dataVersion":"2"}]"#;
    let kind = [h("aeg-event-type", "SubscriptionValidation")];
    let reply = post(gw.addr, "/hook", &kind, validation).await;
    assert_eq!(
        text(&reply),
        r#"{"validationResponse":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}"#,
        "{reply:?}"
    );
    assert_eq!(post(gw.addr, "/hook", &kind, b"[]").await.status, 400);
    let notification = [h("aeg-event-type", "Notification")];
    assert_eq!(
        post(gw.addr, "/hook", &notification, validation)
            .await
            .status,
        401
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn discord_event_ping_is_answered_204_once_it_verifies() {
    use ring::signature::{Ed25519KeyPair, KeyPair};
    let pair = Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap();
    let route = format!(
        "    provider: discord-webhook-events\n    public_key: {}\n",
        hex::encode(pair.public_key().as_ref())
    );
    let (upstream, gw) = gateway(&route).await;
    let ts = NOW.to_string();
    let sign = |body: &[u8]| {
        let message = [ts.as_bytes(), body].concat();
        vec![
            h(
                "X-Signature-Ed25519",
                &hex::encode(pair.sign(&message).as_ref()),
            ),
            h("X-Signature-Timestamp", &ts),
        ]
    };
    let ping = br#"{"version":1,"application_id":"1","type":0}"#;
    let reply = post(gw.addr, "/hook", &sign(ping), ping).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert!(reply.body.is_empty());
    let forged = [
        h("X-Signature-Ed25519", &"00".repeat(64)),
        h("X-Signature-Timestamp", &ts),
    ];
    assert_eq!(post(gw.addr, "/hook", &forged, ping).await.status, 401);
    assert_eq!(upstream.count(), 0);
    let event =
        br#"{"version":1,"application_id":"1","type":1,"event":{"type":"APPLICATION_AUTHORIZED"}}"#;
    assert_eq!(
        post(gw.addr, "/hook", &sign(event), event).await.status,
        200
    );
    assert_eq!(upstream.count(), 1, "an event goes to the app");
}

#[tokio::test]
async fn check_asks_for_what_a_handshake_needs() {
    use crate::support::GatewayConfig;
    let problems = |keys: &str| {
        let yaml = GatewayConfig::to("http://127.0.0.1:9")
            .route("r", keys)
            .yaml();
        let parsed = hookgate::config::Config::parse(
            &yaml,
            std::path::Path::new("gw.yaml"),
            std::path::Path::new("."),
            &|_| None,
        );
        parsed.err().map(|e| e.to_string()).unwrap_or_default()
    };
    let base = format!(
        "path: /h\nsecrets: ['{SECRET}']\nscheme:\n  signature_header: X-Sig\n  handshake: ebay_challenge"
    );
    let missing = problems(&base);
    assert!(
        missing.contains("the ebay_challenge handshake needs the verify token"),
        "{missing}"
    );
    assert!(missing.contains("public_url"), "{missing}");
    assert_eq!(
        problems(&format!(
            "{base}\nverify_token: t\npublic_url: https://h.example"
        )),
        ""
    );
    let stray = problems(
        "path: /h\nprovider: trello\nsecrets: [s]\npublic_url: https://h.example\nverify_token: t",
    );
    assert!(stray.contains("has no effect"), "{stray}");
}
