"""What every vector generator shares: the fixed bodies, times and URL, the MAC, and the
shapes most senders' signatures take (one MAC in a header, a timestamped MAC, a list)."""
import base64
import datetime
import hashlib
import hmac
from unittest import mock

BODIES = [
    '{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"amount":2000}}}',
    '{"text":"unicode: caf\u00e9 \u2713","n":[1,2,3]}',
    "",
]
TIMESTAMPS = [1700000000, 1750000123]
PUBLIC_URL = "https://hooks.example.com"


def mac(algorithm, secret, message):
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, message.encode(), algorithm).digest()


def rfc3339(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def vector(headers, body, ts, secret=None, **extra):
    v = {"headers": headers, "body": body, "timestamp": ts}
    if secret is not None:
        v["secret"] = secret
    v.update(extra)
    return v


def each(bodies=BODIES):
    for body in bodies:
        for ts in TIMESTAMPS:
            yield body, ts


def at(ts):
    """Pins the clock the SDKs' verifiers read, so they judge each vector at its own time."""
    return mock.patch("time.time", return_value=float(ts))


def json_bodies():
    """The bodies an SDK that also parses JSON accepts (not the empty one)."""
    return [b for b in BODIES if b]


def plain(header, algorithm=hashlib.sha256, prefix="", encoding="hex", secret="whsec-docs-formula-0000"):
    def make():
        for body in BODIES:
            digest = mac(algorithm, secret, body)
            text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
            yield vector({header: prefix + text}, body, TIMESTAMPS[0], secret)
    return make


def timestamped(sig_header, ts_header, payload, prefix="", encoding="hex", stamp=str, secret="ts-docs-formula-0000"):
    def make():
        for body, ts in each():
            written = stamp(ts)
            digest = mac(hashlib.sha256, secret, payload(written, body))
            text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
            headers = {sig_header: prefix + text}
            if ts_header:
                headers[ts_header] = written
            yield vector(headers, body, ts, secret)
    return make


def listed(header, item, payload, secret="list-docs-formula-0000"):
    def make():
        for body, ts in each():
            signature = mac(hashlib.sha256, secret, payload(ts, body)).hex()
            yield vector({header: item(ts, signature)}, body, ts, secret)
    return make


def token_vectors(header, token):
    def make():
        for body in BODIES:
            yield vector({header: token}, body, TIMESTAMPS[0], token)
    return make


def standard_webhooks_vectors(prefix, make, secret):
    for i, (body, ts) in enumerate(each()):
        msg_id = f"msg_2Kx{i:04d}"
        when = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
        signature = make(secret).sign(msg_id, when, body)
        headers = {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(ts), f"{prefix}-signature": signature}
        yield vector(headers, body, ts, secret)
