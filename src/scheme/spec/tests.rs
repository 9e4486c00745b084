use super::*;

fn spec(yaml: &str) -> SchemeSpec {
    serde_saphyr::from_str(yaml).unwrap()
}

#[test]
fn defaults_fill_in() {
    let scheme = spec("signature_header: X-Sig\n").build().unwrap();
    assert_eq!(scheme.algorithm, Algorithm::Sha256);
    assert_eq!(scheme.encoding, Encoding::Hex);
    assert_eq!(scheme.signed_payload, Template::body_only());
    assert_eq!(scheme.timestamp, None);
    assert_eq!(
        scheme.format,
        SignatureFormat::Plain {
            prefix: Box::new([])
        }
    );
}

#[test]
fn list_with_timestamp_key() {
    let scheme = spec(
        "signature_header: X-Sig\nsignature_list: { separator: ';', timestamp_key: ts, signature_key: h1 }\n",
    )
    .build()
    .unwrap();
    assert_eq!(scheme.timestamp, Some(TimestampSource::SignatureList));
    let SignatureFormat::List(list) = scheme.format else {
        panic!("not a list")
    };
    assert_eq!(list.separator, b';');
    assert_eq!(list.pair_separator, b'=');
    assert_eq!(&*list.signature_key, b"h1");
}

#[test]
fn a_list_separator_may_carry_the_spaces_the_sender_writes() {
    let list = |sep: &str| {
        spec(&format!(
            "signature_header: X\nsignature_list: {{ separator: '{sep}', signature_key: v1 }}\n"
        ))
        .build()
        .map(|s| match s.format {
            SignatureFormat::List(l) => (l.separator, l.spaces_after_separator),
            SignatureFormat::Plain { .. } => panic!("not a list"),
        })
    };
    assert_eq!(list(", ").unwrap(), (b',', 1));
    assert_eq!(list(" ").unwrap(), (b' ', 0));
    for bad in [",x", "  ", "", "\u{e9}"] {
        assert!(list(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn inconsistent_descriptions_name_the_key() {
    let cases = [
        ("encoding: hex\n", "signature_header"),
        ("signature_header: 'bad header'\n", "signature_header"),
        (
            "signature_header: X\nsigned_payload: '{timestamp}{body}'\n",
            "signed_payload",
        ),
        (
            "signature_header: X\nsigned_payload: '{nope}'\n",
            "signed_payload",
        ),
        (
            "signature_header: X\nprefix: a\nsignature_list: { signature_key: v1 }\n",
            "prefix",
        ),
        (
            "signature_header: X\nsignature_list: { separator: ',,', signature_key: v1 }\n",
            "signature_list.separator",
        ),
        (
            "signature_header: X\ntimestamp_header: T\nsignature_list: { timestamp_key: t, signature_key: v1 }\n",
            "timestamp_header",
        ),
        (
            "signature_header: X\ntimestamp_header: T\ntolerance_seconds: 0\n",
            "tolerance_seconds",
        ),
        (
            "signature_header: X\ntolerance_seconds: 60\n",
            "tolerance_seconds",
        ),
        (
            "signature_header: X\nsignature_field: json:a\n",
            "signature_field",
        ),
        ("signature_field: 'header:x'\n", "signature_field"),
        (
            "signature_header: X\ntimestamp_header: T\ntimestamp_field: form:t\n",
            "timestamp_header",
        ),
        ("signature_header: X\nreplay_key: '{nope}'\n", "replay_key"),
        (
            "signature_header: X\nbody_digest_param: 'a=b'\n",
            "body_digest_param",
        ),
        (
            "signature_header: X\nalgorithm: token\nsignature_list: { signature_key: v1 }\n",
            "signature_list",
        ),
        ("signature_header: []\n", "signature_header"),
        // A digest must hash the secret, and only a digest may name it.
        (
            "signature_header: X\nalgorithm: sha256_digest\n",
            "signed_payload",
        ),
        (
            "signature_header: X\nsigned_payload: '{secret}{body}'\n",
            "signed_payload",
        ),
        (
            "signature_header: X\nalgorithm: sha256_digest\nsigned_payload: '{secret}{body}'\nreplay_key: '{secret}'\n",
            "replay_key",
        ),
        // A JWT scheme takes none of the keys its token carries.
        (
            "signature_header: X\nsigned_payload: '{body}'\njwt: {}\n",
            "signed_payload",
        ),
        (
            "signature_header: X\nencoding: base64\njwt: {}\n",
            "encoding",
        ),
        (
            "signature_header: X\nalgorithm: ripemd160\njwt: {}\n",
            "jwt",
        ),
        (
            "signature_header: X\nalgorithm: ed25519\nkey_id_header: K\njwt: {}\n",
            "key_id_header",
        ),
        ("signature_header: X\nkey_id_header: K\n", "key_id_header"),
        // A token that is the body is read from nowhere else.
        (
            "signature_header: X\njwt: { in_body: true }\n",
            "signature_header",
        ),
        (
            "prefix: 'Bearer '\njwt: { in_body: true }\n",
            "signature_header",
        ),
        (
            "signature_field: json:sig\njwt: { in_body: true }\n",
            "signature_field",
        ),
        // A key set holds a JWT's public keys, on pinned hosts.
        (
            "signature_header: X\nalgorithm: ed25519\njwks: { url: https://keys.example.com/j }\n",
            "jwks",
        ),
        (
            "signature_header: X\njwt: {}\njwks: { url: https://keys.example.com/j }\n",
            "jwks",
        ),
        (
            "signature_header: X\nalgorithm: ed25519\njwt: {}\njwks: { hosts: ['*.com'] }\n",
            "jwks",
        ),
        (
            "signature_header: X\nalgorithm: ed25519\njwt: {}\njwks: { url: 'http://keys.example.com/j' }\n",
            "jwks",
        ),
        (
            "signature_header: X\nsignature_query: signature\n",
            "signature_query",
        ),
        ("signature_query: 'a=b'\n", "signature_query"),
        // A positional list has bare items; a keyed one names its timestamp.
        (
            "signature_header: X\nsignature_list: { timestamp_key: t }\n",
            "signature_list.signature_key",
        ),
        (
            "signature_header: X\nsignature_list: { signature_key: v1, timestamp_first: true }\n",
            "signature_list.timestamp_first",
        ),
        (
            "signature_header: X\nsignature_list: { signature_key: '' }\n",
            "signature_list.signature_key",
        ),
    ];
    for (yaml, key) in cases {
        let err = spec(yaml).build().unwrap_err();
        assert_eq!(err.key, key, "{yaml}: {err}");
    }
}

#[test]
fn unknown_keys_are_refused() {
    let err = serde_saphyr::from_str::<SchemeSpec>("signature_headr: X\n").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `signature_headr`"),
        "{err}"
    );
}
