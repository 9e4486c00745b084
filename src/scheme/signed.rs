//! Which of the inputs a scheme reads are covered by its signature.
//!
//! A timestamp or replay key the signature does not cover can be set freely by whoever
//! replays a captured delivery: a fresh timestamp passes the tolerance check, a fresh replay
//! key passes the replay store, forever. Config load refuses such custom schemes; a preset
//! whose sender leaves its timestamp unsigned is replay-protected by a window on the MAC.

use super::{Algorithm, Field, Piece, Scheme, TimestampSource};

impl Scheme {
    /// Whether the signature covers the timestamp the scheme reads (trivially, when it reads
    /// none).
    pub fn signs_timestamp(&self) -> bool {
        match &self.timestamp {
            None => true,
            Some(TimestampSource::SignatureList) => self.signs(&Piece::Timestamp),
            Some(TimestampSource::Header(name)) => {
                self.signs(&Piece::Timestamp) || self.signs(&Piece::Header(name.clone()))
            }
            Some(TimestampSource::Field(field)) => {
                self.signs(&Piece::Timestamp) || self.signs(&Piece::Field(field.clone()))
            }
        }
    }

    /// Whether the signed bytes depend on the body at all: on its bytes, a digest or
    /// checksum of it (in the payload or, for Twilio, a query parameter), or fields read from
    /// it (a JWT only through its claims). Mercado Pago
    /// and monday.com sign nothing of it.
    pub fn signature_reads_body(&self) -> bool {
        if let Some(jwt) = &self.jwt {
            return jwt.binds_body();
        }
        self.sns.is_some()
            || self.body_digest_param.is_some()
            || self.signed_payload.pieces().iter().any(|p| {
                matches!(
                    p,
                    Piece::Body
                        | Piece::BodySha256
                        | Piece::BodyCrc32
                        | Piece::FormSorted
                        | Piece::UrlSortedForm
                        | Piece::Field(_)
                )
            })
    }

    /// The pieces of `replay_key` the signature does not cover, as written in the config.
    pub fn unsigned_replay_key_pieces(&self) -> Vec<String> {
        let Some(key) = &self.replay_key else {
            return Vec::new();
        };
        key.pieces()
            .iter()
            .filter(|piece| !matches!(piece, Piece::Literal(_)) && !self.signs(piece))
            .map(describe)
            .collect()
    }

    /// Whether the signed bytes determine `piece`'s value.
    fn signs(&self, piece: &Piece) -> bool {
        // A token is the secret itself: it signs nothing.
        if self.algorithm == Algorithm::Token {
            return false;
        }
        let payload = &self.signed_payload;
        match piece {
            Piece::Literal(_) | Piece::Secret | Piece::WebhookId => true,
            Piece::Field(field) => {
                payload.uses(&Piece::Body)
                    || payload.uses(&Piece::BodySha256)
                    || payload.uses(piece)
                    || (matches!(field, Field::Form(_))
                        && (payload.uses(&Piece::FormSorted)
                            || payload.uses(&Piece::UrlSortedForm)))
            }
            Piece::Header(name) => {
                payload.uses(piece)
                    || (self.timestamp == Some(TimestampSource::Header(name.clone()))
                        && payload.uses(&Piece::Timestamp))
            }
            Piece::Path => {
                payload.uses(piece)
                    || payload.uses(&Piece::Url)
                    || payload.uses(&Piece::UrlSortedForm)
            }
            // A CRC-32 is no hash: a body with the same checksum is easy to make.
            Piece::Body | Piece::FormSorted | Piece::BodySha256 | Piece::BodyCrc32 => {
                payload.uses(piece)
                    || payload.uses(&Piece::Body)
                    || payload.uses(&Piece::BodySha256)
            }
            // A lowercased parameter binds its value only up to case.
            Piece::Query(_) => {
                payload.uses(piece)
                    || payload.uses(&Piece::Url)
                    || payload.uses(&Piece::UrlSortedForm)
            }
            Piece::QueryLower(_) => payload.uses(piece),
            Piece::Timestamp | Piece::Method | Piece::Url | Piece::UrlSortedForm => {
                payload.uses(piece)
            }
        }
    }
}

/// A piece as a template writes it.
fn describe(piece: &Piece) -> String {
    match piece {
        Piece::Literal(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => other.written(),
    }
}

#[cfg(test)]
mod tests {
    use crate::scheme::{SchemeSpec, preset, preset_names};

    fn scheme(yaml: &str) -> crate::scheme::Scheme {
        serde_saphyr::from_str::<SchemeSpec>(yaml)
            .unwrap()
            .build()
            .unwrap()
    }

    #[test]
    fn every_preset_signs_what_it_reads() {
        for name in preset_names() {
            let s = preset(name).unwrap().build().unwrap();
            let token = s.algorithm == crate::scheme::Algorithm::Token;
            assert!(s.signs_timestamp() || token, "{name}: unsigned timestamp");
            assert!(
                s.unsigned_replay_key_pieces().is_empty(),
                "{name}: unsigned replay key"
            );
        }
    }

    #[test]
    fn unsigned_timestamps_and_replay_keys_are_found() {
        let s = scheme("signature_header: X-Sig\ntimestamp_header: X-Ts\n");
        assert!(!s.signs_timestamp(), "{{body}} alone leaves X-Ts unsigned");
        let s = scheme(
            "signature_header: X-Sig\ntimestamp_header: X-Ts\nsigned_payload: '{header:x-ts}.{body}'\n",
        );
        assert!(s.signs_timestamp(), "signed as a header piece");
        let s = scheme("signature_header: X-Sig\ntimestamp_field: json:ts\n");
        assert!(s.signs_timestamp(), "inside the signed body");
        let s = scheme("signature_header: X-Sig\nreplay_key: 'id-{header:x-id}'\n");
        assert_eq!(s.unsigned_replay_key_pieces(), ["{header:x-id}"]);
        let s = scheme("signature_header: X-Sig\nreplay_key: '{json:id}'\n");
        assert!(
            s.unsigned_replay_key_pieces().is_empty(),
            "a body field is signed"
        );
        let s = scheme(
            "signature_header: X-Sig\nsigned_payload: '{method}{url}'\nreplay_key: '{path}{body}'\n",
        );
        assert_eq!(s.unsigned_replay_key_pieces(), ["{body}"]);
        // A sorted URL and form binds the path, each query parameter and each form field,
        // not the raw body bytes.
        let s = scheme(
            "signature_header: X-Sig\nsigned_payload: '{url_sorted_form}'\nreplay_key: '{path}{query:a}{form:b}{body}'\n",
        );
        assert_eq!(s.unsigned_replay_key_pieces(), ["{body}"]);
        assert!(s.needs_public_url() && s.signature_reads_body());
        let s = scheme("algorithm: token\nsignature_header: X-Token\nreplay_key: '{body}'\n");
        assert_eq!(
            s.unsigned_replay_key_pieces(),
            ["{body}"],
            "a token signs nothing"
        );
    }
}
