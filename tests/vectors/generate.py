#!/usr/bin/env python3
"""Writes tests/vectors/vectors.json: signed deliveries made by each sender's own SDK.

Deterministic: fixed secrets, bodies and timestamps. `.ci/run` regenerates the file with the
pinned SDKs (.ci/requirements.txt) and fails if it differs from the committed one.

Usage: generate.py [OUT]   (default: the vectors.json beside this script)
"""
import base64
import hashlib
import hmac
import json
import pathlib
import sys
from importlib.metadata import version

import stripe
from slack_sdk.signature import SignatureVerifier

BODIES = [
    '{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"amount":2000}}}',
    '{"text":"unicode: caf\u00e9 \u2713","n":[1,2,3]}',
    "",
]
TIMESTAMPS = [1700000000, 1750000123]


def stripe_vectors():
    secret = "whsec_test_4eC39HqLyjWDarjtT1zdp7dc"
    for body in BODIES:
        for ts in TIMESTAMPS:
            header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=ts)
            yield {"headers": {"Stripe-Signature": header}, "body": body, "timestamp": ts, "secret": secret}


def slack_vectors():
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    verifier = SignatureVerifier(secret)
    for body in BODIES:
        for ts in TIMESTAMPS:
            signature = verifier.generate_signature(timestamp=str(ts), body=body)
            yield {
                "headers": {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(ts)},
                "body": body,
                "timestamp": ts,
                "secret": secret,
            }


def shopify_vectors():
    # Shopify publishes no SDK that verifies webhooks in Python; this is the formula from its
    # docs (base64 HMAC-SHA256 of the raw body), computed with the standard library.
    secret = "hush-shopify-app-secret"
    for body in BODIES:
        digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
        yield {
            "headers": {"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()},
            "body": body,
            "timestamp": TIMESTAMPS[0],
            "secret": secret,
        }


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("vectors.json")
    providers = [
        ("stripe", f"stripe (PyPI) {version('stripe')}: WebhookSignature.generate_signature_header", stripe_vectors),
        ("slack", f"slack_sdk (PyPI) {version('slack_sdk')}: SignatureVerifier.generate_signature", slack_vectors),
        ("shopify", "shopify.dev docs formula, Python hmac (no SDK verifies webhooks)", shopify_vectors),
    ]
    data = [
        {"provider": name, "source": source, "vectors": list(make())}
        for name, source, make in providers
    ]
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


main()
