//! A JWT that is the whole body (`jwt: { in_body: true }`) under a key picked by `kid` from
//! a key set on the account's host, end to end against a local https key server: as the
//! `kinde` preset with Kinde-shaped vectors, and as a custom scheme. Each token reaches the
//! app byte for byte, once; a changed token and a signed token without claims are refused;
//! the set is fetched once.

use serde_json::Value;

use crate::support::keyserver::KeyServer;
use crate::support::{GatewayConfig, Upstream, post};

const HOST: &str = "acme.kinde.com";

fn vectors(provider: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vectors.json"
    ))
    .unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let found = all.iter().find(|p| p["provider"] == provider).unwrap();
    found["vectors"].as_array().unwrap().clone()
}

/// Sends each token to a gateway whose route is `route`, with the key set `set` served at
/// `set_path` on [`HOST`]; checks forwarding, replay and a changed copy, and returns the
/// reply to `refused`, which must not be forwarded.
async fn run(route: &str, set_path: &str, set: &str, tokens: &[String], refused: &str) -> u16 {
    assert!(tokens.len() >= 2);
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyServer::start(dir.path(), &[HOST]).await;
    keys.serve(set_path, set.to_owned());
    let upstream = Upstream::start().await;
    let (name, value) = keys.env();
    let (_config_dir, gateway) = GatewayConfig::new(&upstream)
        .route("body-token", route)
        .binary(&[(&name, &value)]);
    let headers = vec![("Content-Type".to_owned(), "application/jwt".to_owned())];
    for (i, token) in tokens.iter().enumerate() {
        let reply = post(gateway.addr, "/hook", &headers, token.as_bytes()).await;
        assert_eq!(reply.status, 200, "token {i}: {reply:?}");
        assert_eq!(
            &upstream.received()[i].body[..],
            token.as_bytes(),
            "token {i}"
        );
        let again = post(gateway.addr, "/hook", &headers, token.as_bytes()).await;
        assert_eq!(again.status, 401, "token {i}: replay");
        // One claim byte changed: `{` opens every claim set, so its encoding starts `ey`.
        let (head, rest) = token.split_once('.').unwrap();
        let changed = format!("{head}.eZ{}", &rest[2..]);
        let reply = post(gateway.addr, "/hook", &headers, changed.as_bytes()).await;
        assert_eq!(reply.status, 401, "token {i}: changed claims");
        assert_eq!(upstream.count(), i + 1, "token {i}: nothing else forwarded");
    }
    let refused = post(gateway.addr, "/hook", &headers, refused.as_bytes()).await;
    assert_eq!(upstream.count(), tokens.len(), "{refused:?}");
    let fetches = keys.seen();
    assert_eq!(fetches.len(), 1, "one key set fetch: {fetches:?}");
    assert_eq!(fetches[0].host, HOST);
    assert_eq!(fetches[0].target, set_path);
    refused.status
}

#[tokio::test]
async fn every_kinde_vector_passes_once_under_the_preset() {
    let raw = vectors("kinde");
    let url = raw[0]["jwks_url"].as_str().unwrap();
    assert_eq!(url, format!("https://{HOST}/.well-known/jwks.json"));
    let tokens: Vec<String> = raw
        .iter()
        .map(|v| v["body"].as_str().unwrap().to_owned())
        .collect();
    let route = format!("path: /hook\nprovider: kinde\njwks_url: {url}");
    let set = raw[0]["jwks"].as_str().unwrap();
    // A token naming a key the set lacks.
    let (head, rest) = tokens[0].split_once('.').unwrap();
    let header = r#"{"alg":"RS256","kid":"made-up"}"#;
    let unknown = format!(
        "{}.{rest}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
    );
    assert_ne!(head, unknown.split('.').next().unwrap());
    let status = run(&route, "/.well-known/jwks.json", set, &tokens, &unknown).await;
    assert_eq!(status, 401, "an unknown kid");
}

#[tokio::test]
async fn a_body_token_verifies_under_a_custom_scheme_s_key_set() {
    // fireblocks-v2's vectors are detached RS512 signatures over `header.base64url(body)`:
    // putting the encoded body back between the dots makes a compact JWT with the same
    // signature, whose claims are that body, signed by nothing of hookgate's.
    let raw = vectors("fireblocks-v2");
    let mut tokens: Vec<String> = raw
        .iter()
        .map(|v| {
            let detached = v["headers"]["Fireblocks-Webhook-Signature"]
                .as_str()
                .unwrap();
            let (header, signature) = detached.split_once("..").unwrap();
            let body = v["body"].as_str().unwrap();
            let payload =
                base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, body);
            format!("{header}.{payload}.{signature}")
        })
        .collect();
    // The last vector signs an empty body: a validly signed token without claims.
    let no_claims = tokens.pop().unwrap();
    assert!(no_claims.contains(".."), "{no_claims}");
    let route = format!(
        "path: /hook
scheme:
  algorithm: rsa_pkcs1_sha512
  jwt: {{ in_body: true }}
  jwks: {{ hosts: ['*.kinde.com'] }}
jwks_url: https://{HOST}/keys"
    );
    let set = raw[0]["jwks"].as_str().unwrap();
    let status = run(&route, "/keys", set, &tokens, &no_claims).await;
    assert_eq!(status, 401, "a token without claims");
}
