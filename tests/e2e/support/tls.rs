//! Certificates made per test (a CA and a leaf for 127.0.0.1 and localhost) and a TLS client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Reply, parse_reply};

/// A CA and one leaf it signed, written as PEM files.
pub struct Pki {
    pub ca_pem: String,
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub leaf_der: CertificateDer<'static>,
}

impl Pki {
    /// A fresh CA named `name` and a leaf for 127.0.0.1 and localhost, written into `dir`
    /// as `<name>-ca.pem`, `<name>-cert.pem`, `<name>-key.pem`.
    pub fn new(dir: &Path, name: &str) -> Pki {
        Pki::for_names(dir, name, &["localhost", "127.0.0.1"])
    }

    /// A fresh CA and a leaf for `names` (a server standing in for a sender's host).
    pub fn for_names(dir: &Path, name: &str, names: &[&str]) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let pki = Pki {
            ca_pem: ca.pem(),
            ca_file: dir.join(format!("{name}-ca.pem")),
            cert_file: dir.join(format!("{name}-cert.pem")),
            key_file: dir.join(format!("{name}-key.pem")),
            leaf_der: leaf.der().clone(),
        };
        std::fs::write(&pki.ca_file, &pki.ca_pem).unwrap();
        std::fs::write(&pki.cert_file, leaf.pem()).unwrap();
        std::fs::write(&pki.key_file, leaf_key.serialize_pem()).unwrap();
        pki
    }

    /// A server config presenting the leaf.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        hookgate::tls::server_config(&self.cert_file, &self.key_file).unwrap()
    }
}

/// Sends raw request bytes over TLS, trusting only `ca_pem`; returns the reply and the
/// certificate the server presented.
pub async fn tls_raw(
    addr: SocketAddr,
    ca_pem: &str,
    request: &[u8],
) -> Result<(Reply, CertificateDer<'static>), String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let mut stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let presented = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
    stream.write_all(request).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut out),
    )
    .await;
    Ok((parse_reply(&out), presented))
}
