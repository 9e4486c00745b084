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

/// The preset names closest to a misspelt `name`, nearest first: at most three, each within
/// a few edits of it (or containing it, or contained in it).
pub fn nearest_presets(name: &str) -> Vec<&'static str> {
    let name = name.to_ascii_lowercase();
    let budget = (name.len() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, &'static str)> = preset_names()
        .filter_map(|known| {
            let distance = edit_distance(&name, known);
            let related = name.len() >= 4 && (known.contains(&name) || name.contains(known));
            (distance <= budget || related).then_some((distance, known))
        })
        .collect();
    scored.sort();
    // Only the closest few: one edit away beats three.
    let best = scored.first().map_or(0, |(d, _)| *d);
    scored
        .into_iter()
        .filter(|(d, known)| *d <= best + 1 || name.contains(known) || known.contains(&name))
        .take(3)
        .map(|(_, known)| known)
        .collect()
}

/// Levenshtein distance over bytes (preset names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
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
        assert!(names.len() >= 110, "{} presets", names.len());
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

    #[test]
    fn misspelt_names_suggest_the_nearest() {
        assert_eq!(nearest_presets("woocomerce"), ["woocommerce"]);
        assert_eq!(nearest_presets("flw"), ["flow"]);
        assert_eq!(nearest_presets("Stripe")[0], "stripe");
        assert!(nearest_presets("github2").contains(&"github"));
        assert!(nearest_presets("zzzzzzzzzz").is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
