//! One https GET to a guarded [`Target`]: a fresh connection, bounded in time and size,
//! no redirects followed, no cookies, nothing from the request that asked for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::guard::Target;

/// Makes the requests; see the module doc.
pub(crate) struct Client {
    tls: TlsConnector,
    /// Where every connection goes instead of the host's address (tests only; see
    /// `KeyFetcher::from_env`).
    redirect: Option<SocketAddr>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("redirect", &self.redirect)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(
        tls: Arc<rustls::ClientConfig>,
        redirect: Option<SocketAddr>,
        timeout: Duration,
    ) -> Client {
        Client {
            tls: TlsConnector::from(tls),
            redirect,
            timeout,
        }
    }

    /// GETs `target`, reading at most `max` body bytes; the status and the body.
    ///
    /// # Errors
    /// A message for the log: connect, TLS, HTTP, timeout or size.
    pub(crate) async fn get(
        &self,
        target: &Target,
        max: usize,
    ) -> Result<(StatusCode, Bytes), String> {
        tokio::time::timeout(self.timeout, self.exchange(target, max))
            .await
            .map_err(|_| format!("no answer within {} ms", self.timeout.as_millis()))?
    }

    async fn exchange(&self, target: &Target, max: usize) -> Result<(StatusCode, Bytes), String> {
        let stream = match self.redirect {
            Some(addr) => TcpStream::connect(addr).await,
            None => TcpStream::connect((target.host.as_str(), 443)).await,
        }
        .map_err(|e| format!("connect: {e}"))?;
        let name =
            ServerName::try_from(target.host.clone()).map_err(|e| format!("server name: {e}"))?;
        let stream = self
            .tls
            .connect(name, stream)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let (mut sender, connection) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        // The connection ends with the exchange (`Connection: close`) or when this times out
        // and drops the sender.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let request = Request::get(target.path_and_query.as_str())
            .header(header::HOST, target.host.as_str())
            .header(header::USER_AGENT, "hookgate")
            .header(header::CONNECTION, "close")
            .body(Empty::new())
            .map_err(|e| format!("request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), max)
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}
