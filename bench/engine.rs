//! Criterion benches of the verification engine: what one delivery costs before forwarding.
//!
//! `cargo bench --bench engine`. CI runs them in quick mode to keep them compiling; timings
//! are read here, never asserted.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use hookgate::replay;
use hookgate::scheme::preset;
use hookgate::secret::Secret;
use hookgate::verify::{Delivery, Verifier};
use http::{HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};

const SECRET: &[u8] = b"bench-secret";

fn verifier(provider: &str) -> Verifier {
    let scheme = preset(provider).expect("preset").build().expect("builds");
    Verifier::new(scheme, &[Secret::new(SECRET.to_vec())], 300).expect("bench key")
}

fn github_headers(body: &[u8]) -> HeaderMap {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).expect("any key length");
    mac.update(body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-github-event", HeaderValue::from_static("push"));
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::try_from(signature).expect("ascii"),
    );
    headers
}

/// A POST to /hook with `headers` and `body`.
fn post<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> Delivery<'a> {
    Delivery {
        method: &Method::POST,
        path: "/hook",
        query: None,
        headers,
        body: body.into(),
    }
}

fn body(size: usize) -> Vec<u8> {
    let mut body = b"{\"pad\":\"".to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

fn hashing(c: &mut Criterion) {
    let mut group = c.benchmark_group("1 MiB");
    let body = body(1 << 20);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("sha256", |b| {
        b.iter(|| Sha256::digest(black_box(&body)));
    });
    let v = verifier("github");
    let headers = github_headers(&body);
    group.bench_function("github verify (HMAC-SHA256)", |b| {
        b.iter(|| {
            v.verify(&post(black_box(&headers), black_box(&body)), 0)
                .expect("verifies")
        });
    });
    // A forged Twilio form of 1 MiB in tiny fields: refused for its field count after one
    // pass over the bytes, where sorting a quarter-million fields once cost ~10x an HMAC.
    let twilio = verifier("twilio").with_public_url("https://hooks.example.com");
    let form = b"%41=%42&".repeat((1 << 20) / 8);
    let mut forged = HeaderMap::new();
    forged.insert(
        "x-twilio-signature",
        HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    );
    group.bench_function("twilio forged form of tiny fields (refused)", |b| {
        b.iter(|| {
            twilio
                .verify(&post(black_box(&forged), black_box(&form)), 0)
                .expect_err("forged")
        });
    });
    group.finish();
}

fn small_deliveries(c: &mut Criterion) {
    let mut group = c.benchmark_group("1 KiB");
    let body = body(1024);
    group.throughput(Throughput::Bytes(body.len() as u64));
    let v = verifier("github");
    let headers = github_headers(&body);
    group.bench_function("github verify, header parsing included", |b| {
        b.iter(|| {
            v.verify(&post(black_box(&headers), black_box(&body)), 0)
                .expect("verifies")
        });
    });
    let mut tampered = headers.clone();
    tampered.insert(
        "x-hub-signature-256",
        HeaderValue::from_static(
            "sha256=0000000000000000000000000000000000000000000000000000000000000000",
        ),
    );
    group.bench_function("github reject (mismatch)", |b| {
        b.iter(|| {
            v.verify(&post(black_box(&tampered), black_box(&body)), 0)
                .expect_err("mismatch")
        });
    });
    let list = verifier("timestamped-v1");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).expect("any key length");
    mac.update(&body);
    mac.update(b"1700000000");
    let sig = base64_encode(&mac.finalize().into_bytes());
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-webhook-signature",
        HeaderValue::try_from(format!("t=1700000000,v1={sig}")).expect("ascii"),
    );
    group.bench_function("t=..,v1=.. verify, timestamp checked", |b| {
        b.iter(|| {
            list.verify(&post(black_box(&headers), black_box(&body)), 1_700_000_000)
                .expect("verifies")
        });
    });
    // Linear: the timestamp is read from the JSON body, so the body is parsed once.
    let linear = verifier("linear");
    let mut json = body.clone();
    json.truncate(json.len() - 1);
    json.extend_from_slice(b",\"webhookTimestamp\":1700000000000}");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).expect("any key length");
    mac.update(&json);
    let mut headers = HeaderMap::new();
    headers.insert(
        "linear-signature",
        HeaderValue::try_from(hex::encode(mac.finalize().into_bytes())).expect("ascii"),
    );
    group.bench_function("linear verify, timestamp from the JSON body", |b| {
        b.iter(|| {
            linear
                .verify(&post(black_box(&headers), black_box(&json)), 1_700_000_000)
                .expect("verifies")
        });
    });
    // Twitch: an RFC 3339 timestamp and the message id in the signed payload.
    let twitch = verifier("twitch");
    let stamp = "2023-11-14T22:13:20.634234626Z";
    let id = "e76c6bd4-55c9-4987-8304-da1588d8988b";
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(stamp.as_bytes());
    mac.update(&body);
    let mut headers = HeaderMap::new();
    headers.insert("twitch-eventsub-message-id", HeaderValue::from_static(id));
    headers.insert(
        "twitch-eventsub-message-timestamp",
        HeaderValue::from_static(stamp),
    );
    headers.insert(
        "twitch-eventsub-message-signature",
        HeaderValue::try_from(format!(
            "sha256={}",
            hex::encode(mac.finalize().into_bytes())
        ))
        .expect("ascii"),
    );
    group.bench_function("twitch verify, RFC 3339 timestamp", |b| {
        b.iter(|| {
            twitch
                .verify(&post(black_box(&headers), black_box(&body)), 1_700_000_000)
                .expect("verifies")
        });
    });
    group.bench_function("replay key", |b| {
        b.iter(|| replay::key(black_box("github-on"), black_box(&[7u8; 32])));
    });
    group.finish();
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

criterion_group!(benches, hashing, small_deliveries);
criterion_main!(benches);
