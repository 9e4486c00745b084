//! `application/x-www-form-urlencoded` text: query strings and form bodies.

/// Decodes `%XX` escapes and `+` as a space. `None` on a broken escape.
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                let mut byte = [0u8; 1];
                hex::decode_to_slice(hex, &mut byte).ok()?;
                out.push(byte[0]);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// The decoded `name=value` pairs in order. A pair without `=` has an empty value; empty
/// pairs are skipped. `None` when any escape is broken, so a malformed body is refused
/// rather than half read.
pub(crate) fn pairs(text: &[u8]) -> Option<Pairs> {
    text.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

/// The decoded value of the first `name` parameter of a query string.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<Vec<u8>> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key.as_bytes())? == name.as_bytes())
            .then(|| decode(value.as_bytes()))
            .flatten()
    })
}

/// The one value of query parameter `name`, percent-decoded: `Ok(None)` when absent, `Err`
/// when repeated or undecodable, so the answer never depends on which copy a hop keeps.
pub(crate) fn query_param_once(query: Option<&str>, name: &str) -> Result<Option<Vec<u8>>, ()> {
    let mut found = None;
    for pair in query.unwrap_or("").split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key.as_bytes()).is_some_and(|k| k == name.as_bytes()) {
            let value = decode(value.as_bytes()).ok_or(())?;
            if found.replace(value).is_some() {
                return Err(());
            }
        }
    }
    Ok(found)
}

/// Decoded `name=value` pairs.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Every query parameter, percent-decoded and sorted by name: `Err` when one is undecodable
/// or a name repeats, so no hop can choose which copy the app reads.
pub(crate) fn sorted_query_once(query: Option<&str>) -> Result<Pairs, ()> {
    let mut pairs = pairs(query.unwrap_or("").as_bytes()).ok_or(())?;
    pairs.sort();
    if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(());
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sorted_query_holds_each_name_once() {
        let sorted = sorted_query_once(Some("b=2&a=%41&&c")).unwrap();
        let expected: Pairs = vec![
            (b"a".to_vec(), b"A".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"".to_vec()),
        ];
        assert_eq!(sorted, expected);
        assert_eq!(sorted_query_once(None), Ok(Vec::new()));
        assert_eq!(sorted_query_once(Some("a=1&b=2&a=3")), Err(()));
        assert_eq!(sorted_query_once(Some("a=%zz")), Err(()));
    }

    #[test]
    fn a_query_parameter_counts_once() {
        let q = Some("a=1&signature=ab%2B&b=2");
        assert_eq!(query_param_once(q, "signature"), Ok(Some(b"ab+".to_vec())));
        assert_eq!(query_param_once(q, "nope"), Ok(None));
        assert_eq!(query_param_once(None, "signature"), Ok(None));
        assert_eq!(
            query_param_once(Some("signature=a&signature=a"), "signature"),
            Err(())
        );
        assert_eq!(
            query_param_once(Some("signature=%zz"), "signature"),
            Err(())
        );
    }

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(decode(b"a%41+b").unwrap(), b"aA b");
        assert!(decode(b"%zz").is_none());
        assert!(decode(b"%4").is_none());
    }

    #[test]
    fn splits_pairs() {
        assert_eq!(
            pairs(b"b=2&a=1&&flag&c=x%2By").unwrap(),
            vec![
                (b"b".to_vec(), b"2".to_vec()),
                (b"a".to_vec(), b"1".to_vec()),
                (b"flag".to_vec(), vec![]),
                (b"c".to_vec(), b"x+y".to_vec()),
            ]
        );
        assert!(pairs(b"a=%").is_none());
    }

    #[test]
    fn finds_query_params() {
        let q = Some("hub.mode=subscribe&hub.challenge=abc%20d&x");
        assert_eq!(query_param(q, "hub.challenge").unwrap(), b"abc d");
        assert_eq!(query_param(q, "x").unwrap(), b"");
        assert!(query_param(q, "missing").is_none());
        assert!(query_param(None, "x").is_none());
    }
}
