//! The JWT parser behind a valid signature: the fuzzer writes the protected header, the claims
//! and the body, and the token is signed with the route's own key, so every claim check is
//! reached. Must never panic, and whatever is accepted must satisfy every rule: the pinned
//! `alg`, no `crit`, the issuer, a fresh `iat`, and a body hash equal to the body's. A token
//! with a signature the fuzzer wrote itself must never be accepted.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, Method};
use hookgate::scheme::{Algorithm, SchemeSpec};
use hookgate::secret::Secret;
use hookgate::verify::{Delivery, KeyedMac, Verifier};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

// Only `fields` is used here; the shared schemes serve the other targets.
#[allow(dead_code)]
#[path = "common.rs"]
mod common;

const SECRET: &[u8] = b"fuzz-jwt-secret";
const NOW: i64 = 1_700_000_000;

fn verifier() -> Verifier {
    let spec: SchemeSpec = serde_saphyr::from_str(
        "signature_header: X-Jwt\njwt: { body_hash_claim: payload_hash, issuer: I, require: [iat] }\n",
    )
    .expect("parses");
    Verifier::new(spec.build().expect("builds"), &[Secret::new(SECRET.to_vec())], 300).expect("keys")
}

fn json(segment: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_slice(segment) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => panic!("accepted a segment that is not a JSON object"),
    }
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static VERIFIER: Verifier = verifier();
    }
    let parts = common::fields(data, 4);
    let (header, claims, body, forged) = (parts[0], parts[1], parts[2], parts[3]);
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let tag = KeyedMac::new(Algorithm::Sha256, SECRET).tag_of(input.as_bytes());
    let signed = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_bytes()));
    VERIFIER.with(|verifier| {
        let verify = |token: &[u8]| {
            let Ok(value) = HeaderValue::from_bytes(token) else { return false };
            let mut headers = HeaderMap::new();
            headers.insert("x-jwt", value);
            let delivery = Delivery { method: &Method::POST, path: "/h", query: None, headers: &headers, body: body.into() };
            verifier.verify(&delivery, NOW).is_ok()
        };
        if verify(signed.as_bytes()) {
            let header = json(header);
            assert_eq!(header.get("alg").and_then(|a| a.as_str()), Some("HS256"));
            assert!(!header.contains_key("crit"));
            let claims = json(claims);
            assert_eq!(claims.get("iss").and_then(|i| i.as_str()), Some("I"));
            let iat = claims.get("iat").and_then(|t| t.as_f64()).expect("iat accepted");
            assert!((iat - NOW as f64).abs() <= 301.0, "iat {iat} accepted");
            let hash = hex::encode(Sha256::digest(body));
            match claims.get("payload_hash").and_then(|h| h.as_str()) {
                Some(offered) => assert!(offered.eq_ignore_ascii_case(&hash)),
                None => assert!(body.is_empty()),
            }
        }
        // The fuzzer's own bytes as the signature (or as the whole token) never verify.
        let guessed = [input.as_bytes(), b".", forged].concat();
        assert!(!verify(&guessed) || URL_SAFE_NO_PAD.decode(forged).is_ok_and(|f| f == tag.as_bytes()));
        assert!(!verify(forged));
    });
});
