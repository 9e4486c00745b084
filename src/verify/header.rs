//! Signature header grammars: where the signature candidates and timestamp sit in a value.
//!
//! Works on raw header bytes: a value that is not UTF-8 is simply one that does not verify.

use crate::error::Rejection;
use crate::scheme::{ListFormat, SignatureFormat};

/// The most signatures one header may offer. Senders send one per active secret (two during a
/// rotation); a cap bounds the work an attacker can ask for.
pub(crate) const MAX_CANDIDATES: usize = 8;

/// What a signature header holds.
#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    candidates: [&'a [u8]; MAX_CANDIDATES],
    count: usize,
    /// The timestamp item, when the header carries one.
    pub(crate) timestamp: Option<&'a [u8]>,
}

impl<'a> Parsed<'a> {
    /// The signature candidates in header order.
    pub(crate) fn candidates(&self) -> &[&'a [u8]] {
        &self.candidates[..self.count]
    }

    fn push(&mut self, candidate: &'a [u8]) -> Result<(), Rejection> {
        let slot = self
            .candidates
            .get_mut(self.count)
            .ok_or(Rejection::SignatureMalformed)?;
        *slot = candidate;
        self.count += 1;
        Ok(())
    }
}

/// Parses a signature header value according to `format`.
///
/// # Errors
/// [`Rejection::SignatureMalformed`] when no signature can be found, when there are more than
/// [`MAX_CANDIDATES`], or when the timestamp item is repeated.
#[cfg(test)]
pub(crate) fn parse<'a>(
    format: &SignatureFormat,
    value: &'a [u8],
) -> Result<Parsed<'a>, Rejection> {
    let mut parsed = Parsed::default();
    parsed.add(format, value)?;
    parsed.finish()?;
    Ok(parsed)
}

impl<'a> Parsed<'a> {
    /// Adds the signatures (and timestamp) of one value, for schemes that read several
    /// headers.
    ///
    /// # Errors
    /// As [`parse`].
    pub(crate) fn add(
        &mut self,
        format: &SignatureFormat,
        value: &'a [u8],
    ) -> Result<(), Rejection> {
        match format {
            SignatureFormat::Plain { prefix } => {
                let value = value.trim_ascii();
                self.push(value.strip_prefix(&prefix[..]).unwrap_or(value))
            }
            SignatureFormat::List(list) => parse_list(list, value, self),
        }
    }

    /// Checks at least one signature was found and none is empty.
    ///
    /// # Errors
    /// [`Rejection::SignatureMalformed`] otherwise.
    pub(crate) fn finish(&self) -> Result<(), Rejection> {
        if self.count == 0 || self.candidates().iter().any(|c| c.is_empty()) {
            return Err(Rejection::SignatureMalformed);
        }
        Ok(())
    }
}

fn parse_list<'a>(
    list: &ListFormat,
    value: &'a [u8],
    parsed: &mut Parsed<'a>,
) -> Result<(), Rejection> {
    if list.signature_key.is_empty() {
        return parse_positional(list, value, parsed);
    }
    for item in value.split(|&b| b == list.separator) {
        let item = item.trim_ascii();
        if item.is_empty() {
            continue;
        }
        let Some(at) = item.iter().position(|&b| b == list.pair_separator) else {
            continue; // Not a key/value item; senders may add fields we do not know.
        };
        let (key, val) = (item[..at].trim_ascii(), item[at + 1..].trim_ascii());
        if list.timestamp_key.as_deref() == Some(key) {
            if parsed.timestamp.replace(val).is_some() {
                return Err(Rejection::SignatureMalformed);
            }
        } else if key == &*list.signature_key || &*list.signature_key == b"*" {
            parsed.push(val)?;
        }
    }
    Ok(())
}

/// A list of bare items: the timestamp first when the scheme says so, then signatures.
fn parse_positional<'a>(
    list: &ListFormat,
    value: &'a [u8],
    parsed: &mut Parsed<'a>,
) -> Result<(), Rejection> {
    let mut items = value
        .split(|&b| b == list.separator)
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty());
    if list.timestamp_first {
        let stamp = items.next().ok_or(Rejection::SignatureMalformed)?;
        if parsed.timestamp.replace(stamp).is_some() {
            return Err(Rejection::SignatureMalformed);
        }
    }
    for item in items {
        parsed.push(item)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(separator: u8, pair: u8, ts: Option<&str>, sig: &str) -> SignatureFormat {
        SignatureFormat::List(ListFormat {
            separator,
            spaces_after_separator: 0,
            pair_separator: pair,
            timestamp_key: ts.map(|t| t.as_bytes().into()),
            signature_key: sig.as_bytes().into(),
            timestamp_first: false,
        })
    }

    fn plain(prefix: &str) -> SignatureFormat {
        SignatureFormat::Plain {
            prefix: prefix.as_bytes().into(),
        }
    }

    #[test]
    fn plain_with_and_without_prefix() {
        let f = plain("sha-256=");
        assert_eq!(parse(&f, b"sha-256=abcd").unwrap().candidates(), &[b"abcd"]);
        assert_eq!(parse(&f, b"  abcd ").unwrap().candidates(), &[b"abcd"]);
        assert_eq!(
            parse(&f, b"sha-256=").unwrap_err(),
            Rejection::SignatureMalformed
        );
    }

    #[test]
    fn a_positional_list_takes_the_timestamp_first_then_bare_signatures() {
        let SignatureFormat::List(mut format) = list(b',', b'=', None, "") else {
            unreachable!()
        };
        format.timestamp_first = true;
        let f = SignatureFormat::List(format.clone());
        let p = parse(&f, b"1659641851000,aa, bb").unwrap();
        assert_eq!(p.timestamp, Some(&b"1659641851000"[..]));
        assert_eq!(p.candidates(), &[&b"aa"[..], &b"bb"[..]]);
        // The timestamp alone offers no signature.
        assert_eq!(
            parse(&f, b"1659641851000").unwrap_err(),
            Rejection::SignatureMalformed
        );
        assert_eq!(parse(&f, b"").unwrap_err(), Rejection::SignatureMalformed);
        format.timestamp_first = false;
        let bare = parse(&SignatureFormat::List(format), b"aa,bb").unwrap();
        assert_eq!((bare.timestamp, bare.candidates().len()), (None, 2));
    }

    #[test]
    fn list_collects_every_signature_and_the_timestamp() {
        let f = list(b',', b'=', Some("t"), "v1");
        let p = parse(&f, b"t=1700000000, v1=aGVsbG8=,v0=old,v1=d29ybGQ=,junk").unwrap();
        assert_eq!(p.timestamp, Some(&b"1700000000"[..]));
        assert_eq!(p.candidates(), &[&b"aGVsbG8="[..], &b"d29ybGQ="[..]]);
    }

    #[test]
    fn space_and_comma_pairs_as_in_standard_webhooks() {
        let f = list(b' ', b',', None, "v1");
        let p = parse(&f, b"v1,aaa v2,bbb v1,ccc").unwrap();
        assert_eq!(p.candidates(), &[&b"aaa"[..], &b"ccc"[..]]);
    }

    #[test]
    fn hostile_lists() {
        let f = list(b',', b'=', Some("t"), "v1");
        for bad in [
            &b""[..],
            b"t=1",
            b",,,,",
            b"v1=",
            b"t=1,t=2,v1=a",
            b"\xff\xfe\x00",
            b"v1=a,v1=a,v1=a,v1=a,v1=a,v1=a,v1=a,v1=a,v1=a",
        ] {
            assert!(
                parse(&f, bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse(&f, b"v1=\xff\x00").unwrap().candidates(),
            &[&b"\xff\x00"[..]]
        );
    }
}
