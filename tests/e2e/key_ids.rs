//! Several public keys per route: `public_keys: {id: key}` picks the key a delivery names
//! (Circle's `X-Circle-Key-Id`, a JWT's `kid`), and on a scheme that names none every key is
//! tried, so a Discord key rotates with an overlap. A signature under one key never passes
//! for another id, and a missing or unknown id is refused with nothing forwarded.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair,
};
use sha2::{Digest, Sha256};

use crate::support::{Upstream, one_route, post};

const NOW: i64 = 1_700_000_000;

fn p256(alg: &'static EcdsaSigningAlgorithm) -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
}

fn ed25519() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn circle_picks_the_key_its_id_names() {
    let (a, b) = (
        p256(&ECDSA_P256_SHA256_ASN1_SIGNING),
        p256(&ECDSA_P256_SHA256_ASN1_SIGNING),
    );
    let upstream = Upstream::start().await;
    let route = format!(
        "    provider: circle\n    public_keys:\n      key-a: {}\n      key-b: {}\n",
        hex::encode(a.public_key().as_ref()),
        hex::encode(b.public_key().as_ref())
    );
    let gw = one_route(&upstream, &route).in_process().await;
    let body = br#"{"notificationType":"transfers"}"#;
    let signed_by_b = STANDARD.encode(b.sign(&SystemRandom::new(), body).unwrap());
    let refused = [
        headers(&[
            ("X-Circle-Signature", &signed_by_b),
            ("X-Circle-Key-Id", "key-a"),
        ]),
        headers(&[
            ("X-Circle-Signature", &signed_by_b),
            ("X-Circle-Key-Id", "key-c"),
        ]),
        headers(&[("X-Circle-Signature", &signed_by_b)]),
        headers(&[
            ("X-Circle-Signature", &signed_by_b),
            ("X-Circle-Key-Id", "key-b"),
            ("X-Circle-Key-Id", "key-a"),
        ]),
    ];
    for h in &refused {
        let reply = post(gw.addr, "/hook", h, body).await;
        assert_eq!(reply.status, 401, "{h:?}: {reply:?}");
    }
    assert_eq!(upstream.count(), 0);
    let good = headers(&[
        ("X-Circle-Signature", &signed_by_b),
        ("X-Circle-Key-Id", "key-b"),
    ]);
    assert_eq!(post(gw.addr, "/hook", &good, body).await.status, 200);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn a_scheme_naming_no_key_tries_each_so_a_discord_key_rotates_with_overlap() {
    let (old, new, other) = (ed25519(), ed25519(), ed25519());
    let upstream = Upstream::start().await;
    let route = format!(
        "    provider: discord\n    public_keys:\n      old: {}\n      new: {}\n",
        hex::encode(old.public_key().as_ref()),
        hex::encode(new.public_key().as_ref())
    );
    let gw = one_route(&upstream, &route).in_process().await;
    gw.clock.set(NOW);
    for (i, key) in [&old, &new, &other].into_iter().enumerate() {
        let body = format!(r#"{{"type":2,"n":{i}}}"#);
        let signature = hex::encode(key.sign(format!("{NOW}{body}").as_bytes()));
        let h = headers(&[
            ("X-Signature-Ed25519", &signature),
            ("X-Signature-Timestamp", &NOW.to_string()),
        ]);
        let reply = post(gw.addr, "/hook", &h, body.as_bytes()).await;
        assert_eq!(
            reply.status,
            if i < 2 { 200 } else { 401 },
            "key {i}: {reply:?}"
        );
    }
    assert_eq!(upstream.count(), 2);
}

#[tokio::test]
async fn a_jwt_kid_picks_its_key() {
    let (a, b) = (
        p256(&ECDSA_P256_SHA256_FIXED_SIGNING),
        p256(&ECDSA_P256_SHA256_FIXED_SIGNING),
    );
    let upstream = Upstream::start().await;
    let route = format!(
        "    public_keys:\n      a: {}\n      b: {}\n    scheme:\n      algorithm: ecdsa_p256_sha256\n      signature_header: X-Jwt\n      jwt: {{ body_hash_claim: h }}\n",
        hex::encode(a.public_key().as_ref()),
        hex::encode(b.public_key().as_ref())
    );
    let gw = one_route(&upstream, &route).in_process().await;
    gw.clock.set(NOW);
    let body = br#"{"e":1}"#;
    let token = |kid: Option<&str>, key: &EcdsaKeyPair| {
        let header = match kid {
            Some(kid) => format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#),
            None => r#"{"alg":"ES256"}"#.to_owned(),
        };
        let claims = format!(
            r#"{{"iat":{NOW},"h":"{}"}}"#,
            hex::encode(Sha256::digest(body))
        );
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    };
    for t in [token(Some("a"), &b), token(None, &b), token(Some("z"), &b)] {
        let reply = post(gw.addr, "/hook", &headers(&[("X-Jwt", &t)]), body).await;
        assert_eq!(reply.status, 401, "{t}: {reply:?}");
    }
    assert_eq!(upstream.count(), 0);
    let good = token(Some("b"), &b);
    assert_eq!(
        post(gw.addr, "/hook", &headers(&[("X-Jwt", &good)]), body)
            .await
            .status,
        200
    );
    assert_eq!(upstream.count(), 1);
}
