//! Requests a route answers itself, so the app behind never has to.
//!
//! `echo` (nopCommerce, ASP.NET WebHooks): at registration the sender sends
//! `GET <uri>?echo=<value>` and expects 200 with the value as the body.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, X_CONTENT_TYPE_OPTIONS};
use http::{Method, Response, Uri};
use http_body_util::Full;

use crate::error::Rejection;
use crate::scheme::Handshake;

/// The longest echo value answered. Real ones are GUIDs.
const MAX_ECHO_BYTES: usize = 1024;

/// If `method` and `uri` are this handshake's request, its answer; `None` when the request is
/// an ordinary delivery.
pub fn answer(
    handshake: Handshake,
    method: &Method,
    uri: &Uri,
) -> Option<Result<Response<Full<Bytes>>, Rejection>> {
    match handshake {
        Handshake::Echo if method == Method::GET => Some(echo(uri)),
        Handshake::Echo => None,
    }
}

fn echo(uri: &Uri) -> Result<Response<Full<Bytes>>, Rejection> {
    let value = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("echo="))
        .ok_or(Rejection::HandshakeMalformed)?;
    let value = percent_decode(value).ok_or(Rejection::HandshakeMalformed)?;
    if value.is_empty() || value.len() > MAX_ECHO_BYTES {
        return Err(Rejection::HandshakeMalformed);
    }
    let mut response = Response::new(Full::new(Bytes::from(value)));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// Decodes `%XX` escapes and `+` as space, as in a form-encoded query.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let mut byte = [0u8; 1];
                hex::decode_to_slice(hex, &mut byte).ok()?;
                out.push(byte[0]);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echoes_the_value_decoded() {
        use http_body_util::BodyExt;
        let uri: Uri = "/hook?x=1&echo=ab%2Fc+d".parse().unwrap();
        let response = answer(Handshake::Echo, &Method::GET, &uri)
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"ab/c d");
    }

    #[test]
    fn only_get_is_a_handshake() {
        let uri: Uri = "/hook?echo=1".parse().unwrap();
        assert!(answer(Handshake::Echo, &Method::POST, &uri).is_none());
    }

    #[test]
    fn malformed_echo_requests() {
        for uri in ["/hook", "/hook?echo=", "/hook?echo=%zz", "/hook?echo=%4"] {
            let uri: Uri = uri.parse().unwrap();
            assert_eq!(
                answer(Handshake::Echo, &Method::GET, &uri)
                    .unwrap()
                    .unwrap_err(),
                Rejection::HandshakeMalformed,
                "{uri}"
            );
        }
        assert_eq!(percent_decode("a%41+b").unwrap(), b"aA b");
    }
}
