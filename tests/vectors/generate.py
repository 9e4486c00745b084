#!/usr/bin/env python3
"""Writes tests/vectors/vectors.json: signed deliveries for every preset.

Where a sender publishes an SDK that signs, the SDK makes the vectors (PyPI here, npm through
npm/generate.mjs). Where its SDK only verifies, the vectors follow the docs' formula and the
SDK's verifier must accept each one, or generation fails. The rest follow the docs' formula,
computed here with Python's standard library, independently of hookgate. Each provider's
"source" says which.

Deterministic: fixed secrets, keys, bodies, ids and timestamps. `.ci/run` regenerates the file
with the pinned SDKs (.ci/requirements.txt, npm/package-lock.json) and fails if it differs.

Usage: generate.py [OUT]   (default: the vectors.json beside this script)
"""
import base64
import datetime
import hashlib
import hmac
import json
import pathlib
import subprocess
import sys
import urllib.parse
from importlib.metadata import version

import urllib3

import stripe
from slack_sdk.signature import SignatureVerifier
import standardwebhooks
import svix.webhooks
from twilio.request_validator import RequestValidator
from plivo.utils.signature_v3 import construct_post_url as plivo_url, get_signature_v3 as plivo_sign, validate_v3_signature as plivo_validate
from square.utils.webhooks_helper import verify_signature as square_verify
from box_sdk_gen.internal.utils import compute_webhook_signature as box_sign
from paddle_billing.Notifications.PaddleSignature import PaddleSignature
from paddle_billing.Notifications.Secret import Secret as PaddleSecret
from sendgrid.helpers.eventwebhook import EventWebhook
from mailgun.security import SecurityGuard as MailgunGuard
import razorpay
from coinbase_commerce.webhook import WebhookSignature as CoinbaseSignature
from gocardless_pro import webhooks as gocardless_webhooks
from workos.webhooks._verification import verify_header as workos_verify
from elevenlabs import ElevenLabs
from telnyx.lib.webhook_verification import verify_webhook_signature as telnyx_verify
import openai
from replicate.webhook import Webhooks as ReplicateWebhooks, WebhookSigningSecret as ReplicateSecret
import resend
from linebot.v3.webhook import SignatureValidator as LineValidator
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from unittest import mock
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = pathlib.Path(__file__).parent

import catalog
import jose
from common import (BODIES, TIMESTAMPS, PUBLIC_URL, mac, rfc3339, vector, each, at, json_bodies, plain,
                    timestamped, listed, token_vectors, standard_webhooks_vectors)


# --- SDKs that sign -------------------------------------------------------------------------

def stripe_vectors():
    secret = "whsec_test_4eC39HqLyjWDarjtT1zdp7dc"
    for body, ts in each():
        header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=ts)
        yield vector({"Stripe-Signature": header}, body, ts, secret)


def slack_vectors():
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    verifier = SignatureVerifier(secret)
    for body, ts in each():
        signature = verifier.generate_signature(timestamp=str(ts), body=body)
        yield vector({"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(ts)}, body, ts, secret)


def twilio_form_vectors():
    token = "12345"
    validator = RequestValidator(token)
    forms = [
        {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234", "From": "+12349013030", "To": "+18005551212"},
        {"Body": "caf\u00e9 & more", "MessageSid": "SM1", "NumMedia": "0"},
    ]
    for form in forms:
        for target in ["/hook", "/hook?foo=1&bar=2"]:
            signature = validator.compute_signature(PUBLIC_URL + target, form)
            body = urllib.parse.urlencode(form)
            headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
            yield vector(headers, body, TIMESTAMPS[0], token, target=target, public_url=PUBLIC_URL)


def plivo_vectors():
    """Plivo's SDK signs; its validator must accept each vector too. ASCII fields only: the SDK
    encodes the base string's non-ASCII bytes twice before the MAC (docs/providers.md)."""
    token = "MAXXXXXXXXXXXXXXXXXX-plivo-auth-token"
    forms = [
        {"CallUUID": "c9527676-5fea-11e5-9f8b-a7ca0b5a3f4b", "From": "+14155550100", "To": "+14155550111", "Event": "Hangup"},
        {"MessageUUID": "db3ce55a-7f1d-11e1-8ea7-1231380bc196", "Text": "hello & more", "Type": "sms"},
        {},
    ]
    for n, form in enumerate(forms):
        for target in ["/hook", "/hook?foo=1&bar=2"]:
            nonce = f"{n}1234567890123456{len(target)}"
            base = plivo_url(PUBLIC_URL + target, dict(form))
            signature = plivo_sign(token.encode(), base, nonce.encode()).decode()
            assert plivo_validate("POST", PUBLIC_URL + target, nonce, token, "other," + signature, dict(form))
            headers = {"X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce,
                       "Content-Type": "application/x-www-form-urlencoded"}
            yield vector(headers, urllib.parse.urlencode(form), TIMESTAMPS[0], token, target=target, public_url=PUBLIC_URL)


def twilio_json_vectors():
    token = "12345"
    validator = RequestValidator(token)
    for body in BODIES:
        target = "/hook?bodySHA256=" + validator.compute_hash(body)
        signature = validator.compute_signature(PUBLIC_URL + target, {})
        assert validator.validate(PUBLIC_URL + target, body, signature)
        headers = {"X-Twilio-Signature": signature, "Content-Type": "application/json"}
        yield vector(headers, body, TIMESTAMPS[0], token, target=target, public_url=PUBLIC_URL)


def box_vectors():
    primary, secondary = "box-primary-key-0000", "box-secondary-key-0000"
    for body, ts in each():
        headers = {
            "box-delivery-timestamp": rfc3339(ts),
            "box-signature-version": "1",
            "box-signature-algorithm": "HmacSHA256",
        }
        headers["box-signature-primary"] = box_sign(body, headers, primary)
        headers["box-signature-secondary"] = box_sign(body, headers, secondary)
        yield vector(headers, body, ts, primary)
        # The secondary key alone must verify too (rotation).
        only_secondary = {k: v for k, v in headers.items() if k != "box-signature-primary"}
        yield vector(only_secondary, body, ts, secondary)


def paddle_vectors():
    secret = "pdl_ntfset_01abc_secret"
    for body, ts in each():
        h1 = PaddleSignature.calculate_hmac(secret, f"{ts}:{body}".encode()).hexdigest()
        header = f"ts={ts};h1={h1}"
        assert PaddleSignature().verify(header, body, PaddleSecret(secret))
        yield vector({"Paddle-Signature": header}, body, ts, secret)


# --- SDKs that only verify: the docs' formula, accepted by the SDK ---------------------------

def square_vectors():
    key = "square-signature-key-0000"
    for body in BODIES[:2]:  # the SDK refuses an empty body
        target = "/hook"
        signature = base64.b64encode(mac(hashlib.sha256, key, PUBLIC_URL + target + body)).decode()
        assert square_verify(request_body=body, signature_header=signature, signature_key=key, notification_url=PUBLIC_URL + target)
        yield vector({"x-square-hmacsha256-signature": signature}, body, TIMESTAMPS[0], key, public_url=PUBLIC_URL)


def sendgrid_vectors():
    # A fixed P-256 key and RFC 6979 deterministic signing, so the vectors are reproducible.
    private = ec.derive_private_key(0x5EED_5EED_5EED_5EED_5EED, ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_key = base64.b64encode(der).decode()
    checker = EventWebhook(public_key)
    for body, ts in each():
        signature = private.sign(f"{ts}{body}".encode(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        signature = base64.b64encode(signature).decode()
        assert checker.verify_signature(body, signature, str(ts))
        headers = {
            "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": str(ts),
        }
        yield vector(headers, body, ts, public_key=public_key)


def body_hmac(header, secret, accepts):
    """hex HMAC-SHA256(secret, body) in `header`, accepted by `accepts(body, signature)`."""
    def make(bodies=BODIES):
        for body in bodies:
            signature = mac(hashlib.sha256, secret, body).hex()
            if not accepts(body, signature):
                raise SystemExit(f"the {header} SDK refused a vector")
            yield vector({header: signature}, body, TIMESTAMPS[0], secret)
    return make


def line_vectors():
    secret = "line-channel-secret-0000"
    validator = LineValidator(secret)
    for body in BODIES:
        signature = base64.b64encode(mac(hashlib.sha256, secret, body)).decode()
        if not validator.validate(body, signature):
            raise SystemExit("line-bot-sdk refused a vector")
        yield vector({"x-line-signature": signature}, body, TIMESTAMPS[0], secret)


def razorpay_vectors():
    utility = razorpay.Client(auth=("rzp_test_vectors", "unused")).utility
    secret = "razorpay-webhook-secret-0000"
    return body_hmac("X-Razorpay-Signature", secret, lambda b, s: utility.verify_webhook_signature(b, s, secret))()


def coinbase_vectors():
    secret = "coinbase-shared-secret-0000"
    return body_hmac("X-CC-Webhook-Signature", secret, lambda b, s: CoinbaseSignature.verify_sig_header(b, s, secret))()


def gocardless_vectors():
    # The SDK parses what it verifies: GoCardless bodies carry a list of events.
    secret = "gocardless-endpoint-secret-0000"
    bodies = [json.dumps({"events": [{"id": f"EV{i}", "action": "confirmed", "resource_type": "payments",
                                      "details": {"cause": "payment_confirmed", "description": "caf\u00e9"}}],
                          "meta": {"webhook_id": f"WB{i}"}}) for i in range(2)]
    return body_hmac("Webhook-Signature", secret, lambda b, s: len(gocardless_webhooks.parse(b, secret, s)) == 1)(bodies)


def workos_vectors():
    secret = "workos-webhook-secret-0000"
    for body, ts in each():
        ms = ts * 1000 + 123
        header = f"t={ms}, v1=" + mac(hashlib.sha256, secret, f"{ms}.{body}").hex()
        with at(ms / 1000):
            workos_verify(event_body=body.encode(), event_signature=header, secret=secret)
        yield vector({"WorkOS-Signature": header}, body, ts, secret)


def elevenlabs_vectors():
    secret = "wsec_elevenlabs_0000"
    client = ElevenLabs(api_key="unused")
    for body, ts in each(json_bodies()):
        header = f"t={ts},v0=" + mac(hashlib.sha256, secret, f"{ts}.{body}").hex()
        with at(ts):
            client.webhooks.construct_event(rawBody=body, sig_header=header, secret=secret)
        yield vector({"ElevenLabs-Signature": header}, body, ts, secret)


def telnyx_vectors():
    # A fixed Ed25519 key, so the signatures (deterministic in Ed25519) are reproducible.
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"hookgate telnyx vectors").digest())
    public_key = base64.b64encode(private.public_key().public_bytes_raw()).decode()
    for body, ts in each():
        signature = base64.b64encode(private.sign(f"{ts}|{body}".encode())).decode()
        headers = {"telnyx-signature-ed25519": signature, "telnyx-timestamp": str(ts)}
        with at(ts):
            telnyx_verify(body, headers, public_key)
        yield vector(headers, body, ts, public_key=public_key)


def standard_webhooks_formula(prefix, secret, accepts, bodies):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    for i, body in enumerate(bodies):
        for ts in TIMESTAMPS:
            msg_id = f"msg_{prefix}{i}{ts % 7}"
            signature = "v1," + base64.b64encode(mac(hashlib.sha256, key, f"{msg_id}.{ts}.{body}")).decode()
            headers = {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(ts), f"{prefix}-signature": signature}
            with at(ts):
                accepts(body, headers)
            yield vector(headers, body, ts, secret)


def openai_vectors():
    secret = "whsec_b3BlbmFpLXZlY3RvcnMtc2VjcmV0LTAwMDA="
    client = openai.OpenAI(api_key="unused")
    return standard_webhooks_formula(
        "webhook", secret, lambda b, h: client.webhooks.verify_signature(b, h, secret=secret), BODIES)


def replicate_vectors():
    secret = "whsec_cmVwbGljYXRlLXZlY3RvcnMtc2VjcmV0"
    def accepts(body, headers):
        ReplicateWebhooks.validate(headers=headers, body=body, secret=ReplicateSecret(key=secret), tolerance=300)
    return standard_webhooks_formula("webhook", secret, accepts, json_bodies())


def resend_vectors():
    secret = "whsec_cmVzZW5kLXZlY3RvcnMtc2VjcmV0LTAw"
    def accepts(body, headers):
        plain = {k.removeprefix("svix-"): v for k, v in headers.items()}
        resend.Webhooks.verify({"payload": body, "headers": plain, "webhook_secret": secret})
    return standard_webhooks_formula("svix", secret, accepts, json_bodies())


# --- No SDK that signs or verifies: the docs' formula ---------------------------------------

def twitch_vectors():
    secret = "twitch-eventsub-secret"
    for i, (body, ts) in enumerate(each()):
        msg_id = f"e76c6bd4-55c9-4987-8304-da1588d8988{i}"
        stamp = rfc3339(ts)[:-1] + ".634234626Z"
        signature = mac(hashlib.sha256, secret, msg_id + stamp + body).hex()
        headers = {
            "Twitch-Eventsub-Message-Id": msg_id,
            "Twitch-Eventsub-Message-Timestamp": stamp,
            "Twitch-Eventsub-Message-Signature": "sha256=" + signature,
            "Twitch-Eventsub-Message-Type": "notification",
        }
        yield vector(headers, body, ts, secret)


def mailgun_signature(key, ts, token):
    signature = mac(hashlib.sha256, key, f"{ts}{token}").hex()
    # max_age_seconds=0: the SDK checks the signature alone; the vectors' times are fixed.
    if not MailgunGuard.verify_webhook(key, token, str(ts), signature, max_age_seconds=0):
        raise SystemExit("mailgun's SDK refused a vector")
    return signature


def mailgun_vectors():
    key = "key-mailgun-signing-0000"
    for i, ts in enumerate(TIMESTAMPS):
        token = f"{i}a8f1c0e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2"
        signature = mailgun_signature(key, ts, token)
        body = json.dumps({"signature": {"timestamp": str(ts), "token": token, "signature": signature},
                           "event-data": {"event": "delivered", "id": f"ev{i}"}})
        yield vector({"Content-Type": "application/json"}, body, ts, key)


def mailgun_form_vectors():
    key = "key-mailgun-signing-0000"
    for i, ts in enumerate(TIMESTAMPS):
        token = f"{i}b8f1c0e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2"
        signature = mailgun_signature(key, ts, token)
        body = urllib.parse.urlencode({"recipient": "a@example.com", "timestamp": ts, "token": token, "signature": signature})
        yield vector({"Content-Type": "application/x-www-form-urlencoded"}, body, ts, key)
    # An inbound email with attachments comes as multipart/form-data, encoded here by urllib3
    # as a sender's HTTP client would (a fixed boundary keeps the vectors reproducible).
    for i, ts in enumerate(TIMESTAMPS):
        token = f"{i}c8f1c0e9b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2"
        signature = mailgun_signature(key, ts, token)
        fields = [
            ("recipient", "orders@example.com"),
            ("sender", "alice@example.com"),
            ("subject", "Invoice attached"),
            ("body-plain", "Hi,\r\nthe invoice is attached.\r\n"),
            ("attachment-count", "2"),
            ("attachment-1", ("invoice.csv", "item,price\r\nwidget,42\r\n", "text/csv")),
            ("attachment-2", ("note.txt", "timestamp=1 token=forged signature=00\r\n", "text/plain")),
            ("timestamp", str(ts)),
            ("token", token),
            ("signature", signature),
        ]
        body, content_type = urllib3.encode_multipart_formdata(fields, boundary=f"hookgate-vector-{i}")
        yield vector({"Content-Type": content_type}, body.decode(), ts, key)


def msgraph_vectors():
    state = "graph-client-state-0000"
    for i in range(2):
        body = json.dumps({"value": [{"subscriptionId": f"sub{i}", "clientState": state, "changeType": "created"}]})
        yield vector({"Content-Type": "application/json"}, body, TIMESTAMPS[0], state)


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "vectors.json"
    formula = "docs formula (Python hmac), no SDK signs or verifies"
    mailgun_source = f"docs formula (Python hmac), accepted by mailgun (PyPI) {version('mailgun')}: SecurityGuard.verify_webhook"
    providers = [
        ("stripe", f"stripe (PyPI) {version('stripe')}: WebhookSignature.generate_signature_header", stripe_vectors),
        ("slack", f"slack_sdk (PyPI) {version('slack_sdk')}: SignatureVerifier.generate_signature", slack_vectors),
        ("standard-webhooks", f"standardwebhooks (PyPI) {version('standardwebhooks')}: Webhook.sign",
         lambda: standard_webhooks_vectors("webhook", standardwebhooks.Webhook, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
        ("svix", f"svix (PyPI) {version('svix')}: Webhook.sign",
         lambda: standard_webhooks_vectors("svix", svix.webhooks.Webhook, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")),
        ("twilio", f"twilio (PyPI) {version('twilio')}: RequestValidator.compute_signature", twilio_form_vectors),
        ("twilio-json", f"twilio (PyPI) {version('twilio')}: RequestValidator.compute_hash and compute_signature", twilio_json_vectors),
        ("plivo", f"plivo (PyPI) {version('plivo')}: construct_post_url and get_signature_v3, checked by validate_v3_signature", plivo_vectors),
        ("box", f"box-sdk-gen (PyPI boxsdk) {version('boxsdk')}: compute_webhook_signature", box_vectors),
        ("paddle", f"paddle-python-sdk (PyPI) {version('paddle-python-sdk')}: PaddleSignature.calculate_hmac, checked by PaddleSignature.verify", paddle_vectors),
        ("square", f"docs formula (Python hmac), accepted by squareup (PyPI) {version('squareup')}: verify_signature", square_vectors),
        ("sendgrid", f"ECDSA P-256 (Python cryptography), accepted by sendgrid (PyPI) {version('sendgrid')}: EventWebhook.verify_signature", sendgrid_vectors),
        ("line", f"docs formula (Python hmac), accepted by line-bot-sdk (PyPI) {version('line-bot-sdk')}: SignatureValidator.validate", line_vectors),
        ("razorpay", f"docs formula (Python hmac), accepted by razorpay (PyPI) {version('razorpay')}: Utility.verify_webhook_signature", razorpay_vectors),
        ("coinbase-commerce", f"docs formula (Python hmac), accepted by coinbase-commerce (PyPI) {version('coinbase-commerce')}: WebhookSignature.verify_sig_header", coinbase_vectors),
        ("gocardless", f"docs formula (Python hmac), accepted by gocardless-pro (PyPI) {version('gocardless-pro')}: webhooks.parse", gocardless_vectors),
        ("workos", f"docs formula (Python hmac), accepted by workos (PyPI) {version('workos')}: webhooks verify_header", workos_vectors),
        ("elevenlabs", f"docs formula (Python hmac), accepted by elevenlabs (PyPI) {version('elevenlabs')}: webhooks.construct_event", elevenlabs_vectors),
        ("telnyx", f"Ed25519 (Python cryptography), accepted by telnyx (PyPI) {version('telnyx')}: verify_webhook_signature", telnyx_vectors),
        ("openai", f"Standard Webhooks formula (Python hmac), accepted by openai (PyPI) {version('openai')}: webhooks.verify_signature", openai_vectors),
        ("replicate", f"Standard Webhooks formula (Python hmac), accepted by replicate (PyPI) {version('replicate')}: Webhooks.validate", replicate_vectors),
        ("resend", f"Svix formula (Python hmac), accepted by resend (PyPI) {version('resend')}: Webhooks.verify", resend_vectors),
        ("github-sha1", formula, plain("X-Hub-Signature", hashlib.sha1, "sha1=")),
        ("intercom", formula, plain("X-Hub-Signature", hashlib.sha1, "sha1=")),
        ("bitbucket", formula, plain("X-Hub-Signature", prefix="sha256=")),
        ("typeform", formula, plain("Typeform-Signature", prefix="sha256=", encoding="base64")),
        ("xero", formula, plain("x-xero-signature", encoding="base64")),
        ("meta", formula, plain("X-Hub-Signature-256", prefix="sha256=")),
        ("dropbox", formula, plain("X-Dropbox-Signature")),
        ("twitter", formula, plain("x-twitter-webhooks-signature", prefix="sha256=", encoding="base64")),
        ("flow", formula, plain("X-Flow-Signature", prefix="sha-256=")),
        ("patchworks", formula, plain("X-HMAC-HASH")),
        ("nopcommerce", formula, plain("ms-signature", prefix="sha256=")),
        ("extend", formula, timestamped("x-extend-request-signature", "x-extend-request-timestamp", lambda t, b: f"v0:{t}:{b}")),
        ("zendesk", formula, timestamped("X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp",
                                         lambda t, b: t + b, encoding="base64", stamp=rfc3339)),
        ("calendly", formula, listed("Calendly-Webhook-Signature", lambda t, s: f"t={t},v1={s}", lambda t, b: f"{t}.{b}")),
        ("timestamped-v1", formula, lambda: (
            vector({"X-Webhook-Signature": f"t={ts},v1=" + base64.b64encode(mac(hashlib.sha256, "tv1-secret", f"{b}{ts}")).decode()}, b, ts, "tv1-secret")
            for b, ts in each())),
        ("twitch", formula, twitch_vectors),
        ("mailgun", mailgun_source, mailgun_vectors),
        ("mailgun-form", mailgun_source, mailgun_form_vectors),
        ("gitlab", "docs: the token itself, no signature", token_vectors("X-Gitlab-Token", "glpat-hook-token-0000")),
        ("okta", "docs: the configured Authorization value, no signature", token_vectors("Authorization", "Bearer okta-hook-secret")),
        ("msgraph", "docs: clientState in each notification, no signature", msgraph_vectors),
    ]
    providers += catalog.providers()
    providers += jose.providers()
    data = [{"provider": name, "source": source, "vectors": list(make())} for name, source, make in providers]
    node = subprocess.run(
        ["node", str(HERE / "npm" / "generate.mjs"), json.dumps({"bodies": BODIES, "timestamps": TIMESTAMPS})],
        check=True, capture_output=True, text=True,
    )
    data.extend(json.loads(node.stdout))
    data.sort(key=lambda p: p["provider"])
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


main()
