"""Vectors for the second round of senders (docs/providers.md says how each is proven).

Standard Webhooks and Svix senders are signed by the `standardwebhooks` and `svix` SDKs, as
those senders' own SDKs do. The rest follow the formula in the sender's docs (or, where the
preset says "Format: peers' records", as the peers record it), computed here with Python's
standard library, independently of hookgate. Several vectors carry a second, foreign
signature beside the right one, as senders do while a secret rotates.
"""
import base64
import hashlib
import json
import urllib.parse
from importlib.metadata import version

import standardwebhooks
import svix.webhooks
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import BODIES, PUBLIC_URL, TIMESTAMPS, each, mac, standard_webhooks_vectors, token_vectors, vector

FORMULA = "docs formula (Python hmac), no SDK signs or verifies"
SECONDARY = "peers' formula (Python hmac), no SDK signs or verifies"
OTHER_KEY = "a-secret-the-route-does-not-hold"


def encode(digest, encoding):
    if encoding == "hex":
        return digest.hex()
    if encoding == "HEX":
        return digest.hex().upper()
    return base64.b64encode(digest).decode()


def body_mac(header, algorithm=hashlib.sha256, prefix="", encoding="hex", secret="catalog-secret-0000", key=None):
    """One MAC of the body in one header; `key` is the MAC key when the configured `secret`
    is an encoding of it."""
    def make():
        for body in BODIES:
            text = encode(mac(algorithm, key or secret, body), encoding)
            yield vector({header: prefix + text}, body, TIMESTAMPS[0], secret)
    return make


def stamped(sig_header, ts_header, payload, prefix="", encoding="hex", ms=False, extra=None,
            secret="catalog-stamped-0000"):
    """A MAC of `payload(stamp, body)` in one header, the timestamp in another."""
    def make():
        for i, (body, ts) in enumerate(each()):
            stamp = str(ts * 1000 + 417) if ms else str(ts)
            headers = dict(extra(i)) if extra else {}
            digest = mac(hashlib.sha256, secret, payload(stamp, body, headers))
            headers.update({sig_header: prefix + encode(digest, encoding), ts_header: stamp})
            yield vector(headers, body, ts, secret)
    return make


def listed(header, item, payload, algorithm=hashlib.sha256, encoding="hex", ms=False,
           secret="catalog-listed-0000"):
    """`item(stamp, signatures)` in one header: the right signature and, for every second
    vector, a foreign one before it."""
    def make():
        for i, (body, ts) in enumerate(each()):
            stamp = str(ts * 1000 + 417) if ms else str(ts)
            right = encode(mac(algorithm, secret, payload(stamp, body)), encoding)
            other = encode(mac(algorithm, OTHER_KEY, payload(stamp, body)), encoding)
            yield vector({header: item(stamp, [other, right] if i % 2 else [right])}, body, ts, secret)
    return make


def header_list(names, secrets):
    """One base64 HMAC-SHA256 of the body per key, each in its own header (DocuSign, Primer):
    the route holding any one of the keys verifies."""
    def make():
        for body in BODIES:
            headers = {name: encode(mac(hashlib.sha256, s, body), "b64") for name, s in zip(names, secrets)}
            for held in secrets:
                yield vector(headers, body, TIMESTAMPS[0], held)
    return make


def revolut():
    secret = "wsk_catalog_revolut_0000"
    for i, (body, ts) in enumerate(each()):
        stamp = str(ts * 1000 + 360)
        sigs = ["v1=" + mac(hashlib.sha256, k, f"v1.{stamp}.{body}").hex() for k in (OTHER_KEY, secret)]
        header = ",".join(sigs if i % 2 else sigs[1:])
        yield vector({"Revolut-Signature": header, "Revolut-Request-Timestamp": stamp}, body, ts, secret)


def mandrill():
    key = "mandrill-webhook-key-0000"
    for i in range(2):
        events = json.dumps([{"event": "send", "_id": f"id{i}", "msg": {"subject": "caf\u00e9"}}])
        form = {"mandrill_events": events}
        target = "/hook"
        signed = PUBLIC_URL + target + "".join(k + v for k, v in sorted(form.items()))
        signature = base64.b64encode(mac(hashlib.sha1, key, signed)).decode()
        headers = {"X-Mandrill-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
        yield vector(headers, urllib.parse.urlencode(form), TIMESTAMPS[0], key, public_url=PUBLIC_URL)


def trello():
    secret = "trello-app-secret-0000"
    for body in BODIES:
        for target in ["/hook", "/hook?board=1"]:
            signature = base64.b64encode(mac(hashlib.sha1, secret, body + PUBLIC_URL + target)).decode()
            yield vector({"X-Trello-Webhook": signature}, body, TIMESTAMPS[0], secret, target=target,
                         public_url=PUBLIC_URL)


def basic_auth(credentials):
    def make():
        for i, body in enumerate(BODIES):
            scheme = "basic" if i == 1 else "Basic"  # RFC 7617: the scheme name is case-insensitive
            value = f"{scheme} " + base64.b64encode(credentials.encode()).decode()
            yield vector({"Authorization": value}, body, TIMESTAMPS[0], credentials)
    return make


def meraki():
    secret = "meraki-shared-secret-0000"
    for i in range(2):
        body = json.dumps({"version": "0.1", "sharedSecret": secret, "alertType": "Settings changed", "n": i})
        yield vector({"Content-Type": "application/json"}, body, TIMESTAMPS[0], secret)


def svix_alias(secret):
    return lambda: standard_webhooks_vectors("svix", svix.webhooks.Webhook, secret)


def standard_alias(secret, raw_key=False):
    """Signed by the standardwebhooks SDK; a sender whose key is the secret's own bytes
    (Polar) is signed with the base64 of them, as its SDK does."""
    make = standardwebhooks.Webhook
    if raw_key:
        make = lambda s: standardwebhooks.Webhook(base64.b64encode(s.encode()).decode())
    return lambda: standard_webhooks_vectors("webhook", make, secret)


def smartcar():
    """Deliveries, and the signed VERIFY challenge with the answer Smartcar expects."""
    token = "smartcar-management-token-0000"
    yield from body_mac("SC-Signature", secret=token)()
    body = json.dumps({"eventType": "VERIFY", "data": {"challenge": "2d2b6a3c-challenge"}})
    answer = json.dumps({"challenge": mac(hashlib.sha256, token, "2d2b6a3c-challenge").hex()},
                        separators=(",", ":"))
    yield vector({"SC-Signature": mac(hashlib.sha256, token, body).hex()}, body, TIMESTAMPS[0], token,
                 handshake=answer)


def front():
    secret = "front-app-secret-0000"
    for body, ts in each():
        stamp = str(ts * 1000 + 250)
        signature = base64.b64encode(mac(hashlib.sha256, secret, f"{stamp}:{body}")).decode()
        yield vector({"X-Front-Signature": signature, "X-Front-Request-Timestamp": stamp}, body, ts, secret)


def discord_events():
    # A fixed Ed25519 key: Ed25519 signatures are deterministic, so the vectors are too.
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"hookgate discord events").digest())
    public_key = private.public_key().public_bytes_raw().hex()
    bodies = [json.dumps({"version": 1, "application_id": "1234", "type": 1,
                          "event": {"type": "APPLICATION_AUTHORIZED", "data": {"n": i}}}) for i in range(2)]
    for body in bodies:
        for ts in TIMESTAMPS:
            signature = private.sign(f"{ts}{body}".encode()).hex()
            headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": str(ts)}
            yield vector(headers, body, ts, public_key=public_key)


def circle():
    # A fixed P-256 key and RFC 6979 deterministic signing, so the vectors are reproducible.
    private = ec.derive_private_key(0xC12C1E_C12C1E_C12C1E, ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_key = base64.b64encode(der).decode()
    for body in BODIES:
        signature = private.sign(body.encode(), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        headers = {"X-Circle-Signature": base64.b64encode(signature).decode(),
                   "X-Circle-Key-Id": "879dc113-5ca4-4ff7-a6b7-54652083fcf8"}
        yield vector(headers, body, TIMESTAMPS[0], public_key=public_key)


def pandadoc():
    """The signature in the query string, percent-encoded as a URL carries it."""
    secret = "pandadoc-shared-key-0000"
    for body in BODIES:
        signature = mac(hashlib.sha256, secret, body).hex()
        yield vector({"Content-Type": "application/json"}, body, TIMESTAMPS[0], secret,
                     target=f"/hook?event=document_state_changed&signature={signature}")


def mercado_pago():
    """x-signature: ts=<ts>,v1=<hex HMAC-SHA256> over "id:<data.id>;request-id:<x-request-id>;ts:<ts>;",
    data.id taken from the query and lowercased (alphanumeric ids are sent in capitals)."""
    secret = "mercado-pago-secret-0000"
    ids = ["1234567890", "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3"]
    for i, (body, ts) in enumerate(each()):
        data_id = ids[i % 2]
        request_id = f"bb56a2f1-6aae-46ac-982e-9dcd3581{i:04x}"
        manifest = f"id:{data_id.lower()};request-id:{request_id};ts:{ts};"
        signature = mac(hashlib.sha256, secret, manifest).hex()
        headers = {"Content-Type": "application/json", "x-request-id": request_id,
                   "x-signature": f"ts={ts},v1={signature}"}
        yield vector(headers, body, ts, secret, target=f"/hook?data.id={data_id}&type=payment")


def secret_digest(header, secret):
    """A plain SHA-256 of the secret followed by the body (not an HMAC)."""
    def make():
        for body in BODIES:
            yield vector({header: hashlib.sha256((secret + body).encode()).hexdigest()}, body, TIMESTAMPS[0], secret)
    return make


def providers():
    svix_source = f"svix (PyPI) {version('svix')}: Webhook.sign"
    sw_source = f"standardwebhooks (PyPI) {version('standardwebhooks')}: Webhook.sign"
    teams_token = base64.b64encode(b"teams-outgoing-webhook-token-0000").decode()
    airtable_secret = base64.b64encode(b"airtable-mac-secret-0000").decode()
    hex_secret = hashlib.sha256(b"catalog hex secret").hexdigest()
    docusign = ["X-DocuSign-Signature-1", "X-DocuSign-Signature-2"]
    rows = [
        ("clerk", svix_source, svix_alias("whsec_Y2xlcmstY2F0YWxvZy1zZWNyZXQ=")),
        ("mercado-pago", SECONDARY, mercado_pago),
        ("stytch", svix_source, svix_alias("whsec_c3R5dGNoLWNhdGFsb2ctc2VjcmV0")),
        ("vanta", svix_source, svix_alias("whsec_dmFudGEtY2F0YWxvZy1zZWNyZXQ=")),
        ("beehiiv", svix_source, svix_alias("whsec_YmVlaGlpdi1jYXRhbG9nLXNlY3JldA==")),
        ("guesty", svix_source, svix_alias("whsec_Z3Vlc3R5LWNhdGFsb2ctc2VjcmV0")),
        ("pleo", svix_source, svix_alias("whsec_cGxlby1jYXRhbG9nLXNlY3JldA==")),
        ("supabase", sw_source, standard_alias("whsec_c3VwYWJhc2UtY2F0YWxvZy1zZWNyZXQ=")),
        ("render", sw_source, standard_alias("whsec_cmVuZGVyLWNhdGFsb2ctc2VjcmV0")),
        ("etsy", sw_source, standard_alias("whsec_ZXRzeS1jYXRhbG9nLXNlY3JldA==")),
        ("lithic", sw_source, standard_alias("whsec_bGl0aGljLWNhdGFsb2ctc2VjcmV0")),
        ("shipbob", sw_source, standard_alias("whsec_c2hpcGJvYi1jYXRhbG9nLXNlY3JldA==")),
        ("incident-io", sw_source, standard_alias("whsec_aW5jaWRlbnQtY2F0YWxvZy1zZWNyZXQ=")),
        ("brex", sw_source, standard_alias("YnJleC1jYXRhbG9nLXNlY3JldC1iYXNlNjQ=")),
        ("polar", sw_source + ", keyed as Polar's SDK keys it", standard_alias("polar_whs_catalog0000", raw_key=True)),
        ("bigcommerce", sw_source + ", keyed with the secret's own bytes", standard_alias("bigcommerce-client-secret-0000", raw_key=True)),
        ("woocommerce", SECONDARY, body_mac("X-WC-Webhook-Signature", encoding="b64")),
        ("docusign", SECONDARY, header_list(docusign, ["docusign-key-one-0000", "docusign-key-two-0000"])),
        ("jira", SECONDARY, body_mac("X-Hub-Signature", prefix="sha256=")),
        ("microsoft-teams", FORMULA, body_mac("Authorization", prefix="HMAC ", encoding="b64", secret=teams_token,
                                               key=base64.b64decode(teams_token))),
        ("notion", FORMULA, body_mac("X-Notion-Signature", prefix="sha256=", secret="secret_notion_verification_0000")),
        ("airtable", SECONDARY, body_mac("X-Airtable-Content-MAC", prefix="hmac-sha256=", secret=airtable_secret,
                                         key=base64.b64decode(airtable_secret))),
        ("sentry", SECONDARY, body_mac("Sentry-Hook-Signature")),
        ("pagerduty", FORMULA, listed("X-PagerDuty-Signature", lambda t, s: ",".join("v1=" + x for x in s),
                                      lambda t, b: b)),
        ("vercel", SECONDARY, body_mac("x-vercel-signature", hashlib.sha1)),
        ("heroku", SECONDARY, body_mac("Heroku-Webhook-Hmac-SHA256", encoding="b64")),
        ("circleci", FORMULA, listed("circleci-signature", lambda t, s: ",".join("v1=" + x for x in s), lambda t, b: b)),
        ("segment", SECONDARY, body_mac("X-Signature", hashlib.sha1)),
        ("quickbooks", SECONDARY, body_mac("intuit-signature", encoding="b64")),
        ("checkout-com", SECONDARY, body_mac("Cko-Signature")),
        ("pusher", FORMULA, body_mac("X-Pusher-Signature")),
        ("lemon-squeezy", SECONDARY, body_mac("X-Signature")),
        ("paystack", SECONDARY, body_mac("x-paystack-signature", hashlib.sha512)),
        ("squarespace", SECONDARY, body_mac("Squarespace-Signature", secret=hex_secret, key=bytes.fromhex(hex_secret))),
        ("launchdarkly", SECONDARY, body_mac("X-LD-Signature")),
        ("clickup", FORMULA, body_mac("X-Signature")),
        ("cal-com", SECONDARY, body_mac("X-Cal-Signature-256")),
        ("nylas", SECONDARY, body_mac("X-Nylas-Signature")),
        ("hcp-terraform", SECONDARY, body_mac("X-TFE-Notification-Signature", hashlib.sha512)),
        ("webex", SECONDARY, body_mac("X-Spark-Signature", hashlib.sha1)),
        ("mongodb-atlas", SECONDARY, body_mac("X-MMS-Signature", hashlib.sha1, encoding="b64")),
        ("npm", SECONDARY, body_mac("x-npm-signature", prefix="sha256=")),
        ("modern-treasury", SECONDARY, body_mac("X-Signature")),
        ("dwolla", SECONDARY, body_mac("X-Request-Signature-SHA-256")),
        ("primer", SECONDARY, header_list(["X-Signature-Primary", "X-Signature-Secondary"],
                                          ["primer-key-new-0000", "primer-key-old-0000"])),
        ("bolt", SECONDARY, body_mac("X-Bolt-Hmac-Sha256", encoding="b64")),
        ("uber-eats", SECONDARY, body_mac("X-Uber-Signature")),
        ("tiendanube", SECONDARY, body_mac("x-linkedstore-hmac-sha256")),
        ("commerce-layer", SECONDARY, body_mac("X-CommerceLayer-Signature", encoding="b64")),
        ("aftership", SECONDARY, body_mac("aftership-hmac-sha256", encoding="b64")),
        ("easypost", SECONDARY, body_mac("X-Hmac-Signature", prefix="hmac-sha256-hex=")),
        ("onfleet", SECONDARY, body_mac("X-Onfleet-Signature", hashlib.sha512, secret=hex_secret,
                                        key=bytes.fromhex(hex_secret))),
        ("tally", SECONDARY, body_mac("Tally-Signature", encoding="b64")),
        ("castle", SECONDARY, body_mac("X-Castle-Signature", encoding="b64")),
        ("hookdeck", SECONDARY, body_mac("x-hookdeck-signature", encoding="b64")),
        ("alchemy", SECONDARY, body_mac("X-Alchemy-Signature")),
        ("fireflies", SECONDARY, body_mac("x-hub-signature")),
        ("picqer", SECONDARY, body_mac("X-Picqer-Signature", encoding="b64")),
        ("dub", SECONDARY, body_mac("Dub-Signature")),
        ("maxio", SECONDARY, body_mac("X-Chargify-Webhook-Signature-Hmac-Sha-256")),
        ("attentive", SECONDARY, body_mac("x-attentive-hmac-sha256")),
        ("authorize-net", SECONDARY, body_mac("X-ANET-Signature", hashlib.sha512, prefix="sha512=", encoding="HEX",
                                              secret=hex_secret.upper())),
        ("webflow", FORMULA, stamped("x-webflow-signature", "x-webflow-timestamp", lambda t, b, h: f"{t}:{b}", ms=True)),
        ("customer-io", SECONDARY, stamped("X-CIO-Signature", "X-CIO-Timestamp", lambda t, b, h: f"v0:{t}:{b}")),
        ("tiktok", FORMULA, listed("TikTok-Signature", lambda t, s: f"t={t}," + ",".join("s=" + x for x in s),
                                   lambda t, b: f"{t}.{b}")),
        ("revolut", FORMULA, revolut),
        ("persona", SECONDARY, listed("Persona-Signature", lambda t, s: f"t={t}," + ",".join("v1=" + x for x in s),
                                      lambda t, b: f"{t}.{b}")),
        ("buildkite", FORMULA, listed("X-Buildkite-Signature", lambda t, s: f"timestamp={t},signature={s[-1]}",
                                      lambda t, b: f"{t}.{b}")),
        ("frame-io", SECONDARY, stamped("X-Frameio-Signature", "X-Frameio-Request-Timestamp",
                                        lambda t, b, h: f"v0:{t}:{b}", prefix="v0=")),
        ("knock", SECONDARY, listed("x-knock-signature", lambda t, s: f"t={t}," + ",".join("s=" + x for x in s),
                                    lambda t, b: f"{t}.{b}", encoding="b64", ms=True)),
        ("airship", SECONDARY, stamped("X-UA-Signature", "X-UA-Timestamp", lambda t, b, h: f"{t}:{b}")),
        ("shippo", SECONDARY, listed("Shippo-Auth-Signature", lambda t, s: f"t={t}," + ",".join("v1=" + x for x in s),
                                     lambda t, b: f"{t}.{b}")),
        ("tailscale", SECONDARY, listed("Tailscale-Webhook-Signature",
                                        lambda t, s: f"t={t}," + ",".join("v1=" + x for x in s), lambda t, b: f"{t}.{b}")),
        ("affirm", SECONDARY, listed("X-Affirm-Signature", lambda t, s: f"t={t}," + ",".join("v0=" + x for x in s),
                                     lambda t, b: f"{t}.{b}", algorithm=hashlib.sha512)),
        ("sinch", SECONDARY, stamped(
            "x-sinch-webhook-signature", "x-sinch-webhook-signature-timestamp",
            lambda t, b, h: f"{b}.{h['x-sinch-webhook-signature-nonce']}.{t}", encoding="b64",
            extra=lambda i: {"x-sinch-webhook-signature-nonce": f"01FJA8B4A7BM43YGWSG9GBV06{i}"})),
        ("mailchimp-transactional", SECONDARY, mandrill),
        ("trello", SECONDARY, trello),
        ("linkedin", SECONDARY, plain_prefixed_payload()),
        ("auth0", "peers' records: the configured token itself, no signature", token_vectors("Authorization", "Bearer auth0-log-stream-0000")),
        ("telegram", "docs: the secret_token itself, no signature", token_vectors("X-Telegram-Bot-Api-Secret-Token", "telegram_secret_token_0000")),
        ("hugging-face", "peers' records: the secret itself, no signature", token_vectors("X-Webhook-Secret", "hf-webhook-secret-0000")),
        ("meraki", "peers' records: sharedSecret in the body, no signature", meraki),
        ("postmark", "RFC 7617 Basic credentials, no signature", basic_auth("postmark:hook-password-0000")),
        ("pipedrive", "RFC 7617 Basic credentials, no signature", basic_auth("pipedrive:hook-password-0000")),
        ("chargebee", "RFC 7617 Basic credentials, no signature", basic_auth("chargebee:hook-password-0000")),
        ("sparkpost", "RFC 7617 Basic credentials, no signature", basic_auth("sparkpost:hook-password-0000")),
        ("mixpanel", "RFC 7617 Basic credentials, no signature", basic_auth("mixpanel:hook-password-0000")),
        ("smartsheet", SECONDARY, body_mac("Smartsheet-Hmac-SHA256")),
        ("smartcar", SECONDARY, smartcar),
        ("front", SECONDARY, front),
        ("ringcentral", "peers' records: the verification token itself, no signature",
         token_vectors("Verification-Token", "ringcentral-verification-token-0000")),
        ("worldline", SECONDARY, body_mac("X-GCS-Signature", encoding="b64")),
        ("discord-webhook-events", "docs formula (Ed25519, Python cryptography), no SDK signs or verifies", discord_events),
        ("circle", "docs formula (ECDSA P-256, Python cryptography), no SDK signs or verifies", circle),
        ("recurly", "formula of Recurly's own client (recurly-client-ruby Webhooks.verify_signature), Python hmac",
         listed("recurly-signature", lambda t, sigs: ",".join([t, *sigs]), lambda t, b: f"{t}.{b}", ms=True)),
        ("pandadoc", FORMULA, pandadoc),
        ("recharge", "docs formula (Python hashlib), no SDK signs or verifies", secret_digest("X-Recharge-Hmac-Sha256", "recharge-client-secret-0000")),
    ]
    return rows


def plain_prefixed_payload():
    """LinkedIn: the MAC covers the literal `hmacsha256=` followed by the body. Its deliveries
    are JSON: an empty body would sign as a token its challenge answers, so the route refuses
    it (docs/providers.md, Known limits)."""
    secret = "linkedin-client-secret-0000"
    def make():
        for body in [b for b in BODIES if b]:
            yield vector({"X-LI-Signature": mac(hashlib.sha256, secret, "hmacsha256=" + body).hex()}, body,
                         TIMESTAMPS[0], secret)
    return make
