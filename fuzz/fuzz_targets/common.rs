//! Schemes every target exercises: each preset, plus custom ones covering the grammars presets
//! do not (space- and `;`-separated lists, millisecond timestamps, templates over the method,
//! path and other headers, base64url).

use hookgate::scheme::{SchemeSpec, preset, preset_names};
use hookgate::secret::Secret;
use hookgate::verify::Verifier;

const CUSTOM: &[&str] = &[
    "signature_header: X-Sig\nsignature_list: { separator: ' ', pair_separator: ',', signature_key: v1 }\nencoding: base64\nsigned_payload: '{header:X-Id}.{timestamp}.{body}'\ntimestamp_header: X-Ts\n",
    "signature_header: X-Sig\nsignature_list: { separator: ';', timestamp_key: ts, signature_key: h1 }\nsigned_payload: '{timestamp}:{body}'\n",
    "signature_header: X-Sig\ntimestamp_header: X-Ts\ntimestamp_format: unix_ms\nalgorithm: sha512\nencoding: base64url\nsigned_payload: '{method} {path}{{}}{body}{timestamp}'\n",
    "signature_header: X-Sig\nprefix: 'v0='\nalgorithm: ripemd128\n",
];

/// One verifier per scheme, keyed with `secret`.
pub fn verifiers(secret: &[u8]) -> Vec<Verifier> {
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
            // Public-key presets refuse a random key; the others accept any secret.
            Verifier::new(scheme, &[Secret::new(secret.to_vec())], 300)
                .ok()
                .map(|v| v.with_public_url("https://hooks.example.com"))
        })
        .collect()
}

/// Splits `data` into up to `n` fields at 0xFF bytes (the last field takes the rest).
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0xff).collect();
    out.resize(n, b"");
    out
}
