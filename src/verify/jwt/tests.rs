//! JWT and detached JWS: structure, pinned algorithms, signatures under each key kind, time
//! claims and the claims that bind the body and the URL.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use super::*;
use crate::scheme::SchemeSpec;
use crate::secret::Secret;

const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"event":"created"}"#;
/// A 2048-bit RSA key pair made for these tests: PKCS#8 private, SPKI public.
const RSA_PKCS8: &str = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCh+1iVo7lxUaQLbTVRoRCg0SIK8gegeZ2BtYG+9thIwHkzfr/sa7zqgDPGjTknUoccjVpAif6nzQPp1CT2AvJpAs9BhEvvWQE8pIkz3S1tN+OLs49BhS1sm5FvrauNh6Ryr4UhBw39Y8R2cIL4fCqjm8jjxEa1asw13QTNyygajbHLWGavMv4jm38ucaa0Jy15Zsm6Evghc4Ae+4GSQHldSLKL//weiBuPeH5bLJzukPgGjRrunqy7vK11OK+wiCbTqYbz/MkKa7LzEphPN9lFXEDATMECJV2YzMIQkV0Wf5Q3Zk6bfWWSpwhvgTK1a5RA84F6frE4M/rxYVBt92DLAgMBAAECggEAObMf5gXxO9V6Gvvm31IBa1ezybRXVSmdGqQ+OHkTqC6vvdErqpriK6JJTzPlJQW3zUro2E6PoNRdzYBdPijkktWGYG8w4WySDTkLCqeB1ALxkkT/Bbbb7HEqCF8T2hF0Wcn+ITqzGAze4dXIQZ1xTuBiWggDrAIEBjfZyzjP60z2rLoIFGNuH6T3DFPzXeRShxqWMbwaoAuOnJuDNE0ZUZWA7S6NlL6RhLXZKVjBBBbsHwGCEQpaVLk/Y2h48UHyL9rUtaJ8I8IhHpnNtpXNh9xeSZTyg1+lOuYRs8V5f5bIBw7GkZ85kizxrTOfJEsT0tZ35BgakNDI+Z/wWXhSOQKBgQDYb6jtieLmX30qUzXYApMGlkfPsMngve6Booj0KgoMI3nKFtEKDqS+lLeIjHA08RHzu5gze3bI4lDKcR1jYjadeMSUvZIK8tc2RGiECWQJskXfEEndb/mVOGnUiIhEJoNHAS/uNEYfkBc4+6M9MGpPLsi9BFovHaqgR9cUKPz2xQKBgQC/l3EthR3il2X8gCO387e+JZLI58JkiFSHQzb/ligWXjeVVt5FjbLkDhJcn0PrXSy521PQRdQ3PpY/O4IT+hGAYxi+OpfFbPgJiCce1CYTerjiYmnm6X25gC80s75tZX5Z2KcyxP+6lac/B42Yyt3ZOMkyBu0RcL84npYAji3yTwKBgA6Vd4yJ/gAH7ycq9DXZ9o47Ehusje3W3ntduFy7eHHY8hvr7an/0poE61kIHYdztwH1YgwWBasDlO4PMSvBMmzp9lUPcQfL1TSS53f+Kf99Q7gEIPYK1YZ4hqkLiiMNdUsTiWdDnnYB/46XZih5WrB7NouF/42tMhIaxSNWn7UBAoGAdrs9Uj5ahN/aPh6TBB6vUdErJAIsP+0UpTaMUNwXP7VnsM7CtEvZ/uaRjoDMsIFvhEZdrIZ5uzq4FbulIwgn7G59GPZqs9iR5iZQSBSk/BFjnjfq9UThuyGrH3f8nQL2yGsxQo8/A7xWhwMBRx0BWuqMFMqiA9rhRg9RWkrCQpUCgYAqxRxi06NO9j9wHt2iCUWD1kLE7LXc7Ibzoi5XbhD4EpA0wJTHc3cEjKEvj32eiBPd4u6BZwazR4ZHO8FvDoeyrRIdes510aU2rcox1v+BkvkZlvHqF47pWTcODZvxch5lNiMoFHVtI0/oOLpq5lY7YJPu/hqL8ekAd2K7vAcz1w==";
const RSA_SPKI: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoftYlaO5cVGkC201UaEQoNEiCvIHoHmdgbWBvvbYSMB5M36/7Gu86oAzxo05J1KHHI1aQIn+p80D6dQk9gLyaQLPQYRL71kBPKSJM90tbTfji7OPQYUtbJuRb62rjYekcq+FIQcN/WPEdnCC+Hwqo5vI48RGtWrMNd0EzcsoGo2xy1hmrzL+I5t/LnGmtCcteWbJuhL4IXOAHvuBkkB5XUiyi//8Hogbj3h+Wyyc7pD4Bo0a7p6su7ytdTivsIgm06mG8/zJCmuy8xKYTzfZRVxAwEzBAiVdmMzCEJFdFn+UN2ZOm31lkqcIb4EytWuUQPOBen6xODP68WFQbfdgywIDAQAB";

fn verifier(yaml: &str, key: &[u8]) -> Verifier {
    let spec: SchemeSpec = serde_saphyr::from_str(yaml).unwrap();
    Verifier::new(spec.build().unwrap(), &[Secret::new(key.to_vec())], 300)
        .unwrap()
        .with_public_url("https://hooks.example.com")
}

fn hs256() -> Verifier {
    verifier(
        "signature_header: Authorization\nprefix: 'Bearer '\njwt: { body_hash_claim: payload_hash, issuer: Sender }\n",
        b"secret",
    )
}

fn check(
    v: &Verifier,
    header: &str,
    value: &str,
    body: &[u8],
    now: i64,
) -> Result<Verified, Rejection> {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::try_from(header).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
    v.verify(
        &Delivery {
            method: &Method::POST,
            path: "/hook",
            query: Some("a=1"),
            headers: &headers,
            body: body.into(),
        },
        now,
    )
}

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

/// A compact token over `header` and `claims` signed by `sign`.
fn token(header: &str, claims: &str, sign: &dyn Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
    format!("{input}.{signature}")
}

fn hmac(key: &'static [u8]) -> impl Fn(&[u8]) -> Vec<u8> {
    move |input| {
        crate::verify::KeyedMac::new(crate::scheme::Algorithm::Sha256, key)
            .tag_of(input)
            .as_bytes()
            .to_vec()
    }
}

fn body_hash() -> String {
    hex::encode(Sha256::digest(BODY))
}

fn claims(extra: &str) -> String {
    format!(
        r#"{{"iss":"Sender","iat":{NOW},"payload_hash":"{}"{extra}}}"#,
        body_hash()
    )
}

#[test]
fn a_signed_token_binding_the_body_verifies_and_a_changed_body_does_not() {
    let v = hs256();
    let t = token(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        &claims(""),
        &hmac(b"secret"),
    );
    let ok = check(&v, "authorization", &format!("Bearer {t}"), BODY, NOW).unwrap();
    assert_eq!(ok.timestamp, Some(NOW));
    assert!(check(&v, "authorization", &format!("bearer {t}"), BODY, NOW).is_ok());
    assert!(check(&v, "authorization", &t, BODY, NOW).is_ok());
    assert_eq!(
        check(&v, "authorization", &format!("Bearer {t}"), b"{}", NOW).unwrap_err(),
        Rejection::SignatureMismatch
    );
    let wrong = token(r#"{"alg":"HS256"}"#, &claims(""), &hmac(b"other"));
    assert_eq!(
        check(&v, "authorization", &wrong, BODY, NOW).unwrap_err(),
        Rejection::SignatureMismatch
    );
}

#[test]
fn the_algorithm_is_the_schemes_never_the_tokens() {
    let v = hs256();
    let unsigned = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(&claims("")));
    let cases = [
        unsigned.clone(),
        format!("{unsigned}AAAA"),
        token(r#"{"alg":"HS512"}"#, &claims(""), &hmac(b"secret")),
        token(r#"{"typ":"JWT"}"#, &claims(""), &hmac(b"secret")),
        token(
            r#"{"alg":"HS256","crit":["b64"]}"#,
            &claims(""),
            &hmac(b"secret"),
        ),
        token("[1]", &claims(""), &hmac(b"secret")),
        "a.b".into(),
        "a.b.c.d".into(),
        format!("{}..sig", b64(r#"{"alg":"HS256"}"#)),
    ];
    for case in cases {
        assert_eq!(
            check(&v, "authorization", &case, BODY, NOW).unwrap_err(),
            Rejection::SignatureMalformed,
            "{case}"
        );
    }
    // An RSA public key used as an HMAC secret (algorithm confusion) never gets that far.
    let rs = verifier(
        "signature_header: X-Jwt\nalgorithm: rsa_pkcs1_sha256\njwt: {}\n",
        RSA_SPKI.as_bytes(),
    );
    let confused = token(
        r#"{"alg":"HS256"}"#,
        &claims(""),
        &hmac(RSA_SPKI.as_bytes()),
    );
    assert_eq!(
        check(&rs, "x-jwt", &confused, BODY, NOW).unwrap_err(),
        Rejection::SignatureMalformed
    );
}

#[test]
fn claims_are_checked_only_under_a_valid_signature() {
    let v = hs256();
    let sign = hmac(b"secret");
    let at = |claims: &str| {
        check(
            &v,
            "authorization",
            &token(r#"{"alg":"HS256"}"#, claims, &sign),
            BODY,
            NOW,
        )
    };
    let hash = body_hash();
    assert_eq!(
        at(&format!(
            r#"{{"iss":"Other","iat":{NOW},"payload_hash":"{hash}"}}"#
        ))
        .unwrap_err(),
        Rejection::SignatureMismatch
    );
    assert_eq!(
        at(&format!(r#"{{"iss":"Sender","iat":{NOW}}}"#)).unwrap_err(),
        Rejection::SignatureMismatch
    );
    let untimed = at(&format!(r#"{{"iss":"Sender","payload_hash":"{hash}"}}"#)).unwrap();
    assert_eq!(untimed.timestamp, None);
    assert_eq!(
        at(&claims(&format!(r#","exp":{}"#, NOW - 61))).unwrap_err(),
        Rejection::TimestampOutOfTolerance
    );
    assert!(at(&claims(&format!(r#","exp":{}"#, NOW - 59))).is_ok());
    assert_eq!(
        at(&claims(&format!(r#","nbf":{}"#, NOW + 301))).unwrap_err(),
        Rejection::TimestampOutOfTolerance
    );
    let old = format!(
        r#"{{"iss":"Sender","iat":{},"payload_hash":"{hash}"}}"#,
        NOW - 301
    );
    assert_eq!(at(&old).unwrap_err(), Rejection::TimestampOutOfTolerance);
    let text_time = format!(r#"{{"iss":"Sender","iat":"{NOW}","payload_hash":"{hash}"}}"#);
    assert_eq!(at(&text_time).unwrap_err(), Rejection::TimestampMalformed);
    // Only exp: accepted while it expires within the tolerance, reserved until it does.
    let only_exp = |exp: i64| format!(r#"{{"iss":"Sender","exp":{exp},"payload_hash":"{hash}"}}"#);
    let ok = at(&only_exp(NOW + 200)).unwrap();
    assert_eq!(ok.timestamp, Some(NOW + 200 + CLOCK_SKEW - 300));
    assert_eq!(
        at(&only_exp(NOW + 3600)).unwrap_err(),
        Rejection::TimestampOutOfTolerance
    );
}

#[test]
fn an_empty_body_may_go_without_its_hash_and_the_url_hash_binds_path_and_query() {
    let v = verifier(
        "signature_header: MessageBird-Signature-JWT\njwt: { body_hash_claim: payload_hash, url_hash_claim: url_hash, require: [nbf, exp, jti] }\n",
        b"secret",
    );
    let url = hex::encode(Sha256::digest("https://hooks.example.com/hook?a=1"));
    let sign = hmac(b"secret");
    let at = |claims: String, body: &[u8]| {
        check(
            &v,
            "messagebird-signature-jwt",
            &token(r#"{"alg":"HS256"}"#, &claims, &sign),
            body,
            NOW,
        )
    };
    let times = format!(r#""nbf":{NOW},"exp":{},"jti":"j1""#, NOW + 60);
    assert!(at(format!(r#"{{{times},"url_hash":"{url}"}}"#), b"").is_ok());
    assert_eq!(
        at(format!(r#"{{{times},"url_hash":"{url}"}}"#), BODY).unwrap_err(),
        Rejection::SignatureMismatch
    );
    let other = hex::encode(Sha256::digest("https://hooks.example.com/hook"));
    assert_eq!(
        at(format!(r#"{{{times},"url_hash":"{other}"}}"#), b"").unwrap_err(),
        Rejection::SignatureMismatch
    );
    let no_jti = format!(r#"{{"nbf":{NOW},"exp":{},"url_hash":"{url}"}}"#, NOW + 60);
    assert_eq!(at(no_jti, b"").unwrap_err(), Rejection::SignatureMismatch);
}

#[test]
fn sign_mints_what_verify_accepts() {
    for yaml in [
        "signature_header: Authorization\nprefix: 'Bearer '\njwt: { body_hash_claim: payload_hash, issuer: Sender, audience: me }\n",
        "signature_header: X-Jwt\nalgorithm: sha512\njwt: { body_hash_claim: h, body_hash_encoding: base64, url_hash_claim: u, require: [jti] }\n",
        "signature_header: X-Jws\njwt: { detached: true }\n",
        "signature_header: X-Jwt\njwt: { body_hash_claim: h, require: [nbf, exp, iat] }\n",
    ] {
        let v = verifier(yaml, b"secret");
        let headers = HeaderMap::new();
        let delivery = Delivery {
            method: &Method::POST,
            path: "/hook",
            query: Some("a=1"),
            headers: &headers,
            body: BODY.into(),
        };
        // A sender clock up to the tolerance ahead still verifies.
        let signed = v.sign(&delivery, &(NOW + 200).to_string()).unwrap();
        let (name, value) = &signed[0];
        assert!(check(&v, name.as_str(), value, BODY, NOW).is_ok(), "{yaml}");
        assert!(
            check(&v, name.as_str(), value, b"x", NOW).is_err(),
            "{yaml}"
        );
    }
}

#[test]
fn public_key_algorithms_verify_and_tokens_are_their_own_replay_key() {
    let rng = SystemRandom::new();
    let claims = claims("");
    let cases: Vec<(&str, Vec<u8>, String)> = {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let ed_token = token(r#"{"alg":"EdDSA"}"#, &claims, &|m| {
            ed.sign(m).as_ref().to_vec()
        });
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let ec_token = token(r#"{"alg":"ES256"}"#, &claims, &|m| {
            ec.sign(&rng, m).unwrap().as_ref().to_vec()
        });
        let rsa = RsaKeyPair::from_pkcs8(&STANDARD.decode(RSA_PKCS8).unwrap()).unwrap();
        let rs_token = token(r#"{"alg":"RS256"}"#, &claims, &|m| {
            let mut sig = vec![0; rsa.public().modulus_len()];
            rsa.sign(&RSA_PKCS1_SHA256, &rng, m, &mut sig).unwrap();
            sig
        });
        vec![
            (
                "ed25519",
                hex::encode(ed.public_key().as_ref()).into_bytes(),
                ed_token,
            ),
            (
                "ecdsa_p256_sha256",
                hex::encode(ec.public_key().as_ref()).into_bytes(),
                ec_token,
            ),
            ("rsa_pkcs1_sha256", RSA_SPKI.as_bytes().to_vec(), rs_token),
        ]
    };
    for (algorithm, key, t) in cases {
        let v = verifier(
            &format!(
                "signature_header: X-Jwt\nalgorithm: {algorithm}\njwt: {{ body_hash_claim: payload_hash }}\n"
            ),
            &key,
        );
        let first = check(&v, "x-jwt", &t, BODY, NOW).unwrap().fingerprint;
        let again = check(&v, "x-jwt", &t, BODY, NOW).unwrap().fingerprint;
        assert!(first.ct_eq(&again), "{algorithm}");
        assert_eq!(
            check(&v, "x-jwt", &t, b"{}", NOW).unwrap_err(),
            Rejection::SignatureMismatch,
            "{algorithm}"
        );
        let mut bytes = t.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert_eq!(
            check(&v, "x-jwt", &flipped, BODY, NOW).unwrap_err(),
            Rejection::SignatureMismatch,
            "{algorithm}"
        );
    }
}

#[test]
fn a_token_that_is_the_body_verifies_and_any_change_to_it_does_not() {
    let v = verifier("jwt: { in_body: true, issuer: Sender }\n", b"secret");
    let claims = format!(r#"{{"iss":"Sender","iat":{NOW},"data":"{{\"a\":1}}"}}"#);
    let t = token(r#"{"alg":"HS256"}"#, &claims, &hmac(b"secret"));
    // No signature header is read: an unrelated one is ignored.
    let ok = check(&v, "x-other", "1", t.as_bytes(), NOW).unwrap();
    assert_eq!(ok.timestamp, Some(NOW));
    let padded = format!("\n {t}\r\n");
    assert!(check(&v, "x-other", "1", padded.as_bytes(), NOW).is_ok());
    let mut changed = t.clone().into_bytes();
    let at = changed.len() / 3;
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    assert!(check(&v, "x-other", "1", &changed, NOW).is_err());
    assert_eq!(
        check(&v, "x-other", "1", b"  ", NOW).unwrap_err(),
        Rejection::SignatureMissing
    );
    let other = token(r#"{"alg":"HS256"}"#, &claims, &hmac(b"other"));
    assert_eq!(
        check(&v, "x-other", "1", other.as_bytes(), NOW).unwrap_err(),
        Rejection::SignatureMismatch
    );
    assert!(v.scheme().signature_reads_body());
    // A large event is as long as the body limit allows, not a header token's bound.
    let big = format!(
        r#"{{"iss":"Sender","iat":{NOW},"data":"{}"}}"#,
        "x".repeat(2 * MAX_TOKEN_BYTES)
    );
    let t = token(r#"{"alg":"HS256"}"#, &big, &hmac(b"secret"));
    assert!(t.len() > MAX_TOKEN_BYTES);
    assert!(check(&v, "x-other", "1", t.as_bytes(), NOW).is_ok());
}
