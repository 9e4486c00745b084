//! The forgery oracle of an unsigned MAC handshake, attacked through the real binary: X's CRC
//! answers HMAC(secret, crc_token) to anyone, so a token equal to a delivery's signed payload
//! would hand out that delivery's signature. Tokens that could be a payload are refused, every
//! delivery whose payload a token could be is refused, and handshakes are rate limited.

use base64::Engine;

use crate::support::sign::hmac_sha256;
use crate::support::{GatewayConfig, Upstream, get, post, unix_now};

const SECRET: &str = "x-consumer-secret";

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
    // A second route shares the secret and signs `{timestamp}{body}`: a token of digits
    // followed by text would be its payload.
    let (_dir, gw) = GatewayConfig::new(&upstream)
        .route(
            "x",
            &format!("path: /x\nprovider: twitter\nsecrets: ['{SECRET}']"),
        )
        .route(
            "ts",
            &format!(
                "path: /ts\nsecrets: ['{SECRET}']\nscheme:\n  signature_header: X-Sig\n  \
                 timestamp_header: X-Ts\n  signed_payload: '{{timestamp}}{{body}}'"
            ),
        )
        .binary(&[]);

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
            format!("{}abc", unix_now()),
            "abc".to_owned(),
            vec![("X-Ts".to_owned(), unix_now().to_string())],
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

/// The scheme's written form of `now`.
fn stamp(scheme: &hookgate::scheme::Scheme, now: i64) -> String {
    use hookgate::scheme::TimestampFormat;
    match scheme.timestamp_format {
        TimestampFormat::Unix => now.to_string(),
        TimestampFormat::UnixMs => (now * 1000).to_string(),
        TimestampFormat::Rfc3339 => hookgate::verify::format_rfc3339(now),
    }
}

/// The property behind the guard, over every preset: one config holds an X route and a route
/// of every HMAC preset (plus a custom scheme that opts into the CRC), all with the same key
/// bytes, as a careless operator might write it. For each route and each probe body, if the
/// CRC (or LinkedIn's challenge, or Zoom's validation) would answer a MAC of that delivery's signed payload, the
/// delivery is refused even with its correct signature. So no handshake answer is ever a
/// delivery signature, on any route.
#[test]
fn no_handshake_answer_is_a_delivery_signature_on_any_route() {
    use hookgate::handshake::{RouteKeys, after_verify, before_body};
    use hookgate::scheme::{Handshake, KeyKind, SecretEncoding, preset, preset_names};
    use hookgate::verify::Delivery;
    use http::{HeaderMap, Method};

    let key = "one-secret-shared-by-every-route";
    let mut yaml = GatewayConfig::to("http://127.0.0.1:9")
        .route(
            "x",
            &format!("path: /x\nprovider: twitter\nsecrets: ['{key}']"),
        )
        .route(
            "custom",
            &format!(
                "path: /custom\nsecrets: ['{key}']\nscheme:\n  signature_header: X-Sig\n  \
                 timestamp_header: X-Ts\n  signed_payload: '{{timestamp}}{{body}}'\n  handshake: twitter_crc"
            ),
        );
    for name in preset_names() {
        let scheme = preset(name).unwrap().build().unwrap();
        if scheme.algorithm.key_kind() != KeyKind::Hmac || name == "twitter" {
            continue;
        }
        let written = match scheme.secret_encoding {
            SecretEncoding::Raw => key.to_owned(),
            SecretEncoding::Hex => hex::encode(key),
            SecretEncoding::Base64 => format!(
                "{}{}",
                String::from_utf8_lossy(&scheme.secret_prefix),
                base64::engine::general_purpose::STANDARD.encode(key)
            ),
            // A key that is SHA-1 of the secret cannot be written to equal the CRC's key.
            SecretEncoding::Sha1 => continue,
        };
        yaml = yaml.route(
            name,
            &format!("path: /p/{name}\nprovider: {name}\nsecrets: ['{written}']"),
        );
        if scheme.handshake.is_some_and(Handshake::needs_verify_token) {
            yaml = yaml.with("verify_token: vt");
        }
        if scheme.needs_public_url() || scheme.handshake.is_some_and(Handshake::needs_public_url) {
            yaml = yaml.with("public_url: https://gateway.test/");
        }
    }
    let config = yaml.parse();
    let crc = config.routes.by_name("x").unwrap();
    let keys = RouteKeys {
        verifier: &crc.verifier,
        verify_token: None,
    };
    let bodies = [
        "forged",
        "eyJhIjoxfQ",
        "12345",
        "true",
        "",
        r#"{"for_user_id":"1"}"#,
    ];
    let none = HeaderMap::new();
    let now = 1_800_000_000;
    let (mut routes, mut verified, mut answered) = (0, 0, 0);
    for route in config.routes.iter() {
        routes += 1;
        assert!(
            route.verifier.guards_challenges(),
            "{}: shares the CRC's key but is unguarded",
            route.name
        );
        let ts = stamp(route.verifier.scheme(), now);
        for body in bodies {
            let delivery = |headers| Delivery {
                method: &Method::POST,
                path: "/h",
                query: None,
                headers,
                body: body.as_bytes().into(),
            };
            let Ok(signed) = route.verifier.sign(&delivery(&none), &ts) else {
                continue;
            };
            // A JWT's MAC covers the token's `header.claims`, not a template.
            let jws_input = signed.first().and_then(|(_, value)| {
                let token = value.rsplit(' ').next()?;
                let (input, _) = token.rsplit_once('.')?;
                route
                    .verifier
                    .scheme()
                    .jwt
                    .as_ref()
                    .map(|_| input.as_bytes().to_vec())
            });
            let mut headers = HeaderMap::new();
            for (name, value) in signed {
                headers.append(name, value.parse().unwrap());
            }
            let payload =
                jws_input.unwrap_or_else(|| route.verifier.signed_payload(&delivery(&none), &ts));
            let target = format!(
                "/x?crc_token={}",
                query_encode(&String::from_utf8_lossy(&payload))
            );
            let crc_answers = matches!(
                before_body(
                    Handshake::TwitterCrc,
                    &Method::GET,
                    &target.parse().unwrap(),
                    &none,
                    keys
                ),
                Some(Ok(_))
            );
            // LinkedIn's challenge MACs anyone's code with the same key.
            let code = format!(
                "/x?challengeCode={}",
                query_encode(&String::from_utf8_lossy(&payload))
            );
            let linkedin_answers = matches!(
                before_body(
                    Handshake::LinkedinChallenge,
                    &Method::GET,
                    &code.parse().unwrap(),
                    &none,
                    keys
                ),
                Some(Ok(_))
            );
            let zoom = serde_json::json!({
                "event": "endpoint.url_validation",
                "payload": { "plainToken": String::from_utf8_lossy(&payload) },
            })
            .to_string();
            let zoom_delivery = Delivery {
                body: zoom.as_bytes().into(),
                ..delivery(&none)
            };
            let zoom_answers = after_verify(
                Handshake::ZoomUrlValidation,
                &zoom_delivery,
                &crc.verifier,
                0,
            )
            .is_some();
            let accepted = route.verifier.verify(&delivery(&headers), now).is_ok();
            assert!(
                !(accepted && (crc_answers || linkedin_answers || zoom_answers)),
                "{}, body {body:?}: a handshake answer is this delivery's signature",
                route.name
            );
            verified += usize::from(accepted);
            answered += usize::from(crc_answers);
        }
    }
    // The probe reached real verdicts both ways: many deliveries verified, and the CRC did
    // answer token-shaped payloads (which were then refused as deliveries).
    assert!(routes >= 40, "only {routes} routes");
    assert!(verified >= 30, "only {verified} deliveries verified");
    assert!(answered >= 10, "the CRC answered only {answered} probes");
}

/// Without an unsigned MAC handshake on a shared key, nothing is refused for its shape:
/// Mailgun signs `{timestamp}{token}`, which is token-shaped, and still verifies.
#[test]
fn only_routes_sharing_a_key_with_the_crc_are_guarded() {
    let config = GatewayConfig::to("http://127.0.0.1:9")
        .route("x", "path: /x\nprovider: twitter\nsecrets: [a, shared]")
        .route("mg", "path: /mg\nprovider: mailgun\nsecrets: [shared]")
        .route("mg2", "path: /mg2\nprovider: mailgun\nsecrets: [own]")
        .route(
            "x2",
            "path: /x2\nprovider: twitter\nsecrets: [b]\nhandshake: false",
        )
        .parse();
    let guarded = |name| {
        config
            .routes
            .by_name(name)
            .unwrap()
            .verifier
            .guards_challenges()
    };
    assert!(guarded("x") && guarded("mg"));
    assert!(!guarded("mg2") && !guarded("x2"));
}
