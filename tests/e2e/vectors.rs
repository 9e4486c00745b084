//! Deliveries signed by the senders' own SDKs, or by their docs' formula where no SDK signs
//! (`tests/vectors/vectors.json`, made by `tests/vectors/generate.py`). Every vector goes
//! through a running gateway with its clock pinned to the vector's time: it is forwarded
//! byte for byte, its replay is refused, and a tampered copy or a wrong key is refused and
//! never forwarded. The same holds when the preset is written out as a plain `scheme:` block:
//! presets are data.

use crate::support::{InProcess, Upstream, one_route, post};

const PRESETS: &str = include_str!("../../src/scheme/presets.yaml");

/// Senders whose signature does not cover the body (besides token and Basic schemes, which
/// carry no signature, and JWTs whose claims bind no body): Mailgun signs its timestamp and
/// token only; Braintree signs its `bt_payload` field, not the form around it. A changed body still
/// verifies, by the sender's design.
const BODY_NOT_SIGNED: &[&str] = &["mailgun", "mailgun-form", "braintree"];

fn body_signed(name: &str) -> bool {
    let scheme = hookgate::scheme::preset(name).unwrap().build().unwrap();
    scheme.algorithm.key_kind() != hookgate::scheme::KeyKind::Token
        && scheme.jwt.as_ref().is_none_or(|jwt| jwt.binds_body())
        && !BODY_NOT_SIGNED.contains(&name)
}

struct Vector {
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timestamp: i64,
    secret: Option<String>,
    public_key: Option<String>,
    public_url: Option<String>,
    /// The gateway's own answer, for a delivery that is a signed handshake.
    handshake: Option<String>,
}

struct Provider {
    name: String,
    source: String,
    vectors: Vec<Vector>,
}

fn providers() -> Vec<Provider> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vectors.json"
    ))
    .unwrap();
    let data: serde_json::Value = serde_json::from_str(&text).unwrap();
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    data.as_array()
        .unwrap()
        .iter()
        .map(|provider| Provider {
            name: text(&provider["provider"]).unwrap(),
            source: text(&provider["source"]).unwrap(),
            vectors: provider["vectors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| Vector {
                    target: text(&v["target"]).unwrap_or_else(|| "/hook".into()),
                    headers: v["headers"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                        .collect(),
                    body: v["body"].as_str().unwrap().as_bytes().to_vec(),
                    timestamp: v["timestamp"].as_i64().unwrap(),
                    secret: text(&v["secret"]),
                    public_key: text(&v["public_key"]),
                    public_url: text(&v["public_url"]),
                    handshake: text(&v["handshake"]),
                })
                .collect(),
        })
        .collect()
}

/// The preset's entry in presets.yaml, re-indented as a route's `scheme:` block. An entry
/// that is a YAML alias (`clerk: *svix`) is the block of the entry it names.
fn scheme_block(provider: &str) -> String {
    let mut lines = PRESETS
        .lines()
        .skip_while(|l| !(*l == format!("{provider}:") || l.starts_with(&format!("{provider}: "))));
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("{provider} not in presets.yaml"));
    if let Some(target) = head.split_once(": *").map(|(_, t)| t) {
        let anchor = format!(": &{target}");
        let entry = PRESETS.lines().find(|l| l.ends_with(&anchor)).unwrap();
        return scheme_block(entry.split(':').next().unwrap());
    }
    lines
        .take_while(|l| l.starts_with("  "))
        .map(|l| format!("    {l}\n"))
        .collect()
}

/// A gateway with one route for `provider` keyed as the vector says, or with `wrong_key`.
async fn gateway(
    upstream: &Upstream,
    provider: &str,
    v: &Vector,
    as_block: bool,
    wrong_key: bool,
) -> InProcess {
    let how = if as_block {
        format!("    scheme:\n{}", scheme_block(provider))
    } else {
        format!("    provider: {provider}\n")
    };
    let keys = match (&v.secret, &v.public_key) {
        // Valid in every secret encoding (raw, hex, base64), and as Basic credentials.
        (Some(secret), _) if wrong_key && secret.contains(':') => {
            "    secrets: ['not-the:secret']\n".to_owned()
        }
        (Some(_), _) if wrong_key => {
            "    secrets: ['00112233445566778899aabbccddeeff']\n".to_owned()
        }
        (Some(secret), _) => format!("    secrets: ['{}']\n", secret.replace('\'', "''")),
        // Another key of the same kind: the vector's with one character of the key itself
        // (not of its DER header) changed.
        (None, Some(key)) if wrong_key => {
            let mut other = key.clone().into_bytes();
            let at = other.len() - 5;
            other[at] = if other[at] == b'A' { b'B' } else { b'A' };
            format!("    public_key: '{}'\n", String::from_utf8(other).unwrap())
        }
        (None, Some(key)) => format!("    public_key: '{key}'\n"),
        (None, None) => panic!("{provider}: a vector needs a secret or a public key"),
    };
    let url = v
        .public_url
        .as_ref()
        .map(|u| format!("    public_url: {u}\n"))
        .unwrap_or_default();
    // Meta's subscription handshake needs its verify token configured.
    let token = if provider == "meta" {
        "    verify_token: meta-verify-token\n"
    } else {
        ""
    };
    let gw = one_route(upstream, &format!("{how}{keys}{url}{token}"))
        .top("max_body_bytes: 1048576")
        .in_process()
        .await;
    gw.clock.set(v.timestamp);
    gw
}

#[tokio::test]
async fn every_vector_passes_through_the_gateway_and_tampered_copies_do_not() {
    let all = providers();
    let presets: Vec<_> = hookgate::scheme::preset_names().collect();
    let covered: Vec<_> = all.iter().map(|p| p.name.as_str()).collect();
    for name in &presets {
        assert!(covered.contains(name), "preset {name} has no vectors");
    }
    for provider in &all {
        let name = provider.name.as_str();
        assert!(!provider.vectors.is_empty(), "{name}");
        assert!(!provider.source.is_empty(), "{name}");
        let scheme = hookgate::scheme::preset(name).unwrap().build().unwrap();
        if scheme.fetches_its_key() {
            // Its key is fetched at run time: `sns.rs` and `paypal.rs` run these through the
            // real binary against a stand-in for the sender's certificate host.
            continue;
        }
        for as_block in [false, true] {
            for (i, v) in provider.vectors.iter().enumerate() {
                let what = format!("{name} vector {i} (as scheme block: {as_block})");
                let upstream = Upstream::start().await;
                let gw = gateway(&upstream, name, v, as_block, false).await;
                let reply = post(gw.addr, &v.target, &v.headers, &v.body).await;
                assert_eq!(reply.status, 200, "{what}: {reply:?}");
                if let Some(answer) = &v.handshake {
                    assert_eq!(reply.body, answer.as_bytes(), "{what}: handshake answer");
                    assert_eq!(upstream.count(), 0, "{what}: a handshake is not forwarded");
                    continue;
                }
                let received = upstream.received();
                assert_eq!(received.len(), 1, "{what}");
                assert_eq!(
                    &received[0].body[..],
                    &v.body[..],
                    "{what}: body byte for byte"
                );
                assert_eq!(received[0].uri, v.target, "{what}: target unchanged");

                let again = post(gw.addr, &v.target, &v.headers, &v.body).await;
                assert_eq!(again.status, 401, "{what}: replay: {again:?}");

                if body_signed(name) {
                    let mut tampered = v.body.clone();
                    tampered.extend_from_slice(b"&x=1");
                    let reply = post(gw.addr, &v.target, &v.headers, &tampered).await;
                    assert_eq!(reply.status, 401, "{what}: tampered body: {reply:?}");
                }
                assert_eq!(upstream.count(), 1, "{what}: nothing else forwarded");

                let wrong = gateway(&upstream, name, v, as_block, true).await;
                let reply = post(wrong.addr, &v.target, &v.headers, &v.body).await;
                assert_eq!(reply.status, 401, "{what}: wrong key: {reply:?}");
                assert_eq!(upstream.count(), 1, "{what}: wrong key not forwarded");
            }
        }
    }
}
