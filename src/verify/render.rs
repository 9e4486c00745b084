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
            Piece::Body => sink(delivery.body),
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
            Piece::BodySha256 => sink(hex::encode(Sha256::digest(delivery.body)).as_bytes()),
            Piece::BodyCrc32 => sink(crc32fast::hash(delivery.body).to_string().as_bytes()),
            // Repeats were refused before rendering (`Verifier::verify`).
            Piece::Query(name) => {
                sink(&crate::form::query_param(delivery.query, name).unwrap_or_default())
            }
            Piece::FormSorted => {
                for (name, value) in cx.fields.form_sorted() {
                    sink(name);
                    sink(value);
                }
            }
        }
    }
}
