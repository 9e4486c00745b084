//! A JWT that is the whole body (`jwt: { in_body: true }`) under a key picked by `kid` from
//! a key set on a tenant's host (Kinde's shape, as a custom scheme), end to end against a
//! local https key server: the token reaches the app byte for byte, once; a changed token
//! and a signed token without claims are refused; the set is fetched once.

use serde_json::Value;

use crate::support::keyserver::KeyServer;
use crate::support::{GatewayConfig, Upstream, post};

const ROUTE: &str = "path: /hook
scheme:
  algorithm: rsa_pkcs1_sha512
  jwt: { in_body: true }
  jwks: { hosts: ['*.kinde.com'] }
jwks_url: https://acme.kinde.com/.well-known/jwks";

/// Compact tokens whose claims are JSON bodies, and the key set that verifies them. The
/// `fireblocks-v2` vectors are detached RS512 signatures over `header.base64url(body)`, so
/// putting the encoded body back between the dots makes a compact JWT with the same
/// signature, signed by the sender's key and nothing of hookgate's.
fn tokens() -> (Vec<String>, String) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vectors.json"
    ))
    .unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let provider = all
        .iter()
        .find(|p| p["provider"] == "fireblocks-v2")
        .unwrap();
    let raw = provider["vectors"].as_array().unwrap();
    let tokens = raw
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
    (tokens, raw[0]["jwks"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_body_token_verifies_under_the_tenant_s_key_set_and_changed_copies_do_not() {
    let (mut tokens, set) = tokens();
    // The last vector signs an empty body: a token without claims, refused below.
    let no_claims = tokens.pop().unwrap();
    assert!(no_claims.contains(".."), "{no_claims}");
    assert!(tokens.len() >= 2);
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyServer::start(dir.path(), &["acme.kinde.com"]).await;
    keys.serve("/.well-known/jwks", set);
    let upstream = Upstream::start().await;
    let (name, value) = keys.env();
    let (_config_dir, gateway) = GatewayConfig::new(&upstream)
        .route("kinde", ROUTE)
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
        // One claim byte changed: `{` opens every body, so its encoding starts `ey`.
        let (head, rest) = token.split_once('.').unwrap();
        let changed = format!("{head}.eZ{}", &rest[2..]);
        let reply = post(gateway.addr, "/hook", &headers, changed.as_bytes()).await;
        assert_eq!(reply.status, 401, "token {i}: changed claims");
        assert_eq!(upstream.count(), i + 1, "token {i}: nothing else forwarded");
    }
    let reply = post(gateway.addr, "/hook", &headers, no_claims.as_bytes()).await;
    assert_eq!(
        reply.status, 401,
        "a validly signed token without claims: {reply:?}"
    );
    assert_eq!(reply.body, b"{\"error\":\"signature_malformed\"}");
    assert_eq!(upstream.count(), tokens.len());
    let fetches = keys.seen();
    assert_eq!(fetches.len(), 1, "one key set fetch: {fetches:?}");
    assert_eq!(fetches[0].host, "acme.kinde.com");
    assert_eq!(fetches[0].target, "/.well-known/jwks");
}
