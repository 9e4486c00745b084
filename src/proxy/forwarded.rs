//! The forwarding headers the app receives: who sent the request, over what.
//!
//! hookgate appends the peer's address to `X-Forwarded-For` and sets `X-Forwarded-Proto`.
//! Whatever a client sent in those headers, or in `Forwarded`, `X-Real-IP` and
//! `X-Forwarded-Host`, is kept only when the peer is one of the `trusted_proxies` (a load
//! balancer in front); from anyone else it is removed, so no sender can tell the app it is
//! somebody else. With no `trusted_proxies`, nobody's are kept.

use std::net::{IpAddr, SocketAddr};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Headers that say who the client is, honoured only from trusted proxies.
const CLIENT_CLAIMS: [HeaderName; 3] = [
    HeaderName::from_static("forwarded"),
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-forwarded-host"),
];

/// The networks whose forwarding headers are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Box<[IpNet]>);

impl TrustedProxies {
    /// Trusts peers in `networks`.
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(networks.into())
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// Sets the forwarding headers for a request from `peer`.
pub(super) fn set(
    headers: &mut HeaderMap,
    peer: SocketAddr,
    proto: &HeaderValue,
    trusted: &TrustedProxies,
) {
    if !trusted.trusts(peer.ip()) {
        headers.remove(&X_FORWARDED_FOR);
        for name in &CLIENT_CLAIMS {
            headers.remove(name);
        }
    }
    append_forwarded_for(headers, peer);
    headers.insert(X_FORWARDED_PROTO, proto.clone());
}

fn append_forwarded_for(headers: &mut HeaderMap, peer: SocketAddr) {
    let mut buf = [0u8; 64];
    let ip = format_ip(&mut buf, peer.ip());
    let value = match headers.get(&X_FORWARDED_FOR) {
        Some(existing) => {
            let mut joined = Vec::with_capacity(existing.len() + 2 + ip.len());
            joined.extend_from_slice(existing.as_bytes());
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(ip);
            HeaderValue::from_bytes(&joined)
        }
        None => HeaderValue::from_bytes(ip),
    };
    if let Ok(value) = value {
        headers.insert(X_FORWARDED_FOR, value);
    }
}

/// The address as text in `buf`, without `core::fmt` for IPv4 (every forwarded request).
fn format_ip(buf: &mut [u8; 64], ip: std::net::IpAddr) -> &[u8] {
    let len = match ip {
        std::net::IpAddr::V4(v4) => {
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[len] = b'.';
                    len += 1;
                }
                if octet >= 100 {
                    buf[len] = b'0' + octet / 100;
                    len += 1;
                }
                if octet >= 10 {
                    buf[len] = b'0' + octet / 10 % 10;
                    len += 1;
                }
                buf[len] = b'0' + octet % 10;
                len += 1;
            }
            len
        }
        std::net::IpAddr::V6(v6) => {
            use std::io::Write as _;
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            let _ = write!(cursor, "{v6}");
            usize::try_from(cursor.position()).unwrap_or(0)
        }
    };
    &buf[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_kept_only_from_trusted_peers() {
        let proto = HeaderValue::from_static("https");
        let claims = || {
            let mut h = HeaderMap::new();
            h.insert(X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
            h.insert("x-real-ip", HeaderValue::from_static("1.2.3.4"));
            h.insert("forwarded", HeaderValue::from_static("for=1.2.3.4"));
            h.insert("x-forwarded-host", HeaderValue::from_static("bank.example"));
            h
        };
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let mut from_lb = claims();
        set(
            &mut from_lb,
            "10.1.2.3:80".parse().unwrap(),
            &proto,
            &trusted,
        );
        assert_eq!(from_lb[&X_FORWARDED_FOR], "1.2.3.4, 10.1.2.3");
        assert_eq!(from_lb["x-real-ip"], "1.2.3.4");
        let mut from_anyone = claims();
        set(
            &mut from_anyone,
            "192.0.2.9:80".parse().unwrap(),
            &proto,
            &trusted,
        );
        assert_eq!(from_anyone[&X_FORWARDED_FOR], "192.0.2.9");
        assert_eq!(from_anyone[&X_FORWARDED_PROTO], "https");
        for name in ["x-real-ip", "forwarded", "x-forwarded-host"] {
            assert!(!from_anyone.contains_key(name), "{name}");
        }
        assert!(
            trusted.trusts("::ffff:10.9.9.9".parse().unwrap()),
            "v4-mapped"
        );
        assert!(!TrustedProxies::default().trusts("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn addresses_format_as_std_does() {
        for ip in [
            "0.0.0.0",
            "10.1.20.255",
            "127.0.0.1",
            "100.9.99.1",
            "::1",
            "2001:db8::8a2e:370:7334",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut buf = [0u8; 64];
            assert_eq!(format_ip(&mut buf, ip), ip.to_string().as_bytes());
        }
    }

    #[test]
    fn forwarded_for_appends() {
        let peer: SocketAddr = "10.1.2.3:5555".parse().unwrap();
        let mut h = HeaderMap::new();
        append_forwarded_for(&mut h, peer);
        assert_eq!(h[&X_FORWARDED_FOR], "10.1.2.3");
        append_forwarded_for(&mut h, peer);
        assert_eq!(h[&X_FORWARDED_FOR], "10.1.2.3, 10.1.2.3");
    }
}
