//! Untrusted requests against every handshake, unsigned and signed: the method, target,
//! headers and body are the fuzzer's. Must never panic, and the two unsigned handshakes that
//! answer a MAC (X's CRC, LinkedIn's challenge) must answer only for token-shaped values, the
//! shape no guarded route accepts as a signed payload.

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use hookgate::handshake::{RouteKeys, after_verify, before_body, with_body};
use hookgate::scheme::{Handshake, SchemeSpec};
use hookgate::secret::Secret;
use hookgate::verify::{Delivery, Verifier, challenge};
use libfuzzer_sys::fuzz_target;

// Only `fields` is used here; the shared schemes serve the other targets.
#[allow(dead_code)]
#[path = "common.rs"]
mod common;

const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::HEAD, Method::OPTIONS, Method::PUT];
const HEADERS: [&str; 10] = [
    "x-okta-verification-challenge", "smartsheet-hook-challenge", "x-front-challenge",
    "validation-token", "webhook-request-origin", "x-gcs-webhooks-endpoint-verification",
    "aeg-event-type", "twitch-eventsub-message-type", "content-type", "x-other",
];

fn verifier() -> Verifier {
    let spec: SchemeSpec = serde_saphyr::from_str("signature_header: X-Sig\n").expect("parses");
    Verifier::new(spec.build().expect("builds"), &[Secret::new(b"fuzz-secret".to_vec())], 300)
        .expect("keys")
        .with_public_url("https://hooks.example.com")
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static VERIFIER: Verifier = verifier();
    }
    let parts = common::fields(data, 5);
    let method = &METHODS[usize::from(parts[0].first().copied().unwrap_or(0)) % METHODS.len()];
    let Ok(target) = std::str::from_utf8(parts[1]) else { return };
    let Ok(uri) = format!("/hook?{target}").parse::<Uri>() else { return };
    let mut headers = HeaderMap::new();
    for field in &parts[2..4] {
        if let Some((pick, value)) = field.split_first() {
            let name = HeaderName::from_static(HEADERS[usize::from(*pick) % HEADERS.len()]);
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.append(name, value);
            }
        }
    }
    let body = parts[4];
    let token = Secret::new(b"verify-token".to_vec());
    VERIFIER.with(|verifier| {
        let keys = RouteKeys { verifier, verify_token: Some(&token) };
        for handshake in Handshake::ALL {
            let answer = before_body(handshake, method, &uri, &headers, keys);
            if handshake.answers_unsigned_mac() && matches!(answer, Some(Ok(_))) {
                let param = if handshake == Handshake::TwitterCrc { "crc_token" } else { "challengeCode" };
                // The first pair that decodes to this name, as the handshake reads it.
                let value = uri
                    .query()
                    .and_then(|q| {
                        q.split('&').find_map(|pair| {
                            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                            (decode(key)? == param.as_bytes()).then(|| decode(value)).flatten()
                        })
                    })
                    .unwrap_or_default();
                assert!(
                    challenge::is_token(&value),
                    "{handshake:?} answered a MAC of a non-token: {value:?}"
                );
            }
            let _ = with_body(handshake, &headers, body);
            let delivery = Delivery { method, path: uri.path(), query: uri.query(), headers: &headers, body: body.into() };
            let _ = after_verify(handshake, &delivery, verifier, 0);
        }
    });
});

/// Form decoding: `+` is a space, `%XX` a byte; `None` for a malformed escape. The target's
/// own copy, not hookgate's: the oracle that reads the token back must not share the code
/// whose answer it checks.
fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let mut byte = [0u8; 1];
                hex::decode_to_slice(bytes.get(i + 1..i + 3)?, &mut byte).ok()?;
                out.push(byte[0]);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Some(out)
}
