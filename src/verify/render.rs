//! Rendering a template (the signed payload, the replay key) from a delivery, piece by piece,
//! straight into a sink: a MAC, a hash, or a buffer.

use sha2::{Digest, Sha256};

use super::fields::BodyFields;
use super::{Delivery, Tag};
use crate::scheme::{Piece, Template};

/// Everything the signed payload can be rendered from.
pub(super) struct Context<'a, 'f> {
    pub(super) delivery: &'a Delivery<'a>,
    pub(super) stamp: Option<&'a [u8]>,
    pub(super) url: &'a str,
    pub(super) fields: &'a BodyFields<'f>,
    /// The secret, for `{secret}` in a digest scheme; empty otherwise.
    pub(super) secret: &'a [u8],
    /// The route's `webhook_id`, for `{webhook_id}`; empty otherwise.
    pub(super) webhook_id: &'a [u8],
}

/// The SHA-256 of the rendered replay key; `None` when it renders empty (a sender that left
/// the id out still gets replay protection, by content).
pub(super) fn replay_fingerprint(key: &Template, cx: &Context<'_, '_>) -> Option<Tag> {
    let mut hasher = Sha256::new();
    let mut rendered = 0;
    render(key, cx, &mut |chunk| {
        rendered += chunk.len();
        hasher.update(chunk);
    });
    (rendered > 0).then(|| Tag::from(<[u8; 32]>::from(hasher.finalize())))
}

pub(super) fn sha256_tag(bytes: &[u8]) -> Tag {
    Tag::from(<[u8; 32]>::from(Sha256::digest(bytes)))
}

/// The SHA-256 of the rendered template.
pub(super) fn digest(template: &Template, cx: &Context<'_, '_>) -> Tag {
    let mut hasher = Sha256::new();
    render(template, cx, &mut |chunk| hasher.update(chunk));
    Tag::from(<[u8; 32]>::from(hasher.finalize()))
}

/// Feeds the signed payload, piece by piece, into `sink`.
pub(super) fn render(template: &Template, cx: &Context<'_, '_>, sink: &mut dyn FnMut(&[u8])) {
    let delivery = cx.delivery;
    for piece in template.pieces() {
        match piece {
            Piece::Literal(bytes) => sink(bytes),
            Piece::Body => {
                for chunk in delivery.body.chunks() {
                    sink(chunk);
                }
            }
            Piece::Timestamp => sink(cx.stamp.unwrap_or_default()),
            Piece::Header(name) => sink(
                delivery
                    .headers
                    .get(name)
                    .map(|v| v.as_bytes())
                    .unwrap_or_default(),
            ),
            Piece::Method => sink(delivery.method.as_str().as_bytes()),
            Piece::Path => sink(delivery.path.as_bytes()),
            Piece::Url => {
                sink(cx.url.as_bytes());
                sink(delivery.path.as_bytes());
                if let Some(query) = delivery.query {
                    sink(b"?");
                    sink(query.as_bytes());
                }
            }
            Piece::Field(field) => sink(&cx.fields.get(field).unwrap_or_default()),
            Piece::Secret => sink(cx.secret),
            Piece::WebhookId => sink(cx.webhook_id),
            Piece::BodySha256 => sink(hex::encode(delivery.body.sha256()).as_bytes()),
            Piece::BodyCrc32 => {
                let mut crc = crc32fast::Hasher::new();
                delivery.body.chunks().for_each(|chunk| crc.update(chunk));
                sink(crc.finalize().to_string().as_bytes())
            }
            // Repeats were refused before rendering (`Verifier::verify`).
            Piece::Query(name) => {
                sink(&crate::form::query_param(delivery.query, name).unwrap_or_default())
            }
            Piece::QueryLower(name) => {
                let mut value = crate::form::query_param(delivery.query, name).unwrap_or_default();
                value.make_ascii_lowercase();
                sink(&value)
            }
            Piece::FormSorted => {
                for (name, value) in cx.fields.form_sorted() {
                    sink(name);
                    sink(value);
                }
            }
            // Undecodable or repeated parameters were refused before rendering.
            Piece::UrlSortedForm => {
                sink(cx.url.as_bytes());
                sink(delivery.path.as_bytes());
                let query = crate::form::sorted_query_once(delivery.query).unwrap_or_default();
                let form = cx.fields.form_sorted();
                if !query.is_empty() || !form.is_empty() {
                    sink(b"?");
                }
                for (i, (name, value)) in query.iter().enumerate() {
                    if i > 0 {
                        sink(b"&");
                    }
                    sink(name);
                    sink(b"=");
                    sink(value);
                }
                if !query.is_empty() && !form.is_empty() {
                    sink(b".");
                }
                for (name, value) in form {
                    sink(name);
                    sink(value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hmac::{KeyInit, Mac};
    use http::{HeaderMap, HeaderValue, Method};

    use crate::error::Rejection;
    use crate::scheme::SchemeSpec;
    use crate::secret::Secret;
    use crate::verify::{Delivery, Verifier};

    const BODY: &[u8] = b"{\"id\":\"WH-1\"}";

    /// A verifier of HMAC-SHA256 over `template`, with webhook id `wh-1`.
    fn verifier(template: &str) -> Verifier {
        let yaml = format!("signature_header: X-Sig\nsigned_payload: '{template}'\n");
        let spec: SchemeSpec = serde_saphyr::from_str(&yaml).unwrap();
        Verifier::new(spec.build().unwrap(), &[Secret::new(b"k".to_vec())], 300)
            .unwrap()
            .with_webhook_id(b"wh-1")
    }

    /// Sends `body` to `/hook?query` signed as HMAC-SHA256(`k`, `signed`).
    fn send(v: &Verifier, query: Option<&str>, body: &[u8], signed: &str) -> Result<(), Rejection> {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"k").unwrap();
        mac.update(signed.as_bytes());
        let mut headers = HeaderMap::new();
        let tag = hex::encode(mac.finalize().into_bytes());
        headers.insert("x-sig", HeaderValue::from_str(&tag).unwrap());
        let delivery = Delivery {
            method: &Method::POST,
            path: "/hook",
            query,
            headers: &headers,
            body: body.into(),
        };
        v.verify(&delivery, 0).map(|_| ())
    }

    /// `{url_sorted_form}` over `body` (a form) at `/hook?query`, signed as `signed`.
    fn send_form(query: Option<&str>, body: &[u8], signed: &str) -> Result<(), Rejection> {
        let v = verifier("{url_sorted_form}.n").with_public_url("https://h.example");
        send(&v, query, body, signed)
    }

    #[test]
    fn a_sorted_url_and_form_render_as_plivo_s_sdk_builds_them() {
        // Strings as plivo-python's construct_post_url builds them for each case.
        let url = "https://h.example/hook";
        let cases: [(Option<&str>, &[u8], String); 4] = [
            (
                Some("b=2&a=%31"),
                b"To=%2B1&B=x+y",
                format!("{url}?a=1&b=2.Bx yTo+1.n"),
            ),
            (None, b"To=1", format!("{url}?To1.n")),
            (Some("b=2&a=1"), b"", format!("{url}?a=1&b=2.n")),
            (None, b"", format!("{url}.n")),
        ];
        for (query, body, signed) in cases {
            assert_eq!(send_form(query, body, &signed), Ok(()), "{signed}");
        }
        let one = format!("{url}?a=1.B1.n");
        assert_eq!(send_form(Some("a=1"), b"B=1", &one), Ok(()));
        assert_eq!(
            send_form(Some("a=1"), b"B=1", &one.replace("B1", "B2")),
            Err(Rejection::SignatureMismatch)
        );
        for (query, body) in [(Some("a=1&a=2"), &b"B=1"[..]), (Some("a=1"), b"B=1&B=2")] {
            assert_eq!(
                send_form(query, body, &one),
                Err(Rejection::SignatureMalformed),
                "a repeat could reach the app as the other copy: {query:?} {body:?}"
            );
        }
        assert_eq!(
            send_form(Some("a=%zz"), b"", url),
            Err(Rejection::SignatureMalformed)
        );
    }

    #[test]
    fn derived_pieces_render_as_the_senders_compute_them() {
        // CRC-32 (IEEE) of BODY, and its SHA-256, computed apart from the renderer.
        let crc = crc32fast::hash(BODY);
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(BODY));
        let v = verifier("{webhook_id}|{crc32:body}|{sha256:body}|{query:data.id}");
        let signed = format!("wh-1|{crc}|{sha}|42");
        assert_eq!(send(&v, Some("data.id=42&x=1"), BODY, &signed), Ok(()));
        assert_eq!(
            send(&v, Some("data.id=43"), BODY, &signed),
            Err(Rejection::SignatureMismatch)
        );
        assert_eq!(
            send(&v, Some("data.id=42&data.id=43"), BODY, &signed),
            Err(Rejection::SignatureMalformed),
            "a repeated signed parameter"
        );
        assert_eq!(
            crc32fast::hash(b"123456789"),
            0xcbf4_3926,
            "the IEEE check value"
        );
    }
}
