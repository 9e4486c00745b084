//! A bare reverse proxy on hyper 1.x, the floor hookgate is measured against in `bench/run`:
//! reads the whole request body, strips hop-by-hop headers, adds `X-Forwarded-For`, forwards
//! through hyper-util's pooled client and relays the whole response. It verifies nothing,
//! writes no log and is not tuned: what a Rust proxy costs before it does any work of its own.
//!
//!   bare-proxy <listen addr> <upstream host:port>
//!   bare-proxy --hmac-cost <bytes>   # µs one HMAC-SHA256 of that many bytes takes, for the report
//!   bare-proxy --hmac-times <bytes> <n>   # n HMACs and exit, for bench/instructions to count

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Upstream = Client<HttpConnector, Full<Bytes>>;

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

fn strip(headers: &mut HeaderMap) {
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

async fn proxy(
    client: Upstream,
    upstream: &'static str,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (mut parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return status(StatusCode::BAD_REQUEST);
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("http://{upstream}{path}").parse::<Uri>() else {
        return status(StatusCode::BAD_REQUEST);
    };
    parts.uri = uri;
    strip(&mut parts.headers);
    if let Ok(value) = HeaderValue::from_str(&peer.ip().to_string()) {
        parts.headers.append("x-forwarded-for", value);
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let Ok(response) = client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
    else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let (mut head, body) = response.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return status(StatusCode::BAD_GATEWAY);
    };
    strip(&mut head.headers);
    Response::from_parts(head, Full::new(body))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// The median over 25 batches of the µs one HMAC-SHA256 of `size` bytes takes, with the
/// same `hmac` and `sha2` crates hookgate verifies with.
fn hmac_cost(size: usize) -> f64 {
    use hmac::{KeyInit, Mac};
    let body = vec![0x5a_u8; size];
    let reps = (64 << 20) / size.max(1) + 1;
    let mut batches: Vec<f64> = (0..25)
        .map(|_| {
            let start = std::time::Instant::now();
            for _ in 0..reps {
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"bench-secret")
                    .expect("any key length");
                mac.update(std::hint::black_box(&body));
                std::hint::black_box(mac.finalize());
            }
            start.elapsed().as_secs_f64() * 1e6 / reps as f64
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[batches.len() / 2]
}

/// `times` HMAC-SHA256s of a `size`-byte body, so that callgrind can count one. The keyed
/// state is made once and cloned per body, as hookgate does at config load.
fn hmac_times(size: usize, times: usize) {
    use hmac::{KeyInit, Mac};
    let body = vec![0x5a_u8; size];
    let keyed =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(b"bench-secret").expect("any key length");
    for _ in 0..times {
        let mut mac = std::hint::black_box(&keyed).clone();
        mac.update(std::hint::black_box(&body));
        std::hint::black_box(mac.finalize());
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("--hmac-cost") {
        let size = args.next().and_then(|s| s.parse().ok()).unwrap_or(65536);
        println!("{:.2}", hmac_cost(size));
        return Ok(());
    }
    if first.as_deref() == Some("--hmac-times") {
        let size = args.next().and_then(|s| s.parse().ok()).unwrap_or(1024);
        let times = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
        hmac_times(size, times);
        return Ok(());
    }
    let (Some(listen), Some(upstream)) = (first, args.next()) else {
        eprintln!("usage: bare-proxy <listen addr> <upstream host:port>");
        std::process::exit(2);
    };
    let upstream: &'static str = Box::leak(upstream.into_boxed_str());
    let client: Upstream = Client::builder(TokioExecutor::new()).build_http();
    let listener = TcpListener::bind(&listen).await?;
    loop {
        let (stream, peer) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let client = client.clone();
                async move { Ok::<_, Infallible>(proxy(client, upstream, peer, request).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
