//! Unit tests of the engine against each seed preset. Expected signatures come from the
//! senders' docs (Flow, RFC 2286) or were computed independently with Python's `hmac`.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};

use super::*;
use crate::scheme::{Algorithm, SchemeSpec, preset};

const BODY: &str = r#"{"event":"order.created","id":42}"#;
const TS: i64 = 1_700_000_000;

fn verifier(provider: &str, secrets: &[&str], algorithm: Option<Algorithm>) -> Verifier {
    let spec = SchemeSpec {
        algorithm,
        ..SchemeSpec::default()
    }
    .or(preset(provider).unwrap());
    let secrets: Vec<Secret> = secrets
        .iter()
        .map(|s| Secret::new(s.as_bytes().to_vec()))
        .collect();
    Verifier::new(spec.build().unwrap(), &secrets, 300).unwrap()
}

fn check(
    v: &Verifier,
    headers: &[(&str, &[u8])],
    body: &[u8],
    now: i64,
) -> Result<Verified, Rejection> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::try_from(*name).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let mut delivery = Delivery {
        method: &Method::POST,
        path: "/hook",
        query: None,
        headers: &map,
        body: body.into(),
    };
    let whole = v.verify(&delivery, now);
    if !v.scheme().parses_body() && body.len() > 2 {
        // The gateway hands such a body over in the frames it arrived in: same verdict.
        let (first, rest) = body.split_at(1);
        let (second, third) = rest.split_at(rest.len() / 2);
        let frames = [
            Bytes::copy_from_slice(second),
            Bytes::new(),
            Bytes::copy_from_slice(third),
        ];
        delivery.body = Body::frames(first, &frames);
        let framed = v.verify(&delivery, now);
        assert_eq!(format!("{framed:?}"), format!("{whole:?}"), "in frames");
    }
    whole
}

#[test]
fn flow_published_vector_with_and_without_prefix() {
    let v = verifier("flow", &["secret"], None);
    let sig = "77325902caca812dc259733aacd046b73817372c777b8d95b402647474516e13";
    let prefixed = format!("sha-256={sig}");
    assert!(check(&v, &[("x-flow-signature", prefixed.as_bytes())], b"{}", TS).is_ok());
    assert!(check(&v, &[("X-Flow-Signature", sig.as_bytes())], b"{}", TS).is_ok());
    let upper = sig.to_uppercase();
    assert!(check(&v, &[("x-flow-signature", upper.as_bytes())], b"{}", TS).is_ok());
    assert_eq!(
        check(&v, &[("x-flow-signature", prefixed.as_bytes())], b"{ }", TS).unwrap_err(),
        Rejection::SignatureMismatch
    );
}

#[test]
fn patchworks_sha256_and_ripemd128() {
    let v = verifier("patchworks", &["pw-secret"], None);
    let sig = b"9df66874597f69615c2a15e5cbe894732592a52043c1983d17c180c835152940";
    assert!(check(&v, &[("x-hmac-hash", sig)], BODY.as_bytes(), TS).is_ok());

    // RFC 2286 test case 2 as a Patchworks delivery.
    let v = verifier("patchworks", &["Jefe"], Some(Algorithm::Ripemd128));
    let body = b"what do ya want for nothing?";
    assert!(
        check(
            &v,
            &[("x-hmac-hash", b"875f828862b6b334b427c55f9f7ff09b")],
            body,
            TS
        )
        .is_ok()
    );
    assert_eq!(
        check(&v, &[("x-hmac-hash", sig)], body, TS).unwrap_err(),
        Rejection::SignatureMalformed,
        "a SHA-256-length signature cannot be a RIPEMD-128 one"
    );
}

#[test]
fn nopcommerce_prefixed_hex() {
    let v = verifier("nopcommerce", &["nop-secret"], None);
    let sig = b"sha256=3452ca0fd1b34ff26eb73e6a1938e87f0a2f963266e18f21036aa632f2abe648";
    assert!(check(&v, &[("ms-signature", sig)], BODY.as_bytes(), TS).is_ok());
    assert_eq!(
        check(&v, &[("ms-signature", sig)], b"", TS).unwrap_err(),
        Rejection::SignatureMismatch
    );
}

#[test]
fn extend_timestamped_template() {
    let v = verifier("extend", &["ext-secret"], None);
    let sig = b"87414610982914f0f72bae0a0b82402a4d0422538290c15171ebbdddb014e2c4";
    let headers: [(&str, &[u8]); 2] = [
        ("x-extend-request-signature", sig),
        ("x-extend-request-timestamp", b"1700000000"),
    ];
    let ok = check(&v, &headers, BODY.as_bytes(), TS + 300).unwrap();
    assert_eq!(ok.timestamp, Some(TS));
    assert_eq!(
        check(&v, &headers, BODY.as_bytes(), TS + 301).unwrap_err(),
        Rejection::TimestampOutOfTolerance
    );
    assert_eq!(
        check(&v, &headers, BODY.as_bytes(), TS - 301).unwrap_err(),
        Rejection::TimestampOutOfTolerance
    );
    assert_eq!(
        check(&v, &headers[..1], BODY.as_bytes(), TS).unwrap_err(),
        Rejection::TimestampMissing
    );
    let moved: [(&str, &[u8]); 2] = [
        ("x-extend-request-signature", sig),
        ("x-extend-request-timestamp", b"1700000001"),
    ];
    assert_eq!(
        check(&v, &moved, BODY.as_bytes(), TS).unwrap_err(),
        Rejection::SignatureMismatch,
        "the timestamp is signed"
    );
}

#[test]
fn timestamped_v1_any_signature_any_secret() {
    let a = "TMWK1IiQ83CdgOrC9DCn1rtdAxRUwllYX2cAfFWIPR4=";
    let b = "qjB8LZu+Z71Moi18wThKkjzC1kWkG9guDxPKj/ZXEfA=";
    let both = format!("t=1700000000,v1={a},v1={b}");
    let only_b = format!("t=1700000000,v1={b}");

    let v = verifier("timestamped-v1", &["tv-secret-a"], None);
    assert_eq!(
        check(
            &v,
            &[("x-webhook-signature", both.as_bytes())],
            BODY.as_bytes(),
            TS
        )
        .unwrap()
        .secret_index,
        0
    );
    assert_eq!(
        check(
            &v,
            &[("x-webhook-signature", only_b.as_bytes())],
            BODY.as_bytes(),
            TS
        )
        .unwrap_err(),
        Rejection::SignatureMismatch
    );

    let rotated = verifier("timestamped-v1", &["tv-secret-a", "tv-secret-b"], None);
    let via_b = check(
        &rotated,
        &[("x-webhook-signature", only_b.as_bytes())],
        BODY.as_bytes(),
        TS,
    )
    .unwrap();
    let via_both = check(
        &rotated,
        &[("x-webhook-signature", both.as_bytes())],
        BODY.as_bytes(),
        TS,
    )
    .unwrap();
    assert_eq!(via_b.secret_index, 1);
    assert_eq!(
        via_b.fingerprint.as_bytes(),
        via_both.fingerprint.as_bytes(),
        "the replay fingerprint must not depend on which signature matched"
    );
    assert_eq!(
        check(
            &rotated,
            &[("x-webhook-signature", b"v1=x")],
            BODY.as_bytes(),
            TS
        )
        .unwrap_err(),
        Rejection::TimestampMissing
    );
}

#[test]
fn header_problems_map_to_their_rejections() {
    let v = verifier("flow", &["secret"], None);
    let good = b"sha-256=77325902caca812dc259733aacd046b73817372c777b8d95b402647474516e13";
    assert_eq!(
        check(&v, &[], b"{}", TS).unwrap_err(),
        Rejection::SignatureMissing
    );
    assert_eq!(
        check(
            &v,
            &[("x-flow-signature", good), ("x-flow-signature", good)],
            b"{}",
            TS
        )
        .unwrap_err(),
        Rejection::SignatureMalformed,
        "repeated signature headers are refused whatever they hold"
    );
    for garbage in [
        &b"sha-256=zz"[..],
        b"\xff\xfe\xfd",
        b"sha-256=",
        b"77325902",
    ] {
        assert_eq!(
            check(&v, &[("x-flow-signature", garbage)], b"{}", TS).unwrap_err(),
            Rejection::SignatureMalformed
        );
    }
}

#[test]
fn sign_output_verifies_for_every_preset() {
    use crate::scheme::{KeyKind, TimestampFormat};
    // Valid base64 too, so schemes that decode their secrets accept it.
    let secrets = ["whsec_czNjcmV0", "b3RoZXI="];
    let body = r#"{"event":"order.created","id":42,"webhookTimestamp":1700000000000}"#;
    let digest = hex::encode(Sha256::digest(body.as_bytes()));
    let query = format!("bodySHA256={digest}");
    let mut signed = 0;
    for name in crate::scheme::preset_names() {
        let spec = preset(name).unwrap().build().unwrap();
        let kind = spec.algorithm.key_kind();
        let in_body = matches!(
            spec.signature,
            SignatureSource::Field(_) | SignatureSource::Body
        );
        let in_query = matches!(spec.signature, SignatureSource::Query(_));
        let stamp = match spec.timestamp_format {
            TimestampFormat::Unix => "1700000000",
            TimestampFormat::UnixMs => "1700000000000",
            TimestampFormat::Rfc3339 => "2023-11-14T22:13:20Z",
        };
        // Secrets each scheme can decode: hex for hex-keyed senders, user:password for Basic.
        let secrets = match (spec.secret_encoding, spec.algorithm) {
            (_, crate::scheme::Algorithm::BasicAuth) => ["user:pass", "other:pass"],
            (crate::scheme::SecretEncoding::Hex, _) => ["0a1b2c3d", "4e5f6a7b"],
            (crate::scheme::SecretEncoding::Base64, _) if spec.secret_prefix.is_empty() => {
                ["czNjcmV0", "b3RoZXI="]
            }
            _ => secrets,
        };
        let keys: Vec<Secret> = secrets
            .iter()
            .map(|s| Secret::new(s.as_bytes().to_vec()))
            .collect();
        let Ok(v) = Verifier::new(spec, &keys, 300) else {
            assert_eq!(kind, KeyKind::PublicKey, "{name}: refused the secrets");
            continue;
        };
        let v = v.with_public_url("https://hooks.example.com/");
        let empty = HeaderMap::new();
        let unsigned = Delivery {
            method: &Method::POST,
            path: "/hook",
            query: Some(&query),
            headers: &empty,
            body: body.as_bytes().into(),
        };
        let lines = match v.sign(&unsigned, stamp) {
            Ok(lines) => lines,
            Err(e) => {
                let want = match (kind, in_body) {
                    _ if in_query => SignError::InQuery,
                    (_, true) => SignError::InBody,
                    (KeyKind::Token, _) => SignError::Token,
                    (KeyKind::PublicKey, _) if v.scheme().fetches_its_key() => SignError::PublicKey,
                    _ => panic!("{name}: {e}"),
                };
                assert_eq!(e, want, "{name}");
                continue;
            }
        };
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(name, HeaderValue::from_str(&value).unwrap());
        }
        let delivery = Delivery {
            headers: &headers,
            ..unsigned
        };
        let verified = v
            .verify(&delivery, TS)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.secret_index, 0);
        let tampered = Delivery {
            body: b"{}".into(),
            ..delivery
        };
        // A scheme that signs no body (monday.com, Mercado Pago) verifies a changed body by
        // design.
        let binds_body = v.scheme().signature_reads_body();
        assert_eq!(
            v.verify(&tampered, TS).is_err(),
            binds_body,
            "{name}: tampered body"
        );
        signed += 1;
    }
    assert!(signed >= 100, "only {signed} presets signed");
}

#[test]
fn github_published_vector_and_its_sha1_header() {
    // GitHub's docs: secret "It's a Secret to Everybody", payload "Hello, World!".
    let v = verifier("github", &["It's a Secret to Everybody"], None);
    let sig = b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert!(check(&v, &[("x-hub-signature-256", sig)], b"Hello, World!", TS).is_ok());
    assert_eq!(
        check(&v, &[("x-hub-signature-256", sig)], b"Hello, World?", TS).unwrap_err(),
        Rejection::SignatureMismatch
    );
    let v = verifier("github-sha1", &["It's a Secret to Everybody"], None);
    let sig = b"sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";
    assert!(check(&v, &[("x-hub-signature", sig)], b"Hello, World!", TS).is_ok());
}

#[test]
fn slack_published_example() {
    // https://api.slack.com/authentication/verifying-requests-from-slack (the worked example).
    let v = verifier("slack", &["8f742231b10e8888abcd99yyyzzz85a5"], None);
    let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let headers: [(&str, &[u8]); 2] = [
        (
            "x-slack-signature",
            b"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        ),
        ("x-slack-request-timestamp", b"1531420618"),
    ];
    assert!(check(&v, &headers, body, 1_531_420_618).is_ok());
    assert_eq!(
        check(&v, &headers, &body[1..], 1_531_420_618).unwrap_err(),
        Rejection::SignatureMismatch
    );
}

#[test]
fn standard_webhooks_published_example() {
    // The example in the Standard Webhooks reference libraries' tests and spec.
    let v = verifier(
        "standard-webhooks",
        &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        None,
    );
    let headers: [(&str, &[u8]); 3] = [
        ("webhook-id", b"msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", b"1614265330"),
        (
            "webhook-signature",
            b"v1,bm9ldHZhbGlk v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ];
    let body = br#"{"test": 2432232314}"#;
    let verified = check(&v, &headers, body, 1_614_265_330).unwrap();
    // Replay is keyed on the message id, not on the signature.
    let by_id = Sha256::digest(b"msg_p5jXN8AQM9LWM0D4loKWxJek");
    assert_eq!(verified.fingerprint.as_bytes(), &by_id[..]);
    assert_eq!(
        check(&v, &headers, br#"{"test": 2432232315}"#, 1_614_265_330).unwrap_err(),
        Rejection::SignatureMismatch
    );
}

#[test]
fn a_digest_hashes_the_secret_where_the_sender_puts_it() {
    let scheme = serde_saphyr::from_str::<SchemeSpec>(
        "signature_header: X\nalgorithm: sha256_digest\nsigned_payload: '{secret}{body}'\n",
    )
    .unwrap()
    .build()
    .unwrap();
    assert_eq!(scheme.signed_payload.to_string(), "{secret}{body}");
    let secrets = [Secret::new(b"s3cret".to_vec())];
    let v = Verifier::new(scheme, &secrets, 300).unwrap();
    let headers = HeaderMap::new();
    let delivery = Delivery {
        method: &Method::POST,
        path: "/h",
        query: None,
        headers: &headers,
        body: b"{}".into(),
    };
    let signed = v.sign(&delivery, "0").unwrap();
    let want = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"s3cret{}"));
    assert_eq!(signed[0].1, want);
    // Diagnostics never show the secret.
    assert_eq!(v.signed_payload(&delivery, "0"), b"{}");
    assert!(v.mac_of(0, b"x").is_none());
}
