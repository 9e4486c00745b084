//! Checking the offered signatures against the route's keys: HMACs compared in constant
//! time, tokens by digest, public keys (configured or picked by id) and certificates fetched
//! at run time.

use super::certificate;
use super::header::{MAX_CANDIDATES, Parsed};
use super::keys::{self, Keys};
use super::mac::{KeyedMac, Tag};
use super::read_headers::single;
use super::render::{Context, digest, render, sha256_tag};
use super::{Verifier, challenge, encoding};
use crate::error::Rejection;
use crate::scheme::Algorithm;

impl Verifier {
    /// Checks the offered signatures with the route's keys: which key matched, and the
    /// delivery's default fingerprint.
    pub(super) fn check_keys(
        &self,
        parsed: &Parsed<'_>,
        cx: &Context<'_, '_>,
        certificate: Option<&[u8]>,
    ) -> Result<(usize, Tag), Rejection> {
        let scheme = &self.scheme;
        Ok(match &self.keys {
            Keys::Mac(macs) => self.check_macs(macs, parsed, cx)?,
            Keys::Token(digests) => {
                let mut found = None;
                for candidate in parsed.candidates() {
                    let matched = if scheme.algorithm == Algorithm::BasicAuth {
                        let credentials = Keys::basic_credentials(candidate)
                            .ok_or(Rejection::SignatureMalformed)?;
                        Keys::token_match(digests, &credentials)
                    } else {
                        Keys::token_match(digests, candidate)
                    };
                    found = found.or(matched);
                }
                let index = found.ok_or(Rejection::SignatureMismatch)?;
                (index, digest(&scheme.signed_payload, cx))
            }
            Keys::Public(_) if scheme.signing_cert.is_some() => {
                let der = certificate.ok_or(Rejection::KeyUnavailable)?;
                let mut message = Vec::with_capacity(cx.delivery.body.len() + 64);
                render(&scheme.signed_payload, cx, &mut |chunk| {
                    message.extend_from_slice(chunk);
                });
                let mut decodable = false;
                let mut hit = false;
                for candidate in parsed.candidates() {
                    if let Some(signature) = encoding::decode_any(scheme.encoding, candidate) {
                        decodable = true;
                        hit |= certificate::verifies(scheme.algorithm, der, &message, &signature)?;
                    }
                }
                match (decodable, hit) {
                    (false, _) => return Err(Rejection::SignatureMalformed),
                    (true, false) => return Err(Rejection::SignatureMismatch),
                    (true, true) => (0, sha256_tag(&message)),
                }
            }
            Keys::Public(keys) => {
                let id = match &scheme.key_id_header {
                    Some(name) => single(cx.delivery.headers, name)
                        .map_err(|()| Rejection::SignatureMalformed)?,
                    None => None,
                };
                let chosen = self.chosen_key(id)?;
                let mut message = Vec::with_capacity(cx.delivery.body.len() + 64);
                render(&scheme.signed_payload, cx, &mut |chunk| {
                    message.extend_from_slice(chunk);
                });
                let mut decodable = false;
                let mut hit = None;
                for candidate in parsed.candidates() {
                    if let Some(signature) = encoding::decode_any(scheme.encoding, candidate) {
                        decodable = true;
                        hit = hit.or(keys::verify_public(keys, chosen, &message, &signature));
                    }
                }
                if !decodable {
                    return Err(Rejection::SignatureMalformed);
                }
                (
                    hit.ok_or(Rejection::SignatureMismatch)?,
                    sha256_tag(&message),
                )
            }
        })
    }

    fn check_macs(
        &self,
        macs: &[KeyedMac],
        parsed: &Parsed<'_>,
        cx: &Context<'_, '_>,
    ) -> Result<(usize, Tag), Rejection> {
        let scheme = &self.scheme;
        let len = scheme.algorithm.tag_len();
        let mut offered = [None; MAX_CANDIDATES];
        for (slot, text) in offered.iter_mut().zip(parsed.candidates()) {
            *slot = encoding::decode(scheme.encoding, text, len);
        }
        if offered.iter().all(Option::is_none) {
            return Err(Rejection::SignatureMalformed);
        }
        let mut fingerprint = None;
        let mut shape = challenge::Shape::default();
        for (secret_index, key) in macs.iter().enumerate() {
            let cx = Context {
                secret: key.digest_secret(),
                ..*cx
            };
            let expected = key.tag(&mut |sink| {
                render(&scheme.signed_payload, &cx, &mut |chunk| {
                    shape.feed(chunk);
                    sink(chunk);
                });
            });
            // A payload a challenge handshake of this key would MAC is never a delivery (see
            // `challenge`). Its shape is public, so refusing early reveals nothing.
            if self.guard_challenges && shape.is_token() {
                return Err(Rejection::SignatureMismatch);
            }
            let first = *fingerprint.get_or_insert(expected);
            // Compare against every candidate without short-circuiting.
            let mut hit = false;
            for candidate in offered.iter().flatten() {
                hit |= candidate.ct_eq(&expected);
            }
            if hit {
                return Ok((secret_index, first));
            }
        }
        Err(Rejection::SignatureMismatch)
    }
}
