//! The handshakes a route can answer itself: which exist, what each needs, and when it is
//! answered. What each answers is `crate::handshake`.

use serde::Deserialize;

/// A request the route answers itself instead of forwarding. Unsigned ones are answered
/// from the request line and headers before any body is read, or, for the few whose value
/// travels in the body, from the bounded body before verification; signed ones are
/// deliveries of a special shape, answered only after they verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handshake {
    /// `GET ?echo=<value>`: 200 with the value (nopCommerce, ASP.NET WebHooks).
    Echo,
    /// `GET ?challenge=<value>`: 200 with the value (Dropbox, Nylas).
    DropboxChallenge,
    /// `?validationToken=<value>` on any method: 200 with the value (Microsoft Graph).
    GraphValidation,
    /// `GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`: the challenge, only
    /// when the token equals the route's `verify_token` (Meta).
    MetaSubscribe,
    /// `GET` with `X-Okta-Verification-Challenge`: `{"verification": value}` (Okta).
    OktaVerification,
    /// `GET ?crc_token=..`: `{"response_token": "sha256=" + base64 HMAC-SHA256(secret,
    /// token)}` (Twitter/X).
    TwitterCrc,
    /// `HEAD`: 200 with no body (Trello and Circle probe the URL before they deliver).
    HeadProbe,
    /// `GET`: 200 with no body (Mailchimp Marketing checks the URL answers).
    GetProbe,
    /// `GET ?challenge_code=..`: `{"challengeResponse": hex SHA-256(code + verify_token +
    /// endpoint URL)}` (eBay).
    EbayChallenge,
    /// `GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`: `{"hub.challenge":
    /// ..}`, only for the route's `verify_token` (Strava).
    StravaSubscribe,
    /// `GET ?verification_token=..&challenge=..`: `{"challenge": ..}`, only for the route's
    /// `verify_token` (Oura).
    OuraVerification,
    /// `GET ?challengeCode=..`: the code and its hex HMAC-SHA256 under the secret (LinkedIn).
    LinkedinChallenge,
    /// A request with `Smartsheet-Hook-Challenge`: the value in `Smartsheet-Hook-Response` and
    /// in `{"smartsheetHookResponse": ..}` (Smartsheet).
    SmartsheetChallenge,
    /// A request with `X-Front-Challenge`: the value as text (Front).
    FrontChallenge,
    /// A request with `Validation-Token`: 200 echoing it in `Validation-Token` (RingCentral).
    RingcentralValidation,
    /// `GET` with `X-GCS-Webhooks-Endpoint-Verification`: the value as text (Worldline).
    WorldlineVerification,
    /// `OPTIONS` with `WebHook-Request-Origin`: 200 with `WebHook-Allowed-Origin` (the
    /// CloudEvents HTTP webhook abuse protection, Azure Event Grid's CloudEvents schema).
    CloudeventsOptions,
    /// `GET ?check=..`: the value as text (Onfleet).
    OnfleetCheck,
    /// An unsigned `{"challenge": ..}` and nothing else: the same JSON back (monday.com).
    MondayChallenge,
    /// `aeg-event-type: SubscriptionValidation` with a `validationCode`: `{"validationResponse":
    /// ..}` (Azure Event Grid, Event Grid schema).
    EventGridValidation,
    /// A verified `{"type":"url_verification","challenge":..}`: the challenge (Slack).
    SlackUrlVerification,
    /// A verified `{"event":"endpoint.url_validation","payload":{"plainToken":..}}`: the
    /// plain token and its hex HMAC-SHA256 under the secret (Zoom).
    ZoomUrlValidation,
    /// A verified delivery with `Twitch-Eventsub-Message-Type: webhook_callback_verification`:
    /// the body's `challenge` (Twitch EventSub).
    TwitchCallbackVerification,
    /// A verified `{"type":1}`: `{"type":1}` (Discord interactions).
    DiscordPing,
    /// A verified `{"type":0}`: 204 with no body (Discord webhook events).
    DiscordEventPing,
    /// A verified `{"eventType":"VERIFY","data":{"challenge":..}}`: `{"challenge": hex
    /// HMAC-SHA256(secret, challenge)}` (Smartcar).
    SmartcarVerify,
    /// A verified Amazon SNS `SubscriptionConfirmation`: hookgate visits its `SubscribeURL`
    /// (only on SNS's pinned hosts) and answers 200 once SNS confirmed; without it the
    /// confirmation is forwarded to the app like any message.
    SnsSubscription,
}

impl Handshake {
    /// Every handshake, in declaration order.
    pub const ALL: [Handshake; 27] = [
        Handshake::Echo,
        Handshake::DropboxChallenge,
        Handshake::GraphValidation,
        Handshake::MetaSubscribe,
        Handshake::OktaVerification,
        Handshake::TwitterCrc,
        Handshake::HeadProbe,
        Handshake::GetProbe,
        Handshake::EbayChallenge,
        Handshake::StravaSubscribe,
        Handshake::OuraVerification,
        Handshake::LinkedinChallenge,
        Handshake::SmartsheetChallenge,
        Handshake::FrontChallenge,
        Handshake::RingcentralValidation,
        Handshake::WorldlineVerification,
        Handshake::CloudeventsOptions,
        Handshake::OnfleetCheck,
        Handshake::MondayChallenge,
        Handshake::EventGridValidation,
        Handshake::SlackUrlVerification,
        Handshake::ZoomUrlValidation,
        Handshake::TwitchCallbackVerification,
        Handshake::DiscordPing,
        Handshake::DiscordEventPing,
        Handshake::SmartcarVerify,
        Handshake::SnsSubscription,
    ];

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Handshake::Echo => "echo",
            Handshake::DropboxChallenge => "dropbox_challenge",
            Handshake::GraphValidation => "graph_validation",
            Handshake::MetaSubscribe => "meta_subscribe",
            Handshake::OktaVerification => "okta_verification",
            Handshake::TwitterCrc => "twitter_crc",
            Handshake::HeadProbe => "head_probe",
            Handshake::GetProbe => "get_probe",
            Handshake::EbayChallenge => "ebay_challenge",
            Handshake::StravaSubscribe => "strava_subscribe",
            Handshake::OuraVerification => "oura_verification",
            Handshake::LinkedinChallenge => "linkedin_challenge",
            Handshake::SmartsheetChallenge => "smartsheet_challenge",
            Handshake::FrontChallenge => "front_challenge",
            Handshake::RingcentralValidation => "ringcentral_validation",
            Handshake::WorldlineVerification => "worldline_verification",
            Handshake::CloudeventsOptions => "cloudevents_options",
            Handshake::OnfleetCheck => "onfleet_check",
            Handshake::MondayChallenge => "monday_challenge",
            Handshake::EventGridValidation => "event_grid_validation",
            Handshake::SlackUrlVerification => "slack_url_verification",
            Handshake::ZoomUrlValidation => "zoom_url_validation",
            Handshake::TwitchCallbackVerification => "twitch_callback_verification",
            Handshake::DiscordPing => "discord_ping",
            Handshake::DiscordEventPing => "discord_event_ping",
            Handshake::SmartcarVerify => "smartcar_verify",
            Handshake::SnsSubscription => "sns_subscription",
        }
    }

    /// Whether anyone may obtain a MAC of their own input from it (X's CRC, LinkedIn's
    /// challenge): routes sharing its key must refuse challenge-shaped payloads.
    pub fn answers_unsigned_mac(self) -> bool {
        matches!(self, Handshake::TwitterCrc | Handshake::LinkedinChallenge)
    }

    /// Whether its value travels in the body, so it is answered once the body is read, still
    /// unsigned (monday.com, Event Grid).
    pub fn reads_body(self) -> bool {
        matches!(
            self,
            Handshake::MondayChallenge | Handshake::EventGridValidation
        )
    }

    /// Whether the handshake request is signed, so it is answered only after it verifies.
    pub fn after_verify(self) -> bool {
        matches!(
            self,
            Handshake::SlackUrlVerification
                | Handshake::ZoomUrlValidation
                | Handshake::TwitchCallbackVerification
                | Handshake::DiscordPing
                | Handshake::DiscordEventPing
                | Handshake::SmartcarVerify
                | Handshake::SnsSubscription
        )
    }

    /// Whether it checks the route's `verify_token` (Meta, Strava, Oura) or proves it (eBay).
    pub fn needs_verify_token(self) -> bool {
        matches!(
            self,
            Handshake::MetaSubscribe
                | Handshake::StravaSubscribe
                | Handshake::OuraVerification
                | Handshake::EbayChallenge
        )
    }

    /// Whether its answer covers the route's endpoint URL (eBay), so `public_url` is needed.
    pub fn needs_public_url(self) -> bool {
        self == Handshake::EbayChallenge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handshake_is_listed_once_and_parses_by_its_name() {
        for (i, h) in Handshake::ALL.iter().enumerate() {
            assert!(!Handshake::ALL[..i].contains(h), "{h:?} twice");
            let parsed: Handshake = serde_saphyr::from_str(h.name()).unwrap();
            assert_eq!(parsed, *h);
            let stages = [h.reads_body(), h.after_verify()];
            assert!(stages.iter().filter(|s| **s).count() <= 1, "{h:?}");
        }
    }
}
