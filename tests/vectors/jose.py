"""Vectors for the JWT, RSA, Amazon SNS and Braintree presets: tokens minted with PyJWT (the JOSE library the Vonage
and MessageBird SDKs verify with) and RSA PKCS#1 v1.5 signatures made with Python
cryptography under a fixed test key. Where a sender's SDK verifies, it checks every vector
at the vector's own time, or generation fails."""
import base64
import contextlib
import datetime
import hashlib
import json
import pathlib
import subprocess
from importlib.metadata import version
from unittest import mock

import jwt
import vonage_jwt
from messagebird.request_validator import RequestValidator as MessageBirdValidator
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from common import BODIES, TIMESTAMPS, PUBLIC_URL, vector, each, json_bodies

# A 2048-bit RSA key made for these vectors (PKCS#1 v1.5 signatures are deterministic).
RSA_TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCh+1iVo7lxUaQL
bTVRoRCg0SIK8gegeZ2BtYG+9thIwHkzfr/sa7zqgDPGjTknUoccjVpAif6nzQPp
1CT2AvJpAs9BhEvvWQE8pIkz3S1tN+OLs49BhS1sm5FvrauNh6Ryr4UhBw39Y8R2
cIL4fCqjm8jjxEa1asw13QTNyygajbHLWGavMv4jm38ucaa0Jy15Zsm6Evghc4Ae
+4GSQHldSLKL//weiBuPeH5bLJzukPgGjRrunqy7vK11OK+wiCbTqYbz/MkKa7Lz
EphPN9lFXEDATMECJV2YzMIQkV0Wf5Q3Zk6bfWWSpwhvgTK1a5RA84F6frE4M/rx
YVBt92DLAgMBAAECggEAObMf5gXxO9V6Gvvm31IBa1ezybRXVSmdGqQ+OHkTqC6v
vdErqpriK6JJTzPlJQW3zUro2E6PoNRdzYBdPijkktWGYG8w4WySDTkLCqeB1ALx
kkT/Bbbb7HEqCF8T2hF0Wcn+ITqzGAze4dXIQZ1xTuBiWggDrAIEBjfZyzjP60z2
rLoIFGNuH6T3DFPzXeRShxqWMbwaoAuOnJuDNE0ZUZWA7S6NlL6RhLXZKVjBBBbs
HwGCEQpaVLk/Y2h48UHyL9rUtaJ8I8IhHpnNtpXNh9xeSZTyg1+lOuYRs8V5f5bI
Bw7GkZ85kizxrTOfJEsT0tZ35BgakNDI+Z/wWXhSOQKBgQDYb6jtieLmX30qUzXY
ApMGlkfPsMngve6Booj0KgoMI3nKFtEKDqS+lLeIjHA08RHzu5gze3bI4lDKcR1j
YjadeMSUvZIK8tc2RGiECWQJskXfEEndb/mVOGnUiIhEJoNHAS/uNEYfkBc4+6M9
MGpPLsi9BFovHaqgR9cUKPz2xQKBgQC/l3EthR3il2X8gCO387e+JZLI58JkiFSH
Qzb/ligWXjeVVt5FjbLkDhJcn0PrXSy521PQRdQ3PpY/O4IT+hGAYxi+OpfFbPgJ
iCce1CYTerjiYmnm6X25gC80s75tZX5Z2KcyxP+6lac/B42Yyt3ZOMkyBu0RcL84
npYAji3yTwKBgA6Vd4yJ/gAH7ycq9DXZ9o47Ehusje3W3ntduFy7eHHY8hvr7an/
0poE61kIHYdztwH1YgwWBasDlO4PMSvBMmzp9lUPcQfL1TSS53f+Kf99Q7gEIPYK
1YZ4hqkLiiMNdUsTiWdDnnYB/46XZih5WrB7NouF/42tMhIaxSNWn7UBAoGAdrs9
Uj5ahN/aPh6TBB6vUdErJAIsP+0UpTaMUNwXP7VnsM7CtEvZ/uaRjoDMsIFvhEZd
rIZ5uzq4FbulIwgn7G59GPZqs9iR5iZQSBSk/BFjnjfq9UThuyGrH3f8nQL2yGsx
Qo8/A7xWhwMBRx0BWuqMFMqiA9rhRg9RWkrCQpUCgYAqxRxi06NO9j9wHt2iCUWD
1kLE7LXc7Ibzoi5XbhD4EpA0wJTHc3cEjKEvj32eiBPd4u6BZwazR4ZHO8FvDoey
rRIdes510aU2rcox1v+BkvkZlvHqF47pWTcODZvxch5lNiMoFHVtI0/oOLpq5lY7
YJPu/hqL8ekAd2K7vAcz1w==
-----END PRIVATE KEY-----
"""
SECONDARY = "peers' formula (PyJWT), no SDK signs or verifies"


@contextlib.contextmanager
def clock(ts):
    """Pins the clock PyJWT reads (datetime.now), so tokens are judged at their own time."""
    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.fromtimestamp(ts, tz)
    with mock.patch("jwt.api_jwt.datetime", Frozen):
        yield


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


def vonage():
    secret = "vonage-signature-secret-0000-00000"
    for i, (body, ts) in enumerate(each(json_bodies())):
        claims = {"iat": ts, "jti": f"7f4a-{i}", "iss": "Vonage", "payload_hash": sha256_hex(body),
                  "api_key": "abcd1234", "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}
        token = jwt.encode(claims, secret, algorithm="HS256")
        with clock(ts):
            assert vonage_jwt.verify_signature(token, secret)
        yield vector({"Authorization": f"Bearer {token}"}, body, ts, secret)


def messagebird():
    secret = "messagebird-signing-key-0000-00000"
    target = "/hook?via=bird"
    for i, (body, ts) in enumerate(each()):
        claims = {"iss": "MessageBird", "nbf": ts, "exp": ts + 60, "jti": f"jti-{i}",
                  "url_hash": sha256_hex(PUBLIC_URL + target)}
        if body:
            claims["payload_hash"] = sha256_hex(body)
        token = jwt.encode(claims, secret, algorithm="HS256")
        with clock(ts):
            MessageBirdValidator(secret).validate_signature(token, PUBLIC_URL + target, body.encode())
        yield vector({"MessageBird-Signature-JWT": token}, body, ts, secret, target=target, public_url=PUBLIC_URL)


def claims_token(header, secret, claims, prefix=""):
    def make():
        for i, (body, ts) in enumerate(each()):
            token = jwt.encode(claims(body, ts, i), secret, algorithm="HS256")
            yield vector({header: prefix + token}, body, ts, secret)
    return make


def rsa_body(header, digest):
    key = serialization.load_pem_private_key(RSA_TEST_KEY.encode(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_key = base64.b64encode(der).decode()
    def make():
        for body in BODIES:
            signature = key.sign(body.encode(), padding.PKCS1v15(), digest())
            yield vector({header: base64.b64encode(signature).decode()}, body, TIMESTAMPS[0], public_key=public_key)
    return make


def wix():
    """The body is the token: RS256 over claims whose `data` is the event envelope as text."""
    key = serialization.load_pem_private_key(RSA_TEST_KEY.encode(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    public_key = base64.b64encode(der).decode()
    for i, (body, ts) in enumerate(each()):
        envelope = json.dumps({"eventType": "wix.ecom.v1.order_created", "instanceId": f"inst-{i}", "data": body})
        token = jwt.encode({"data": envelope, "iat": ts, "exp": ts + 300}, RSA_TEST_KEY, algorithm="RS256",
                           headers={"kid": "wix-app-key"})
        yield vector({"Content-Type": "text/plain"}, token, ts, public_key=public_key)


def providers():
    jwt_version = version("PyJWT")
    b64_sha256 = lambda body: base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return [
        ("vonage", f"docs formula (PyJWT {jwt_version}), accepted by vonage-jwt (PyPI) {version('vonage-jwt')}: verify_signature", vonage),
        ("messagebird", f"docs formula (PyJWT {jwt_version}), accepted by messagebird (PyPI) {version('messagebird')}: RequestValidator.validate_signature", messagebird),
        ("netlify", f"docs formula (PyJWT {jwt_version}), no SDK signs or verifies", claims_token(
            "X-Webhook-Signature", "netlify-jws-secret-0000-0000000000",
            lambda body, ts, i: {"iss": "netlify", "sha256": sha256_hex(body), "iat": ts})),
        ("fusionauth", SECONDARY, claims_token(
            "X-FusionAuth-Signature-JWT", "fusionauth-hmac-key-0000-000000000",
            lambda body, ts, i: {"request_body_sha256": b64_sha256(body), "iat": ts, "exp": ts + 60})),
        ("monday", SECONDARY, claims_token(
            "Authorization", "monday-signing-secret-0000-0000000",
            lambda body, ts, i: {"accountId": 1000 + i, "userId": 7, "aud": "https://hooks.example.com/hook",
                                 "exp": ts + 60, "shortLivedToken": f"t{i}", "iat": ts})),
        ("kinde", f"docs formula (PyJWT {jwt_version} RS256, the token as the body), accepted by @kinde/webhooks (npm) {kinde_version()}: decodeWebhook", kinde),
        ("wix", f"docs formula (PyJWT {jwt_version} RS256, the token as the body), no SDK signs or verifies", wix),
        ("wise", "peers' formula (RSA PKCS#1 v1.5 SHA-256, Python cryptography), no SDK signs or verifies", rsa_body("X-Signature-SHA256", hashes.SHA256)),
        ("braintree", f"braintree (PyPI) {version('braintree')}: webhook_testing.sample_notification, checked by webhook_notification.parse", braintree_vectors),
        ("fireblocks", "docs formula (RSA PKCS#1 v1.5 SHA-512, Python cryptography), no SDK signs or verifies", rsa_body("Fireblocks-Signature", hashes.SHA512)),
        ("fireblocks-v2", f"docs formula (detached JWS RS512, Python cryptography), accepted by the docs example verifier: Fireblocks' documented compactVerify from jose {jose_version()}, a JOSE library, not a Fireblocks SDK", fireblocks_v2),
        ("paypal", "docs formula (RSA PKCS#1 v1.5 SHA-256 over id|time|webhook id|CRC-32, Python cryptography and zlib), no SDK signs or verifies", paypal),
        ("amazon-sns", f"docs formula (SNS canonical string, RSA PKCS#1 v1.5 SHA-1 and SHA-256, Python cryptography), notifications and subscription confirmations accepted by sns-validator (npm) {sns_validator_version()}: MessageValidator.validate", amazon_sns),
    ]


SNS_TOPIC = "arn:aws:sns:us-east-1:123456789012:hookgate-vectors"
SNS_CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookgate-vectors.pem"


def sns_certificate(key):
    """A certificate for the test key, standing in for SNS's signing certificate; fixed
    serial and dates, so the PEM is the same every run."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc))
            .not_valid_after(datetime.datetime(2033, 1, 1, tzinfo=datetime.timezone.utc))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


PAYPAL_CERT_URL = "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-hookgate"
PAYPAL_WEBHOOK_ID = "9XL90610J3647323C"


def paypal():
    """PayPal's self-verification: SHA256withRSA over "<transmission id>|<transmission
    time>|<webhook id>|<CRC-32 of the raw body in decimal>", under the certificate at
    PAYPAL-CERT-URL."""
    import zlib
    key = serialization.load_pem_private_key(RSA_TEST_KEY.encode(), password=None)
    cert = sns_certificate(key)
    for i, (body, ts) in enumerate(each()):
        transmission = f"d938e770-8046-11e6-8103-6b62a8a9{i:04x}"
        stamp = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = f"{transmission}|{stamp}|{PAYPAL_WEBHOOK_ID}|{zlib.crc32(body.encode())}"
        signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        headers = {"Content-Type": "application/json", "PAYPAL-TRANSMISSION-ID": transmission,
                   "PAYPAL-TRANSMISSION-TIME": stamp, "PAYPAL-AUTH-ALGO": "SHA256withRSA",
                   "PAYPAL-CERT-URL": PAYPAL_CERT_URL,
                   "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode()}
        yield vector(headers, body, ts, signing_cert=cert, signing_cert_url=PAYPAL_CERT_URL,
                     webhook_id=PAYPAL_WEBHOOK_ID)


FIREBLOCKS_JWKS_URL = "https://keys.fireblocks.io/.well-known/jwks.json"
FIREBLOCKS_KID = "hookgate-vectors-2026-01"


def fireblocks_jwks():
    """The key set Fireblocks would publish for the test key: one RS512 signing key."""
    key = serialization.load_pem_private_key(RSA_TEST_KEY.encode(), password=None)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": FIREBLOCKS_KID, "use": "sig", "alg": "RS512"})
    return json.dumps({"keys": [jwk]}, sort_keys=True)


def fireblocks_v2():
    """Fireblocks-Webhook-Signature: a detached JWS (header..signature, RFC 7515 appendix F)
    over the raw body in base64url, RS512, naming its key in the published set by kid.
    Built by hand: PyJWT's detached mode is RFC 7797's unencoded payload, which is not what
    Fireblocks' docs verify."""
    key = serialization.load_pem_private_key(RSA_TEST_KEY.encode(), password=None)
    jwks = fireblocks_jwks()
    # The token signs the body alone, so each body makes one vector (a second time would
    # be a replay of the first).
    for body in BODIES:
        b64 = lambda data: base64.urlsafe_b64encode(data).rstrip(b"=").decode()
        header = b64(json.dumps({"alg": "RS512", "kid": FIREBLOCKS_KID, "typ": "JOSE"}).encode())
        signed = f"{header}.{b64(body.encode())}".encode()
        token = f"{header}..{b64(key.sign(signed, padding.PKCS1v15(), hashes.SHA512()))}"
        yield vector({"Content-Type": "application/json", "Fireblocks-Webhook-Signature": token},
                     body, TIMESTAMPS[0], jwks=jwks, jwks_url=FIREBLOCKS_JWKS_URL)


KINDE_DOMAIN = "https://acme.kinde.com"
KINDE_JWKS_URL = KINDE_DOMAIN + "/.well-known/jwks.json"
KINDE_KID = "hookgate-vectors-kinde-01"


def kinde_claims(i, body):
    """An event shaped as Kinde's docs show one: no time claims, the event's own fields."""
    return {"data": {"n": i, "body": body}, "event_id": f"event_{i:04d}", "source": "admin",
            "timestamp": "2026-01-02T03:04:05.000000+00:00", "type": "user.created"}


def kinde():
    """The whole body is a JWT, RS256, naming its key in the account's key set by kid."""
    key = serialization.load_pem_private_key(RSA_TEST_KEY.encode(), password=None)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": KINDE_KID, "use": "sig", "alg": "RS256"})
    jwks = json.dumps({"keys": [jwk]}, sort_keys=True)
    for i, body in enumerate(BODIES):
        token = jwt.encode(kinde_claims(i, body), RSA_TEST_KEY, algorithm="RS256", headers={"kid": KINDE_KID})
        yield vector({"Content-Type": "application/jwt"}, token, TIMESTAMPS[0], jwks=jwks,
                     jwks_url=KINDE_JWKS_URL)


def kinde_version():
    """Has Kinde's @kinde/webhooks (npm) decode the vectors (npm/kinde.mjs); its version."""
    checked = [{"token": v["body"], "jwks": v["jwks"], "domain": KINDE_DOMAIN, "claims": kinde_claims(i, b)}
               for i, (v, b) in enumerate(zip(kinde(), BODIES))]
    node = subprocess.run(["node", str(pathlib.Path(__file__).parent / "npm" / "kinde.mjs")],
                          input=json.dumps(checked), capture_output=True, text=True)
    if node.returncode != 0:
        raise SystemExit(f"@kinde/webhooks refused a vector: {node.stderr}")
    return node.stdout.strip()


def jose_version():
    """Has `jose` (npm) verify the Fireblocks vectors as Fireblocks' docs do (npm/jwks.mjs);
    its version, or failure."""
    checked = [{"token": v["headers"]["Fireblocks-Webhook-Signature"], "body": v["body"],
                "jwks": v["jwks"], "alg": "RS512"} for v in fireblocks_v2()]
    node = subprocess.run(["node", str(pathlib.Path(__file__).parent / "npm" / "jwks.mjs")],
                          input=json.dumps(checked), capture_output=True, text=True)
    if node.returncode != 0:
        raise SystemExit(f"jose refused a vector: {node.stderr}")
    return node.stdout.strip()


def sns_validator_version():
    """Has AWS's sns-validator accept the SNS vectors (npm/sns.mjs); its version, or failure.
    It signs UnsubscribeConfirmation without Token, against AWS's docs and SDKs, so those
    vectors are left out of its check."""
    checked = [v for v in amazon_sns() if json.loads(v["body"])["Type"] != "UnsubscribeConfirmation"]
    node = subprocess.run(["node", str(pathlib.Path(__file__).parent / "npm" / "sns.mjs")],
                          input=json.dumps(checked), capture_output=True, text=True)
    if node.returncode != 0:
        raise SystemExit(f"sns-validator refused a vector: {node.stderr}")
    return node.stdout.strip()


def amazon_sns():
    """SNS messages as AWS documents them: the canonical string is `Name\nvalue\n` for each
    signed field in order (Subject only when present; SubscribeURL and Token for the
    confirmations), signed with SHA-1 (SignatureVersion 1) or SHA-256 (2)."""
    key = serialization.load_pem_private_key(RSA_TEST_KEY.encode(), password=None)
    cert = sns_certificate(key)
    confirm = f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={SNS_TOPIC}&Token=2336412f37"
    messages = [
        ("Notification", {"Message": BODIES[0], "MessageId": "5b4f0c8e-0001"}),
        ("Notification", {"Message": BODIES[1], "MessageId": "5b4f0c8e-0002", "Subject": "Orders"}),
        ("Notification", {"Message": "", "MessageId": "5b4f0c8e-0003"}),
        ("SubscriptionConfirmation", {"Message": "You have chosen to subscribe to the topic.",
                                      "MessageId": "5b4f0c8e-0004", "SubscribeURL": confirm, "Token": "2336412f37"}),
        ("UnsubscribeConfirmation", {"Message": "You have chosen to deactivate subscription.",
                                     "MessageId": "5b4f0c8e-0005", "SubscribeURL": confirm, "Token": "2336412f38"}),
    ]
    order = {"Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]}
    order["SubscriptionConfirmation"] = order["UnsubscribeConfirmation"] = [
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    for i, (kind, fields) in enumerate(messages):
        for version, digest in (("1", hashes.SHA1), ("2", hashes.SHA256)):
            ts = TIMESTAMPS[i % 2]
            stamp = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.123Z")
            message = dict(fields, Type=kind, TopicArn=SNS_TOPIC, Timestamp=stamp)
            # Each version signs its own delivery: a fresh id, so the two are not replays.
            message["MessageId"] += f"-v{version}"
            canonical = "".join(f"{k}\n{message[k]}\n" for k in order[kind] if k in message)
            signature = key.sign(canonical.encode(), padding.PKCS1v15(), digest())
            body = {"Type": kind, "MessageId": message["MessageId"], "TopicArn": SNS_TOPIC}
            body.update({k: v for k, v in message.items() if k not in body})
            body.update({"SignatureVersion": version, "Signature": base64.b64encode(signature).decode(),
                         "SigningCertURL": SNS_CERT_URL,
                         "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"})
            headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": kind,
                       "x-amz-sns-message-id": message["MessageId"], "x-amz-sns-topic-arn": SNS_TOPIC}
            extra = {"signing_cert": cert, "signing_cert_url": SNS_CERT_URL, "topic_arn": SNS_TOPIC}
            if kind == "SubscriptionConfirmation":
                extra["handshake"] = ""
            yield vector(headers, json.dumps(body, indent=2), ts, **extra)


def braintree_vectors():
    """Made by Braintree's own SDK (webhook_testing.sample_notification) with its clock pinned,
    and parsed back by its verifier (webhook_notification.parse)."""
    import urllib.parse
    import braintree
    import braintree.webhook_testing_gateway as testing
    gateway = braintree.BraintreeGateway(braintree.Configuration(
        braintree.Environment.Sandbox, merchant_id="hookgate_merchant",
        public_key="hookgate_public_key", private_key="braintree-private-key-0000"))
    kinds = [braintree.WebhookNotification.Kind.SubscriptionWentPastDue,
             braintree.WebhookNotification.Kind.Check]
    for i, ts in enumerate(TIMESTAMPS):
        class Frozen(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).replace(tzinfo=None)
        with mock.patch.object(testing, "datetime", Frozen):
            sample = gateway.webhook_testing.sample_notification(kinds[i], f"sub_{i}")
        payload = sample["bt_payload"]
        payload = payload.decode() if isinstance(payload, bytes) else payload
        gateway.webhook_notification.parse(sample["bt_signature"], payload)
        body = urllib.parse.urlencode({"bt_signature": sample["bt_signature"], "bt_payload": payload})
        yield vector({"Content-Type": "application/x-www-form-urlencoded"}, body, ts,
                     "braintree-private-key-0000")
