//! Deliveries signed by the senders' own SDKs (`tests/vectors/vectors.json`, made by
//! `tests/vectors/generate.py`): each verifies at its own timestamp through the preset, a
//! tampered copy does not, and the same holds when the preset is written out as a plain
//! `scheme:` block: presets are data.

use std::path::Path;

use hookgate::config::Config;
use hookgate::verify::{Delivery, Verifier};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

const PRESETS: &str = include_str!("../../src/scheme/presets.yaml");

struct Vector {
    headers: HeaderMap,
    body: Vec<u8>,
    timestamp: i64,
    secret: String,
}

fn vectors() -> Vec<(String, Vec<Vector>)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vectors.json"
    ))
    .unwrap();
    let data: serde_json::Value = serde_json::from_str(&text).unwrap();
    data.as_array()
        .unwrap()
        .iter()
        .map(|provider| {
            let vectors = provider["vectors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    let mut headers = HeaderMap::new();
                    for (name, value) in v["headers"].as_object().unwrap() {
                        headers.insert(
                            HeaderName::try_from(name.as_str()).unwrap(),
                            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
                        );
                    }
                    Vector {
                        headers,
                        body: v["body"].as_str().unwrap().as_bytes().to_vec(),
                        timestamp: v["timestamp"].as_i64().unwrap(),
                        secret: v["secret"].as_str().unwrap().to_owned(),
                    }
                })
                .collect();
            (provider["provider"].as_str().unwrap().to_owned(), vectors)
        })
        .collect()
}

/// The preset's entry in presets.yaml, re-indented as a route's `scheme:` block.
fn scheme_block(provider: &str) -> String {
    let mut lines = PRESETS.lines().skip_while(|l| *l != format!("{provider}:"));
    lines
        .next()
        .unwrap_or_else(|| panic!("{provider} not in presets.yaml"));
    lines
        .take_while(|l| l.starts_with("  "))
        .map(|l| format!("    {l}\n"))
        .collect()
}

/// A verifier for `provider` with `secret`: from the preset, or from its `scheme:` block.
fn verifier(provider: &str, secret: &str, as_block: bool) -> Config {
    let how = if as_block {
        format!("    scheme:\n{}", scheme_block(provider))
    } else {
        format!("    provider: {provider}\n")
    };
    let yaml = format!(
        "listen: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nroutes:\n  - name: r\n    path: /hook\n    secrets: ['{secret}']\n{how}"
    );
    Config::parse(&yaml, Path::new("t.yaml"), Path::new("."), &|_| None)
        .unwrap_or_else(|e| panic!("{provider}: {e}\n{yaml}"))
}

fn verify(v: &Verifier, headers: &HeaderMap, body: &[u8], now: i64) -> bool {
    let delivery = Delivery {
        method: &Method::POST,
        path: "/hook",
        query: None,
        headers,
        body,
    };
    v.verify(&delivery, now).is_ok()
}

#[test]
fn sdk_signed_deliveries_verify_and_tampered_copies_do_not() {
    let all = vectors();
    assert!(all.len() >= 3);
    for (provider, vectors) in all {
        assert!(!vectors.is_empty(), "{provider}");
        for as_block in [false, true] {
            for (i, v) in vectors.iter().enumerate() {
                let config = verifier(&provider, &v.secret, as_block);
                let route = config.routes.find("/hook").unwrap().1;
                let what = format!("{provider} vector {i} (as scheme block: {as_block})");
                assert!(
                    verify(&route.verifier, &v.headers, &v.body, v.timestamp),
                    "{what}"
                );
                let mut tampered = v.body.clone();
                tampered.push(b' ');
                assert!(
                    !verify(&route.verifier, &v.headers, &tampered, v.timestamp),
                    "{what}: tampered"
                );
                let wrong = verifier(&provider, "not-the-secret", as_block);
                let wrong = &wrong.routes.find("/hook").unwrap().1.verifier;
                assert!(
                    !verify(wrong, &v.headers, &v.body, v.timestamp),
                    "{what}: wrong secret"
                );
            }
        }
    }
}
