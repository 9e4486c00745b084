#!/usr/bin/env python3
"""The other direction: what `hookgate sign` produces must pass each sender SDK's own verifier.

Usage: sdk_verify.py <hookgate binary>
"""
import subprocess
import sys
import tempfile
import pathlib

import stripe
from slack_sdk.signature import SignatureVerifier

SECRETS = {"stripe": "whsec_sdk_side_check", "slack": "slack-signing-secret-check"}
BODIES = ['{"id":"evt_9","object":"event"}', '{"text":"caf\u00e9"}', ""]


def sign(binary, config, route, body_file):
    out = subprocess.run(
        [binary, "sign", "--config", str(config), "--route", route, "--body-file", str(body_file)],
        capture_output=True, text=True, check=True,
    ).stdout
    return {k.lower(): v for k, v in (line.split(": ", 1) for line in out.splitlines())}


def main():
    binary = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        config = tmp / "gateway.yaml"
        routes = "".join(
            f"  - name: {name}\n    path: /{name}\n    provider: {name}\n    secrets: ['{secret}']\n"
            for name, secret in SECRETS.items()
        )
        config.write_text(f"listen: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nroutes:\n{routes}")
        for i, body in enumerate(BODIES):
            body_file = tmp / f"body{i}"
            body_file.write_bytes(body.encode())
            headers = sign(binary, config, "stripe", body_file)
            try:
                stripe.WebhookSignature.verify_header(body, headers["stripe-signature"], SECRETS["stripe"], tolerance=300)
            except Exception as e:  # the SDK raises on any failure
                failures.append(f"stripe body {i}: {e}")
            headers = sign(binary, config, "slack", body_file)
            ok = SignatureVerifier(SECRETS["slack"]).is_valid(
                body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
            )
            if not ok:
                failures.append(f"slack body {i}: slack_sdk refused {headers}")
        # And a tampered body must fail the SDK too, so this check can fail.
        headers = sign(binary, config, "stripe", tmp / "body0")
        try:
            stripe.WebhookSignature.verify_header(BODIES[0] + " ", headers["stripe-signature"], SECRETS["stripe"], tolerance=300)
            failures.append("stripe accepted a tampered body")
        except stripe.SignatureVerificationError:
            pass
    for f in failures:
        print("FAIL", f)
    if failures:
        sys.exit(1)
    print(f"sdk-side verification: stripe and slack accept hookgate sign for {len(BODIES)} bodies each")


main()
