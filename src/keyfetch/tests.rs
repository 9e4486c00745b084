//! Unit tests of the fetcher: refusals, the cache and its bounds.

use super::*;

fn fetcher() -> KeyFetcher {
    let tls = crate::tls::client_config(None, false).unwrap();
    // Nothing listens on port 9 of the loopback: every fetch fails fast.
    let to = "127.0.0.1:9".parse().ok();
    KeyFetcher::with(Client::new(tls, to, Duration::from_millis(500)))
}

const PINS: &[&str] = &["sns.*.amazonaws.com"];

#[tokio::test]
async fn a_refused_url_is_never_fetched_and_a_failure_is_remembered() {
    let f = fetcher();
    let refused = f
        .certificate("https://evil.example/a.pem", PINS, PathRule::PemFile)
        .await;
    assert_eq!(refused, Err(FetchError::Refused(Refused::Host)));
    let not_pem = f
        .certificate(
            "https://sns.us-east-1.amazonaws.com/a.txt",
            PINS,
            PathRule::PemFile,
        )
        .await;
    assert_eq!(not_pem, Err(FetchError::Refused(Refused::Path)));
    assert!(f.cache.lock().unwrap().is_empty(), "refusals cache nothing");
    let url = "https://sns.us-east-1.amazonaws.com/a.pem";
    assert_eq!(
        f.certificate(url, PINS, PathRule::PemFile).await,
        Err(FetchError::Unavailable)
    );
    let prefix = PathRule::Prefix("/v1/notifications/certs/");
    let bare = "https://sns.us-east-1.amazonaws.com/v1/notifications/certs/";
    let refused = f.certificate(bare, PINS, prefix).await;
    assert_eq!(refused, Err(FetchError::Refused(Refused::Path)));
    for walk in [
        "https://sns.us-east-1.amazonaws.com/v1/notifications/certs/../../oauth2/token",
        "https://sns.us-east-1.amazonaws.com/v1/notifications/certs/%2e%2e/x",
        "https://sns.us-east-1.amazonaws.com/v1/notifications/certs/./x",
    ] {
        let refused = f.certificate(walk, PINS, prefix).await;
        assert_eq!(refused, Err(FetchError::Refused(Refused::Path)), "{walk}");
    }
    let elsewhere = "https://sns.us-east-1.amazonaws.com/v1/other/CERT-1";
    let refused = f.certificate(elsewhere, PINS, prefix).await;
    assert_eq!(refused, Err(FetchError::Refused(Refused::Path)));
    assert!(
        f.cached(url, &|_| false).is_some(),
        "the failure is remembered"
    );
}

#[test]
fn the_cache_stays_bounded_and_drops_failures_first() {
    let f = fetcher();
    let der = Fetched::Certificate(Arc::from(&b"der"[..]));
    f.remember("fail", None);
    for i in 0..CACHE_ENTRIES + 10 {
        f.remember(&format!("u{i}"), Some(der.clone()));
    }
    let cache = f.cache.lock().unwrap();
    assert_eq!(cache.len(), CACHE_ENTRIES);
    assert!(!cache.contains_key("fail"));
}

#[test]
fn a_key_set_lacking_a_kid_is_fetched_again_at_most_every_few_minutes() {
    let f = fetcher();
    let doc = format!(
        r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"a","x":"{}"}}]}}"#,
        "A".repeat(43)
    );
    let set = Fetched::Keys(Arc::new(JwkSet::parse(doc.as_bytes()).unwrap()));
    let lacks_b = |v: &Fetched| matches!(v, Fetched::Keys(s) if !s.has("b"));
    f.remember("u", Some(set));
    assert!(
        matches!(f.cached("u", &lacks_b), Some(Ok(_))),
        "tried just now"
    );
    let long_ago = Instant::now().checked_sub(REFRESH_AFTER * 2).unwrap();
    f.cache.lock().unwrap().get_mut("u").unwrap().tried = long_ago;
    assert!(f.cached("u", &lacks_b).is_none(), "worth fetching again");
    assert!(
        matches!(f.cached("u", &|_| false), Some(Ok(_))),
        "kid a still served"
    );
    f.remember("u", None);
    assert!(
        matches!(f.cached("u", &lacks_b), Some(Ok(_))),
        "a failed refresh keeps the set and waits before trying again"
    );
}

#[test]
fn only_a_pem_certificate_is_taken() {
    assert!(certificate_from_pem(b"<html>not found</html>").is_err());
    let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(certificate_from_pem(junk).is_err());
}
