//! A raw HTTP/1.1 client: requests written byte for byte, replies read until the server closes.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// A chunked `POST /hook` of `body` in chunks of `size` bytes (each a frame to the server),
/// with the header `name: value`; the connection closes after it.
pub fn chunked_post(name: &str, value: &str, body: &[u8], size: usize) -> Vec<u8> {
    let mut request = format!("POST /hook HTTP/1.1\r\nhost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\n{name}: {value}\r\n\r\n").into_bytes();
    for part in body.chunks(size) {
        request.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        request.extend_from_slice(part);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

/// Sends raw request bytes and reads the reply until the server closes.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    parse_reply(&out)
}

pub fn parse_reply(out: &[u8]) -> Reply {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(out.len());
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out.get(split + 4..).unwrap_or_default().to_vec();
    Reply { status, head, body }
}

/// A request with a Content-Length body and `Connection: close`.
pub fn request(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("{method} {target} HTTP/1.1\r\nhost: gateway.test\r\nconnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// GETs `target`.
pub async fn get(addr: SocketAddr, target: &str) -> Reply {
    raw(addr, &request("GET", target, &[], b"")).await
}

/// POSTs `body` with `headers` to `target`.
pub async fn post(
    addr: SocketAddr,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Reply {
    raw(addr, &request("POST", target, headers, body)).await
}

/// POSTs to `/hook` on one connection and returns the status, or 0 when the connection is
/// refused or closed before any answer (a listener gone, a process killed).
pub async fn try_post(addr: SocketAddr, headers: &[(String, String)], body: &[u8]) -> u16 {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return 0;
    };
    if stream
        .write_all(&request("POST", "/hook", headers, body))
        .await
        .is_err()
    {
        return 0;
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    parse_reply(&out).status
}
