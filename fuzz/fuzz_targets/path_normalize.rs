//! Request path normalization on arbitrary targets: nothing panics; a normalized path is
//! canonical (normalizing it again changes nothing) and holds no dot segment, no doubled
//! slash, no encoded unreserved character, slash or backslash, and no `;` or `\`; and what
//! hyper's URI parser accepts either normalizes or is refused, never half-handled.

#![no_main]

use hookgate::path::{canonical_uri, normalize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = normalize(text) {
        let again = normalize(&path).expect("a normalized path normalizes");
        assert_eq!(again, path, "normalizing twice changed {text:?}");
        assert!(path.starts_with('/'));
        for bad in ["/./", "/../", "//", ";", "\\"] {
            assert!(!path.contains(bad), "{bad:?} left in {path:?} from {text:?}");
        }
        assert!(!path.ends_with("/.") && !path.ends_with("/.."), "{path:?}");
        let lower = path.to_ascii_lowercase();
        for escape in ["%2f", "%5c", "%2e", "%7e", "%41", "%61", "%30"] {
            assert!(!lower.contains(escape), "{escape} left in {path:?}");
        }
    }
    if let Ok(uri) = text.parse::<http::Uri>() {
        if let Ok(Some(changed)) = canonical_uri(&uri) {
            assert_eq!(normalize(changed.path()).as_deref(), Ok(changed.path()));
            assert_eq!(changed.query(), uri.query(), "the query is kept as sent");
        }
    }
});
