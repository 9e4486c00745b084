//! The config loader on arbitrary text: YAML parsing, key paths, locations, every semantic
//! check. Must never panic; a bad config is a list of problems.

#![no_main]

use std::path::Path;

use hookgate::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = |name: &str| (name == "SECRET").then(|| "fuzz".to_owned());
    match Config::parse(text, Path::new("fuzz.yaml"), Path::new("/nonexistent"), &env) {
        Ok(_) => {}
        Err(e) => assert!(!e.problems.is_empty(), "an error names at least one problem"),
    }
});
