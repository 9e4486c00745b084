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
    let value = if s.algorithm == Algorithm::Token {
        value.replace("<sig>", "<token>")
    } else {
        value
    };
    match &s.signature {
        SignatureSource::Headers(names) => names
            .iter()
            .map(|n| format!("`{n}: {value}`"))
            .collect::<Vec<_>>()
            .join(" or "),
        SignatureSource::Field(field) => format!("body `{field}`"),
    }
}

fn algorithm(s: &Scheme) -> String {
    let name = match s.algorithm {
        Algorithm::Sha1 => "HMAC-SHA1",
        Algorithm::Sha256 => "HMAC-SHA256",
        Algorithm::Sha384 => "HMAC-SHA384",
        Algorithm::Sha512 => "HMAC-SHA512",
        Algorithm::Ripemd128 => "HMAC-RIPEMD-128",
        Algorithm::Ripemd160 => "HMAC-RIPEMD-160",
        Algorithm::Token => return "shared token, constant-time".into(),
        Algorithm::Ed25519 => "Ed25519 (public_key)",
        Algorithm::EcdsaP256Sha256 => "ECDSA P-256 SHA-256 (public_key)",
    };
    let encoding = match s.encoding {
        Encoding::Hex => "hex",
        Encoding::Base64 => "base64",
        Encoding::Base64url => "base64url",
    };
    let secret = match s.secret_encoding {
        SecretEncoding::Raw => String::new(),
        SecretEncoding::Base64 => format!(
            "; secret base64 after `{}`",
            String::from_utf8_lossy(&s.secret_prefix)
        ),
        SecretEncoding::Hex => "; secret hex".into(),
    };
    format!("{name}, {encoding}{secret}")
}

fn signed(s: &Scheme) -> String {
    if s.algorithm == Algorithm::Token {
        return "the token itself".into();
    }
    let digest = s
        .body_digest_param
        .as_ref()
        .map(|p| format!("; `?{p}=` hex SHA-256(body)"))
        .unwrap_or_default();
    format!("`{}`{digest}", s.signed_payload)
}

fn timestamp(s: &Scheme) -> String {
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

/// The first https URL in the comment block above the preset's entry.
fn docs_url(name: &str) -> Option<String> {
    let entry = PRESETS.find(&format!("\n{name}:\n"))?;
    let comments = PRESETS[..entry]
        .rsplit("\n\n")
        .next()?
        .split_whitespace()
        .find(|w| w.starts_with("https://"))?;
    Some(comments.to_owned())
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
                "| `{name}` | {} | {} | {} | {} | {} | {} | {docs} | {source} |",
                cell(signature(&s)),
                cell(algorithm(&s)),
                cell(signed(&s)),
                cell(timestamp(&s)),
                cell(replay_key(&s)),
                cell(handshake(&s)),
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
