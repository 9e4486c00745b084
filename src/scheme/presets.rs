//! The preset table: named scheme descriptions, parsed once from `presets.yaml`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::SchemeSpec;

const PRESETS_YAML: &str = include_str!("presets.yaml");

fn table() -> &'static BTreeMap<String, SchemeSpec> {
    static TABLE: OnceLock<BTreeMap<String, SchemeSpec>> = OnceLock::new();
    // The table ships inside the binary and a unit test parses it, so a failure here is a
    // build defect; an empty table still lets `check` report "unknown provider" clearly.
    TABLE.get_or_init(|| serde_saphyr::from_str(PRESETS_YAML).unwrap_or_default())
}

/// The description of a built-in provider, if `name` is one.
pub fn preset(name: &str) -> Option<&'static SchemeSpec> {
    table().get(name)
}

/// All built-in provider names, sorted.
pub fn preset_names() -> impl Iterator<Item = &'static str> {
    table().keys().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_builds() {
        let parsed: BTreeMap<String, SchemeSpec> = serde_saphyr::from_str(PRESETS_YAML).unwrap();
        assert!(parsed.len() >= 5);
        for (name, spec) in &parsed {
            spec.build()
                .unwrap_or_else(|e| panic!("preset {name}: {e}"));
        }
        let names: Vec<_> = preset_names().collect();
        for seed in [
            "flow",
            "patchworks",
            "nopcommerce",
            "extend",
            "timestamped-v1",
        ] {
            assert!(names.contains(&seed), "{seed} missing");
        }
    }
}
