//! The admin listener: `/healthz`, `/readyz` and `/metrics`, on its own address so probes and
//! scrapes never share a port (or a rate limit) with senders.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::gateway::Gateway;
use crate::response::{self, Synthetic};
use crate::send_timeout::SendTimeout;

/// Open admin connections at once: probes and scrapes need a handful.
const MAX_CONNECTIONS: usize = 64;

/// The Prometheus text format's content type.
const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves the admin endpoints on `listener` until the task is dropped. The admin listener
/// stays up while the gateway drains, so `/readyz` can say so.
pub(crate) async fn run(listener: TcpListener, gateway: Arc<Gateway>) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "admin listening");
    }
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Past the cap the connection is closed at once: probes retry, and a flood of
        // admin connections costs nothing to the webhook listener.
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let stream = SendTimeout::new(stream, Duration::from_secs(10));
        let gateway = Arc::clone(&gateway);
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| {
                let gateway = Arc::clone(&gateway);
                async move { Ok::<_, std::convert::Infallible>(answer(&gateway, &request).await) }
            });
            let mut http = http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10));
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Answers one admin request.
pub(crate) async fn answer(gateway: &Gateway, request: &Request<Incoming>) -> Synthetic {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match request.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => match gateway.readiness().await {
            Ok(()) => text(StatusCode::OK, "ready\n"),
            Err(why) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("not ready: {why}\n"),
            ),
        },
        "/metrics" => {
            let ready = gateway.readiness().await.is_ok();
            let mut text = gateway.metrics().render(ready);
            if let Some(queue) = gateway.queue() {
                queue.render_metrics(&mut text, gateway.clock().now_ms());
            }
            response::admin_body(text, METRICS_TYPE)
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /healthz, /readyz or /metrics\n",
        ),
    }
}

fn text(status: StatusCode, body: &str) -> Synthetic {
    response::admin_text(status, body)
}
