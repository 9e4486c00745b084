//! Amazon SNS end to end, against a local stand-in for `sns.<region>.amazonaws.com` (a real
//! https server with a certificate for those names): the gateway fetches the signing
//! certificate a message names, once, verifies, and forwards byte for byte; it never fetches
//! from anywhere else, whatever the message says; it confirms subscriptions by visiting SNS,
//! and answers 503 while the certificate cannot be had.

use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

use crate::support::keyserver::KeyServer;
use crate::support::{Binary, GatewayConfig, Upstream, post, unix_now};

/// A 2048-bit RSA key made for this test (PKCS#8): the stand-in for SNS's signing key.
const KEY: &str = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCh+1iVo7lxUaQLbTVRoRCg0SIK8gegeZ2BtYG+9thIwHkzfr/sa7zqgDPGjTknUoccjVpAif6nzQPp1CT2AvJpAs9BhEvvWQE8pIkz3S1tN+OLs49BhS1sm5FvrauNh6Ryr4UhBw39Y8R2cIL4fCqjm8jjxEa1asw13QTNyygajbHLWGavMv4jm38ucaa0Jy15Zsm6Evghc4Ae+4GSQHldSLKL//weiBuPeH5bLJzukPgGjRrunqy7vK11OK+wiCbTqYbz/MkKa7LzEphPN9lFXEDATMECJV2YzMIQkV0Wf5Q3Zk6bfWWSpwhvgTK1a5RA84F6frE4M/rxYVBt92DLAgMBAAECggEAObMf5gXxO9V6Gvvm31IBa1ezybRXVSmdGqQ+OHkTqC6vvdErqpriK6JJTzPlJQW3zUro2E6PoNRdzYBdPijkktWGYG8w4WySDTkLCqeB1ALxkkT/Bbbb7HEqCF8T2hF0Wcn+ITqzGAze4dXIQZ1xTuBiWggDrAIEBjfZyzjP60z2rLoIFGNuH6T3DFPzXeRShxqWMbwaoAuOnJuDNE0ZUZWA7S6NlL6RhLXZKVjBBBbsHwGCEQpaVLk/Y2h48UHyL9rUtaJ8I8IhHpnNtpXNh9xeSZTyg1+lOuYRs8V5f5bIBw7GkZ85kizxrTOfJEsT0tZ35BgakNDI+Z/wWXhSOQKBgQDYb6jtieLmX30qUzXYApMGlkfPsMngve6Booj0KgoMI3nKFtEKDqS+lLeIjHA08RHzu5gze3bI4lDKcR1jYjadeMSUvZIK8tc2RGiECWQJskXfEEndb/mVOGnUiIhEJoNHAS/uNEYfkBc4+6M9MGpPLsi9BFovHaqgR9cUKPz2xQKBgQC/l3EthR3il2X8gCO387e+JZLI58JkiFSHQzb/ligWXjeVVt5FjbLkDhJcn0PrXSy521PQRdQ3PpY/O4IT+hGAYxi+OpfFbPgJiCce1CYTerjiYmnm6X25gC80s75tZX5Z2KcyxP+6lac/B42Yyt3ZOMkyBu0RcL84npYAji3yTwKBgA6Vd4yJ/gAH7ycq9DXZ9o47Ehusje3W3ntduFy7eHHY8hvr7an/0poE61kIHYdztwH1YgwWBasDlO4PMSvBMmzp9lUPcQfL1TSS53f+Kf99Q7gEIPYK1YZ4hqkLiiMNdUsTiWdDnnYB/46XZih5WrB7NouF/42tMhIaxSNWn7UBAoGAdrs9Uj5ahN/aPh6TBB6vUdErJAIsP+0UpTaMUNwXP7VnsM7CtEvZ/uaRjoDMsIFvhEZdrIZ5uzq4FbulIwgn7G59GPZqs9iR5iZQSBSk/BFjnjfq9UThuyGrH3f8nQL2yGsxQo8/A7xWhwMBRx0BWuqMFMqiA9rhRg9RWkrCQpUCgYAqxRxi06NO9j9wHt2iCUWD1kLE7LXc7Ibzoi5XbhD4EpA0wJTHc3cEjKEvj32eiBPd4u6BZwazR4ZHO8FvDoeyrRIdes510aU2rcox1v+BkvkZlvHqF47pWTcODZvxch5lNiMoFHVtI0/oOLpq5lY7YJPu/hqL8ekAd2K7vAcz1w==";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders";
const HOSTS: &[&str] = &["sns.us-east-1.amazonaws.com", "sns.us-west-2.amazonaws.com"];
const CERT_PATH: &str = "/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem";

fn cert_url() -> String {
    format!("https://sns.us-east-1.amazonaws.com{CERT_PATH}")
}

/// The signing certificate, PEM, for the test key.
fn signing_cert_pem() -> String {
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(STANDARD.decode(KEY).unwrap());
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_owned()]).unwrap();
    params.self_signed(&pair).unwrap().pem()
}

/// A message of `kind` with `fields`, signed (version 2) over the canonical string AWS
/// documents, written out here: `Name\nvalue\n` for each signed field in its order.
fn signed(fields: &[(&str, &str)], cert_url: &str) -> Value {
    let canonical: String = fields.iter().map(|(k, v)| format!("{k}\n{v}\n")).collect();
    let pair = RsaKeyPair::from_pkcs8(&STANDARD.decode(KEY).unwrap()).unwrap();
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        canonical.as_bytes(),
        &mut sig,
    )
    .unwrap();
    let mut body = serde_json::Map::new();
    for (k, v) in fields {
        body.insert((*k).to_owned(), json!(v));
    }
    body.insert("SignatureVersion".into(), json!("2"));
    body.insert("Signature".into(), json!(STANDARD.encode(sig)));
    body.insert("SigningCertURL".into(), json!(cert_url));
    Value::Object(body)
}

fn now() -> String {
    hookgate::verify::format_rfc3339(unix_now())
}

fn notification(id: &str, message: &str, cert_url: &str) -> Value {
    let ts = now();
    signed(
        &[
            ("Message", message),
            ("MessageId", id),
            ("Timestamp", &ts),
            ("TopicArn", TOPIC),
            ("Type", "Notification"),
        ],
        cert_url,
    )
}

fn confirmation(subscribe_url: &str) -> Value {
    let ts = now();
    signed(
        &[
            ("Message", "You have chosen to subscribe to the topic."),
            ("MessageId", "165545c9-2a5c-472c-8df2-7ff2be2b3b1b"),
            ("SubscribeURL", subscribe_url),
            ("Timestamp", &ts),
            ("Token", "2336412f37fb687f5d51e6e2425"),
            ("TopicArn", TOPIC),
            ("Type", "SubscriptionConfirmation"),
        ],
        &cert_url(),
    )
}

fn headers(kind: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "text/plain; charset=UTF-8".into()),
        ("x-amz-sns-message-type".into(), kind.into()),
        ("x-amz-sns-topic-arn".into(), TOPIC.into()),
    ]
}

struct World {
    keys: KeyServer,
    upstream: Upstream,
    gateway: Binary,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// A key server serving the signing certificate, an app, and the real binary in front of it
/// with the SNS route at /sns (plus `extra` routes).
async fn world(extra: &[(&str, &str)]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyServer::start(dir.path(), HOSTS).await;
    keys.serve(CERT_PATH, signing_cert_pem());
    let upstream = Upstream::start().await;
    let mut config = GatewayConfig::new(&upstream).route(
        "sns",
        &format!("path: /sns\nprovider: amazon-sns\ntopic_arns: [{TOPIC}]"),
    );
    for (name, keys) in extra {
        config = config.route(name, keys);
    }
    let (env_name, env_value) = keys.env();
    let (config_dir, gateway) = config.binary(&[(&env_name, &env_value)]);
    World {
        keys,
        upstream,
        gateway,
        _dirs: (dir, config_dir),
    }
}

async fn send(w: &World, path: &str, kind: &str, body: &Value) -> crate::support::Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    post(w.gateway.addr, path, &headers(kind), &bytes).await
}

#[tokio::test]
async fn notifications_verify_under_the_fetched_certificate_and_reach_the_app_byte_for_byte() {
    let w = world(&[(
        "docs",
        "path: /docs\nprovider: amazon-sns\ntopic_arns: [arn:aws:sns:us-west-2:123456789012:MyTopic]\ntolerance_seconds: 999999999",
    )])
    .await;
    assert!(
        w.gateway
            .wait_for_log("HOOKGATE_UNSAFE_KEY_FETCH_OVERRIDE is set")
            .contains("WARN"),
        "the test redirect is announced"
    );
    let first = notification("m-1", "{\"order\":1}", &cert_url());
    let bytes = serde_json::to_vec(&first).unwrap();
    let reply = post(w.gateway.addr, "/sns", &headers("Notification"), &bytes).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let received = w.upstream.received();
    assert_eq!(received.len(), 1);
    assert_eq!(&received[0].body[..], &bytes[..], "forwarded byte for byte");
    let fetched = w.keys.seen();
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    assert_eq!(fetched[0].target, CERT_PATH);
    assert_eq!(
        fetched[0].host, "sns.us-east-1.amazonaws.com",
        "sent to the host checked"
    );

    let second = notification("m-2", "{\"order\":2}", &cert_url());
    assert_eq!(send(&w, "/sns", "Notification", &second).await.status, 200);
    assert_eq!(w.keys.seen().len(), 1, "the certificate is fetched once");

    let again = post(w.gateway.addr, "/sns", &headers("Notification"), &bytes).await;
    assert_eq!(again.status, 401, "a replay: {again:?}");
    let mut tampered = notification("m-3", "{\"order\":3}", &cert_url());
    tampered["Message"] = json!("{\"order\":300}");
    assert_eq!(
        send(&w, "/sns", "Notification", &tampered).await.status,
        401
    );
    assert_eq!(
        send(
            &w,
            "/sns",
            "SubscriptionConfirmation",
            &notification("m-4", "x", &cert_url())
        )
        .await
        .status,
        401,
        "a header relabelling the message"
    );
    assert_eq!(w.upstream.count(), 2, "nothing else reached the app");

    // AWS's documented example notification, signed with SHA-1 (version 1) under the test key.
    let docs = json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Subject": "My First Message",
        "Message": "Hello from SNS",
        "Timestamp": "2012-05-02T00:54:06.655Z",
        "SignatureVersion": "1",
        "Signature": "GQmdV2FNNqZ2cJZcTv8OSVQVMhxgCf6MMWd0hid6M7oVMjfDrDcrec/uQHtIgt1H78OskfSSw4jq/0CCc48v8liCcOQuQEoM+Qzq4FYbPMcBbCG2qTf3GEv04PTsJZc2N7TB9QqYcgQK3h+94+S+pB1QqRrScE4Si1RzOgkwwmiP1yARsj2wdBZo5gJ0ygf0g8FR1XXQ8ykE/48p/Ophz5fjuMz5uU98oGQygSC3ntbiCAppkv1YTJKjHHOpxYS7GHyLB7W1t7WBye/1KP2nwH/TY55EgIi4DKCvQxYibdwO+SknIw+0+Jp5YMdDOdJP0kuw32M+RZzjxGcp7dnzug==",
        "SigningCertURL": format!("https://sns.us-west-2.amazonaws.com{CERT_PATH}"),
    });
    let bytes = serde_json::to_vec(&docs).unwrap();
    let reply = post(w.gateway.addr, "/docs", &[], &bytes).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(w.upstream.count(), 3);
}

#[tokio::test]
async fn the_certificate_url_cannot_point_anywhere_else() {
    let w = world(&[]).await;
    let port = w.keys.addr.port();
    let elsewhere = [
        format!("https://127.0.0.1:{port}{CERT_PATH}"),
        format!("https://localhost:{port}{CERT_PATH}"),
        format!("http://sns.us-east-1.amazonaws.com{CERT_PATH}"),
        format!("https://sns.us-east-1.amazonaws.com:{port}{CERT_PATH}"),
        format!("https://sns.us-east-1.amazonaws.com@127.0.0.1{CERT_PATH}"),
        format!("https://sns.us-east-1.amazonaws.com.evil.example{CERT_PATH}"),
        format!("https://evil.example/sns.us-east-1.amazonaws.com{CERT_PATH}"),
        "https://sns.us-east-1.amazonaws.com/".to_owned(),
        format!("https://sns.us-east-1.amazonaws.com{CERT_PATH}?x=1"),
        "file:///etc/passwd".to_owned(),
    ];
    for (i, url) in elsewhere.iter().enumerate() {
        let message = notification(&format!("e-{i}"), "x", url);
        let reply = send(&w, "/sns", "Notification", &message).await;
        assert_eq!(reply.status, 401, "{url}: {reply:?}");
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            "{\"error\":\"signature_mismatch\"}",
            "{url}"
        );
    }
    // A correctly signed message of a topic the route does not take costs no fetch either.
    let ts = now();
    let foreign = signed(
        &[
            ("Message", "x"),
            ("MessageId", "f-1"),
            ("Timestamp", &ts),
            ("TopicArn", "arn:aws:sns:us-east-1:999999999999:attacker"),
            ("Type", "Notification"),
        ],
        &cert_url(),
    );
    let bytes = serde_json::to_vec(&foreign).unwrap();
    assert_eq!(post(w.gateway.addr, "/sns", &[], &bytes).await.status, 401);
    assert_eq!(w.keys.seen(), vec![], "nothing was fetched");
    assert_eq!(w.upstream.count(), 0);
}

#[tokio::test]
async fn a_subscription_is_confirmed_by_visiting_sns_and_not_forwarded_unless_the_route_says() {
    let w = world(&[(
        "app-confirms",
        &format!("path: /forward\nprovider: amazon-sns\ntopic_arns: [{TOPIC}]\nhandshake: false"),
    )])
    .await;
    let subscribe = format!(
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37"
    );
    let reply = send(
        &w,
        "/sns",
        "SubscriptionConfirmation",
        &confirmation(&subscribe),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        w.upstream.count(),
        0,
        "confirmed by the gateway, not forwarded"
    );
    let visits: Vec<_> = w
        .keys
        .seen()
        .into_iter()
        .filter(|f| f.target != CERT_PATH)
        .collect();
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(visits[0].host, "sns.us-east-1.amazonaws.com");
    assert!(
        visits[0]
            .target
            .starts_with("/?Action=ConfirmSubscription&"),
        "{visits:?}"
    );

    let reply = send(
        &w,
        "/forward",
        "SubscriptionConfirmation",
        &confirmation(&subscribe),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        w.upstream.count(),
        1,
        "handshake: false hands it to the app"
    );

    // Signed, but naming another action or host: refused, never visited.
    let fetches = w.keys.seen().len();
    for url in [
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x".to_owned(),
        format!(
            "https://127.0.0.1:{}/?Action=ConfirmSubscription",
            w.keys.addr.port()
        ),
    ] {
        let reply = send(&w, "/sns", "SubscriptionConfirmation", &confirmation(&url)).await;
        assert_eq!(reply.status, 502, "{url}: {reply:?}");
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            "{\"error\":\"subscription_unconfirmed\"}"
        );
    }
    assert_eq!(w.keys.seen().len(), fetches, "no visit");

    // SNS refusing the visit is not a confirmation; its retry is served, not a replay.
    w.keys.fail_with.store(403, Ordering::SeqCst);
    let message = confirmation(&subscribe);
    assert_eq!(
        send(&w, "/sns", "SubscriptionConfirmation", &message)
            .await
            .status,
        502
    );
    w.keys.fail_with.store(0, Ordering::SeqCst);
    assert_eq!(
        send(&w, "/sns", "SubscriptionConfirmation", &message)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn an_unavailable_certificate_answers_503_and_forwards_nothing() {
    let w = world(&[]).await;
    w.keys.fail_with.store(500, Ordering::SeqCst);
    let reply = send(
        &w,
        "/sns",
        "Notification",
        &notification("u-1", "x", &cert_url()),
    )
    .await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(
        String::from_utf8_lossy(&reply.body),
        "{\"error\":\"key_unavailable\"}"
    );
    assert!(reply.header("retry-after").is_some(), "{reply:?}");
    // A burst naming the same failing URL makes no new attempt for a while.
    for i in 0..5 {
        let m = notification(&format!("u-{i}-b"), "x", &cert_url());
        assert_eq!(send(&w, "/sns", "Notification", &m).await.status, 503);
    }
    assert_eq!(w.keys.seen().len(), 1, "one attempt, remembered");
    assert_eq!(w.upstream.count(), 0);
}

/// `tests/vectors/vectors.json`'s Amazon SNS vectors (made by tests/vectors/jose.py), through
/// the real binary: each verifies under the certificate it names, served by the key server,
/// and reaches the app byte for byte (a subscription confirmation is confirmed instead); its
/// replay and a tampered copy are refused.
#[tokio::test]
async fn every_amazon_sns_vector_passes_and_its_replay_and_tampered_copy_do_not() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vectors.json"
    ))
    .unwrap();
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let sns = all
        .iter()
        .find(|p| p["provider"] == "amazon-sns")
        .expect("amazon-sns vectors");
    let vectors = sns["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 10);
    let first = &vectors[0];
    let url: http::Uri = first["signing_cert_url"].as_str().unwrap().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyServer::start(dir.path(), &[url.host().unwrap()]).await;
    keys.serve(
        url.path(),
        first["signing_cert"].as_str().unwrap().to_owned(),
    );
    let upstream = Upstream::start().await;
    // The vectors' times are fixed (2023, 2025): a tolerance that covers them.
    let topic = first["topic_arn"].as_str().unwrap();
    let (env_name, env_value) = keys.env();
    let (_config_dir, gateway) = GatewayConfig::new(&upstream)
        .route(
            "sns",
            &format!("path: /hook\nprovider: amazon-sns\ntopic_arns: [{topic}]\ntolerance_seconds: 999999999"),
        )
        .binary(&[(&env_name, &env_value)]);
    let mut forwarded = 0;
    for (i, v) in vectors.iter().enumerate() {
        let headers: Vec<(String, String)> = v["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let body = v["body"].as_str().unwrap().as_bytes();
        let reply = post(gateway.addr, "/hook", &headers, body).await;
        assert_eq!(reply.status, 200, "vector {i}: {reply:?}");
        if v.get("handshake").is_none() {
            forwarded += 1;
            let received = upstream.received();
            assert_eq!(
                &received[forwarded - 1].body[..],
                body,
                "vector {i}: byte for byte"
            );
        }
        assert_eq!(upstream.count(), forwarded, "vector {i}");
        let again = post(gateway.addr, "/hook", &headers, body).await;
        if v.get("handshake").is_none() {
            assert_eq!(again.status, 401, "vector {i}: replay: {again:?}");
        }
        let tampered = String::from_utf8(body.to_vec()).unwrap().replacen(
            "\"Message\": \"",
            "\"Message\": \"x",
            1,
        );
        let reply = post(gateway.addr, "/hook", &headers, tampered.as_bytes()).await;
        assert_eq!(reply.status, 401, "vector {i}: tampered: {reply:?}");
        assert_eq!(
            upstream.count(),
            forwarded,
            "vector {i}: nothing else forwarded"
        );
    }
    assert_eq!(
        forwarded,
        vectors.len() - 2,
        "all but the two confirmations"
    );
    let fetches = keys
        .seen()
        .iter()
        .filter(|f| f.target == url.path())
        .count();
    assert_eq!(fetches, 1, "one certificate fetch for every vector");
}
