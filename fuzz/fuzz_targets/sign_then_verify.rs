//! The renderer agrees with itself: what `sign` produces for any body, path, method, header
//! and timestamp verifies, and the same headers over a different body do not.

#![no_main]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use hookgate::error::Rejection;
use hookgate::scheme::{Piece, TimestampFormat, TimestampSource};
use hookgate::verify::{Body, Delivery};
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
    // Twilio's JSON scheme binds the body through this query parameter.
    let query = format!("bodySHA256={}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body)));
    let query = Some(query.as_str());
    VERIFIERS.with(|verifiers| {
        for verifier in verifiers {
            let scheme = verifier.scheme();
            // A timestamp read from the body is the sender's to write; `sign` cannot place it.
            if matches!(scheme.timestamp, Some(TimestampSource::Field(_))) {
                continue;
            }
            let stamp = match scheme.timestamp_format {
                TimestampFormat::Unix => (now + offset).to_string(),
                TimestampFormat::UnixMs => ((now + offset) * 1000).to_string(),
                TimestampFormat::Rfc3339 => hookgate::verify::format_rfc3339(now + offset),
            };
            let mut headers = HeaderMap::new();
            headers.insert("x-id", id.clone());
            let delivery = Delivery { method: &Method::POST, path, query, headers: &headers, body: body.into() };
            // Public-key, token and body-signature schemes cannot be signed here.
            let Ok(signed) = verifier.sign(&delivery, &stamp) else { continue };
            for (name, value) in signed {
                headers.insert(name, HeaderValue::from_str(&value).expect("signed headers are valid"));
            }
            let delivery = Delivery { method: &Method::POST, path, query, headers: &headers, body: body.into() };
            if scheme.signed_payload.uses(&Piece::UrlSortedForm) {
                // A repeated or undecodable query parameter or field is refused before any
                // MAC; anything else verifies.
                if let Err(refused) = verifier.verify(&delivery, now) {
                    assert_eq!(refused, Rejection::SignatureMalformed, "own signature refused");
                }
                continue;
            }
            if scheme.signed_payload.uses(&Piece::FormSorted) {
                // A body that is not a form is refused before any MAC; and Twilio's form
                // signature collapses repeated fields by design, so appending can be a no-op.
                let _ = verifier.verify(&delivery, now);
                continue;
            }
            assert!(verifier.verify(&delivery, now).is_ok(), "own signature refused");
            if !scheme.parses_body() && body.len() > 1 {
                // The gateway hands such a body over in the frames it arrived in.
                let (first, rest) = body.split_at(body.len() / 3);
                let (second, third) = rest.split_at(rest.len() / 2);
                let rest = [Bytes::copy_from_slice(second), Bytes::copy_from_slice(third)];
                let framed = Delivery { body: Body::frames(first, &rest), ..delivery };
                assert!(verifier.verify(&framed, now).is_ok(), "own signature refused in frames");
            }
            let mut other = body.to_vec();
            other.push(b'x');
            let tampered = Delivery { method: &Method::POST, path, query, headers: &headers, body: (&other).into() };
            // A scheme whose signature reads no body (a monday.com JWT, Mercado Pago's
            // manifest) accepts any body by design.
            if scheme.signature_reads_body() {
                assert!(verifier.verify(&tampered, now).is_err(), "tampered body accepted");
            }
        }
    });
});
