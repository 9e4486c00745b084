//! Untrusted deliveries against every scheme: signature header grammars (plain, prefixed,
//! `,` / `;` / space lists), timestamp parsing (seconds, milliseconds), encodings and the
//! signed-payload renderer. Must never panic, and must never accept: no input here carries a
//! signature made with the secret.

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use hookgate::verify::Delivery;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const HEADERS: [&str; 14] = [
    "x-flow-signature", "x-hmac-hash", "ms-signature", "x-extend-request-signature",
    "x-extend-request-timestamp", "x-webhook-signature", "x-hub-signature-256",
    "x-hub-signature", "x-sig", "x-ts", "x-id", "x-other", "authorization", "x-signature",
];

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static VERIFIERS: Vec<hookgate::verify::Verifier> = common::verifiers(b"fuzz-secret");
    }
    let parts = common::fields(data, 5);
    let mut headers = HeaderMap::new();
    // Each of the first four fields is a header value, its name chosen by its first byte;
    // values that are not valid header bytes are dropped as hyper would refuse them.
    for field in &parts[..4] {
        if let Some((pick, value)) = field.split_first() {
            let name = HeaderName::from_static(HEADERS[usize::from(*pick) % HEADERS.len()]);
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.append(name, value);
            }
        }
    }
    let body = parts[4];
    let delivery = Delivery {
        method: &Method::POST,
        path: "/hook",
        query: None,
        headers: &headers,
        body: body.into(),
    };
    VERIFIERS.with(|verifiers| {
        for verifier in verifiers {
            assert!(verifier.verify(&delivery, 1_700_000_000).is_err());
        }
    });
});
