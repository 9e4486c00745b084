//! A public key fetched at run time from a URL the delivery names in a header (PayPal's
//! `PAYPAL-CERT-URL`): the certificate there signs, and only hosts the scheme pins may serve
//! it. The delivery chooses the URL; the scheme chooses where it may point.

use http::HeaderName;
use serde::Deserialize;

/// The YAML shape of a `signing_cert:` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertSpec {
    /// The header carrying the certificate's URL.
    pub url_header: String,
    /// The hosts the URL may name: DNS names, each with at most one `*` standing for one
    /// whole label (`sns.*.amazonaws.com`).
    pub hosts: Vec<String>,
    /// The URL's path must start with this; default `/`.
    pub path_prefix: Option<String>,
}

/// A validated `signing_cert:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRule {
    /// See [`CertSpec::url_header`].
    pub url_header: HeaderName,
    /// See [`CertSpec::hosts`].
    pub hosts: Box<[Box<str>]>,
    /// See [`CertSpec::path_prefix`].
    pub path_prefix: Box<str>,
}

impl CertRule {
    /// The pinned hosts as the SSRF guard takes them.
    pub fn pins(&self) -> Vec<&str> {
        self.hosts.iter().map(|h| &**h).collect()
    }
}

impl CertSpec {
    /// Validates the block; the message says what is wrong.
    pub fn build(&self) -> Result<CertRule, String> {
        let url_header = HeaderName::try_from(self.url_header.trim())
            .map_err(|_| format!("url_header `{}` is not a header name", self.url_header))?;
        if self.hosts.is_empty() {
            return Err("hosts lists where the certificate may be fetched from".into());
        }
        for host in &self.hosts {
            host_pattern(host)?;
        }
        let path_prefix = self.path_prefix.as_deref().unwrap_or("/");
        if !path_prefix.starts_with('/') || path_prefix.contains(['?', '#']) {
            return Err(format!(
                "path_prefix `{path_prefix}` must start with / and hold no query"
            ));
        }
        Ok(CertRule {
            url_header,
            hosts: self.hosts.iter().map(|h| h.as_str().into()).collect(),
            path_prefix: path_prefix.into(),
        })
    }
}

/// A host pin: lowercase DNS labels, one of which may be `*`; no IP address, no port.
pub(super) fn host_pattern(host: &str) -> Result<(), String> {
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        *l == "*"
            || (!l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    };
    let stars = labels.iter().filter(|l| **l == "*").count();
    let numeric = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if labels.len() < 2 || !labels.iter().all(label_ok) || stars > 1 || numeric {
        return Err(format!(
            "host `{host}` is not a lowercase DNS name (one `*` label allowed, no address or port)"
        ));
    }
    if labels.last() == Some(&"*") || labels.len() - stars < 2 {
        return Err(format!("host `{host}` pins too little: name the domain"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hosts: &[&str]) -> CertSpec {
        CertSpec {
            url_header: "PAYPAL-CERT-URL".into(),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            path_prefix: Some("/v1/notifications/certs/".into()),
        }
    }

    #[test]
    fn hosts_are_dns_names_that_pin_a_domain() {
        assert!(
            spec(&["api.paypal.com", "sns.*.amazonaws.com"])
                .build()
                .is_ok()
        );
        for bad in [
            "10.0.0.1",
            "api.paypal.com:443",
            "API.paypal.com",
            "*.*.com",
            "*.com",
            "paypal.*",
            "localhost",
            "",
            "a..b",
        ] {
            assert!(spec(&[bad]).build().is_err(), "{bad}");
        }
        assert!(spec(&[]).build().is_err());
        let mut query = spec(&["api.paypal.com"]);
        query.path_prefix = Some("/certs?x".into());
        assert!(query.build().is_err());
    }
}
