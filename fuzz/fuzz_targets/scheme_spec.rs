//! Custom `scheme:` blocks from untrusted YAML: parse, validate, build templates. Must never
//! panic; every refusal is an error value.

#![no_main]

use hookgate::scheme::SchemeSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(spec) = serde_saphyr::from_str::<SchemeSpec>(text) {
        let _ = spec.build();
    }
});
