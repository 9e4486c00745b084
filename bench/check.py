#!/usr/bin/env python3
"""Before timing: a peer must forward a good delivery byte for byte and, if it verifies,
answer 401 to a tampered one and to a replay.

Usage: check.py <port> <secret> <verifies: yes|no>
"""
import hashlib
import hmac
import http.client
import os
import sys

port, secret, verifies = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3] == "yes"


def post(path, body, signature, echo=True):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    if echo:
        headers["X-Echo"] = "1"
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def sign(body):
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


failures = []
for size in (1024, 65536):
    body = b'{"check":"' + os.urandom(8).hex().encode() + b'","pad":"' + bytes(range(256)) * (size // 256) + b'"}'
    status, echoed = post("/hook/off", body, sign(body))
    if status != 200 or echoed != body:
        failures.append(f"{size} B good delivery: status {status}, echoed {len(echoed)} B of {len(body)}, equal={echoed == body}")
    if verifies:
        tampered = body[:-3] + b"X" + body[-2:]
        status, _ = post("/hook/off", tampered, sign(body))
        if status != 401:
            failures.append(f"{size} B tampered delivery: status {status}, expected 401")
        first, _ = post("/hook/on", body, sign(body), echo=False)
        second, _ = post("/hook/on", body, sign(body), echo=False)
        if (first, second) != (200, 401):
            failures.append(f"{size} B replay on /hook/on: {first} then {second}, expected 200 then 401")

if failures:
    print(f"port {port}: " + "; ".join(failures))
    sys.exit(1)
print(f"port {port}: forwards byte for byte" + (", refuses tampered and replayed deliveries" if verifies else ""))
