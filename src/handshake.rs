//! Requests a route answers itself, so the app behind never has to.
//!
//! Unsigned handshakes (`echo`, Dropbox, Microsoft Graph, Meta, Okta, Twitter/X CRC) are
//! answered from the request line and headers, before any body is read. Signed ones (Slack,
//! Zoom, Twitch, Discord) are ordinary deliveries of a special shape: they are answered only
//! after the delivery verifies, and never forwarded.
//!
//! Twitter's CRC and Zoom's validation answer a MAC of a token taken from the request. They
//! answer only tokens of the shape `verify::challenge` defines, which no delivery the engine
//! accepts can have, so no answer is ever a valid delivery signature. Unsigned handshakes are
//! also rate limited per route by the gateway.

use http::{HeaderMap, Method, Uri};
use subtle::ConstantTimeEq;

use crate::error::Rejection;
use crate::form::query_param;
use crate::response::{self, Synthetic};
use crate::scheme::Handshake;
use crate::secret::Secret;
use crate::verify::{Delivery, Verifier, challenge};

/// The longest challenge value answered. Real ones are GUIDs or short random strings.
const MAX_CHALLENGE_BYTES: usize = 1024;

/// A handshake's answer.
pub type Answer = Synthetic;

/// What a route holds that handshakes need.
#[derive(Debug, Clone, Copy)]
pub struct RouteKeys<'a> {
    /// The route's verifier, whose first secret proves itself in Zoom's and Twitter's answers.
    pub verifier: &'a Verifier,
    /// Meta's `hub.verify_token`, when configured.
    pub verify_token: Option<&'a Secret>,
}

/// If the request is an unsigned handshake of this kind, its answer; `None` when it is an
/// ordinary delivery.
pub fn before_body(
    handshake: Handshake,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    keys: RouteKeys<'_>,
) -> Option<Result<Answer, Rejection>> {
    let query = uri.query();
    let get = method == Method::GET;
    match handshake {
        Handshake::Echo if get => Some(echo(query, "echo")),
        Handshake::DropboxChallenge if get => Some(echo(query, "challenge")),
        Handshake::GraphValidation => {
            query_param(query, "validationToken").map(|_| echo(query, "validationToken"))
        }
        Handshake::MetaSubscribe if get => Some(meta(query, keys.verify_token)),
        Handshake::OktaVerification if get => {
            let value = headers.get("x-okta-verification-challenge")?;
            Some(bounded(value.as_bytes()).map(|v| json(&serde_json::json!({ "verification": v }))))
        }
        Handshake::TwitterCrc if get => Some(twitter_crc(query, keys.verifier)),
        _ => None,
    }
}

/// If a verified delivery is a signed handshake of this kind, its answer; `None` when it is
/// an ordinary delivery to forward. `secret_index` is the secret that verified it: Zoom's
/// answer must prove the secret the sender is using, which during a rotation may not be the
/// first.
pub fn after_verify(
    handshake: Handshake,
    delivery: &Delivery<'_>,
    verifier: &Verifier,
    secret_index: usize,
) -> Option<Answer> {
    let body = || serde_json::from_slice::<serde_json::Value>(delivery.body).ok();
    match handshake {
        Handshake::SlackUrlVerification => {
            let body = body()?;
            (body["type"] == "url_verification")
                .then(|| text(body["challenge"].as_str()?.as_bytes()))
                .flatten()
        }
        Handshake::ZoomUrlValidation => {
            let body = body()?;
            if body["event"] != "endpoint.url_validation" {
                return None;
            }
            let plain = body["payload"]["plainToken"].as_str()?;
            // Zoom's tokens are base64url; only such a token is MACed (see `challenge`).
            if !challenge::is_token(plain.as_bytes()) {
                return None;
            }
            let encrypted =
                hex::encode(verifier.mac_of(secret_index, plain.as_bytes())?.as_bytes());
            Some(json(&serde_json::json!({
                "plainToken": plain,
                "encryptedToken": encrypted,
            })))
        }
        Handshake::TwitchCallbackVerification => {
            let kind = delivery.headers.get("twitch-eventsub-message-type")?;
            if kind != "webhook_callback_verification" {
                return None;
            }
            text(body()?["challenge"].as_str()?.as_bytes())
        }
        Handshake::DiscordPing => {
            (body()?["type"] == 1).then(|| json(&serde_json::json!({ "type": 1 })))
        }
        _ => None,
    }
}

/// `?<param>=<value>` answered with the decoded value as plain text.
fn echo(query: Option<&str>, param: &str) -> Result<Answer, Rejection> {
    let value = query_param(query, param).ok_or(Rejection::HandshakeMalformed)?;
    let value = bounded(&value)?;
    Ok(plain(value.as_bytes()))
}

/// Meta's subscription check: the challenge, only for the configured verify token.
fn meta(query: Option<&str>, verify_token: Option<&Secret>) -> Result<Answer, Rejection> {
    let mode = query_param(query, "hub.mode").ok_or(Rejection::HandshakeMalformed)?;
    let token = query_param(query, "hub.verify_token").ok_or(Rejection::HandshakeMalformed)?;
    let challenge = query_param(query, "hub.challenge").ok_or(Rejection::HandshakeMalformed)?;
    let expected = verify_token.ok_or(Rejection::HandshakeRefused)?;
    let token_ok: bool = token.ct_eq(expected.expose()).into();
    if mode != b"subscribe" || !token_ok {
        return Err(Rejection::HandshakeRefused);
    }
    Ok(plain(bounded(&challenge)?.as_bytes()))
}

/// Twitter/X's challenge-response check: proves the route holds the consumer secret.
fn twitter_crc(query: Option<&str>, verifier: &Verifier) -> Result<Answer, Rejection> {
    use base64::Engine;
    let token = query_param(query, "crc_token").ok_or(Rejection::HandshakeMalformed)?;
    // The answer is a MAC of the token: only a token that can be no signed payload is
    // answered, or the answer would sign a forged delivery.
    if !challenge::is_token(&token) {
        return Err(Rejection::HandshakeMalformed);
    }
    // Unsigned, so nothing says which secret the sender holds: the first one answers.
    let tag = verifier
        .mac_of(0, &token)
        .ok_or(Rejection::HandshakeRefused)?;
    let proof = base64::engine::general_purpose::STANDARD.encode(tag.as_bytes());
    Ok(json(
        &serde_json::json!({ "response_token": format!("sha256={proof}") }),
    ))
}

/// A non-empty, bounded UTF-8 challenge.
fn bounded(value: &[u8]) -> Result<&str, Rejection> {
    match std::str::from_utf8(value) {
        Ok(v) if !v.is_empty() && v.len() <= MAX_CHALLENGE_BYTES => Ok(v),
        _ => Err(Rejection::HandshakeMalformed),
    }
}

fn text(value: &[u8]) -> Option<Answer> {
    bounded(value).ok().map(|v| plain(v.as_bytes()))
}

fn plain(value: &[u8]) -> Answer {
    response::handshake_text(value)
}

fn json(value: &serde_json::Value) -> Answer {
    response::handshake_json(value)
}

#[cfg(test)]
mod tests;
