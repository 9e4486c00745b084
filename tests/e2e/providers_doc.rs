//! `docs/providers.md` stays true: its table has one row per preset, in order, and every
//! column that follows from the preset table (signature, algorithm, signed content,
//! timestamp, replay key, handshake) and from `tests/vectors/vectors.json` (vector source)
//! matches. On a mismatch the expected table is printed, ready to paste.

use hookgate::scheme::{
    Algorithm, Encoding, Scheme, SecretEncoding, SignatureFormat, SignatureSource, TimestampFormat,
    TimestampSource, preset, preset_names,
};

const DOC: &str = include_str!("../../docs/providers.md");
const PRESETS: &str = include_str!("../../src/scheme/presets.yaml");
const SDK_VERIFY_PY: &str = include_str!("../vectors/sdk_verify.py");
const SDK_VERIFY_MJS: &str = include_str!("../vectors/npm/verify.mjs");
const SEEDS: &[&str] = &[
    "flow",
    "patchworks",
    "nopcommerce",
    "extend",
    "timestamped-v1",
];

fn signature(s: &Scheme) -> String {
    let value = match &s.format {
        SignatureFormat::Plain { prefix } => format!("{}<sig>", String::from_utf8_lossy(prefix)),
        SignatureFormat::List(list) if list.signature_key.is_empty() => {
            let sep = char::from(list.separator);
            match list.timestamp_first {
                true => format!("<ts>{sep}<sig>{sep}…"),
                false => format!("<sig>{sep}…"),
            }
        }
        SignatureFormat::List(list) => {
            let pair = char::from(list.pair_separator);
            let sep = char::from(list.separator);
            let key = String::from_utf8_lossy(&list.signature_key);
            match &list.timestamp_key {
                Some(t) => format!(
                    "{}{pair}<ts>{sep}{key}{pair}<sig>…",
                    String::from_utf8_lossy(t)
                ),
                None => format!("{key}{pair}<sig>{sep}…"),
            }
        }
    };
    let value = match s.algorithm {
        _ if s.jwt.as_ref().is_some_and(|j| j.detached) => value.replace("<sig>", "<detached JWS>"),
        _ if s.jwt.is_some() => value.replace("<sig>", "<JWT>"),
        Algorithm::Token => value.replace("<sig>", "<token>"),
        Algorithm::BasicAuth => "Basic <base64 user:password>".into(),
        _ => value,
    };
    let key_id = s
        .key_id_header
        .as_ref()
        .map(|h| format!("; key id `{h}`"))
        .unwrap_or_default();
    let source = match &s.signature {
        SignatureSource::Headers(names) => names
            .iter()
            .map(|n| format!("`{n}: {value}`"))
            .collect::<Vec<_>>()
            .join(" or "),
        SignatureSource::Field(field) => format!("body `{field}`"),
        SignatureSource::Query(name) => format!("query `?{name}={value}`"),
        SignatureSource::Body => "the body: `<jwt>`".into(),
    };
    format!("{source}{key_id}")
}

fn algorithm(s: &Scheme) -> String {
    if s.sns.is_some() {
        return "RSA PKCS#1 v1.5 SHA-1 or SHA-256 (`SignatureVersion` 1 or 2), base64; certificate fetched from `SigningCertURL` on `sns.<region>.amazonaws.com`".into();
    }
    if let Some(jwt) = &s.jwt {
        let key = match s.algorithm.key_kind() {
            hookgate::scheme::KeyKind::PublicKey => "public_key",
            _ => "secret",
        };
        return match &s.jwks {
            Some(set) => format!(
                "JWS {}, pinned; key by `kid` from the key set at {}",
                jwt.alg,
                set.url.as_deref().map_or_else(
                    || format!("the route's `jwks_url` (on {})", set.hosts.join(", ")),
                    |url| format!("`{url}`")
                )
            ),
            None => format!("JWS {} ({key}), pinned", jwt.alg),
        };
    }
    let name = match s.algorithm {
        Algorithm::Sha1 => "HMAC-SHA1",
        Algorithm::Sha256 => "HMAC-SHA256",
        Algorithm::Sha384 => "HMAC-SHA384",
        Algorithm::Sha512 => "HMAC-SHA512",
        Algorithm::Ripemd128 => "HMAC-RIPEMD-128",
        Algorithm::Ripemd160 => "HMAC-RIPEMD-160",
        Algorithm::Token => return "shared token, constant-time".into(),
        Algorithm::BasicAuth => return "HTTP Basic (RFC 7617), constant-time".into(),
        Algorithm::Ed25519 => "Ed25519 (public_key)",
        Algorithm::EcdsaP256Sha256 => "ECDSA P-256 SHA-256 (public_key)",
        Algorithm::RsaPkcs1Sha1 => "RSA PKCS#1 v1.5 SHA-1 (public_key)",
        Algorithm::RsaPkcs1Sha256 => "RSA PKCS#1 v1.5 SHA-256 (public_key)",
        Algorithm::RsaPkcs1Sha512 => "RSA PKCS#1 v1.5 SHA-512 (public_key)",
        Algorithm::Sha256Digest => "plain SHA-256 digest (not an HMAC)",
    };
    let encoding = match s.encoding {
        Encoding::Hex => "hex",
        Encoding::Base64 => "base64",
        Encoding::Base64url => "base64url",
    };
    let secret = match s.secret_encoding {
        SecretEncoding::Raw => String::new(),
        SecretEncoding::Base64 if s.secret_prefix.is_empty() => "; secret base64".into(),
        SecretEncoding::Base64 => format!(
            "; secret base64 after `{}`",
            String::from_utf8_lossy(&s.secret_prefix)
        ),
        SecretEncoding::Hex => "; secret hex".into(),
        SecretEncoding::Sha1 => "; key SHA-1(secret)".into(),
    };
    match &s.signing_cert {
        Some(rule) => format!(
            "{}, {encoding}; certificate fetched from `{}` on {}",
            name.trim_end_matches(" (public_key)"),
            rule.url_header,
            rule.hosts
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => format!("{name}, {encoding}{secret}"),
    }
}

fn signed(s: &Scheme) -> String {
    if s.sns.is_some() {
        return "the SNS canonical string of the message's fields".into();
    }
    if let Some(jwt) = &s.jwt {
        if jwt.detached {
            return "`{body}` (detached JWS)".into();
        }
        if jwt.in_body {
            return "the body, a JWT: its claims".into();
        }
        let mut bound = Vec::new();
        if let Some(claim) = &jwt.body_hash_claim {
            bound.push(format!("claim `{claim}` = SHA-256(body)"));
        }
        if let Some(claim) = &jwt.url_hash_claim {
            bound.push(format!("claim `{claim}` = SHA-256(URL)"));
        }
        if bound.is_empty() {
            return "the JWT's claims; body not bound".into();
        }
        return bound.join(", ");
    }
    match s.algorithm {
        Algorithm::Token => return "the token itself".into(),
        Algorithm::BasicAuth => return "the credentials themselves".into(),
        _ => {}
    }
    let digest = s
        .body_digest_param
        .as_ref()
        .map(|p| format!("; `?{p}=` hex SHA-256(body)"))
        .unwrap_or_default();
    format!("`{}`{digest}", s.signed_payload)
}

fn timestamp(s: &Scheme) -> String {
    if let Some(jwt) = &s.jwt {
        if jwt.detached {
            return "none".into();
        }
        let skew = hookgate::verify::JWT_CLOCK_SKEW;
        return format!("JWT `iat`/`nbf` ±300 s, `exp` +{skew} s");
    }
    let source = match &s.timestamp {
        None => return "none".into(),
        Some(TimestampSource::Header(h)) => format!("`{h}`"),
        Some(TimestampSource::SignatureList) => "in the list".into(),
        Some(TimestampSource::Field(f)) => format!("body `{f}`"),
    };
    let format = match s.timestamp_format {
        TimestampFormat::Unix => "Unix s",
        TimestampFormat::UnixMs => "Unix ms",
        TimestampFormat::Rfc3339 => "RFC 3339",
    };
    let tolerance = s.tolerance_seconds.unwrap_or(300);
    format!("{source}, {format}, ±{tolerance} s")
}

fn replay_key(s: &Scheme) -> String {
    match &s.replay_key {
        Some(t) => format!("`{t}`"),
        None if s.sns.is_some() => "`TopicArn` and `MessageId`".into(),
        None if s.jwt.is_some() => "SHA-256 of the token".into(),
        None if s.algorithm.key_kind() == hookgate::scheme::KeyKind::Hmac => "the MAC".into(),
        None => "SHA-256 of signed content".into(),
    }
}

fn handshake(s: &Scheme) -> String {
    match s.handshake {
        None => "—".into(),
        Some(h) if h.after_verify() => format!("`{}`, after verify", h.name()),
        Some(h) => format!("`{}`", h.name()),
    }
}

/// The comment lines right above the preset's entry (`name:`, `name: &anchor` or
/// `name: *alias`), so a missing blank line cannot lend it the entry before's comment.
fn comments(name: &str) -> Option<&'static str> {
    let entry = [format!("\n{name}:\n"), format!("\n{name}: ")]
        .iter()
        .find_map(|line| PRESETS.find(line.as_str()))?;
    let above = &PRESETS[..entry];
    let start = above
        .rmatch_indices('\n')
        .map(|(at, _)| at)
        .take_while(|&at| above[at + 1..].starts_with('#'))
        .last()
        .map_or(above.len(), |at| at + 1);
    Some(&above[start..])
}

/// The first https URL in the comment block above the preset's entry.
fn docs_url(name: &str) -> Option<String> {
    let url = comments(name)?
        .split_whitespace()
        .find(|w| w.starts_with("https://"))?;
    Some(url.to_owned())
}

/// Where the preset's format comes from: the sender's own docs or SDK, or only the peers'
/// records (its comment says "Format: peers' records").
fn format_from(name: &str) -> &'static str {
    let text = comments(name).unwrap_or_default().replace("\n# ", " ");
    if text.contains("Format: peers' records") {
        "peers' records (secondary)"
    } else {
        "sender's docs"
    }
}

/// How a preset's vectors prove it: a sender SDK that signs or verifies them, and also
/// verifies what `hookgate sign` makes (tests/vectors/sdk_verify.py and npm/verify.mjs), is
/// "SDK both ways"; one of the two, "SDK one way"; else the docs' example or formula.
fn proof(name: &str, source: &str) -> &'static str {
    let checks_hookgate = [SDK_VERIFY_PY, SDK_VERIFY_MJS]
        .iter()
        .any(|text| text.contains(&format!("\"{name}\"")));
    let sdk = source.contains("(PyPI)") || source.contains("(npm)");
    match (sdk, checks_hookgate) {
        (true, true) => "SDK both ways",
        (true, false) | (false, true) => "SDK one way",
        _ if source.contains("docs example") => "docs example",
        _ => "docs formula only",
    }
}

fn vector_sources() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vectors.json"
    ))
    .unwrap();
    let data: serde_json::Value = serde_json::from_str(&text).unwrap();
    data.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["provider"].as_str().unwrap().to_owned(),
                p["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expected_rows() -> Vec<String> {
    let sources = vector_sources();
    preset_names()
        .map(|name| {
            let s = preset(name).unwrap().build().unwrap();
            let docs = match docs_url(name) {
                Some(url) => format!("[docs]({url})"),
                None if SEEDS.contains(&name) => "seed docs".into(),
                None => panic!("preset {name}: no https:// source in its presets.yaml comment"),
            };
            let source = sources
                .iter()
                .find(|(p, _)| p == name)
                .map(|(_, s)| s.clone())
                .unwrap_or_else(|| panic!("preset {name}: no vectors"));
            // A `|` inside a cell (Telnyx signs `{timestamp}|{body}`) would end it.
            let cell = |text: String| text.replace('|', "\\|");
            format!(
                "| `{name}` | {} | {} | {} | {} | {} | {} | {docs} | {} | {} | {source} |",
                cell(signature(&s)),
                cell(algorithm(&s)),
                cell(signed(&s)),
                cell(timestamp(&s)),
                cell(replay_key(&s)),
                cell(handshake(&s)),
                format_from(name),
                proof(name, &source),
            )
        })
        .collect()
}

#[test]
fn providers_doc_has_one_true_row_per_preset() {
    let expected = expected_rows();
    let section = DOC
        .split("\n## ")
        .find(|s| s.starts_with("Presets\n"))
        .expect("docs/providers.md has a Presets section");
    let actual: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
    if actual != expected {
        panic!(
            "docs/providers.md is out of date; its table rows should be:\n{}",
            expected.join("\n")
        );
    }
    let count = format!("{} presets", expected.len());
    assert!(DOC.contains(&count), "the doc should say `{count}`");
}
