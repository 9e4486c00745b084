//! The headers a scheme reads: each must come once, and none may be named by `Connection`,
//! or a hop would change what was verified.

use http::{HeaderMap, HeaderName};

use super::Verifier;
use crate::error::Rejection;
use crate::scheme::{Piece, Scheme, SignatureSource, Template, TimestampSource};

impl Verifier {
    /// Refuses a repeated header the scheme reads (a second `webhook-id` would be verified
    /// as the first and forwarded beside it), and a `Connection` header naming one (a hop
    /// strips it after verification, so the app would see less than was verified).
    pub(super) fn check_read_headers(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        for name in self.read_headers.iter() {
            single(headers, name).map_err(|()| Rejection::SignatureMalformed)?;
        }
        for value in headers.get_all(http::header::CONNECTION) {
            let named = value.as_bytes().split(|&b| b == b',').any(|token| {
                let token = token.trim_ascii();
                self.read_headers
                    .iter()
                    .any(|name| token.eq_ignore_ascii_case(name.as_str().as_bytes()))
            });
            if named {
                return Err(Rejection::SignatureMalformed);
            }
        }
        Ok(())
    }
}

/// The headers `scheme` reads, each once.
pub(super) fn read_headers(scheme: &Scheme) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = Vec::new();
    if let SignatureSource::Headers(list) = &scheme.signature {
        names.extend(list.iter().cloned());
    }
    if let Some(TimestampSource::Header(name)) = &scheme.timestamp {
        names.push(name.clone());
    }
    names.extend(scheme.key_id_header.iter().cloned());
    if scheme.sns.is_some() {
        names.extend(super::sns::HEADERS);
    }
    let templates = std::iter::once(&scheme.signed_payload).chain(scheme.replay_key.as_ref());
    for piece in templates.flat_map(Template::pieces) {
        if let Piece::Header(name) = piece {
            names.push(name.clone());
        }
    }
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    names
}

/// The one value of a header: `Ok(None)` when absent, `Err` when repeated. Repeats are refused
/// whatever their order, so the answer never depends on which copy a hop kept first.
pub(super) fn single<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a [u8]>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next().map(|v| v.as_bytes());
    match values.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}
