//! JWT and RSA schemes end to end: `check` points at the line of a JWT block that does not
//! hold together, and a running gateway forwards a token only when it verifies under the
//! pinned algorithm, refusing the classic forgeries (`alg: none`, an RSA public key used as
//! an HMAC secret, a token lifted onto another body) with nothing forwarded.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use sha2::{Digest, Sha256};

use crate::support::{Upstream, bin, one_route, post};

/// A 2048-bit RSA key pair made for this test: PKCS#8 private, SPKI public.
const RSA_PKCS8: &str = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCh+1iVo7lxUaQLbTVRoRCg0SIK8gegeZ2BtYG+9thIwHkzfr/sa7zqgDPGjTknUoccjVpAif6nzQPp1CT2AvJpAs9BhEvvWQE8pIkz3S1tN+OLs49BhS1sm5FvrauNh6Ryr4UhBw39Y8R2cIL4fCqjm8jjxEa1asw13QTNyygajbHLWGavMv4jm38ucaa0Jy15Zsm6Evghc4Ae+4GSQHldSLKL//weiBuPeH5bLJzukPgGjRrunqy7vK11OK+wiCbTqYbz/MkKa7LzEphPN9lFXEDATMECJV2YzMIQkV0Wf5Q3Zk6bfWWSpwhvgTK1a5RA84F6frE4M/rxYVBt92DLAgMBAAECggEAObMf5gXxO9V6Gvvm31IBa1ezybRXVSmdGqQ+OHkTqC6vvdErqpriK6JJTzPlJQW3zUro2E6PoNRdzYBdPijkktWGYG8w4WySDTkLCqeB1ALxkkT/Bbbb7HEqCF8T2hF0Wcn+ITqzGAze4dXIQZ1xTuBiWggDrAIEBjfZyzjP60z2rLoIFGNuH6T3DFPzXeRShxqWMbwaoAuOnJuDNE0ZUZWA7S6NlL6RhLXZKVjBBBbsHwGCEQpaVLk/Y2h48UHyL9rUtaJ8I8IhHpnNtpXNh9xeSZTyg1+lOuYRs8V5f5bIBw7GkZ85kizxrTOfJEsT0tZ35BgakNDI+Z/wWXhSOQKBgQDYb6jtieLmX30qUzXYApMGlkfPsMngve6Booj0KgoMI3nKFtEKDqS+lLeIjHA08RHzu5gze3bI4lDKcR1jYjadeMSUvZIK8tc2RGiECWQJskXfEEndb/mVOGnUiIhEJoNHAS/uNEYfkBc4+6M9MGpPLsi9BFovHaqgR9cUKPz2xQKBgQC/l3EthR3il2X8gCO387e+JZLI58JkiFSHQzb/ligWXjeVVt5FjbLkDhJcn0PrXSy521PQRdQ3PpY/O4IT+hGAYxi+OpfFbPgJiCce1CYTerjiYmnm6X25gC80s75tZX5Z2KcyxP+6lac/B42Yyt3ZOMkyBu0RcL84npYAji3yTwKBgA6Vd4yJ/gAH7ycq9DXZ9o47Ehusje3W3ntduFy7eHHY8hvr7an/0poE61kIHYdztwH1YgwWBasDlO4PMSvBMmzp9lUPcQfL1TSS53f+Kf99Q7gEIPYK1YZ4hqkLiiMNdUsTiWdDnnYB/46XZih5WrB7NouF/42tMhIaxSNWn7UBAoGAdrs9Uj5ahN/aPh6TBB6vUdErJAIsP+0UpTaMUNwXP7VnsM7CtEvZ/uaRjoDMsIFvhEZdrIZ5uzq4FbulIwgn7G59GPZqs9iR5iZQSBSk/BFjnjfq9UThuyGrH3f8nQL2yGsxQo8/A7xWhwMBRx0BWuqMFMqiA9rhRg9RWkrCQpUCgYAqxRxi06NO9j9wHt2iCUWD1kLE7LXc7Ibzoi5XbhD4EpA0wJTHc3cEjKEvj32eiBPd4u6BZwazR4ZHO8FvDoeyrRIdes510aU2rcox1v+BkvkZlvHqF47pWTcODZvxch5lNiMoFHVtI0/oOLpq5lY7YJPu/hqL8ekAd2K7vAcz1w==";
const RSA_SPKI: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAoftYlaO5cVGkC201UaEQoNEiCvIHoHmdgbWBvvbYSMB5M36/7Gu86oAzxo05J1KHHI1aQIn+p80D6dQk9gLyaQLPQYRL71kBPKSJM90tbTfji7OPQYUtbJuRb62rjYekcq+FIQcN/WPEdnCC+Hwqo5vI48RGtWrMNd0EzcsoGo2xy1hmrzL+I5t/LnGmtCcteWbJuhL4IXOAHvuBkkB5XUiyi//8Hogbj3h+Wyyc7pD4Bo0a7p6su7ytdTivsIgm06mG8/zJCmuy8xKYTzfZRVxAwEzBAiVdmMzCEJFdFn+UN2ZOm31lkqcIb4EytWuUQPOBen6xODP68WFQbfdgywIDAQAB";
const NOW: i64 = 1_700_000_000;

fn check(route: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.yaml");
    let text = format!(
        "listen: 127.0.0.1:0\nupstream: http://127.0.0.1:3000\nroutes:\n  - name: r\n    path: /r\n{route}"
    );
    std::fs::write(&path, text).unwrap();
    let out = Command::new(bin())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{route}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    err.split_once("gw.yaml")
        .map_or(err.clone(), |(_, rest)| rest.to_owned())
}

#[test]
fn check_points_at_what_a_jwt_or_rsa_route_gets_wrong() {
    let cases = [
        (
            "    secrets: [s]\n    scheme:\n      signature_header: X-Jwt\n      signed_payload: '{body}'\n      jwt: {}\n",
            ":10:12: routes[0].scheme.signed_payload: has no effect in a jwt scheme: the token carries it",
        ),
        (
            "    secrets: [s]\n    scheme:\n      algorithm: sha1\n      signature_header: X-Jwt\n      jwt: {}\n",
            ":10:12: routes[0].scheme.jwt: algorithm `sha1` has no JWS form",
        ),
        (
            "    provider: messagebird\n    secrets: [s]\n",
            "routes[0].public_url: this scheme signs the URL the sender posts to",
        ),
        (
            "    provider: wise\n    public_key: MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n",
            ":7:17: routes[0].public_key: public_key is not an RSA public key",
        ),
        (
            "    provider: circle\n    public_key: ab\n    public_keys: { a: ab }\n",
            ":8:18: routes[0].public_keys: set public_key or public_keys, not both",
        ),
        (
            "    provider: github\n    public_keys: { a: ab }\n",
            ":7:18: routes[0].public_keys: this scheme is verified with `secrets`, not `public_keys`",
        ),
        (
            "    secrets: [s]\n    scheme:\n      signature_header: X-Sig\n      key_id_header: X-Key\n",
            ":9:22: routes[0].scheme.key_id_header: names one of the route's public_keys; this scheme's algorithm uses secrets",
        ),
    ];
    for (route, expected) in cases {
        let err = check(route);
        assert!(err.contains(expected), "expected {expected:?}\ngot {err:?}");
    }
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

fn claims(body: &[u8]) -> String {
    format!(
        r#"{{"iat":{NOW},"payload_hash":"{}"}}"#,
        hex::encode(Sha256::digest(body))
    )
}

fn rs256(claims: &str) -> String {
    let key = RsaKeyPair::from_pkcs8(&STANDARD.decode(RSA_PKCS8).unwrap()).unwrap();
    let input = format!("{}.{}", b64(r#"{"alg":"RS256","typ":"JWT"}"#), b64(claims));
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn hs256(key: &[u8], header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let tag = hookgate::verify::KeyedMac::new(hookgate::scheme::Algorithm::Sha256, key)
        .tag_of(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_bytes()))
}

#[tokio::test]
async fn an_rs256_route_forwards_only_a_token_the_key_signed_for_that_body() {
    let upstream = Upstream::start().await;
    let gw = one_route(
        &upstream,
        &format!(
            "    public_key: {RSA_SPKI}\n    scheme:\n      algorithm: rsa_pkcs1_sha256\n      signature_header: Authorization\n      prefix: 'Bearer '\n      jwt: {{ body_hash_claim: payload_hash, require: [iat] }}\n"
        ),
    )
    .in_process()
    .await;
    gw.clock.set(NOW);
    let body = br#"{"event":"paid"}"#;
    let send = |token: String, body: &'static [u8]| {
        let headers = vec![("Authorization".to_owned(), format!("Bearer {token}"))];
        async move { post(gw.addr, "/hook", &headers, body).await }
    };
    let forgeries = [
        // alg: none, no signature.
        format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(&claims(body))),
        // The public key (public knowledge) as an HMAC secret.
        hs256(RSA_SPKI.as_bytes(), r#"{"alg":"HS256"}"#, &claims(body)),
        // A genuine token for another body.
        rs256(&claims(b"{}")),
        // A genuine signature over claims without iat.
        rs256(&format!(
            r#"{{"payload_hash":"{}"}}"#,
            hex::encode(Sha256::digest(body))
        )),
    ];
    for token in forgeries {
        let reply = send(token.clone(), body).await;
        assert_eq!(reply.status, 401, "{token}: {reply:?}");
    }
    assert_eq!(upstream.count(), 0, "no forgery reaches the app");
    let token = rs256(&claims(body));
    let reply = send(token.clone(), body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(upstream.received()[0].body.as_ref(), body);
    assert_eq!(
        send(token, body).await.status,
        401,
        "the same token again is a replay"
    );
    gw.clock.set(NOW + 301);
    assert_eq!(
        send(rs256(&claims(body)), body).await.status,
        401,
        "iat outside the tolerance"
    );
    assert_eq!(upstream.count(), 1);
}
