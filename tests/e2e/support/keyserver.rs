//! A stand-in for a sender's key host (Amazon SNS's `sns.<region>.amazonaws.com`): https with
//! a certificate for those names from a test CA, serving files by path and recording every
//! request. The gateway reaches it through `HOOKGATE_UNSAFE_KEY_FETCH_OVERRIDE`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::tls::Pki;

/// One request the key server received: its target and `Host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub target: String,
    pub host: String,
}

#[derive(Clone)]
pub struct KeyServer {
    pub addr: SocketAddr,
    pub pki: Arc<Pki>,
    files: Arc<Mutex<HashMap<String, Bytes>>>,
    seen: Arc<Mutex<Vec<Fetch>>>,
    /// When not 0, every answer has this status.
    pub fail_with: Arc<AtomicU16>,
}

impl KeyServer {
    /// A key server for `names`, its PKI written into `dir`.
    pub async fn start(dir: &Path, names: &[&str]) -> KeyServer {
        let pki = Pki::for_names(dir, "keys", names);
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = KeyServer {
            addr: listener.local_addr().unwrap(),
            pki: Arc::new(pki),
            files: Arc::default(),
            seen: Arc::default(),
            fail_with: Arc::default(),
        };
        let state = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.answer(&req)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        server
    }

    fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        self.seen.lock().unwrap().push(Fetch {
            target: target.to_owned(),
            host,
        });
        let mut response = Response::new(Full::new(Bytes::new()));
        let fail = self.fail_with.load(Ordering::SeqCst);
        if fail != 0 {
            *response.status_mut() = StatusCode::from_u16(fail).unwrap();
            return response;
        }
        let path = req.uri().path();
        let file = self.files.lock().unwrap().get(path).cloned();
        match file {
            Some(body) => *response.body_mut() = Full::new(body),
            None if path == "/" => {
                *response.body_mut() =
                    Full::new(Bytes::from_static(b"<ConfirmSubscriptionResponse/>"));
            }
            None => *response.status_mut() = StatusCode::NOT_FOUND,
        }
        response
    }

    /// Serves `body` at `path`.
    pub fn serve(&self, path: &str, body: impl Into<Bytes>) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_owned(), body.into());
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Fetch> {
        self.seen.lock().unwrap().clone()
    }

    /// The environment that points a gateway at this server.
    pub fn env(&self) -> (String, String) {
        (
            "HOOKGATE_UNSAFE_KEY_FETCH_OVERRIDE".to_owned(),
            format!("{},{}", self.addr, self.pki.ca_file.display()),
        )
    }
}
