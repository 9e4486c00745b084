//! What a signature scheme is: a description, not code.
//!
//! A [`Scheme`] says where the signature and timestamp live, how the signature is encoded,
//! which hash the HMAC uses and which bytes are signed. One engine (`crate::verify`) interprets
//! any scheme. Built-in providers are a table of descriptions in `presets.yaml`, written with
//! exactly the keys a custom `scheme:` block in the config accepts, so a preset is nothing more
//! than a named custom scheme.

mod presets;
mod spec;
pub mod template;

use http::HeaderName;
use serde::Deserialize;

pub use presets::{preset, preset_names};
pub use spec::{ListSpec, SchemeError, SchemeSpec};
pub use template::{Piece, Template};

/// The hash function under the HMAC.
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
}

impl Algorithm {
    /// Tag length in bytes.
    pub fn tag_len(self) -> usize {
        match self {
            Algorithm::Sha1 | Algorithm::Ripemd160 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha384 => 48,
            Algorithm::Sha512 => 64,
            Algorithm::Ripemd128 => 16,
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
}

/// A request the route answers itself instead of forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Handshake {
    /// `GET ?echo=<value>` answered with 200 and the value as the body (nopCommerce,
    /// ASP.NET WebHooks).
    Echo,
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
    /// A list of `key=value` items, such as `t=1700000000,v1=abc,v1=def`.
    List(ListFormat),
}

/// A key/value list signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFormat {
    /// Between items, e.g. `,`.
    pub separator: u8,
    /// Between a key and its value, e.g. `=`.
    pub pair_separator: u8,
    /// The key holding the timestamp, if the timestamp travels in this header.
    pub timestamp_key: Option<Box<[u8]>>,
    /// The key of each signature; several may be present.
    pub signature_key: Box<[u8]>,
}

/// Where the timestamp comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampSource {
    /// Its own header.
    Header(HeaderName),
    /// The `timestamp_key` item of the signature list.
    SignatureList,
}

/// A complete, validated scheme description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    /// Hash under the HMAC.
    pub algorithm: Algorithm,
    /// How signatures are written.
    pub encoding: Encoding,
    /// The header carrying the signature.
    pub signature_header: HeaderName,
    /// How the signature header is laid out.
    pub format: SignatureFormat,
    /// Where the timestamp comes from; `None` for schemes without one.
    pub timestamp: Option<TimestampSource>,
    /// How the timestamp is written.
    pub timestamp_format: TimestampFormat,
    /// Which bytes are signed.
    pub signed_payload: Template,
    /// A request the route answers itself, if the sender needs one.
    pub handshake: Option<Handshake>,
}
