//! The verify stage for deliveries whose key is fetched at run time (Amazon SNS, PayPal,
//! Fireblocks), and the SNS subscription visit: check all that needs no key, fetch the
//! certificate the delivery names or the route's key set through the SSRF guard, check the
//! signature; visit `SubscribeURL` for a confirmation.

use http::StatusCode;

use super::Gateway;
use crate::error::Rejection;
use crate::keyfetch::{FetchError, PathRule, guard};
use crate::proxy::Answer;
use crate::response;
use crate::scheme::{CertRule, JwksRule, SNS_HOSTS};
use crate::verify::{self, Verified, Verifier, sns};

/// Verifies a delivery whose key is fetched at run time; an SNS message also yields the
/// `SubscribeURL` of a subscription confirmation.
pub(super) async fn verify(
    gateway: &Gateway,
    verifier: &Verifier,
    delivery: &verify::Delivery<'_>,
    now: i64,
) -> Result<(Verified, Option<String>), Rejection> {
    let scheme = verifier.scheme();
    if scheme.sns.is_some() {
        let sns = verify_sns(gateway, verifier, delivery, now).await?;
        Ok((sns.verified, sns.subscribe_url))
    } else if let Some(rule) = &scheme.signing_cert {
        let by_cert = verify_by_certificate(gateway, verifier, rule, delivery, now);
        Ok((by_cert.await?, None))
    } else if let Some(rule) = &scheme.jwks {
        let by_set = verify_by_key_set(gateway, verifier, rule, delivery, now);
        Ok((by_set.await?, None))
    } else {
        Ok((verifier.verify(delivery, now)?, None))
    }
}

/// A verified SNS message: what verification established, and the `SubscribeURL` of a
/// subscription confirmation.
struct SnsVerified {
    verified: Verified,
    subscribe_url: Option<String>,
}

/// Verifies an SNS delivery (see `verify::sns`).
async fn verify_sns(
    gateway: &Gateway,
    verifier: &Verifier,
    delivery: &verify::Delivery<'_>,
    now: i64,
) -> Result<SnsVerified, Rejection> {
    let message = verifier.sns_message(delivery, now)?;
    let keys = gateway.keys.as_ref().ok_or(Rejection::KeyUnavailable)?;
    let der = keys
        .certificate(message.signing_cert_url(), SNS_HOSTS, PathRule::PemFile)
        .await
        .map_err(refused)?;
    let verified = sns::check(&message, &der)?;
    let subscribe_url = (message.kind == sns::Kind::SubscriptionConfirmation)
        .then(|| message.subscribe_url().map(str::to_owned))
        .flatten();
    Ok(SnsVerified {
        verified,
        subscribe_url,
    })
}

/// Verifies a delivery of a `signing_cert` scheme (PayPal): every check that needs no key
/// first, then the certificate its header names, fetched through the SSRF guard.
async fn verify_by_certificate(
    gateway: &Gateway,
    verifier: &Verifier,
    rule: &CertRule,
    delivery: &verify::Delivery<'_>,
    now: i64,
) -> Result<Verified, Rejection> {
    match verifier.verify(delivery, now) {
        Err(Rejection::KeyUnavailable) => {}
        other => return other,
    }
    let mut urls = delivery.headers.get_all(&rule.url_header).iter();
    let (Some(url), None) = (urls.next(), urls.next()) else {
        return Err(Rejection::SignatureMalformed);
    };
    let url = url.to_str().map_err(|_| Rejection::SignatureMalformed)?;
    let keys = gateway.keys.as_ref().ok_or(Rejection::KeyUnavailable)?;
    let path = PathRule::Prefix(&rule.path_prefix);
    let der = keys
        .certificate(url, &rule.pins(), path)
        .await
        .map_err(refused)?;
    verifier.verify_with_certificate(delivery, now, &der)
}

/// Verifies a delivery of a `jwks` scheme (Fireblocks): the token's structure and
/// algorithm first, then the key its `kid` names in the route's key set, fetched through the
/// SSRF guard.
async fn verify_by_key_set(
    gateway: &Gateway,
    verifier: &Verifier,
    rule: &JwksRule,
    delivery: &verify::Delivery<'_>,
    now: i64,
) -> Result<Verified, Rejection> {
    match verifier.verify(delivery, now) {
        Err(Rejection::KeyUnavailable) => {}
        other => return other,
    }
    let kid = verifier
        .jwt_kid(delivery)
        .ok_or(Rejection::SignatureMalformed)?;
    let keys = gateway.keys.as_ref().ok_or(Rejection::KeyUnavailable)?;
    let set = keys
        .key_set(verifier.jwks_url(), &rule.pins(), &kid)
        .await
        .map_err(refused)?;
    verifier.verify_with_jwks(delivery, now, &set)
}

/// A refused URL is a forgery like any other; an unavailable key is worth a retry.
fn refused(e: FetchError) -> Rejection {
    match e {
        FetchError::Refused(why) => {
            tracing::info!(reason = %why, "signing certificate URL refused");
            Rejection::SignatureMismatch
        }
        FetchError::Unavailable => Rejection::KeyUnavailable,
    }
}

/// Confirms a verified subscription by visiting its `SubscribeURL`, which must name SNS's
/// own `ConfirmSubscription` action on a pinned host; 200 once SNS answered 200.
pub(super) async fn confirm_subscription(
    gateway: &Gateway,
    url: &str,
) -> Result<Answer, Rejection> {
    let target = guard::check(url, SNS_HOSTS).map_err(|why| {
        tracing::warn!(reason = %why, "SNS SubscribeURL refused");
        Rejection::SubscriptionUnconfirmed
    })?;
    let action = crate::form::query_param(
        target.path_and_query.split_once('?').map(|(_, q)| q),
        "Action",
    );
    if target.path() != "/" || action.as_deref() != Some(&b"ConfirmSubscription"[..]) {
        tracing::warn!(
            path = target.path(),
            "SNS SubscribeURL is not a ConfirmSubscription call"
        );
        return Err(Rejection::SubscriptionUnconfirmed);
    }
    let keys = gateway
        .keys
        .as_ref()
        .ok_or(Rejection::SubscriptionUnconfirmed)?;
    match keys.visit(&target).await {
        Ok(StatusCode::OK) => {
            tracing::info!(host = %target.host, "SNS subscription confirmed");
            Ok(response::handshake_empty(StatusCode::OK))
        }
        Ok(status) => {
            tracing::warn!(host = %target.host, %status, "SNS did not confirm the subscription");
            Err(Rejection::SubscriptionUnconfirmed)
        }
        Err(e) => {
            tracing::warn!(host = %target.host, error = %e, "SNS subscription visit failed");
            Err(Rejection::SubscriptionUnconfirmed)
        }
    }
}
