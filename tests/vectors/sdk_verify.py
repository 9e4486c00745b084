#!/usr/bin/env python3
"""The other direction: what `hookgate sign` produces must pass each sender SDK's own verifier,
and the same headers on a tampered body must not (so the check can fail).

Covers every sender whose SDK has a verify function and whose scheme hookgate can sign (not
the public-key senders, whose private key only they hold): PyPI stripe, slack_sdk,
standardwebhooks, svix (also for the senders that sign as Svix or Standard Webhooks do), twilio (form and JSON), plivo, squareup, paddle-python-sdk, boxsdk, razorpay,
coinbase-commerce, gocardless-pro, workos, elevenlabs, openai, replicate, resend,
line-bot-sdk, vonage-jwt, messagebird; npm @octokit/webhooks-methods, @hubspot/api-client, @linear/sdk,
@shopify/shopify-api, @zoom/rivet, @mux/mux-node, @sanity/webhook (npm/verify.mjs).

Usage: sdk_verify.py <hookgate binary>
"""
import base64
import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.parse

import stripe
from slack_sdk.signature import SignatureVerifier
import standardwebhooks
import svix.webhooks
from twilio.request_validator import RequestValidator
from plivo.utils.signature_v3 import validate_v3_signature as plivo_validate
from square.utils.webhooks_helper import verify_signature as square_verify
from paddle_billing.Notifications.PaddleSignature import PaddleSignature
from paddle_billing.Notifications.Secret import Secret as PaddleSecret
from box_sdk_gen.managers.webhooks import WebhooksManager
import razorpay
from coinbase_commerce.webhook import WebhookSignature as CoinbaseSignature
from gocardless_pro import webhooks as gocardless_webhooks
from workos.webhooks._verification import verify_header as workos_verify
from elevenlabs import ElevenLabs
import openai
from replicate.webhook import Webhooks as ReplicateWebhooks, WebhookSigningSecret as ReplicateSecret
import resend
from linebot.v3.webhook import SignatureValidator as LineValidator
import vonage_jwt
from messagebird.request_validator import RequestValidator as MessageBirdValidator

HERE = pathlib.Path(__file__).parent
URL = "https://hooks.example.com"
SECRETS = {
    "stripe": "whsec_sdk_side_check",
    "slack": "slack-signing-secret-check",
    "standard-webhooks": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "svix": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    "twilio": "twilio-auth-token",
    "twilio-json": "twilio-auth-token",
    "plivo": "plivo-auth-token",
    "square": "square-signature-key",
    "paddle": "pdl_ntfset_sdk_side",
    "box": "box-primary-key",
    "github": "github-webhook-secret",
    "hubspot": "hubspot-client-secret",
    "linear": "linear-webhook-secret",
    "shopify": "shopify-app-secret",
    "zoom": "zoom-webhook-secret-token",
    "razorpay": "razorpay-webhook-secret",
    "coinbase-commerce": "coinbase-shared-secret",
    "gocardless": "gocardless-endpoint-secret",
    "workos": "workos-webhook-secret",
    "elevenlabs": "wsec_elevenlabs_check",
    "openai": "whsec_b3BlbmFpLXNkay1zaWRlLWNoZWNr",
    "replicate": "whsec_cmVwbGljYXRlLXNkay1zaWRl",
    "resend": "whsec_cmVzZW5kLXNkay1zaWRlLWNoZWNr",
    "line": "line-channel-secret-check",
    "mux": "mux-signing-secret-check",
    "sanity": "sanity-webhook-secret-check",
    "hubspot-v1": "hubspot-v1-client-secret-check",
    "hubspot-v2": "hubspot-v2-client-secret-check",
    "vonage": "vonage-signature-secret-sdk-side-check",
    "messagebird": "messagebird-signing-key-sdk-side-check",
}
# Senders that sign as Svix or Standard Webhooks do: their SDKs are those SDKs (Polar's keys
# standardwebhooks with the base64 of its secret's bytes).
SAME_AS = {name: "svix" for name in ("clerk", "stytch", "vanta", "beehiiv", "guesty", "pleo")}
SAME_AS.update({name: "standard-webhooks" for name in ("supabase", "render", "etsy", "lithic", "shipbob",
                                                       "incident-io", "brex")})
SAME_AS["polar"] = "polar"
SAME_AS["bigcommerce"] = "polar"
SECRETS.update({name: SECRETS[kind] for name, kind in SAME_AS.items() if kind in SECRETS})
SECRETS["polar"] = "polar_whs_sdk_side_check"
SECRETS["bigcommerce"] = "bigcommerce-client-secret-check"
NEEDS_URL = {"twilio", "twilio-json", "plivo", "square", "hubspot", "hubspot-v2", "messagebird"}
BODIES = ['{"id":"evt_9","object":"event"}', '{"text":"caf\u00e9"}']
FORM = {"Body": "caf\u00e9 & more", "From": "+15550001111", "To": "+15550002222"}
# Plivo's SDK encodes non-ASCII bytes twice before its MAC (docs/providers.md): ASCII fields.
PLIVO_FORM = {"Text": "hello & more", "From": "+15550001111", "To": "+15550002222"}


def sign(binary, config, route, body_file, *extra):
    out = subprocess.run(
        [binary, "sign", "--config", str(config), "--route", route, "--body-file", str(body_file), *extra],
        capture_output=True, text=True, check=True,
    ).stdout
    return {k.lower(): v for k, v in (line.split(": ", 1) for line in out.splitlines())}


def raises(fn):
    try:
        fn()
        return False
    except Exception:  # the SDKs raise different types; any refusal counts
        return True


def python_checks(name, secret, body, h, target):
    """(accepts the signed body, accepts a tampered body) for one Python SDK."""
    tampered = body + " "
    name = SAME_AS.get(name, name)
    if name == "polar":
        key = base64.b64encode(secret.encode()).decode()
        check = lambda b: not raises(lambda: standardwebhooks.Webhook(key).verify(b, h))
    elif name == "stripe":
        check = lambda b: not raises(lambda: stripe.WebhookSignature.verify_header(b, h["stripe-signature"], secret, tolerance=300))
    elif name == "slack":
        check = lambda b: SignatureVerifier(secret).is_valid(b, h["x-slack-request-timestamp"], h["x-slack-signature"])
    elif name == "standard-webhooks":
        check = lambda b: not raises(lambda: standardwebhooks.Webhook(secret).verify(b, h))
    elif name == "svix":
        check = lambda b: not raises(lambda: svix.webhooks.Webhook(secret).verify(b, h))
    elif name == "twilio":
        check = lambda b: RequestValidator(secret).validate(URL + target, dict(urllib.parse.parse_qsl(b)), h["x-twilio-signature"])
        tampered = body.replace("more", "less")
    elif name == "twilio-json":
        check = lambda b: RequestValidator(secret).validate(URL + target, b, h["x-twilio-signature"])
    elif name == "plivo":
        check = lambda b: plivo_validate("POST", URL + target, h["x-plivo-signature-v3-nonce"], secret,
                                         h["x-plivo-signature-v3"], dict(urllib.parse.parse_qsl(b)))
        tampered = body.replace("more", "less")
    elif name == "square":
        check = lambda b: square_verify(request_body=b, signature_header=h["x-square-hmacsha256-signature"], signature_key=secret, notification_url=URL + target)
    elif name == "paddle":
        check = lambda b: not raises(lambda: PaddleSignature().verify(h["paddle-signature"], b, PaddleSecret(secret)) or 1 / 0)
    elif name == "box":
        full = {**h, "box-signature-version": "1", "box-signature-algorithm": "HmacSHA256"}
        check = lambda b: WebhooksManager.validate_message(b, full, secret)
    elif name == "line":
        check = lambda b: LineValidator(secret).validate(b, h["x-line-signature"])
    elif name == "razorpay":
        utility = razorpay.Client(auth=("rzp_test_check", "unused")).utility
        check = lambda b: not raises(lambda: utility.verify_webhook_signature(b, h["x-razorpay-signature"], secret))
    elif name == "coinbase-commerce":
        check = lambda b: not raises(lambda: CoinbaseSignature.verify_sig_header(b, h["x-cc-webhook-signature"], secret))
    elif name == "gocardless":
        check = lambda b: not raises(lambda: gocardless_webhooks.parse(b, secret, h["webhook-signature"]))
    elif name == "workos":
        check = lambda b: not raises(lambda: workos_verify(event_body=b.encode(), event_signature=h["workos-signature"], secret=secret))
    elif name == "elevenlabs":
        client = ElevenLabs(api_key="unused")
        check = lambda b: not raises(lambda: client.webhooks.construct_event(rawBody=b, sig_header=h["elevenlabs-signature"], secret=secret))
    elif name == "openai":
        client = openai.OpenAI(api_key="unused")
        check = lambda b: not raises(lambda: client.webhooks.verify_signature(b, h, secret=secret))
    elif name == "replicate":
        check = lambda b: not raises(lambda: ReplicateWebhooks.validate(headers=h, body=b, secret=ReplicateSecret(key=secret), tolerance=300))
    elif name == "resend":
        plain = {k.removeprefix("svix-"): v for k, v in h.items()}
        check = lambda b: not raises(lambda: resend.Webhooks.verify({"payload": b, "headers": plain, "webhook_secret": secret}))
    elif name == "vonage":
        # vonage-jwt checks the token; Vonage's docs add the payload_hash comparison.
        token = h["authorization"].removeprefix("Bearer ")
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        check = lambda b: vonage_jwt.verify_signature(token, secret) and \
            claims["payload_hash"] == hashlib.sha256(b.encode()).hexdigest()
    elif name == "messagebird":
        validator = MessageBirdValidator(secret)
        check = lambda b: not raises(lambda: validator.validate_signature(h["messagebird-signature-jwt"], URL + target, b.encode()))
    else:
        raise AssertionError(name)
    return bool(check(body)), bool(check(tampered))


def main():
    binary = sys.argv[1]
    failures = []
    npm_cases = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        config = tmp / "gateway.yaml"
        routes = ""
        for name, secret in SECRETS.items():
            routes += f"  - name: {name}\n    path: /{name}\n    provider: {name}\n    secrets: ['{secret}']\n"
            if name in NEEDS_URL:
                routes += f"    public_url: {URL}\n"
        config.write_text(f"listen: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nroutes:\n{routes}")
        checked = 0
        for name, secret in SECRETS.items():
            bodies = {"twilio": [urllib.parse.urlencode(FORM)], "plivo": [urllib.parse.urlencode(PLIVO_FORM)]}.get(name, BODIES)
            for i, body in enumerate(bodies):
                if name == "linear":  # Linear's timestamp lives in the signed body
                    body = json.dumps({"action": "create", "webhookTimestamp": int(time.time() * 1000), "n": i})
                if name == "gocardless":  # GoCardless's SDK parses what it verifies: a list of events
                    body = json.dumps({"events": [{"id": f"EV{i}", "action": "paid_out"}]})
                if name == "zoom":  # Zoom's SDK takes only events with a name
                    body = json.dumps({"event": "meeting.ended", "payload": {"n": i}}, separators=(",", ":"))
                body_file = tmp / f"{name}{i}"
                body_file.write_bytes(body.encode())
                target = f"/{name}"
                extra = []
                if name == "twilio-json":
                    target += "?bodySHA256=" + hashlib.sha256(body.encode()).hexdigest()
                if name == "plivo":
                    target += "?b=2&a=1"
                if name in ("standard-webhooks", "svix", "openai", "replicate", "resend", "plivo", *SAME_AS):
                    extra += ["--id", f"msg_sdk_{i}"]
                extra += ["--path", target]
                h = sign(binary, config, name, body_file, *extra)
                if name in ("github", "hubspot", "hubspot-v1", "hubspot-v2", "linear", "shopify", "zoom", "mux", "sanity"):
                    # Zoom's SDK checks the re-serialized JSON, so added whitespace is no tamper.
                    tampered = body.replace('"n":', '"m":') if name == "zoom" else body + " "
                    for what, b, expect in (("signed", body, True), ("tampered", tampered, False)):
                        npm_cases.append({"provider": name, "what": f"body {i} {what}", "expect": expect,
                                          "secret": secret, "headers": h, "body": b, "url": URL + target})
                    continue
                good, bad = python_checks(name, secret, body, h, target)
                if not good:
                    failures.append(f"{name} body {i}: the SDK refused hookgate sign: {h}")
                if bad:
                    failures.append(f"{name} body {i}: the SDK accepted a tampered body")
                checked += 1
    node = subprocess.run(["node", str(HERE / "npm" / "verify.mjs"), json.dumps(npm_cases)], capture_output=True, text=True)
    if node.returncode != 0:
        lines = node.stdout.strip().splitlines() or [node.stderr.strip()]
        failures.extend(line.removeprefix("FAIL ") for line in lines)
    for f in failures:
        print("FAIL", f)
    if failures:
        sys.exit(1)
    print(f"sdk-side verification: {len(SECRETS)} senders' SDKs accept hookgate sign "
          f"({checked} Python checks, {len(npm_cases)} npm checks, tampered bodies refused)")


main()
