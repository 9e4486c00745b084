//! The key fetcher's inputs, all of which a request or a fetched answer controls: the URL the
//! SSRF guard judges, the PEM answer a fetch keeps (and the same bytes as a JWK Set), and
//! the SNS message read before any fetch. Must never panic. Whatever URL the guard passes must be https, name a host of the
//! pinned shape (`sns.<one label>.amazonaws.com[.cn]`) with no user info, and be read by an
//! independent URL parser as that same host, so the connection goes where the check looked.

#![no_main]

use hookgate::keyfetch::{certificate_from_pem, guard};
use hookgate::scheme::{Algorithm, SNS_HOSTS, SnsRule};
use hookgate::verify::{JwkSet, sns};
use http::HeaderMap;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_335_920_046;

fn pinned_shape(host: &str) -> bool {
    let label = host.strip_prefix("sns.").and_then(|rest| {
        rest.strip_suffix(".amazonaws.com")
            .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))
    });
    label.is_some_and(|l| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

fuzz_target!(|data: &[u8]| {
    // Three inputs, split at 0xff bytes (never in UTF-8 text): URL, PEM answer, SNS body.
    let mut parts = data.splitn(3, |b| *b == 0xff);
    let url = parts.next().unwrap_or_default();
    let pem = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    if let Ok(url) = std::str::from_utf8(url)
        && let Ok(target) = guard::check(url, SNS_HOSTS)
    {
        assert!(url.starts_with("https://"), "{url}");
        assert!(pinned_shape(&target.host), "{url} passed as {}", target.host);
        assert!(target.path_and_query.starts_with('/'), "{url}");
        let uri: http::Uri = url.parse().expect("the guard passed what does not parse");
        assert_eq!(uri.host(), Some(target.host.as_str()), "{url}");
        let authority = uri.authority().expect("an authority").as_str();
        assert!(!authority.contains('@'), "{url}");
        assert!(matches!(uri.port_u16(), None | Some(443)), "{url}");
    }

    let der = certificate_from_pem(pem);
    // The same answer read as a key set, and a signature checked under each key it holds.
    if let Ok(set) = JwkSet::parse(pem) {
        assert!(!set.is_empty());
        for (algorithm, alg) in [
            (Algorithm::RsaPkcs1Sha512, "RS512"),
            (Algorithm::EcdsaP256Sha256, "ES256"),
            (Algorithm::Ed25519, "EdDSA"),
        ] {
            for kid in ["a", "k1", ""] {
                let _ = set.has(kid);
                assert!(!set.verifies(kid, algorithm, alg, body, &[]), "an empty signature");
                let _ = set.verifies(kid, algorithm, alg, body, &body[..body.len().min(512)]);
            }
        }
    }

    let rule = SnsRule {
        version_1: true,
        version_2: true,
    };
    let topics = [Box::from("arn:aws:sns:us-west-2:123456789012:MyTopic")];
    if let Ok(message) = sns::message(&rule, &topics, &HeaderMap::new(), body, NOW, 300) {
        let _ = message.signing_cert_url();
        let _ = sns::check(&message, der.as_deref().unwrap_or(pem));
    }
});
