//! Signing as each seed sender does, written from the senders' docs with the HMAC primitives
//! directly, independent of hookgate's scheme engine.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub fn hmac_sha256(secret: &str, message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn header(name: &str, value: String) -> (String, String) {
    (name.to_owned(), value)
}

/// The headers `provider` attaches to `body` at `timestamp`, one signature per secret where
/// the scheme allows several.
pub fn sign(
    provider: &str,
    secrets: &[&str],
    body: &[u8],
    timestamp: i64,
) -> Vec<(String, String)> {
    let secret = secrets[0];
    match provider {
        "flow" => vec![header(
            "X-Flow-Signature",
            format!("sha-256={}", hex::encode(hmac_sha256(secret, body))),
        )],
        "patchworks" => vec![header(
            "X-HMAC-HASH",
            hex::encode(hmac_sha256(secret, body)),
        )],
        "nopcommerce" => vec![header(
            "ms-signature",
            format!("sha256={}", hex::encode(hmac_sha256(secret, body))),
        )],
        "extend" => {
            let mut message = format!("v0:{timestamp}:").into_bytes();
            message.extend_from_slice(body);
            vec![
                header("x-extend-request-timestamp", timestamp.to_string()),
                header(
                    "x-extend-request-signature",
                    hex::encode(hmac_sha256(secret, &message)),
                ),
            ]
        }
        "timestamped-v1" => {
            let mut message = body.to_vec();
            message.extend_from_slice(timestamp.to_string().as_bytes());
            let mut value = format!("t={timestamp}");
            for secret in secrets {
                let sig =
                    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, &message));
                value.push_str(&format!(",v1={sig}"));
            }
            vec![header("X-Webhook-Signature", value)]
        }
        other => panic!("no signer for {other}"),
    }
}

/// The seed presets, and whether each carries a timestamp.
pub const SEEDS: [(&str, bool); 5] = [
    ("flow", false),
    ("patchworks", false),
    ("nopcommerce", false),
    ("extend", true),
    ("timestamped-v1", true),
];
