//! JWT and JWS schemes: the signature header carries a compact JWT (or a detached JWS), or the
//! body is the JWT; the scheme pins its algorithm, and its claims bind the body and the URL.
//!
//! The scheme's `algorithm` names the JWS algorithm (`sha256` is HS256, `rsa_pkcs1_sha256` is
//! RS256, ...). The token's own `alg` header must name exactly that algorithm: it is checked,
//! never followed, so `none` and algorithm confusion (an RSA public key used as an HMAC
//! secret) cannot happen.

use serde::Deserialize;

use super::{Algorithm, Encoding};

/// The YAML shape of a `jwt:` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSpec {
    /// A claim that must hold the SHA-256 of the body (`payload_hash`, `sha256`).
    pub body_hash_claim: Option<String>,
    /// How that claim writes the digest: `hex` (default), `base64` or `base64url`.
    pub body_hash_encoding: Option<Encoding>,
    /// A claim that must hold the hex SHA-256 of the URL the sender posted to:
    /// `public_url`, the path and `?query` when there is one (MessageBird's `url_hash`).
    pub url_hash_claim: Option<String>,
    /// The `iss` the token must carry.
    pub issuer: Option<String>,
    /// An `aud` the token must carry (a string, or one entry of a list).
    pub audience: Option<String>,
    /// Claims that must be present (`iat`, `exp`, `nbf`, `jti`, ...).
    #[serde(default)]
    pub require: Vec<String>,
    /// The token is a detached JWS (`header..signature`) over the body (RFC 7515
    /// appendix F), rather than a JWT carrying claims.
    #[serde(default)]
    pub detached: bool,
    /// The whole body is the compact JWT (Wix, Kinde: `Content-Type: application/jwt`); no
    /// signature header is read, and the app receives the token as sent.
    #[serde(default)]
    pub in_body: bool,
}

/// A validated `jwt:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRule {
    /// The JWS `alg` the token must name.
    pub alg: &'static str,
    /// See [`JwtSpec::body_hash_claim`].
    pub body_hash_claim: Option<Box<str>>,
    /// See [`JwtSpec::body_hash_encoding`].
    pub body_hash_encoding: Encoding,
    /// See [`JwtSpec::url_hash_claim`].
    pub url_hash_claim: Option<Box<str>>,
    /// See [`JwtSpec::issuer`].
    pub issuer: Option<Box<str>>,
    /// See [`JwtSpec::audience`].
    pub audience: Option<Box<str>>,
    /// See [`JwtSpec::require`].
    pub require: Box<[Box<str>]>,
    /// See [`JwtSpec::detached`].
    pub detached: bool,
    /// See [`JwtSpec::in_body`].
    pub in_body: bool,
}

/// The JWS algorithm (RFC 7518) a scheme `algorithm` stands for in a `jwt:` scheme.
pub fn jws_alg(algorithm: Algorithm) -> Option<&'static str> {
    Some(match algorithm {
        Algorithm::Sha256 => "HS256",
        Algorithm::Sha384 => "HS384",
        Algorithm::Sha512 => "HS512",
        Algorithm::RsaPkcs1Sha256 => "RS256",
        Algorithm::RsaPkcs1Sha512 => "RS512",
        Algorithm::EcdsaP256Sha256 => "ES256",
        Algorithm::Ed25519 => "EdDSA",
        _ => return None,
    })
}

impl JwtSpec {
    /// Validates the block for `algorithm`; the message says what is wrong.
    pub fn build(&self, algorithm: Algorithm) -> Result<JwtRule, String> {
        let alg = jws_alg(algorithm).ok_or_else(|| {
            format!(
                "algorithm `{}` has no JWS form; use sha256, sha384, sha512 (HS*), \
                 rsa_pkcs1_sha256, rsa_pkcs1_sha512 (RS*), ecdsa_p256_sha256 (ES256) or ed25519 (EdDSA)",
                algorithm.name()
            )
        })?;
        if self.detached
            && (self.body_hash_claim.is_some()
                || self.url_hash_claim.is_some()
                || self.issuer.is_some()
                || self.audience.is_some()
                || !self.require.is_empty())
        {
            return Err("a detached JWS signs the body itself and carries no claims".into());
        }
        if self.in_body && (self.detached || self.body_hash_claim.is_some()) {
            return Err(
                "a token that is the body cannot be detached from it or carry its hash".into(),
            );
        }
        for claim in [&self.body_hash_claim, &self.url_hash_claim] {
            if claim.as_deref() == Some("") {
                return Err("a claim name must not be empty".into());
            }
        }
        if self.body_hash_encoding.is_some() && self.body_hash_claim.is_none() {
            return Err("body_hash_encoding has no effect without body_hash_claim".into());
        }
        Ok(JwtRule {
            alg,
            body_hash_claim: self.body_hash_claim.as_deref().map(Box::from),
            body_hash_encoding: self.body_hash_encoding.unwrap_or(Encoding::Hex),
            url_hash_claim: self.url_hash_claim.as_deref().map(Box::from),
            issuer: self.issuer.as_deref().map(Box::from),
            audience: self.audience.as_deref().map(Box::from),
            require: self.require.iter().map(|c| Box::from(c.as_str())).collect(),
            detached: self.detached,
            in_body: self.in_body,
        })
    }
}

impl JwtRule {
    /// Whether the rule needs the route's `public_url`.
    pub fn needs_public_url(&self) -> bool {
        self.url_hash_claim.is_some()
    }

    /// Whether the signature binds the body: a detached JWS and a token that is the body
    /// always do, a JWT in a header through a body hash claim.
    pub fn binds_body(&self) -> bool {
        self.detached || self.in_body || self.body_hash_claim.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str, algorithm: Algorithm) -> Result<JwtRule, String> {
        serde_saphyr::from_str::<JwtSpec>(yaml)
            .map_err(|e| e.to_string())?
            .build(algorithm)
    }

    #[test]
    fn the_algorithm_is_pinned_by_the_scheme() {
        assert_eq!(rule("{}", Algorithm::Sha256).unwrap().alg, "HS256");
        assert_eq!(rule("{}", Algorithm::RsaPkcs1Sha512).unwrap().alg, "RS512");
        assert_eq!(rule("{}", Algorithm::Ed25519).unwrap().alg, "EdDSA");
        for none in [Algorithm::Sha1, Algorithm::Token, Algorithm::RsaPkcs1Sha1] {
            assert!(rule("{}", none).unwrap_err().contains("no JWS form"));
        }
    }

    #[test]
    fn inconsistent_blocks_are_refused() {
        let detached = rule("{ detached: true, body_hash_claim: h }", Algorithm::Sha256);
        assert!(detached.unwrap_err().contains("detached"));
        assert!(rule("{ body_hash_claim: '' }", Algorithm::Sha256).is_err());
        assert!(rule("{ body_hash_encoding: hex }", Algorithm::Sha256).is_err());
        assert!(rule("{ nope: 1 }", Algorithm::Sha256).is_err());
        let full = rule(
            "{ body_hash_claim: payload_hash, url_hash_claim: url_hash, issuer: I, require: [exp] }",
            Algorithm::Sha256,
        )
        .unwrap();
        assert!(full.needs_public_url() && full.binds_body());
    }

    #[test]
    fn a_token_that_is_the_body_is_neither_detached_nor_hashed() {
        let body = rule("{ in_body: true }", Algorithm::Sha256).unwrap();
        assert!(body.in_body && body.binds_body());
        for yaml in [
            "{ in_body: true, detached: true }",
            "{ in_body: true, body_hash_claim: h }",
        ] {
            assert!(
                rule(yaml, Algorithm::Sha256)
                    .unwrap_err()
                    .contains("is the body")
            );
        }
    }
}
