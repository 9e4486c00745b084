//! TLS settings built at config load: the listener's certificate and the roots trusted for
//! https upstreams. A config that loads has a certificate that parses and a key that matches.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Builds the listener's TLS config from PEM files: a certificate chain and its private key.
/// Offers HTTP/1.1 over ALPN, the only protocol hookgate serves.
///
/// # Errors
/// A message naming the file that is missing, unreadable, empty or mismatched.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain = certificates(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key_file.display()))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            format!(
                "certificate {} and key {} do not make a usable pair: {e}",
                cert_file.display(),
                key_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The client config for https upstreams: the system's roots (when `system_roots`), plus
/// every certificate in `ca_file`.
///
/// # Errors
/// A message naming `ca_file` when it cannot be read or holds no certificate.
pub fn client_config(
    ca_file: Option<&Path>,
    system_roots: bool,
) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    if system_roots {
        // Unreadable system certificates are skipped; an upstream they would have vouched for
        // then fails its handshake with a 502 and a log line naming the reason.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
    }
    if let Some(ca_file) = ca_file {
        for cert in certificates(ca_file)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: unusable CA certificate: {e}", ca_file.display()))?;
        }
    }
    let config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every certificate in the PEM file `file`; an error naming it when none can be read.
pub(crate) fn certificates(file: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", file.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", file.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, a.cert.pem()).unwrap();
        std::fs::write(&key, b.signing_key.serialize_pem()).unwrap();
        let e = server_config(&cert, &key).unwrap_err();
        assert!(e.contains("do not make a usable pair"), "{e}");
        std::fs::write(&key, a.signing_key.serialize_pem()).unwrap();
        assert!(server_config(&cert, &key).is_ok());
    }

    #[test]
    fn files_without_pem_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let e = client_config(Some(&empty), false).unwrap_err();
        assert!(
            e.contains("empty.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = server_config(&dir.path().join("missing.pem"), &empty).unwrap_err();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
