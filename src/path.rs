//! Request path normalization: routes match, and the app receives, one canonical path.
//!
//! Apps and the proxies in front of them normalize a path before they route it, so a gateway
//! that matched the raw text could be steered: `/partner/../orders` or `/webhooks/%6frders`
//! would pass a weaker route here and reach the strict handler of another in the app. So the
//! path is normalized as RFC 3986 section 6 says, in the spirit of Envoy's `normalize_path`
//! and `merge_slashes`, before it is matched, and exactly the normalized path is forwarded:
//! - percent-encoded unreserved characters are decoded (`%6F` -> `o`, `%2E` -> `.`), and the
//!   hex of the escapes that stay is uppercased (`%c3` -> `%C3`);
//! - runs of `/` become one;
//! - `.` segments are removed and `..` removes the segment before it.
//!
//! What cannot be normalized safely is refused, never guessed at (Envoy's
//! `path_with_escaped_slashes_action: REJECT_REQUEST`): an encoded `/` or `\` (`%2F`, `%5C`),
//! a raw `\`, an encoded control byte, a broken escape, a `;` (servlet containers strip
//! `;params` from segments, so `/a/..;/orders` is `/orders` to them), a `..` that climbs above
//! the root, and any target that is not origin-form (`http://host/path`, `*`).

use std::borrow::Cow;

use http::Uri;

/// Why a path cannot be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Not an origin-form path starting with `/`.
    #[error("the request target is not an origin-form path")]
    NotOriginForm,
    /// An encoded slash or backslash, a raw backslash, an encoded control byte or a `;`.
    #[error("the path holds a character that apps read differently")]
    Ambiguous,
    /// A `%` not followed by two hex digits.
    #[error("the path holds a broken percent escape")]
    BrokenEscape,
    /// A `..` segment above the root.
    #[error("the path climbs above the root")]
    AboveRoot,
}

/// The request target with its path normalized: `None` when it already is canonical, so the
/// request keeps its own (shared) URI.
///
/// # Errors
/// A [`PathError`] for a target that is not origin-form or a path that cannot be normalized.
pub fn canonical_uri(uri: &Uri) -> Result<Option<Uri>, PathError> {
    if uri.scheme().is_some() || uri.authority().is_some() {
        return Err(PathError::NotOriginForm);
    }
    let Cow::Owned(path) = normalize(uri.path())? else {
        return Ok(None);
    };
    let target = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    Uri::try_from(target)
        .map(Some)
        .map_err(|_| PathError::Ambiguous)
}

/// The canonical form of `path`, borrowed when it already is canonical (the usual case).
///
/// # Errors
/// A [`PathError`] for a path that cannot be normalized safely.
pub fn normalize(path: &str) -> Result<Cow<'_, str>, PathError> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::NotOriginForm);
    }
    if is_canonical(bytes)? {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_unreserved(bytes)?;
    let mut out: Vec<&[u8]> = Vec::new();
    let segments: Vec<&[u8]> = decoded.split(|&b| b == b'/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            b"" => trailing_slash = i == last,
            b"." => trailing_slash = i == last,
            b".." => {
                out.pop().ok_or(PathError::AboveRoot)?;
                trailing_slash = i == last;
            }
            other => {
                out.push(other);
                trailing_slash = false;
            }
        }
    }
    let mut text = Vec::with_capacity(decoded.len());
    for segment in &out {
        text.push(b'/');
        text.extend_from_slice(segment);
    }
    if trailing_slash || out.is_empty() {
        text.push(b'/');
    }
    // Only ASCII went in (hyper accepts no other bytes in a target) and only ASCII comes out.
    String::from_utf8(text)
        .map(Cow::Owned)
        .map_err(|_| PathError::Ambiguous)
}

/// Whether the path is already canonical; errors for what is refused outright. One pass, no
/// allocation, for the common path.
fn is_canonical(bytes: &[u8]) -> Result<bool, PathError> {
    let mut canonical = true;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' | b';' => return Err(PathError::Ambiguous),
            b'%' => {
                let byte = escaped(bytes, i)?;
                if byte < 0x20 || matches!(byte, 0x7f | b'/' | b'\\') {
                    return Err(PathError::Ambiguous);
                }
                let upper = bytes[i + 1..i + 3].iter().all(|b| !b.is_ascii_lowercase());
                canonical &= !unreserved(byte) && upper;
                i += 3;
                continue;
            }
            b'/' => {
                let next = &bytes[i + 1..];
                let segment_end = next.iter().position(|&b| b == b'/').unwrap_or(next.len());
                let segment = &next[..segment_end];
                // An empty segment is a doubled slash, except the final one (a trailing slash).
                if matches!(segment, b"." | b"..")
                    || (segment.is_empty() && segment_end < next.len())
                {
                    canonical = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(canonical)
}

/// The byte `%XX` at `at` stands for.
fn escaped(bytes: &[u8], at: usize) -> Result<u8, PathError> {
    let hex = bytes.get(at + 1..at + 3).ok_or(PathError::BrokenEscape)?;
    let mut byte = [0u8; 1];
    hex::decode_to_slice(hex, &mut byte).map_err(|_| PathError::BrokenEscape)?;
    Ok(byte[0])
}

/// RFC 3986 section 2.3.
fn unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Decodes escapes of unreserved characters and uppercases the hex of the others.
fn decode_unreserved(bytes: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = escaped(bytes, i)?;
            if unreserved(byte) {
                out.push(byte);
            } else {
                out.push(b'%');
                out.extend(bytes[i + 1..i + 3].iter().map(u8::to_ascii_uppercase));
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_are_borrowed() {
        for path in [
            "/",
            "/webhooks/orders",
            "/a/b/",
            "/caf%C3%A9",
            "/a.b/..c/.d",
        ] {
            assert!(
                matches!(normalize(path), Ok(Cow::Borrowed(p)) if p == path),
                "{path}"
            );
        }
    }

    #[test]
    fn equivalent_spellings_become_one_path() {
        for (raw, want) in [
            ("/webhooks/%6frders", "/webhooks/orders"),
            ("/webhooks/%6Frders", "/webhooks/orders"),
            ("/partner-a/../orders", "/orders"),
            ("/a/%2e%2e/orders", "/orders"),
            ("/a/%2E/orders", "/a/orders"),
            ("//webhooks///orders", "/webhooks/orders"),
            ("/a/./b/", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/a/..", "/"),
            ("/.", "/"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/%7euser", "/~user"),
        ] {
            assert_eq!(normalize(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn what_apps_read_differently_is_refused() {
        for (raw, why) in [
            ("/a/..%2forders", PathError::Ambiguous),
            ("/a%2Fb", PathError::Ambiguous),
            ("/a%5cb", PathError::Ambiguous),
            ("/a\\..\\orders", PathError::Ambiguous),
            ("/a/..;/orders", PathError::Ambiguous),
            ("/orders;x=1", PathError::Ambiguous),
            ("/a%00", PathError::Ambiguous),
            ("/a%0a", PathError::Ambiguous),
            ("/a%zz", PathError::BrokenEscape),
            ("/a%4", PathError::BrokenEscape),
            ("/..", PathError::AboveRoot),
            ("/a/../../orders", PathError::AboveRoot),
            ("/%2e%2e/orders", PathError::AboveRoot),
            ("*", PathError::NotOriginForm),
            ("", PathError::NotOriginForm),
        ] {
            assert_eq!(normalize(raw), Err(why), "{raw}");
        }
    }

    #[test]
    fn targets_keep_their_query_and_refuse_absolute_form() {
        let uri: Uri = "/a/../b?x=%2F..".parse().unwrap();
        assert_eq!(canonical_uri(&uri).unwrap().unwrap(), "/b?x=%2F..");
        let uri: Uri = "/b?x=1".parse().unwrap();
        assert_eq!(canonical_uri(&uri), Ok(None));
        let uri: Uri = "http://gateway.test/b".parse().unwrap();
        assert_eq!(canonical_uri(&uri), Err(PathError::NotOriginForm));
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        for raw in ["/a/%2e%2e/b//c/./%64", "/x/%c3%a9/../y/", "//"] {
            let once = normalize(raw).unwrap().into_owned();
            assert_eq!(normalize(&once).as_deref(), Ok(once.as_str()), "{raw}");
        }
    }
}
