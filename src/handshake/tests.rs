use http_body_util::BodyExt;

use super::*;
use crate::scheme::SchemeSpec;

fn verifier() -> Verifier {
    let spec: SchemeSpec = serde_saphyr::from_str("signature_header: X-Sig\n").unwrap();
    Verifier::new(
        spec.build().unwrap(),
        &[Secret::new(b"secret".to_vec())],
        300,
    )
    .unwrap()
}

async fn body(answer: Answer) -> (u16, String, String) {
    let status = answer.status().as_u16();
    let content_type = answer.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let bytes = answer.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

fn before(
    handshake: Handshake,
    method: Method,
    uri: &str,
    headers: &HeaderMap,
    token: Option<&Secret>,
) -> Option<Result<Answer, Rejection>> {
    let v = verifier();
    let keys = RouteKeys {
        verifier: &v,
        verify_token: token,
    };
    before_body(handshake, &method, &uri.parse().unwrap(), headers, keys)
}

#[tokio::test]
async fn query_echoes_answer_the_decoded_value() {
    let none = HeaderMap::new();
    for (handshake, method, uri) in [
        (Handshake::Echo, Method::GET, "/h?x=1&echo=ab%2Fc+d"),
        (
            Handshake::DropboxChallenge,
            Method::GET,
            "/h?challenge=ab%2Fc+d",
        ),
        (
            Handshake::GraphValidation,
            Method::POST,
            "/h?validationToken=ab%2Fc+d",
        ),
    ] {
        let answer = before(handshake, method, uri, &none, None)
            .unwrap()
            .unwrap();
        assert_eq!(answer.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            body(answer).await,
            (200, "text/plain; charset=utf-8".into(), "ab/c d".into()),
            "{handshake:?}"
        );
    }
    assert!(before(Handshake::Echo, Method::POST, "/h?echo=1", &none, None).is_none());
    assert!(before(Handshake::GraphValidation, Method::POST, "/h", &none, None).is_none());
    for uri in ["/h", "/h?echo=", "/h?echo=%zz", "/h?echo=%4"] {
        let err = before(Handshake::Echo, Method::GET, uri, &none, None).unwrap();
        assert_eq!(err.unwrap_err(), Rejection::HandshakeMalformed, "{uri}");
    }
}

#[tokio::test]
async fn meta_answers_only_the_configured_verify_token() {
    let none = HeaderMap::new();
    let token = Secret::new(b"my-token".to_vec());
    let ok = "/h?hub.mode=subscribe&hub.verify_token=my-token&hub.challenge=1158201444";
    let answer = before(
        Handshake::MetaSubscribe,
        Method::GET,
        ok,
        &none,
        Some(&token),
    );
    assert_eq!(body(answer.unwrap().unwrap()).await.2, "1158201444");
    for (uri, token, want) in [
        (ok, None, Rejection::HandshakeRefused),
        (
            "/h?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            Some(&token),
            Rejection::HandshakeRefused,
        ),
        (
            "/h?hub.mode=unsubscribe&hub.verify_token=my-token&hub.challenge=1",
            Some(&token),
            Rejection::HandshakeRefused,
        ),
        (
            "/h?hub.mode=subscribe",
            Some(&token),
            Rejection::HandshakeMalformed,
        ),
    ] {
        let got = before(Handshake::MetaSubscribe, Method::GET, uri, &none, token);
        assert_eq!(got.unwrap().unwrap_err(), want, "{uri}");
    }
}

#[tokio::test]
async fn okta_and_twitter_answer_in_json() {
    let mut headers = HeaderMap::new();
    headers.insert("x-okta-verification-challenge", "a\"b".parse().unwrap());
    let answer = before(
        Handshake::OktaVerification,
        Method::GET,
        "/h",
        &headers,
        None,
    );
    let (status, kind, text) = body(answer.unwrap().unwrap()).await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    assert_eq!(text, r#"{"verification":"a\"b"}"#);
    assert!(
        before(
            Handshake::OktaVerification,
            Method::GET,
            "/h",
            &HeaderMap::new(),
            None
        )
        .is_none()
    );

    // Twitter's documented computation: base64 HMAC-SHA256(consumer secret, crc_token).
    let answer = before(
        Handshake::TwitterCrc,
        Method::GET,
        "/h?crc_token=abc",
        &headers,
        None,
    );
    let (_, _, text) = body(answer.unwrap().unwrap()).await;
    let want = {
        use base64::Engine;
        let tag = crate::verify::KeyedMac::new(crate::scheme::Algorithm::Sha256, b"secret")
            .tag_of(b"abc");
        base64::engine::general_purpose::STANDARD.encode(tag.as_bytes())
    };
    assert_eq!(text, format!(r#"{{"response_token":"sha256={want}"}}"#));
}

fn delivery<'a>(headers: &'a HeaderMap, body: &'a str) -> Delivery<'a> {
    Delivery {
        method: &Method::POST,
        path: "/h",
        query: None,
        headers,
        body: body.as_bytes(),
    }
}

#[tokio::test]
async fn signed_handshakes_answer_only_their_own_shape() {
    let v = verifier();
    let none = HeaderMap::new();
    let slack = r#"{"token":"x","challenge":"3eZbrw1a","type":"url_verification"}"#;
    let answer = after_verify(
        Handshake::SlackUrlVerification,
        &delivery(&none, slack),
        &v,
        0,
    );
    assert_eq!(body(answer.unwrap()).await.2, "3eZbrw1a");
    let event = r#"{"type":"event_callback","challenge":"x"}"#;
    assert!(
        after_verify(
            Handshake::SlackUrlVerification,
            &delivery(&none, event),
            &v,
            0
        )
        .is_none()
    );

    let zoom =
        r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event":"endpoint.url_validation"}"#;
    let answer = after_verify(Handshake::ZoomUrlValidation, &delivery(&none, zoom), &v, 0);
    let text = body(answer.unwrap()).await.2;
    let want = hex::encode(v.mac_of(0, b"qgg8vlvZRS6UYooatFL8Aw").unwrap().as_bytes());
    assert_eq!(
        text,
        format!(r#"{{"encryptedToken":"{want}","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}}"#)
    );

    let mut twitch = HeaderMap::new();
    twitch.insert(
        "twitch-eventsub-message-type",
        "webhook_callback_verification".parse().unwrap(),
    );
    let challenge = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{}}"#;
    let answer = after_verify(
        Handshake::TwitchCallbackVerification,
        &delivery(&twitch, challenge),
        &v,
        0,
    );
    assert_eq!(
        body(answer.unwrap()).await.2,
        "pogchamp-kappa-360noscope-vohiyo"
    );
    assert!(
        after_verify(
            Handshake::TwitchCallbackVerification,
            &delivery(&none, challenge),
            &v,
            0
        )
        .is_none()
    );

    let answer = after_verify(
        Handshake::DiscordPing,
        &delivery(&none, r#"{"type":1}"#),
        &v,
        0,
    );
    assert_eq!(body(answer.unwrap()).await.2, r#"{"type":1}"#);
    assert!(
        after_verify(
            Handshake::DiscordPing,
            &delivery(&none, r#"{"type":2}"#),
            &v,
            0
        )
        .is_none()
    );
    assert!(after_verify(Handshake::DiscordPing, &delivery(&none, "not json"), &v, 0).is_none());
}

/// Percent-encodes every byte but ASCII letters and digits, for a query value.
fn query_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The scheme's written form of the pinned test time.
fn stamp(scheme: &crate::scheme::Scheme) -> String {
    use crate::scheme::TimestampFormat;
    match scheme.timestamp_format {
        TimestampFormat::Unix => NOW.to_string(),
        TimestampFormat::UnixMs => (NOW * 1000).to_string(),
        TimestampFormat::Rfc3339 => crate::verify::format_rfc3339(NOW),
    }
}

const NOW: i64 = 1_800_000_000;

/// The forgery-oracle property, for every preset and a custom scheme opting into the CRC, all
/// keyed with one shared secret: whenever a MAC handshake (X's CRC, Zoom's validation) would
/// answer a MAC of some delivery's signed payload, that delivery is refused, even when it
/// carries the right signature. So no handshake answer is ever a valid delivery signature.
#[tokio::test]
async fn no_handshake_answer_is_a_delivery_signature() {
    use crate::scheme::{KeyKind, SecretEncoding, preset, preset_names};
    use base64::Engine;

    let key = b"one-secret-shared-by-every-route";
    let mut schemes: Vec<(String, SchemeSpec)> = preset_names()
        .filter_map(|name| Some((name.to_owned(), preset(name)?.clone())))
        .collect();
    let custom = "signature_header: X-Sig\ntimestamp_header: X-Ts\n\
                  signed_payload: '{timestamp}{body}'\nhandshake: twitter_crc\n";
    schemes.push(("custom".into(), serde_saphyr::from_str(custom).unwrap()));
    let crc = Verifier::new(
        preset("twitter").unwrap().build().unwrap(),
        &[Secret::new(key.to_vec())],
        300,
    )
    .unwrap();
    let crc_keys = RouteKeys {
        verifier: &crc,
        verify_token: None,
    };
    let bodies = [
        "forged",
        "eyJhIjoxfQ",
        "12345",
        "true",
        "",
        r#"{"for_user_id":"1","tweet_create_events":[]}"#,
    ];
    let (mut verified, mut answered) = (0, 0);
    for (name, spec) in schemes {
        let scheme = spec.build().unwrap();
        if scheme.algorithm.key_kind() != KeyKind::Hmac {
            continue;
        }
        let written = match scheme.secret_encoding {
            SecretEncoding::Raw => key.to_vec(),
            SecretEncoding::Hex => hex::encode(key).into_bytes(),
            SecretEncoding::Base64 => {
                let mut s = scheme.secret_prefix.to_vec();
                s.extend(
                    base64::engine::general_purpose::STANDARD
                        .encode(key)
                        .bytes(),
                );
                s
            }
        };
        let ts = stamp(&scheme);
        let v = Verifier::new(scheme, &[Secret::new(written)], 300)
            .unwrap()
            .with_public_url("https://gateway.test");
        let none = HeaderMap::new();
        for body in bodies {
            let unsigned = delivery(&none, body);
            let Ok(signed) = v.sign(&unsigned, &ts) else {
                continue;
            };
            let mut headers = HeaderMap::new();
            for (header, value) in signed {
                headers.append(header, value.parse().unwrap());
            }
            let payload = v.signed_payload(&unsigned, &ts);
            let uri = format!("/h?crc_token={}", query_encode(&payload));
            let crc_answers = matches!(
                before_body(
                    Handshake::TwitterCrc,
                    &Method::GET,
                    &uri.parse().unwrap(),
                    &none,
                    crc_keys
                ),
                Some(Ok(_))
            );
            let zoom = serde_json::json!({
                "event": "endpoint.url_validation",
                "payload": { "plainToken": String::from_utf8_lossy(&payload) },
            })
            .to_string();
            let zoom_answers = after_verify(
                Handshake::ZoomUrlValidation,
                &delivery(&none, &zoom),
                &crc,
                0,
            )
            .is_some();
            let accepted = v.verify(&delivery(&headers, body), NOW).is_ok();
            assert!(
                !(accepted && (crc_answers || zoom_answers)),
                "{name}, body {body:?}: a handshake answer is this delivery's signature"
            );
            verified += usize::from(accepted);
            answered += usize::from(crc_answers);
        }
    }
    // The probe reached real verdicts both ways: many deliveries verified, and the CRC did
    // answer the token-shaped payloads (which were then refused as deliveries).
    assert!(verified >= 30, "only {verified} deliveries verified");
    assert!(answered >= 10, "the CRC answered only {answered} probes");
}
