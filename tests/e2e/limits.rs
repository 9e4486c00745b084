//! Statuses other than verify: limits, routing and upstream failures.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::sign::sign;
use crate::support::{
    Act, GatewayConfig, InProcess, NOW, RawUpstream, Upstream, chunked_post, one_route,
    parse_reply, post, raw,
};

async fn flow_gateway() -> (Upstream, InProcess) {
    let upstream = Upstream::start().await;
    let gw = one_route(&upstream, "    provider: flow\n    secrets: [s]\n")
        .in_process()
        .await;
    (upstream, gw)
}

#[tokio::test]
async fn unknown_path_is_404() {
    let (upstream, gw) = flow_gateway().await;
    let reply = post(gw.addr, "/nope", &[], b"{}").await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (404, &br#"{"error":"no_route"}"#[..])
    );
    assert_eq!(
        post(gw.addr, "/hook/deeper", &[], b"{}").await.status,
        404,
        "exact paths are exact"
    );
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn oversize_content_length_is_413_before_the_body_is_read() {
    let (upstream, gw) = flow_gateway().await;
    let body = vec![b'a'; 4097];
    let reply = post(gw.addr, "/hook", &sign("flow", &["s"], &body, NOW), &body).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (413, &br#"{"error":"body_too_large"}"#[..])
    );

    // With Expect: 100-continue the answer comes without a 100 and without sending the body.
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    stream
        .write_all(b"POST /hook HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 100000000\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let reply = parse_reply(&out);
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(!String::from_utf8_lossy(&out).contains("100 Continue"));
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn oversize_chunked_body_is_413() {
    let (upstream, gw) = flow_gateway().await;
    let chunk = "a".repeat(1000);
    let mut request = String::from(
        "POST /hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\nx-flow-signature: sha-256=00\r\n\r\n",
    );
    for _ in 0..5 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    let reply = raw(gw.addr, request.as_bytes()).await;
    assert_eq!(reply.status, 413);
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn chunked_body_within_the_limit_is_verified_and_forwarded_whole() {
    let (upstream, gw) = flow_gateway().await;
    let body = b"{\"chunked\":true,\"pad\":\"0123456789\"}";
    let (name, value) = sign("flow", &["s"], body, NOW).remove(0);
    let request = chunked_post(&name, &value, body, 7);
    let reply = raw(gw.addr, &request).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let received = upstream.received();
    assert_eq!(&received[0].body[..], body);
    assert!(received[0].headers.get("transfer-encoding").is_none());
    assert_eq!(
        received[0].headers["content-length"],
        body.len().to_string()
    );
}

#[tokio::test]
async fn wrong_method_is_405() {
    let (upstream, gw) = flow_gateway().await;
    let reply = raw(
        gw.addr,
        b"PUT /hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 405);
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn unreachable_upstream_is_502_and_the_retry_passes_once_it_is_back() {
    let spare = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = spare.local_addr().unwrap().port();
    drop(spare);
    let gw = GatewayConfig::to(&format!("http://127.0.0.1:{port}"))
        .flow("r", "/hook", "s")
        .in_process()
        .await;
    let headers = sign("flow", &["s"], b"{}", NOW);
    let reply = post(gw.addr, "/hook", &headers, b"{}").await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (502, &br#"{"error":"upstream_unreachable"}"#[..])
    );
    let reply = post(gw.addr, "/hook", &headers, b"{}").await;
    assert_eq!(
        reply.status, 502,
        "not a replay: the reservation was released"
    );
}

#[tokio::test]
async fn slow_upstream_is_504_and_the_reservation_is_released() {
    let (upstream, gw) = flow_gateway().await;
    upstream
        .delay_ms
        .store(3000, std::sync::atomic::Ordering::SeqCst);
    let headers = sign("flow", &["s"], b"{}", NOW);
    let reply = post(gw.addr, "/hook", &headers, b"{}").await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (504, &br#"{"error":"upstream_timeout"}"#[..])
    );
    upstream
        .delay_ms
        .store(0, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(post(gw.addr, "/hook", &headers, b"{}").await.status, 200);
}

#[tokio::test]
async fn a_body_trickled_past_the_body_timeout_is_408() {
    let (upstream, gw) = flow_gateway().await;
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    stream
        .write_all(b"POST /hook HTTP/1.1\r\nhost: x\r\nx-flow-signature: sha-256=00\r\ncontent-length: 10\r\n\r\n{")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(6), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(parse_reply(&out).status, 408);
    assert_eq!(upstream.count(), 0);
}

#[tokio::test]
async fn a_route_upstream_with_a_base_path_prefixes_the_forwarded_path() {
    let upstream = Upstream::start().await;
    let gw = GatewayConfig::without_upstream()
        .route(
            "r",
            &format!(
                "path_prefix: /in/\nupstream: http://{}/base/\nprovider: flow\nsecrets: [s]",
                upstream.addr
            ),
        )
        .in_process()
        .await;
    let reply = post(
        gw.addr,
        "/in/orders?x=1",
        &sign("flow", &["s"], b"{}", NOW),
        b"{}",
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(upstream.received()[0].uri, "/base/in/orders?x=1");
}

/// A gateway with one flow route (secret `s`, no replay protection) in front of `upstream`.
async fn pooled_gateway(upstream: SocketAddr, top: &str) -> InProcess {
    GatewayConfig::to(&format!("http://{upstream}"))
        .top(top)
        .flow("r", "/hook", "s")
        .with("replay: false")
        .in_process()
        .await
}

/// Delivery `i` of a sequence, signed for [`pooled_gateway`]; it must be answered 200.
async fn deliver_ok(gateway: &InProcess, i: u32) -> crate::support::Reply {
    let body = format!("{{\"i\":{i}}}").into_bytes();
    let reply = post(
        gateway.addr,
        "/hook",
        &sign("flow", &["s"], &body, 0),
        &body,
    )
    .await;
    assert_eq!((i, reply.status), (i, 200), "{reply:?}");
    reply
}

#[tokio::test]
async fn an_upstream_closing_idle_connections_loses_and_duplicates_nothing() {
    // Each answer is followed by a close the upstream did not announce (no
    // `Connection: close`), as a keep-alive timeout does.
    let upstream =
        RawUpstream::start(|_| Act::Close(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")).await;
    let gateway = pooled_gateway(upstream.addr, "timeouts: { upstream_seconds: 2 }").await;
    for i in 0..50 {
        deliver_ok(&gateway, i).await;
    }
    assert_eq!(upstream.count(), 50, "each delivery reached the app once");
}

/// The upstream closes each kept-alive connection a while after answering, while it sits in
/// the pool. The next delivery must find it closed before sending, and go out on a new one.
#[tokio::test]
async fn an_upstream_closing_pooled_connections_while_idle_costs_no_502() {
    let upstream = RawUpstream::start(|_| {
        Act::CloseIdle(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", 50)
    })
    .await;
    let gateway = pooled_gateway(upstream.addr, "").await;
    for i in 0..5 {
        deliver_ok(&gateway, i).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(upstream.count(), 5, "each delivery reached the app once");
}

#[tokio::test]
async fn sequential_deliveries_share_one_upstream_connection() {
    let upstream = Upstream::start().await;
    let gateway = pooled_gateway(upstream.addr, "").await;
    for i in 0..20 {
        assert_eq!(deliver_ok(&gateway, i).await.body, b"upstream says hi");
    }
    assert_eq!(upstream.count(), 20);
    assert_eq!(
        upstream
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the pooled connection was reused"
    );
}

/// Work before verification stays proportional to what a sender could mean: a body in
/// thousands of 1-byte chunks is refused once its frames are too many and too small (the
/// whole megabyte used to be read, ~0.7 s of CPU), and a form of more fields than any sender
/// signs is refused without being parsed.
#[tokio::test]
async fn bodies_that_only_cost_cpu_are_refused_early() {
    let (upstream, gw) = flow_gateway().await;
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    stream
        .write_all(b"POST /hook HTTP/1.1\r\nhost: x\r\nx-flow-signature: sha-256=00\r\ntransfer-encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    // 4,000 one-byte chunks: under the route's 4 KiB limit, so only fragmentation refuses it.
    let _ = stream.write_all(&b"1\r\na\r\n".repeat(4000)).await;
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    let reply = parse_reply(&out);
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body, br#"{"error":"body_unreadable"}"#);
    assert_eq!(reply.header("connection").as_deref(), Some("close"));

    let upstream_twilio = Upstream::start().await;
    let twilio = one_route(
        &upstream_twilio,
        "provider: twilio\nsecrets: [tok]\npublic_url: https://h.example.com/",
    )
    .top("max_body_bytes: 65536")
    .in_process()
    .await;
    let form = "a=1&".repeat(2000);
    let headers = [(
        "X-Twilio-Signature".to_owned(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
    )];
    let reply = post(twilio.addr, "/hook", &headers, form.as_bytes()).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.body, br#"{"error":"signature_malformed"}"#,
        "refused unparsed, not checked"
    );
    assert_eq!(upstream.count() + upstream_twilio.count(), 0);
}
