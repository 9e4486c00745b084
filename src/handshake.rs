//! Requests a route answers itself, so the app behind never has to.
//!
//! Unsigned handshakes are answered from the request line and headers before any body is
//! read ([`before_body`]), or, for the two whose value travels in the body (monday.com, Event
//! Grid), from the bounded body before verification ([`with_body`]). Signed ones (Slack, Zoom,
//! Twitch, Discord, Smartcar) are ordinary deliveries of a special shape: answered only after
//! the delivery verifies ([`after_verify`]), and never forwarded.
//!
//! X's CRC and LinkedIn's challenge answer a MAC of a token taken from an unsigned request.
//! They answer only tokens of the shape `verify::challenge` defines, which no delivery the
//! engine accepts on such a route can have, so no answer is ever a valid delivery signature.
//! Unsigned handshakes are also rate limited per route by the gateway. Every other unsigned
//! answer echoes what the request itself carried, or a digest that proves nothing a forger
//! could use (eBay's covers the verify token, which deliveries are not signed with).

use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use sha2::{Digest, Sha256};
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
    /// The route's verifier: its first secret proves itself in X's and LinkedIn's answers, and
    /// its `public_url` is the endpoint eBay's answer covers.
    pub verifier: &'a Verifier,
    /// The `verify_token` entered in the sender's dashboard (Meta, Strava, Oura, eBay).
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
    let header = |name: &str| headers.get(name);
    match handshake {
        Handshake::Echo if get => Some(echo(query, "echo")),
        Handshake::DropboxChallenge if get => Some(echo(query, "challenge")),
        Handshake::OnfleetCheck if get => Some(echo(query, "check")),
        Handshake::GraphValidation => {
            query_param(query, "validationToken").map(|_| echo(query, "validationToken"))
        }
        Handshake::MetaSubscribe if get => {
            Some(subscribe(query, keys.verify_token).map(|c| plain(c.as_bytes())))
        }
        Handshake::StravaSubscribe if get => Some(
            subscribe(query, keys.verify_token)
                .map(|c| json(&serde_json::json!({ "hub.challenge": c }))),
        ),
        Handshake::OuraVerification if get => Some(oura(query, keys.verify_token)),
        Handshake::OktaVerification if get => {
            let value = header("x-okta-verification-challenge")?;
            Some(bounded(value.as_bytes()).map(|v| json(&serde_json::json!({ "verification": v }))))
        }
        Handshake::TwitterCrc if get => Some(twitter_crc(query, keys.verifier)),
        Handshake::LinkedinChallenge if get => Some(linkedin(query, keys.verifier)),
        Handshake::EbayChallenge if get => Some(ebay(query, uri.path(), keys)),
        Handshake::HeadProbe if method == Method::HEAD => {
            Some(Ok(response::handshake_empty(StatusCode::OK)))
        }
        Handshake::GetProbe if get => Some(Ok(response::handshake_empty(StatusCode::OK))),
        Handshake::WorldlineVerification if get => {
            let value = header("x-gcs-webhooks-endpoint-verification")?;
            Some(bounded(value.as_bytes()).map(|v| plain(v.as_bytes())))
        }
        Handshake::FrontChallenge => {
            let value = header("x-front-challenge")?;
            Some(bounded(value.as_bytes()).map(|v| plain(v.as_bytes())))
        }
        Handshake::SmartsheetChallenge => {
            let value = header("smartsheet-hook-challenge")?;
            Some(echoed_header(value).map(|(text, value)| {
                let answer = json(&serde_json::json!({ "smartsheetHookResponse": text }));
                response::with_header(answer, "smartsheet-hook-response", value)
            }))
        }
        Handshake::RingcentralValidation => {
            let value = header("validation-token")?;
            Some(echoed_header(value).map(|(_, value)| {
                let answer = response::handshake_empty(StatusCode::OK);
                response::with_header(answer, "validation-token", value)
            }))
        }
        Handshake::CloudeventsOptions if method == Method::OPTIONS => {
            let value = header("webhook-request-origin")?;
            Some(echoed_header(value).map(|(_, value)| {
                let answer = response::handshake_empty(StatusCode::OK);
                response::with_header(answer, "webhook-allowed-origin", value)
            }))
        }
        _ => None,
    }
}

/// If a read but unverified request is an unsigned handshake whose value travels in the
/// body, its answer; `None` when it is a delivery to verify.
pub fn with_body(
    handshake: Handshake,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Result<Answer, Rejection>> {
    match handshake {
        Handshake::MondayChallenge => {
            // Only a body that is the challenge and nothing else: a delivery that happens to
            // carry a `challenge` field is verified as usual.
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            let object = value.as_object().filter(|o| o.len() == 1)?;
            let challenge = object.get("challenge")?;
            Some(
                challenge
                    .as_str()
                    .ok_or(Rejection::HandshakeMalformed)
                    .and_then(|c| bounded(c.as_bytes()))
                    .map(|c| json(&serde_json::json!({ "challenge": c }))),
            )
        }
        Handshake::EventGridValidation => {
            let kind = headers.get("aeg-event-type")?;
            if kind != "SubscriptionValidation" {
                return None;
            }
            Some(event_grid(body))
        }
        _ => None,
    }
}

/// If a verified delivery is a signed handshake of this kind, its answer; `None` when it is
/// an ordinary delivery to forward. `secret_index` is the secret that verified it: an answer
/// that proves the secret (Zoom, Smartcar) must prove the one the sender is using, which
/// during a rotation may not be the first.
pub fn after_verify(
    handshake: Handshake,
    delivery: &Delivery<'_>,
    verifier: &Verifier,
    secret_index: usize,
) -> Option<Answer> {
    let body = || serde_json::from_slice::<serde_json::Value>(&delivery.body.contiguous()).ok();
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
        Handshake::DiscordEventPing => {
            (body()?["type"] == 0).then(|| response::handshake_empty(StatusCode::NO_CONTENT))
        }
        Handshake::SmartcarVerify => {
            let body = body()?;
            if body["eventType"] != "VERIFY" {
                return None;
            }
            let value = bounded(body["data"]["challenge"].as_str()?.as_bytes()).ok()?;
            let proof = hex::encode(verifier.mac_of(secret_index, value.as_bytes())?.as_bytes());
            Some(json(&serde_json::json!({ "challenge": proof })))
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

/// The `hub.*` subscription check (Meta, Strava): the challenge, only for the configured
/// verify token.
fn subscribe(query: Option<&str>, verify_token: Option<&Secret>) -> Result<String, Rejection> {
    let mode = query_param(query, "hub.mode").ok_or(Rejection::HandshakeMalformed)?;
    let token = query_param(query, "hub.verify_token").ok_or(Rejection::HandshakeMalformed)?;
    let challenge = query_param(query, "hub.challenge").ok_or(Rejection::HandshakeMalformed)?;
    if mode != b"subscribe" || !token_matches(&token, verify_token)? {
        return Err(Rejection::HandshakeRefused);
    }
    Ok(bounded(&challenge)?.to_owned())
}

/// Oura's check: `{"challenge": ..}`, only for the configured verify token.
fn oura(query: Option<&str>, verify_token: Option<&Secret>) -> Result<Answer, Rejection> {
    let token = query_param(query, "verification_token").ok_or(Rejection::HandshakeMalformed)?;
    let challenge = query_param(query, "challenge").ok_or(Rejection::HandshakeMalformed)?;
    if !token_matches(&token, verify_token)? {
        return Err(Rejection::HandshakeRefused);
    }
    Ok(json(
        &serde_json::json!({ "challenge": bounded(&challenge)? }),
    ))
}

/// Whether `offered` is the route's verify token, compared in constant time.
fn token_matches(offered: &[u8], verify_token: Option<&Secret>) -> Result<bool, Rejection> {
    let expected = verify_token.ok_or(Rejection::HandshakeRefused)?;
    Ok(offered.ct_eq(expected.expose()).into())
}

/// Twitter/X's challenge-response check: proves the route holds the consumer secret.
fn twitter_crc(query: Option<&str>, verifier: &Verifier) -> Result<Answer, Rejection> {
    use base64::Engine;
    let token = query_param(query, "crc_token").ok_or(Rejection::HandshakeMalformed)?;
    let tag = unsigned_mac(&token, verifier)?;
    let proof = base64::engine::general_purpose::STANDARD.encode(tag.as_bytes());
    Ok(json(
        &serde_json::json!({ "response_token": format!("sha256={proof}") }),
    ))
}

/// LinkedIn's challenge: the code and its hex HMAC under the client secret.
fn linkedin(query: Option<&str>, verifier: &Verifier) -> Result<Answer, Rejection> {
    let code = query_param(query, "challengeCode").ok_or(Rejection::HandshakeMalformed)?;
    let tag = unsigned_mac(&code, verifier)?;
    Ok(json(&serde_json::json!({
        "challengeCode": bounded(&code)?,
        "challengeResponse": hex::encode(tag.as_bytes()),
    })))
}

/// The first secret's MAC of an unsigned request's token. Only a token that can be no
/// signed payload on this route is answered, or the answer would sign a forged delivery; and
/// nothing says which secret the sender holds, so the first one answers.
fn unsigned_mac(token: &[u8], verifier: &Verifier) -> Result<crate::verify::Tag, Rejection> {
    if !challenge::is_token(token) {
        return Err(Rejection::HandshakeMalformed);
    }
    verifier.mac_of(0, token).ok_or(Rejection::HandshakeRefused)
}

/// eBay's check: hex SHA-256 of the challenge code, the verify token and the endpoint URL
/// (the route's `public_url` and the path), proving the endpoint holds the token.
fn ebay(query: Option<&str>, path: &str, keys: RouteKeys<'_>) -> Result<Answer, Rejection> {
    let code = query_param(query, "challenge_code").ok_or(Rejection::HandshakeMalformed)?;
    let code = bounded(&code)?;
    let token = keys.verify_token.ok_or(Rejection::HandshakeRefused)?;
    let base = keys
        .verifier
        .public_url()
        .ok_or(Rejection::HandshakeRefused)?;
    let mut hash = Sha256::new();
    hash.update(code.as_bytes());
    hash.update(token.expose());
    hash.update(base.trim_end_matches('/').as_bytes());
    hash.update(path.as_bytes());
    Ok(json(
        &serde_json::json!({ "challengeResponse": hex::encode(hash.finalize()) }),
    ))
}

/// Event Grid's subscription validation: the validation code of the validation event.
fn event_grid(body: &[u8]) -> Result<Answer, Rejection> {
    let events: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| Rejection::HandshakeMalformed)?;
    let code = events
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|e| e["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent")
        })
        .and_then(|e| e["data"]["validationCode"].as_str())
        .ok_or(Rejection::HandshakeMalformed)?;
    Ok(json(
        &serde_json::json!({ "validationResponse": bounded(code.as_bytes())? }),
    ))
}

/// A header value to echo back: bounded text, and the same bytes as a header value.
fn echoed_header(value: &HeaderValue) -> Result<(&str, HeaderValue), Rejection> {
    let text = bounded(value.as_bytes())?;
    Ok((text, value.clone()))
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
