//! Text fields of a `multipart/form-data` body, read with `multer` (the parser axum uses).
//!
//! Mailgun posts inbound emails with attachments as multipart forms, with the signature's
//! `timestamp`, `token` and `signature` among the text fields. Only fields without a file name
//! are collected; file parts are skipped unread. The body is already whole in memory, so the
//! parser's future completes in one poll; if it ever did not, the body is treated as no form.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use multer::{Constraints, Multipart, SizeLimit};

/// The largest text field kept. Signature fields are short; message text can be long.
const MAX_TEXT_FIELD: u64 = 1 << 20;

/// `(name, value)` of each text field, in order; `None` when `content_type` is not a
/// multipart form, the body does not parse, or it has `max_parts` parts or more.
pub(crate) fn text_fields(
    body: &[u8],
    content_type: &[u8],
    max_parts: usize,
) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let content_type = std::str::from_utf8(content_type).ok()?;
    let essence = content_type.split(';').next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = multer::parse_boundary(content_type).ok()?;
    let bytes = Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(std::future::ready(Ok::<_, Infallible>(bytes)));
    let limits = Constraints::new().size_limit(SizeLimit::new().for_field("", MAX_TEXT_FIELD));
    let mut multipart = Multipart::with_constraints(stream, boundary, limits);
    let parse = async move {
        let mut fields = Vec::new();
        let mut parts = 0;
        while let Some(field) = multipart.next_field().await.ok()? {
            parts += 1;
            if parts >= max_parts {
                return None;
            }
            if field.file_name().is_some() {
                continue;
            }
            let name = field.name()?.as_bytes().to_vec();
            let value = field.bytes().await.ok()?;
            if value.len() as u64 > MAX_TEXT_FIELD {
                return None;
            }
            fields.push((name, value.to_vec()));
        }
        Some(fields)
    };
    match pin!(parse).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(fields) => fields,
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &[u8] = b"multipart/form-data; boundary=XyZ";

    fn body(parts: &[(&str, Option<&str>, &str)]) -> Vec<u8> {
        let mut out = String::new();
        for (name, file, value) in parts {
            out.push_str("--XyZ\r\n");
            match file {
                Some(file) => out.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )),
                None => out.push_str(&format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")),
            }
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("--XyZ--\r\n");
        out.into_bytes()
    }

    #[test]
    fn text_fields_are_read_and_files_skipped() {
        let b = body(&[
            ("timestamp", None, "1800000000"),
            ("attachment-1", Some("a.pdf"), "%PDF-1.4 \u{1}\u{2} binary"),
            ("token", None, "abc"),
            (
                "signature",
                Some("signature.txt"),
                "a file part is never a field",
            ),
        ]);
        let fields = text_fields(&b, TYPE, 100).unwrap();
        let names: Vec<_> = fields
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("timestamp".into(), "1800000000".into()),
                ("token".into(), "abc".into())
            ]
        );
    }

    #[test]
    fn what_is_no_multipart_form_is_none() {
        let b = body(&[("a", None, "1")]);
        assert!(text_fields(&b, b"application/x-www-form-urlencoded", 100).is_none());
        assert!(
            text_fields(&b, b"multipart/form-data", 100).is_none(),
            "no boundary"
        );
        assert!(
            text_fields(b"--XyZ\r\ngarbage", TYPE, 100).is_none(),
            "broken"
        );
        assert!(text_fields(&b, TYPE, 1).is_none(), "too many parts");
    }
}
