//! Signatures checked under an X.509 certificate fetched at run time (SNS, PayPal): the
//! certificate is parsed by webpki, the signature checked by ring, under the algorithm the
//! scheme pins (never one the certificate or the request names).

use ring::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA512, RsaParameters, UnparsedPublicKey,
};
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};

use crate::error::Rejection;
use crate::scheme::Algorithm;

/// Whether `signature` over `message` verifies under the key of certificate `der`.
///
/// # Errors
/// [`Rejection::SignatureMalformed`] when `der` is not a certificate, or the algorithm has
/// no certificate form.
pub(crate) fn verifies(
    algorithm: Algorithm,
    der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<bool, Rejection> {
    let der = CertificateDer::from(der);
    let cert = webpki::EndEntityCert::try_from(&der).map_err(|_| Rejection::SignatureMalformed)?;
    let check: &dyn SignatureVerificationAlgorithm = match algorithm {
        Algorithm::RsaPkcs1Sha1 => &SHA1,
        Algorithm::RsaPkcs1Sha256 => &SHA256,
        Algorithm::RsaPkcs1Sha512 => &SHA512,
        Algorithm::EcdsaP256Sha256 => webpki::ring::ECDSA_P256_SHA256,
        Algorithm::Ed25519 => webpki::ring::ED25519,
        _ => return Err(Rejection::SignatureMalformed),
    };
    Ok(cert.verify_signature(check, message, signature).is_ok())
}

/// RSASSA-PKCS1-v1_5 under the certificate's RSA key, for webpki's signature check.
#[derive(Debug)]
struct Rsa {
    params: &'static RsaParameters,
    id: AlgorithmIdentifier,
}

/// sha1WithRSAEncryption (1.2.840.113549.1.1.5) with its NULL parameters, DER content.
const SHA1_WITH_RSA: AlgorithmIdentifier = AlgorithmIdentifier::from_slice(&[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
]);

static SHA1: Rsa = Rsa {
    params: &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
    id: SHA1_WITH_RSA,
};
static SHA256: Rsa = Rsa {
    params: &RSA_PKCS1_2048_8192_SHA256,
    id: alg_id::RSA_PKCS1_SHA256,
};
static SHA512: Rsa = Rsa {
    params: &RSA_PKCS1_2048_8192_SHA512,
    id: alg_id::RSA_PKCS1_SHA512,
};

impl SignatureVerificationAlgorithm for Rsa {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        UnparsedPublicKey::new(self.params, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.id
    }
}
