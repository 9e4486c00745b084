use http_body_util::BodyExt;

use http::header::{CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};

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
        body: body.as_bytes().into(),
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
