use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

use super::*;

/// A 2048-bit RSA key made for these tests (PKCS#8).
const KEY: &str = "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCh+1iVo7lxUaQLbTVRoRCg0SIK8gegeZ2BtYG+9thIwHkzfr/sa7zqgDPGjTknUoccjVpAif6nzQPp1CT2AvJpAs9BhEvvWQE8pIkz3S1tN+OLs49BhS1sm5FvrauNh6Ryr4UhBw39Y8R2cIL4fCqjm8jjxEa1asw13QTNyygajbHLWGavMv4jm38ucaa0Jy15Zsm6Evghc4Ae+4GSQHldSLKL//weiBuPeH5bLJzukPgGjRrunqy7vK11OK+wiCbTqYbz/MkKa7LzEphPN9lFXEDATMECJV2YzMIQkV0Wf5Q3Zk6bfWWSpwhvgTK1a5RA84F6frE4M/rxYVBt92DLAgMBAAECggEAObMf5gXxO9V6Gvvm31IBa1ezybRXVSmdGqQ+OHkTqC6vvdErqpriK6JJTzPlJQW3zUro2E6PoNRdzYBdPijkktWGYG8w4WySDTkLCqeB1ALxkkT/Bbbb7HEqCF8T2hF0Wcn+ITqzGAze4dXIQZ1xTuBiWggDrAIEBjfZyzjP60z2rLoIFGNuH6T3DFPzXeRShxqWMbwaoAuOnJuDNE0ZUZWA7S6NlL6RhLXZKVjBBBbsHwGCEQpaVLk/Y2h48UHyL9rUtaJ8I8IhHpnNtpXNh9xeSZTyg1+lOuYRs8V5f5bIBw7GkZ85kizxrTOfJEsT0tZ35BgakNDI+Z/wWXhSOQKBgQDYb6jtieLmX30qUzXYApMGlkfPsMngve6Booj0KgoMI3nKFtEKDqS+lLeIjHA08RHzu5gze3bI4lDKcR1jYjadeMSUvZIK8tc2RGiECWQJskXfEEndb/mVOGnUiIhEJoNHAS/uNEYfkBc4+6M9MGpPLsi9BFovHaqgR9cUKPz2xQKBgQC/l3EthR3il2X8gCO387e+JZLI58JkiFSHQzb/ligWXjeVVt5FjbLkDhJcn0PrXSy521PQRdQ3PpY/O4IT+hGAYxi+OpfFbPgJiCce1CYTerjiYmnm6X25gC80s75tZX5Z2KcyxP+6lac/B42Yyt3ZOMkyBu0RcL84npYAji3yTwKBgA6Vd4yJ/gAH7ycq9DXZ9o47Ehusje3W3ntduFy7eHHY8hvr7an/0poE61kIHYdztwH1YgwWBasDlO4PMSvBMmzp9lUPcQfL1TSS53f+Kf99Q7gEIPYK1YZ4hqkLiiMNdUsTiWdDnnYB/46XZih5WrB7NouF/42tMhIaxSNWn7UBAoGAdrs9Uj5ahN/aPh6TBB6vUdErJAIsP+0UpTaMUNwXP7VnsM7CtEvZ/uaRjoDMsIFvhEZdrIZ5uzq4FbulIwgn7G59GPZqs9iR5iZQSBSk/BFjnjfq9UThuyGrH3f8nQL2yGsxQo8/A7xWhwMBRx0BWuqMFMqiA9rhRg9RWkrCQpUCgYAqxRxi06NO9j9wHt2iCUWD1kLE7LXc7Ibzoi5XbhD4EpA0wJTHc3cEjKEvj32eiBPd4u6BZwazR4ZHO8FvDoeyrRIdes510aU2rcox1v+BkvkZlvHqF47pWTcODZvxch5lNiMoFHVtI0/oOLpq5lY7YJPu/hqL8ekAd2K7vAcz1w==";
/// SHA-1 signature (SignatureVersion 1) of [`docs_notification`]'s canonical string under
/// [`KEY`], made with `openssl dgst -sha1 -sign`.
const SIG_V1: &str = "GQmdV2FNNqZ2cJZcTv8OSVQVMhxgCf6MMWd0hid6M7oVMjfDrDcrec/uQHtIgt1H78OskfSSw4jq/0CCc48v8liCcOQuQEoM+Qzq4FYbPMcBbCG2qTf3GEv04PTsJZc2N7TB9QqYcgQK3h+94+S+pB1QqRrScE4Si1RzOgkwwmiP1yARsj2wdBZo5gJ0ygf0g8FR1XXQ8ykE/48p/Ophz5fjuMz5uU98oGQygSC3ntbiCAppkv1YTJKjHHOpxYS7GHyLB7W1t7WBye/1KP2nwH/TY55EgIi4DKCvQxYibdwO+SknIw+0+Jp5YMdDOdJP0kuw32M+RZzjxGcp7dnzug==";
const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:MyTopic";
/// 2012-05-02T00:54:06Z, the docs example's time.
const NOW: i64 = 1_335_920_046;

fn key() -> Vec<u8> {
    STANDARD.decode(KEY).unwrap()
}

/// A certificate for the test key, as SNS's signing certificate would be.
fn cert() -> Vec<u8> {
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(key());
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec!["sns.amazonaws.com".to_owned()]).unwrap();
    params.self_signed(&pair).unwrap().der().to_vec()
}

/// The canonical string as AWS documents it, written out here independently.
fn canonical(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}\n{v}\n")).collect()
}

fn sign_v2(text: &str) -> String {
    let pair = RsaKeyPair::from_pkcs8(&key()).unwrap();
    let mut sig = vec![0; pair.public().modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        text.as_bytes(),
        &mut sig,
    )
    .unwrap();
    STANDARD.encode(sig)
}

/// The notification of AWS's docs example, signed under the test key (version 1).
fn docs_notification() -> serde_json::Value {
    json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Subject": "My First Message",
        "Message": "Hello from SNS",
        "Timestamp": "2012-05-02T00:54:06.655Z",
        "SignatureVersion": "1",
        "Signature": SIG_V1,
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"
    })
}

fn both() -> SnsRule {
    SnsRule {
        version_1: true,
        version_2: true,
    }
}

fn run(body: &serde_json::Value, headers: &HeaderMap) -> Result<Verified, Rejection> {
    let body = serde_json::to_vec(body).unwrap();
    let topics = [Box::from(TOPIC)];
    let message = message(&both(), &topics, headers, &body, NOW, 60)?;
    check(&message, &cert())
}

#[test]
fn the_docs_notification_verifies_under_version_1_and_not_once_changed() {
    let none = HeaderMap::new();
    let verified = run(&docs_notification(), &none).unwrap();
    assert_eq!(verified.timestamp, Some(NOW));
    let again = run(&docs_notification(), &none).unwrap();
    assert!(
        verified.fingerprint.ct_eq(&again.fingerprint),
        "stable replay key"
    );
    for (field, value) in [
        ("Message", "Hello from SN5"),
        ("Subject", "My Second Message"),
        ("MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf325"),
        ("Timestamp", "2012-05-02T00:54:07.655Z"),
    ] {
        let mut forged = docs_notification();
        forged[field] = json!(value);
        assert_eq!(
            run(&forged, &none).unwrap_err(),
            Rejection::SignatureMismatch,
            "{field}"
        );
    }
    let mut unsubjected = docs_notification();
    unsubjected.as_object_mut().unwrap().remove("Subject");
    assert_eq!(
        run(&unsubjected, &none).unwrap_err(),
        Rejection::SignatureMismatch
    );
    let mut relabelled = docs_notification();
    relabelled["SignatureVersion"] = json!("2");
    assert_eq!(
        run(&relabelled, &none).unwrap_err(),
        Rejection::SignatureMismatch
    );
}

#[test]
fn version_2_and_subscription_confirmations_follow_the_documented_field_order() {
    let fields = [
        (
            "Message",
            "You have chosen to subscribe to the topic. \"quoted\"\nline",
        ),
        ("MessageId", "165545c9-2a5c-472c-8df2-7ff2be2b3b1b"),
        (
            "SubscribeURL",
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=t",
        ),
        ("Timestamp", "2012-05-02T00:54:06.655Z"),
        ("Token", "2336412f37"),
        ("TopicArn", TOPIC),
        ("Type", "SubscriptionConfirmation"),
    ];
    let mut body = serde_json::Map::new();
    for (k, v) in fields {
        body.insert(k.to_owned(), json!(v));
    }
    body.insert("SignatureVersion".into(), json!("2"));
    body.insert("Signature".into(), json!(sign_v2(&canonical(&fields))));
    body.insert(
        "SigningCertURL".into(),
        json!("https://sns.us-west-2.amazonaws.com/a.pem"),
    );
    let body = serde_json::Value::Object(body);
    let none = HeaderMap::new();
    assert!(run(&body, &none).is_ok());
    let raw = serde_json::to_vec(&body).unwrap();
    let topics = [Box::from(TOPIC)];
    let parsed = message(&both(), &topics, &none, &raw, NOW, 60).unwrap();
    assert_eq!(parsed.kind, Kind::SubscriptionConfirmation);
    assert_eq!(parsed.subscribe_url(), Some(fields[2].1));
    let only_1 = SnsRule {
        version_1: true,
        version_2: false,
    };
    let refused = message(&only_1, &topics, &none, &raw, NOW, 60).unwrap_err();
    assert_eq!(refused, Rejection::SignatureMalformed);
}

#[test]
fn what_is_refused_before_any_certificate_is_fetched() {
    let topics = [Box::from(TOPIC)];
    let none = HeaderMap::new();
    let pre = |body: &serde_json::Value, headers: &HeaderMap, topics: &[Box<str>]| {
        let raw = serde_json::to_vec(body).unwrap();
        message(&both(), topics, headers, &raw, NOW, 60).map(|_| ())
    };
    let other = [Box::from("arn:aws:sns:us-west-2:999999999999:Attacker")];
    assert_eq!(
        pre(&docs_notification(), &none, &other),
        Err(Rejection::SignatureMismatch)
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-sns-message-type",
        "SubscriptionConfirmation".parse().unwrap(),
    );
    assert_eq!(
        pre(&docs_notification(), &headers, &topics),
        Err(Rejection::SignatureMismatch)
    );
    headers.insert("x-amz-sns-message-type", "Notification".parse().unwrap());
    headers.insert("x-amz-sns-topic-arn", TOPIC.parse().unwrap());
    assert_eq!(pre(&docs_notification(), &headers, &topics), Ok(()));
    let late = |body: &serde_json::Value| {
        let raw = serde_json::to_vec(body).unwrap();
        message(&both(), &topics, &none, &raw, NOW + 61, 60).map(|_| ())
    };
    assert_eq!(
        late(&docs_notification()),
        Err(Rejection::TimestampOutOfTolerance)
    );
    let mut odd = docs_notification();
    odd["Type"] = json!("Other");
    assert_eq!(
        pre(&odd, &none, &topics),
        Err(Rejection::SignatureMalformed)
    );
    let mut unsigned = docs_notification();
    unsigned.as_object_mut().unwrap().remove("Signature");
    assert_eq!(
        pre(&unsigned, &none, &topics),
        Err(Rejection::SignatureMissing)
    );
    let mut v3 = docs_notification();
    v3["SignatureVersion"] = json!("3");
    assert_eq!(pre(&v3, &none, &topics), Err(Rejection::SignatureMalformed));
}

#[test]
fn a_repeated_field_is_refused_so_the_app_reads_what_was_verified() {
    let text = serde_json::to_string(&docs_notification()).unwrap();
    let doubled = text.replacen("{", "{\"Message\":\"Pay the attacker\",", 1);
    let topics = [Box::from(TOPIC)];
    let refused = message(
        &both(),
        &topics,
        &HeaderMap::new(),
        doubled.as_bytes(),
        NOW,
        60,
    );
    assert_eq!(refused.unwrap_err(), Rejection::SignatureMalformed);
    assert_eq!(
        message(&both(), &topics, &HeaderMap::new(), b"not json", NOW, 60).unwrap_err(),
        Rejection::SignatureMalformed
    );
}

#[test]
fn a_signature_under_another_key_or_certificate_junk_fails() {
    let body = serde_json::to_vec(&docs_notification()).unwrap();
    let topics = [Box::from(TOPIC)];
    let m = message(&both(), &topics, &HeaderMap::new(), &body, NOW, 60).unwrap();
    assert_eq!(
        check(&m, b"junk").unwrap_err(),
        Rejection::SignatureMalformed
    );
    let other = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["x".to_owned()]).unwrap();
    let ec = params.self_signed(&other).unwrap().der().to_vec();
    assert_eq!(check(&m, &ec).unwrap_err(), Rejection::SignatureMismatch);
}
