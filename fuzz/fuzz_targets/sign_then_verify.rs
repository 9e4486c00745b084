//! The renderer agrees with itself: what `sign` produces for any body, path, method, header
//! and timestamp verifies, and the same headers over a different body do not.

#![no_main]

use http::{HeaderMap, HeaderValue, Method};
use hookgate::verify::Delivery;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static VERIFIERS: Vec<hookgate::verify::Verifier> = common::verifiers(b"fuzz-secret");
    }
    let parts = common::fields(data, 4);
    let Ok(path) = std::str::from_utf8(parts[0]) else { return };
    let Ok(id) = HeaderValue::from_bytes(parts[1]) else { return };
    // A timestamp near "now", in seconds and in milliseconds as the scheme wants.
    let offset = parts[2].first().map_or(0, |b| i64::from(*b) - 128);
    let body = parts[3];
    let now: i64 = 1_700_000_000;
    VERIFIERS.with(|verifiers| {
        for verifier in verifiers {
            let ms = verifier.scheme().timestamp_format == hookgate::scheme::TimestampFormat::UnixMs;
            let stamp = if ms { (now + offset) * 1000 } else { now + offset }.to_string();
            let mut headers = HeaderMap::new();
            headers.insert("x-id", id.clone());
            let delivery = Delivery { method: &Method::POST, path, query: None, headers: &headers, body };
            let Ok(signed) = verifier.sign(&delivery, &stamp) else { return };
            for (name, value) in signed {
                headers.insert(name, HeaderValue::from_str(&value).expect("signed headers are valid"));
            }
            let delivery = Delivery { method: &Method::POST, path, query: None, headers: &headers, body };
            assert!(verifier.verify(&delivery, now).is_ok(), "own signature refused");
            let mut other = body.to_vec();
            other.push(b'x');
            let tampered = Delivery { method: &Method::POST, path, query: None, headers: &headers, body: &other };
            assert!(verifier.verify(&tampered, now).is_err(), "tampered body accepted");
        }
    });
});
