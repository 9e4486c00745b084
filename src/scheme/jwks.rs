//! A JWT scheme whose public keys are a JSON Web Key Set (RFC 7517) the sender publishes
//! at a fixed https URL (Fireblocks' `keys.fireblocks.io/.well-known/jwks.json`). The token
//! names its key in `kid`; the set is fetched at run time, cached, and fetched again when a
//! `kid` it lacks appears (the sender rotated). The URL comes from the scheme or the route,
//! never from the request, and must name a host the scheme pins.

use serde::Deserialize;

use super::signing_cert::host_pattern;

/// The YAML shape of a `jwks:` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwksSpec {
    /// Where the key set is published; a route may name another (`jwks_url`), for a
    /// sender with one set per region or tenant.
    pub url: Option<String>,
    /// The hosts a key set URL may name: DNS names, each with at most one `*` standing
    /// for one whole label. Default: the host of `url`.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// A validated `jwks:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksRule {
    /// See [`JwksSpec::url`].
    pub url: Option<Box<str>>,
    /// See [`JwksSpec::hosts`].
    pub hosts: Box<[Box<str>]>,
}

impl JwksRule {
    /// The pinned hosts as the SSRF guard takes them.
    pub fn pins(&self) -> Vec<&str> {
        self.hosts.iter().map(|h| &**h).collect()
    }
}

impl JwksSpec {
    /// Validates the block; the message says what is wrong.
    pub fn build(&self) -> Result<JwksRule, String> {
        let mut hosts = self.hosts.clone();
        if hosts.is_empty() {
            let url = self
                .url
                .as_deref()
                .ok_or("set url (where the key set is published) or hosts (where it may be)")?;
            let host = url
                .strip_prefix("https://")
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .ok_or_else(|| format!("url `{url}` is not an https URL"))?;
            hosts.push(host.to_owned());
        }
        for host in &hosts {
            host_pattern(host)?;
        }
        // The URL itself passes the SSRF guard at config load, with the route's.
        Ok(JwksRule {
            url: self.url.as_deref().map(Box::from),
            hosts: hosts.iter().map(|h| h.as_str().into()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(url: Option<&str>, hosts: &[&str]) -> Result<JwksRule, String> {
        JwksSpec {
            url: url.map(str::to_owned),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        }
        .build()
    }

    #[test]
    fn hosts_default_to_the_url_s_and_must_pin_a_domain() {
        let url = "https://keys.fireblocks.io/.well-known/jwks.json";
        let rule = build(Some(url), &[]).unwrap();
        assert_eq!(&*rule.hosts, &[Box::from("keys.fireblocks.io")]);
        assert!(build(Some(url), &["*.fireblocks.io"]).is_ok());
        for bad in [
            "http://keys.fireblocks.io/jwks.json",
            "https://127.0.0.1/jwks.json",
            "https://keys.fireblocks.io:8443/jwks.json",
        ] {
            assert!(build(Some(bad), &[]).is_err(), "{bad}");
        }
        assert!(build(None, &[]).is_err());
        assert!(build(None, &["*.com"]).is_err());
        assert!(build(None, &["*.kinde.com"]).unwrap().url.is_none());
    }
}
