//! Schemes every target exercises: each preset, plus custom ones covering the grammars presets
//! do not (space- and `;`-separated lists, millisecond timestamps, templates over the method,
//! path and other headers, query parameters, a sorted URL and form, body digests, base64url,
//! detached JWS, JWT claims and a JWT that is the body).

use hookgate::scheme::{SchemeSpec, preset, preset_names};
use hookgate::secret::Secret;
use hookgate::verify::Verifier;

const CUSTOM: &[&str] = &[
    "signature_header: X-Sig\nsignature_list: { separator: ' ', pair_separator: ',', signature_key: v1 }\nencoding: base64\nsigned_payload: '{header:X-Id}.{timestamp}.{body}'\ntimestamp_header: X-Ts\n",
    "signature_header: X-Sig\nsignature_list: { separator: ';', timestamp_key: ts, signature_key: h1 }\nsigned_payload: '{timestamp}:{body}'\n",
    "signature_header: X-Sig\ntimestamp_header: X-Ts\ntimestamp_format: unix_ms\nalgorithm: sha512\nencoding: base64url\nsigned_payload: '{method} {path}{{}}{body}{timestamp}'\n",
    "signature_header: X-Sig\nprefix: 'v0='\nalgorithm: ripemd128\n",
    "signature_header: X-Sig\njwt: { detached: true }\n",
    "signature_header: X-Sig\nsignature_list: { separator: ';', timestamp_first: true }\nsigned_payload: '{timestamp}.{body}'\n",
    "signature_header: X-Sig\nsigned_payload: '{query:id}.{query_lower:k}.{crc32:body}.{sha256:body}.{webhook_id}'\n",
    "signature_header: X-Sig\nsignature_list: { separator: ',' }\nencoding: base64\nsigned_payload: '{url_sorted_form}.{header:X-Id}'\nreplay_key: '{header:X-Id}'\n",
    "jwt: { in_body: true, require: [iat] }\n",
    "signature_header: Authorization\nprefix: 'Bearer '\nalgorithm: sha512\njwt: { body_hash_claim: h, body_hash_encoding: base64url, url_hash_claim: u, audience: a, require: [jti] }\n",
];

/// One verifier per scheme, keyed with `secret` written as the scheme reads secrets: as is,
/// in hex, in base64, or as Basic credentials (`fuzz:` before it).
pub fn verifiers(secret: &[u8]) -> Vec<Verifier> {
    let written = [
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        base64_of(secret).into_bytes(),
        [b"fuzz:".as_slice(), secret].concat(),
    ];
    let mut specs: Vec<SchemeSpec> = preset_names()
        .filter_map(|name| preset(name).cloned())
        .collect();
    specs.extend(CUSTOM.iter().map(|text| {
        serde_saphyr::from_str::<SchemeSpec>(text).expect("custom fuzz scheme parses")
    }));
    specs
        .iter()
        .filter_map(|spec| {
            let scheme = spec.build().expect("fuzz scheme builds");
            // Public-key presets refuse every one; the others accept one of them.
            written.iter().find_map(|s| {
                Verifier::new(scheme.clone(), &[Secret::new(s.clone())], 300)
                    .ok()
                    .map(|v| v.with_public_url("https://hooks.example.com"))
            })
        })
        .collect()
}

/// Splits `data` into up to `n` fields at 0xFF bytes (the last field takes the rest).
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0xff).collect();
    out.resize(n, b"");
    out
}

/// Standard base64 with padding, without a dependency for it.
fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
