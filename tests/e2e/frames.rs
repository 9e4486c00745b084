//! Bodies that arrive in many reads: verified in the frames they came in (or joined, for a
//! scheme that parses the body) and forwarded byte for byte; a change in any frame refused.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::sign::{hmac_sha256, sign};
use crate::support::{GatewayConfig, InProcess, NOW, Upstream, chunked_post, parse_reply, raw};

const LIMIT: &str = "max_body_bytes: 1048576\ntimeouts: { upstream_seconds: 5, body_seconds: 5 }";

async fn gateway(upstream: &Upstream, route_keys: &str) -> InProcess {
    GatewayConfig::new(upstream)
        .top(LIMIT)
        .route("r", "path: /hook")
        .with(route_keys)
        .in_process()
        .await
}

/// 300 KiB that no two frames share by accident.
fn large_body() -> Vec<u8> {
    let mut body = b"{\"data\":\"".to_vec();
    body.extend((0..300 * 1024u32).map(|i| b'a' + (i.wrapping_mul(7919) % 26) as u8));
    body.extend_from_slice(b"\",\"id\":\"evt-1\"}");
    body
}

/// Writes the head, then the body in `pieces` writes with a pause between, so the gateway
/// reads it in several frames; returns the status.
async fn send_in_pieces(gw: &InProcess, headers: &[(String, String)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(gw.addr).await.unwrap();
    let mut head = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(body.len().div_ceil(6)) {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    parse_reply(&out).status
}

#[tokio::test]
async fn a_large_body_read_in_pieces_is_verified_in_its_frames_and_forwarded_exactly() {
    let upstream = Upstream::start().await;
    let gw = gateway(&upstream, "    provider: flow\n    secrets: [s]\n").await;
    let body = large_body();
    let headers = sign("flow", &["s"], &body, NOW);
    assert_eq!(send_in_pieces(&gw, &headers, &body).await, 200);
    let received = upstream.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].body[..] == body[..], "forwarded byte for byte");
    assert_eq!(
        received[0].headers["content-length"],
        body.len().to_string()
    );

    // One byte changed in each of the first, a middle and the last frame: never forwarded.
    for at in [3, body.len() / 2, body.len() - 3] {
        let mut forged = body.clone();
        forged[at] ^= 1;
        assert_eq!(send_in_pieces(&gw, &headers, &forged).await, 401, "at {at}");
    }
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn a_scheme_that_reads_a_body_field_gets_the_whole_body_from_pieces() {
    let upstream = Upstream::start().await;
    let scheme = "    secrets: [s]\n    scheme:\n      signature_header: X-Sig\n      signed_payload: '{json:id}.{body}'\n";
    let gw = gateway(&upstream, scheme).await;
    let body = large_body();
    let mut signed = b"evt-1.".to_vec();
    signed.extend_from_slice(&body);
    let headers = vec![("X-Sig".to_owned(), hex::encode(hmac_sha256("s", &signed)))];
    assert_eq!(send_in_pieces(&gw, &headers, &body).await, 200);
    let received = upstream.received();
    assert!(received[0].body[..] == body[..]);
    let other = String::from_utf8(body.clone())
        .unwrap()
        .replace("\"evt-1\"", "\"evt-2\"");
    let other = other.into_bytes();
    assert_eq!(send_in_pieces(&gw, &headers, &other).await, 401);
    assert_eq!(upstream.count(), 1);
}

#[tokio::test]
async fn a_chunked_body_of_many_frames_is_joined_and_forwarded_whole() {
    let upstream = Upstream::start().await;
    let gw = gateway(&upstream, "    provider: flow\n    secrets: [s]\n").await;
    // Each chunk is a frame: more than the gateway keeps apart.
    let body: Vec<u8> = (0..40u8).flat_map(|i| [b'a' + i % 26; 100]).collect();
    let (name, value) = sign("flow", &["s"], &body, NOW).remove(0);
    let request = chunked_post(&name, &value, &body, 100);
    let reply = raw(gw.addr, &request).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let received = upstream.received();
    assert_eq!(&received[0].body[..], &body[..]);
    assert_eq!(received[0].headers["content-length"], "4000");
}
