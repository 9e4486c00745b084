//! What a signature scheme is: a description, not code.
//!
//! A [`Scheme`] says where the signature and timestamp live, how the signature is encoded,
//! which hash the HMAC uses and which bytes are signed. One engine (`crate::verify`) interprets
//! any scheme. Built-in providers are a table of descriptions in `presets.yaml`, written with
//! exactly the keys a custom `scheme:` block in the config accepts, so a preset is nothing more
//! than a named custom scheme.

mod field;
mod handshake;
mod jwks;
mod jwt;
mod presets;
mod signed;
mod signing_cert;
mod sns;
mod spec;
pub mod template;

use http::HeaderName;
use serde::Deserialize;

pub use field::Field;
pub use handshake::Handshake;
pub use jwks::{JwksRule, JwksSpec};
pub use jwt::{JwtRule, JwtSpec, jws_alg};
pub use presets::{nearest_presets, preset, preset_names};
pub use signing_cert::{CertRule, CertSpec};
pub use sns::{SNS_HOSTS, SnsRule, SnsSpec};
pub use spec::{ListSpec, SchemeError, SchemeSpec};
pub use template::{Piece, Template};

/// How a delivery is authenticated: an HMAC under a hash, a shared token, or a signature
/// checked with the sender's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// HMAC-SHA1 (legacy senders only).
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA384.
    Sha384,
    /// HMAC-SHA512.
    Sha512,
    /// HMAC-RIPEMD-128.
    Ripemd128,
    /// HMAC-RIPEMD-160.
    Ripemd160,
    /// A plain SHA-256 digest of the signed payload, which holds the secret as `{secret}`
    /// (HubSpot v1/v2, Recharge). Weaker than an HMAC, but what those senders send.
    #[serde(rename = "sha256_digest")]
    Sha256Digest,
    /// The header carries a shared secret token itself (GitLab, Okta); compared in constant
    /// time. Nothing binds the body, so only TLS protects it.
    Token,
    /// HTTP Basic authentication (RFC 7617): `Authorization: Basic base64(user:password)`,
    /// against secrets written `user:password`; compared in constant time, as tokens are.
    #[serde(rename = "basic_auth")]
    BasicAuth,
    /// Ed25519 signature checked with the route's `public_key` (Discord).
    Ed25519,
    /// ECDSA over P-256 with SHA-256, DER-encoded signature, checked with the route's
    /// `public_key` (SendGrid).
    #[serde(rename = "ecdsa_p256_sha256")]
    EcdsaP256Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (legacy senders only), checked with the route's RSA
    /// `public_key` of 2048 to 8192 bits.
    #[serde(rename = "rsa_pkcs1_sha1")]
    RsaPkcs1Sha1,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RS256 in a `jwt:` scheme).
    #[serde(rename = "rsa_pkcs1_sha256")]
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (RS512 in a `jwt:` scheme).
    #[serde(rename = "rsa_pkcs1_sha512")]
    RsaPkcs1Sha512,
}

/// What kind of key material an [`Algorithm`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Shared secrets (`secrets:`), keyed into an HMAC.
    Hmac,
    /// Shared secrets (`secrets:`), compared as they are.
    Token,
    /// The sender's public key (`public_key:`).
    PublicKey,
}

impl Algorithm {
    /// HMAC tag length in bytes; 0 for the algorithms that are not an HMAC.
    pub fn tag_len(self) -> usize {
        match self {
            Algorithm::Sha1 | Algorithm::Ripemd160 => 20,
            Algorithm::Sha256 | Algorithm::Sha256Digest => 32,
            Algorithm::Sha384 => 48,
            Algorithm::Sha512 => 64,
            Algorithm::Ripemd128 => 16,
            _ => 0,
        }
    }

    /// The key material this algorithm takes.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Algorithm::Token | Algorithm::BasicAuth => KeyKind::Token,
            Algorithm::Ed25519
            | Algorithm::EcdsaP256Sha256
            | Algorithm::RsaPkcs1Sha1
            | Algorithm::RsaPkcs1Sha256
            | Algorithm::RsaPkcs1Sha512 => KeyKind::PublicKey,
            _ => KeyKind::Hmac,
        }
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
            Algorithm::Ripemd128 => "ripemd128",
            Algorithm::Ripemd160 => "ripemd160",
            Algorithm::Sha256Digest => "sha256_digest",
            Algorithm::Token => "token",
            Algorithm::BasicAuth => "basic_auth",
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256Sha256 => "ecdsa_p256_sha256",
            Algorithm::RsaPkcs1Sha1 => "rsa_pkcs1_sha1",
            Algorithm::RsaPkcs1Sha256 => "rsa_pkcs1_sha256",
            Algorithm::RsaPkcs1Sha512 => "rsa_pkcs1_sha512",
        }
    }
}

/// How the signature bytes are written in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// Hexadecimal, either case accepted; lowercase produced.
    Hex,
    /// Standard base64; padding optional on input, produced on output.
    Base64,
    /// URL-safe base64; padding optional on input, omitted on output.
    Base64url,
}

/// How a timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// Decimal seconds since the Unix epoch.
    #[default]
    Unix,
    /// Decimal milliseconds since the Unix epoch.
    UnixMs,
    /// An RFC 3339 date-time such as `2026-11-23T10:11:12.634Z` or `...+01:00`.
    Rfc3339,
}

/// How a configured secret is turned into key bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretEncoding {
    /// The secret's bytes as written.
    #[default]
    Raw,
    /// Standard base64 (Standard Webhooks' `whsec_...` after its prefix).
    Base64,
    /// Hexadecimal.
    Hex,
    /// The key is the SHA-1 digest of the secret's bytes (Braintree keys its HMAC so).
    Sha1,
}

/// Where the signature is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureSource {
    /// One or more headers; every signature offered in any of them is a candidate (Box sends
    /// one per key, in two headers).
    Headers(Box<[HeaderName]>),
    /// A body field (Mailgun).
    Field(Field),
    /// A query parameter (PandaDoc's `?signature=`), percent-decoded; sent once.
    Query(Box<str>),
    /// The whole body, a compact JWT (`jwt: { in_body: true }`: Wix, Kinde).
    Body,
}

/// Where the signature is found in its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureFormat {
    /// The whole header value is one signature, after an optional prefix such as `sha256=`.
    /// A value without the prefix is accepted too: the MAC decides, not the label.
    Plain {
        /// Stripped when present; written by `sign`.
        prefix: Box<[u8]>,
    },
    /// A list of `key=value` items, such as `t=1700000000,v1=abc,v1=def`, or of bare items.
    List(ListFormat),
}

/// A key/value list signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFormat {
    /// Between items, e.g. `,`.
    pub separator: u8,
    /// Spaces the sender writes after each separator (WorkOS: `t=.., v1=..`). Parsing trims
    /// them anyway; `hookgate sign` writes them, for verifiers that split on `, `.
    pub spaces_after_separator: u8,
    /// Between a key and its value, e.g. `=`.
    pub pair_separator: u8,
    /// The key holding the timestamp, if the timestamp travels in this header.
    pub timestamp_key: Option<Box<[u8]>>,
    /// The key of each signature; several may be present. Empty for a positional list, whose
    /// items are bare signatures (Recurly: `<ts>,<sig>,<sig>`).
    pub signature_key: Box<[u8]>,
    /// In a positional list, the first item is the timestamp.
    pub timestamp_first: bool,
}

/// Where the timestamp comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampSource {
    /// Its own header.
    Header(HeaderName),
    /// The `timestamp_key` item of the signature list.
    SignatureList,
    /// A body field (Linear, Mailgun).
    Field(Field),
}

/// A complete, validated scheme description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    /// Hash under the HMAC.
    pub algorithm: Algorithm,
    /// How signatures are written.
    pub encoding: Encoding,
    /// Where the signature is read from.
    pub signature: SignatureSource,
    /// How the signature value is laid out.
    pub format: SignatureFormat,
    /// Where the timestamp comes from; `None` for schemes without one.
    pub timestamp: Option<TimestampSource>,
    /// How the timestamp is written.
    pub timestamp_format: TimestampFormat,
    /// Which bytes are signed.
    pub signed_payload: Template,
    /// What identifies a delivery for replay protection; the signature's own MAC when
    /// `None`. Senders that re-sign retries (Standard Webhooks, Twitch) set a message id.
    pub replay_key: Option<Template>,
    /// How a secret becomes key bytes.
    pub secret_encoding: SecretEncoding,
    /// Stripped from a secret before decoding, when present (`whsec_`).
    pub secret_prefix: Box<[u8]>,
    /// A query parameter that must hold the hex SHA-256 of the body (Twilio's `bodySHA256`,
    /// which binds a JSON body to a signature over the URL).
    pub body_digest_param: Option<Box<str>>,
    /// The sender's documented timestamp tolerance, when it has one; routes may override.
    pub tolerance_seconds: Option<u64>,
    /// A request the route answers itself, if the sender needs one.
    pub handshake: Option<Handshake>,
    /// The signature header carries a JWT (or detached JWS) checked by this rule, instead
    /// of a MAC over `signed_payload`.
    pub jwt: Option<JwtRule>,
    /// A header naming which of the route's `public_keys` signed (Circle's
    /// `X-Circle-Key-Id`); a JWT names it in its `kid` instead.
    pub key_id_header: Option<HeaderName>,
    /// The body is an Amazon SNS message checked by this rule, under the certificate it
    /// names (fetched at run time), instead of a signature over `signed_payload`.
    pub sns: Option<SnsRule>,
    /// The public key is the certificate at the URL a header names, fetched at run time
    /// from the hosts this rule pins (PayPal).
    pub signing_cert: Option<CertRule>,
    /// The `jwt:` token's key is in the JSON Web Key Set this rule locates, fetched at run
    /// time (Fireblocks).
    pub jwks: Option<JwksRule>,
}

impl Scheme {
    /// Whether a delivery names the key that signed it (`key_id_header`, or a JWT's `kid`),
    /// so a route's `public_keys` are picked by id rather than each tried.
    pub fn names_its_key(&self) -> bool {
        // (A fetched certificate is named by URL, not by an id among the route's keys.)
        self.key_id_header.is_some() || self.jwt.is_some()
    }

    /// Whether the key is fetched at run time (SNS, `signing_cert`, `jwks`) rather than
    /// configured.
    pub fn fetches_its_key(&self) -> bool {
        self.sns.is_some() || self.signing_cert.is_some() || self.jwks.is_some()
    }

    /// Whether checking a delivery parses its body (a field, the form, JSON, a token), so the
    /// gateway hands the body over in one piece; a MAC or digest of the bytes reads the
    /// frames as they arrived.
    pub fn parses_body(&self) -> bool {
        let fields = |t: &Template| {
            t.pieces().iter().any(|p| {
                matches!(
                    p,
                    Piece::Field(_) | Piece::FormSorted | Piece::UrlSortedForm
                )
            })
        };
        self.jwt.is_some()
            || self.sns.is_some()
            || matches!(
                self.signature,
                SignatureSource::Field(_) | SignatureSource::Body
            )
            || matches!(self.timestamp, Some(TimestampSource::Field(_)))
            || fields(&self.signed_payload)
            || self.replay_key.as_ref().is_some_and(fields)
    }

    /// Whether the signed payload includes the public URL, so routes need `public_url`.
    pub fn needs_public_url(&self) -> bool {
        self.jwt.as_ref().is_some_and(JwtRule::needs_public_url)
            || [Piece::Url, Piece::UrlSortedForm].iter().any(|url| {
                self.signed_payload.uses(url)
                    || self.replay_key.as_ref().is_some_and(|t| t.uses(url))
            })
    }
}
