//! The SSRF guard: which URLs a key fetch (or a subscription visit) may go to.
//!
//! A URL comes from the request, so it is checked against hosts the preset pins before
//! anything is resolved or connected: https only, on port 443, no user info, and a host
//! that matches a pin such as `sns.*.amazonaws.com`, where `*` is exactly one DNS label of
//! lowercase letters, digits and hyphens. The connection then goes to the very host that
//! was checked, by name, and its certificate must be valid for that name.

use http::Uri;

/// The longest URL considered; a sender's certificate URL is about 120 bytes.
const MAX_URL: usize = 2048;

/// A URL that passed the guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The pinned host it names, lowercase.
    pub host: String,
    /// The path and query, sent as the request target.
    pub path_and_query: String,
}

impl Target {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(&self.path_and_query[..], |(path, _)| path)
    }
}

/// Why a URL was refused; names the rule, so the log says what an attacker tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a URL, or too long.
    #[error("not a URL")]
    Unparsable,
    /// Not `https`.
    #[error("not https")]
    NotHttps,
    /// Carries user info (`user@host`), which some parsers read as the host.
    #[error("carries user info")]
    UserInfo,
    /// Names a port other than 443.
    #[error("names a port")]
    Port,
    /// The host matches no pin.
    #[error("host is not pinned")]
    Host,
    /// The path is not of the shape the sender uses.
    #[error("path is not of the sender's shape")]
    Path,
}

/// Checks `url` against `pins` (see the module doc).
///
/// # Errors
/// The [`Refused`] rule it breaks.
pub fn check(url: &str, pins: &[&str]) -> Result<Target, Refused> {
    if url.len() > MAX_URL || !url.starts_with("https://") {
        return Err(if url.len() > MAX_URL || !url.contains("://") {
            Refused::Unparsable
        } else {
            Refused::NotHttps
        });
    }
    let uri: Uri = url.parse().map_err(|_| Refused::Unparsable)?;
    if uri.scheme_str() != Some("https") {
        return Err(Refused::NotHttps);
    }
    let authority = uri.authority().ok_or(Refused::Unparsable)?;
    if authority.as_str().contains('@') {
        return Err(Refused::UserInfo);
    }
    let host = authority.host();
    // What follows the host: nothing, or the default port written out.
    let port = authority.as_str().strip_prefix(host).unwrap_or(":");
    if !port.is_empty() && port != ":443" {
        return Err(Refused::Port);
    }
    if !pins.iter().any(|pin| matches_pin(host, pin)) {
        return Err(Refused::Host);
    }
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    if !path_and_query.starts_with('/') {
        return Err(Refused::Path);
    }
    Ok(Target {
        host: host.to_owned(),
        path_and_query: path_and_query.to_owned(),
    })
}

/// Whether `host` is `pin` with its one `*` replaced by one DNS label.
fn matches_pin(host: &str, pin: &str) -> bool {
    let Some((before, after)) = pin.split_once('*') else {
        return host == pin;
    };
    let Some(label) = host
        .strip_prefix(before)
        .and_then(|rest| rest.strip_suffix(after))
    else {
        return false;
    };
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNS: &[&str] = &["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"];

    #[test]
    fn a_pinned_https_url_passes() {
        let t = check(
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            SNS,
        )
        .unwrap();
        assert_eq!(t.host, "sns.us-east-1.amazonaws.com");
        assert_eq!(t.path(), "/SimpleNotificationService-abc.pem");
        let t = check(
            "https://sns.cn-north-1.amazonaws.com.cn:443/?Action=ConfirmSubscription&Token=x",
            SNS,
        )
        .unwrap();
        assert_eq!(t.path(), "/");
        assert_eq!(t.path_and_query, "/?Action=ConfirmSubscription&Token=x");
    }

    #[test]
    fn every_way_to_point_elsewhere_is_refused() {
        let cases = [
            (
                "http://sns.us-east-1.amazonaws.com/a.pem",
                Refused::NotHttps,
            ),
            (
                "HTTPS://sns.us-east-1.amazonaws.com/a.pem",
                Refused::NotHttps,
            ),
            ("ftp://sns.us-east-1.amazonaws.com/a.pem", Refused::NotHttps),
            ("sns.us-east-1.amazonaws.com/a.pem", Refused::Unparsable),
            ("https://evil.example/a.pem", Refused::Host),
            (
                "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
                Refused::Host,
            ),
            (
                "https://evil.example/sns.us-east-1.amazonaws.com/a.pem",
                Refused::Host,
            ),
            (
                "https://sns.us-east-1.amazonaws.com@evil.example/a.pem",
                Refused::UserInfo,
            ),
            (
                "https://u:p@sns.us-east-1.amazonaws.com/a.pem",
                Refused::UserInfo,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:8443/a.pem",
                Refused::Port,
            ),
            ("https://sns.us-east-1.amazonaws.com:/a.pem", Refused::Port),
            ("https://sns.a.b.amazonaws.com/a.pem", Refused::Host),
            ("https://sns..amazonaws.com/a.pem", Refused::Host),
            ("https://sns.US-EAST-1.amazonaws.com/a.pem", Refused::Host),
            ("https://sns.-x.amazonaws.com/a.pem", Refused::Host),
            ("https://127.0.0.1/a.pem", Refused::Host),
            ("https://[::1]/a.pem", Refused::Host),
            (
                "https://sns.us-east-1.amazonaws.com\\@evil.example/a.pem",
                Refused::Unparsable,
            ),
            (
                "https://sns.us%2Deast-1.amazonaws.com/a.pem",
                Refused::Unparsable,
            ),
        ];
        for (url, want) in cases {
            assert_eq!(check(url, SNS), Err(want), "{url}");
        }
        let long = format!(
            "https://sns.us-east-1.amazonaws.com/{}",
            "a".repeat(MAX_URL)
        );
        assert_eq!(check(&long, SNS), Err(Refused::Unparsable));
    }

    #[test]
    fn a_pin_without_a_star_is_exact() {
        assert!(matches_pin("api.paypal.com", "api.paypal.com"));
        assert!(!matches_pin("xapi.paypal.com", "api.paypal.com"));
    }
}
