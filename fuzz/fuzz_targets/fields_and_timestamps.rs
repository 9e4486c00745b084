//! Body-field extraction and RFC 3339 timestamps, on arbitrary bytes: nothing panics, an RFC
//! 3339 time that parses formats back to itself, a scheme reading JSON and form fields
//! verifies its own signature over any body (or refuses a body that is not a form as
//! malformed), and the body-field presets never accept arbitrary bytes.

#![no_main]

use http::{HeaderMap, HeaderValue, Method};
use hookgate::error::Rejection;
use hookgate::scheme::{SchemeSpec, TimestampFormat, preset};
use hookgate::secret::Secret;
use hookgate::verify::{Delivery, Verifier, format_rfc3339, parse_timestamp};
use libfuzzer_sys::fuzz_target;

const FIELDS: &str = "signature_header: X-Sig\nsigned_payload: '{json:a.b}|{json:a.0}|{form:c}|{form_sorted}|{body}'\n";

fn verifiers() -> (Verifier, Vec<Verifier>) {
    let key = [Secret::new(b"fuzz-secret".to_vec())];
    let spec: SchemeSpec = serde_saphyr::from_str(FIELDS).expect("fuzz scheme parses");
    let own = Verifier::new(spec.build().expect("builds"), &key, 300).expect("keys");
    // Token schemes (msgraph) are left out: a body holding the token is, by design, accepted.
    let presets = ["mailgun", "mailgun-form", "linear", "twilio", "twilio-json"]
        .iter()
        .map(|name| {
            let scheme = preset(name).expect("preset").build().expect("builds");
            Verifier::new(scheme, &key, 300)
                .expect("keys")
                .with_public_url("https://hooks.example.com")
        })
        .collect();
    (own, presets)
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static VERIFIERS: (Verifier, Vec<Verifier>) = verifiers();
    }
    if let Ok(t) = parse_timestamp(TimestampFormat::Rfc3339, data) {
        let text = format_rfc3339(t);
        assert_eq!(parse_timestamp(TimestampFormat::Rfc3339, text.as_bytes()), Ok(t), "{text}");
    }
    let _ = parse_timestamp(TimestampFormat::UnixMs, data);

    let now = 1_700_000_000;
    let empty = HeaderMap::new();
    let unsigned = Delivery { method: &Method::POST, path: "/hook", query: Some("bodySHA256=00"), headers: &empty, body: data.into() };
    VERIFIERS.with(|(own, presets)| {
        let signed = own.sign(&unsigned, "").expect("an HMAC scheme signs");
        let mut headers = HeaderMap::new();
        for (name, value) in signed {
            headers.insert(name, HeaderValue::from_str(&value).expect("valid header"));
        }
        let delivery = Delivery { headers: &headers, ..unsigned };
        match own.verify(&delivery, now) {
            Ok(_) | Err(Rejection::SignatureMalformed) => {}
            Err(other) => panic!("own signature refused: {other:?}"),
        }
        for verifier in presets {
            assert!(verifier.verify(&unsigned, now).is_err(), "arbitrary body accepted");
        }
    });
});
