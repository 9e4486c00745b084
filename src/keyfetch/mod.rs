//! Keys fetched at run time: a sender's signing certificate, downloaded from a URL the
//! delivery names (Amazon SNS's `SigningCertURL`), a key set the sender publishes at a URL
//! the route names (Fireblocks' JWKS), and the subscription visit SNS asks for.
//!
//! Every URL passes the SSRF guard (`guard`) first: https only, from hosts the preset pins,
//! never one the request chooses. Certificates are cached (bounded, by URL) so a sender's
//! deliveries cost one fetch per certificate; failures are cached briefly, so a burst of
//! deliveries naming an unreachable URL makes one attempt, not one each. At most
//! [`MAX_FETCHES`] fetches run at once, each bounded in time and size.
//!
//! For tests only, `HOOKGATE_UNSAFE_KEY_FETCH_OVERRIDE=<ip:port>,<ca.pem>` sends every
//! connection to `<ip:port>` and trusts only `<ca.pem>`. The guard, the host name sent and the
//! certificate name checked stay exactly as in production. It is an environment variable,
//! not a config key, so no config file can set it; the gateway logs a warning when it is set.

mod client;
pub mod guard;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::sync::Semaphore;

use crate::verify::JwkSet;
use client::Client;
pub use guard::{Refused, Target};

/// The environment variable that redirects fetches to a test server (see the module doc).
pub const OVERRIDE_ENV: &str = "HOOKGATE_UNSAFE_KEY_FETCH_OVERRIDE";
/// Fetches in flight at once, over all routes.
pub const MAX_FETCHES: usize = 4;
/// Certificates (and recent failures) remembered.
const CACHE_ENTRIES: usize = 64;
/// How long a fetched certificate is used before it is fetched again.
const CACHE_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long a failed fetch is remembered before the URL is tried again.
const FAILURE_FOR: Duration = Duration::from_secs(10);
/// The largest certificate file read; SNS's is about 2 KiB.
const MAX_CERTIFICATE_FILE: usize = 64 << 10;
/// How long a fetched key set is used: a key the sender withdraws stops verifying within
/// this time (Fireblocks serves its set with `max-age=3600`).
const KEY_SET_FOR: Duration = Duration::from_secs(3600);
/// A `kid` the cached key set lacks fetches the set again, at most this often, so a flood
/// of made-up ids costs one fetch per interval.
const REFRESH_AFTER: Duration = Duration::from_secs(300);
/// The largest key set read.
const MAX_KEY_SET: usize = 64 << 10;
/// Time allowed for connect, TLS, request and answer together.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the path of a certificate URL must look like, besides carrying no query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRule<'a> {
    /// A `.pem` file (SNS).
    PemFile,
    /// Under this prefix (PayPal's `/v1/notifications/certs/`).
    Prefix(&'a str),
}

impl PathRule<'_> {
    fn allows(self, target: &Target) -> bool {
        let path = target.path();
        // A dot segment or an escape could walk out of the prefix on the server's side.
        let plain = !path.contains('%') && !path.split('/').any(|s| s == "." || s == "..");
        plain
            && !target.path_and_query.contains('?')
            && match self {
                PathRule::PemFile => path.ends_with(".pem"),
                PathRule::Prefix(prefix) => path.starts_with(prefix) && path.len() > prefix.len(),
            }
    }
}

/// Why no key came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL is not one the preset allows: the delivery is not authentic.
    #[error("URL refused: {0}")]
    Refused(Refused),
    /// The URL is allowed but the key could not be had (network, status, not a
    /// certificate): the sender should retry.
    #[error("key unavailable")]
    Unavailable,
}

/// What a fetch keeps of the answer.
#[derive(Debug, Clone)]
enum Fetched {
    /// A signing certificate's DER.
    Certificate(Arc<[u8]>),
    /// A JSON Web Key Set.
    Keys(Arc<JwkSet>),
}

impl Fetched {
    /// How long it is used before it is fetched again.
    fn lifetime(&self) -> Duration {
        match self {
            Fetched::Certificate(_) => CACHE_FOR,
            Fetched::Keys(_) => KEY_SET_FOR,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// The last answer that was usable, or `None` after a failure with nothing to keep.
    value: Option<Fetched>,
    /// When `value` was fetched.
    at: Instant,
    /// When the URL was last tried, successfully or not.
    tried: Instant,
}

/// Fetches and caches keys; one per process, shared by every route and config generation.
#[derive(Debug)]
pub struct KeyFetcher {
    client: Client,
    cache: Mutex<HashMap<String, Entry>>,
    permits: Semaphore,
}

impl KeyFetcher {
    /// A fetcher trusting the system's roots, or, when [`OVERRIDE_ENV`] is set, the test
    /// redirect it names.
    ///
    /// # Errors
    /// The override is malformed or its CA file unreadable.
    pub fn from_env() -> Result<KeyFetcher, String> {
        match std::env::var(OVERRIDE_ENV) {
            Ok(spec) => {
                let (addr, ca) = spec
                    .split_once(',')
                    .ok_or_else(|| format!("{OVERRIDE_ENV} is `<ip:port>,<ca.pem>`"))?;
                let addr: SocketAddr = addr
                    .parse()
                    .map_err(|e| format!("{OVERRIDE_ENV}: {addr}: {e}"))?;
                tracing::warn!(
                    %addr,
                    "{OVERRIDE_ENV} is set: key fetches go to a test server, not to the senders"
                );
                let tls = crate::tls::client_config(Some(Path::new(ca)), false)?;
                Ok(KeyFetcher::with(Client::new(tls, Some(addr), TIMEOUT)))
            }
            Err(_) => {
                let tls = crate::tls::client_config(None, true)?;
                Ok(KeyFetcher::with(Client::new(tls, None, TIMEOUT)))
            }
        }
    }

    fn with(client: Client) -> KeyFetcher {
        KeyFetcher {
            client,
            cache: Mutex::new(HashMap::new()),
            permits: Semaphore::new(MAX_FETCHES),
        }
    }

    /// The DER of the certificate at `url`, which must pass the guard for `pins` and have a
    /// path `path` allows; from the cache when fetched before.
    ///
    /// # Errors
    /// [`FetchError::Refused`] before anything is fetched; [`FetchError::Unavailable`] when
    /// the fetch failed now or within the last few seconds.
    pub async fn certificate(
        &self,
        url: &str,
        pins: &[&str],
        path: PathRule<'_>,
    ) -> Result<Arc<[u8]>, FetchError> {
        let target = guard::check(url, pins).map_err(FetchError::Refused)?;
        if !path.allows(&target) {
            return Err(FetchError::Refused(Refused::Path));
        }
        let parse =
            |body: &[u8]| certificate_from_pem(body).map(|der| Fetched::Certificate(der.into()));
        match self
            .fetch(url, &target, MAX_CERTIFICATE_FILE, |_| false, parse)
            .await?
        {
            Fetched::Certificate(der) => Ok(der),
            Fetched::Keys(_) => Err(FetchError::Unavailable),
        }
    }

    /// The JSON Web Key Set at `url`, which must pass the guard for `pins`; from the cache
    /// when fetched within the hour, unless it lacks `kid` and was last tried over five
    /// minutes ago (the sender may have rotated its key).
    ///
    /// # Errors
    /// As [`KeyFetcher::certificate`].
    pub async fn key_set(
        &self,
        url: &str,
        pins: &[&str],
        kid: &str,
    ) -> Result<Arc<JwkSet>, FetchError> {
        let target = guard::check(url, pins).map_err(FetchError::Refused)?;
        let lacks_kid = |f: &Fetched| matches!(f, Fetched::Keys(set) if !set.has(kid));
        let parse = |body: &[u8]| JwkSet::parse(body).map(|set| Fetched::Keys(Arc::new(set)));
        match self
            .fetch(url, &target, MAX_KEY_SET, lacks_kid, parse)
            .await?
        {
            Fetched::Keys(set) => Ok(set),
            Fetched::Certificate(_) => Err(FetchError::Unavailable),
        }
    }

    /// The cached answer for `url`, or one fetched now; `outdated` marks a cached answer
    /// worth fetching again once [`REFRESH_AFTER`] has passed since the last try.
    async fn fetch(
        &self,
        url: &str,
        target: &Target,
        limit: usize,
        outdated: impl Fn(&Fetched) -> bool,
        parse: impl Fn(&[u8]) -> Result<Fetched, String>,
    ) -> Result<Fetched, FetchError> {
        if let Some(cached) = self.cached(url, &outdated) {
            return cached;
        }
        let Ok(_permit) = self.permits.acquire().await else {
            return Err(FetchError::Unavailable);
        };
        // Another delivery may have fetched it while this one waited.
        if let Some(cached) = self.cached(url, &outdated) {
            return cached;
        }
        let started = Instant::now();
        let answer = match self.client.get(target, limit).await {
            Ok((StatusCode::OK, body)) => parse(&body),
            Ok((status, _)) => Err(format!("answered {status}")),
            Err(e) => Err(e),
        };
        let elapsed_ms = started.elapsed().as_millis();
        let (host, path) = (&target.host, target.path());
        match &answer {
            Ok(_) => tracing::info!(%host, path, elapsed_ms, "signing key fetched"),
            Err(e) => {
                tracing::warn!(%host, path, elapsed_ms, error = %e, "signing key fetch failed")
            }
        }
        self.remember(url, answer.as_ref().ok().cloned());
        answer.map_err(|_| FetchError::Unavailable)
    }

    /// GETs a guarded URL and returns the status (a subscription visit).
    ///
    /// # Errors
    /// A message for the log when no answer came.
    pub async fn visit(&self, target: &Target) -> Result<StatusCode, String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| "closed".to_owned())?;
        self.client.get(target, 16 << 10).await.map(|(s, _)| s)
    }

    fn cached(
        &self,
        url: &str,
        outdated: &dyn Fn(&Fetched) -> bool,
    ) -> Option<Result<Fetched, FetchError>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let entry = cache.get(url)?;
        match &entry.value {
            None if entry.tried.elapsed() <= FAILURE_FOR => Some(Err(FetchError::Unavailable)),
            None => None,
            Some(value) if entry.at.elapsed() > value.lifetime() => None,
            Some(value) if outdated(value) && entry.tried.elapsed() >= REFRESH_AFTER => None,
            Some(value) => Some(Ok(value.clone())),
        }
    }

    /// Records a fetch's outcome. A failure keeps an answer that is still within its
    /// lifetime (a refresh that failed), so deliveries it verifies go on verifying.
    fn remember(&self, url: &str, value: Option<Fetched>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let (None, Some(entry)) = (&value, cache.get_mut(url))
            && entry
                .value
                .as_ref()
                .is_some_and(|v| entry.at.elapsed() <= v.lifetime())
        {
            entry.tried = now;
            return;
        }
        if cache.len() >= CACHE_ENTRIES && !cache.contains_key(url) {
            // Failures go first, then the oldest answer.
            let victim = cache
                .iter()
                .min_by_key(|(_, e)| (e.value.is_some(), e.at))
                .map(|(k, _)| k.clone());
            if let Some(victim) = victim {
                cache.remove(&victim);
            }
        }
        cache.insert(
            url.to_owned(),
            Entry {
                value,
                at: now,
                tried: now,
            },
        );
    }
}

/// The DER of the first certificate in a PEM file, checked to parse as X.509: what a fetch
/// keeps of the answer.
///
/// # Errors
/// A message for the log: no PEM certificate, or one that does not parse.
pub fn certificate_from_pem(pem: &[u8]) -> Result<Vec<u8>, String> {
    let der = CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or("no PEM certificate in the answer")?
        .map_err(|e| format!("PEM: {e}"))?;
    webpki::EndEntityCert::try_from(&der).map_err(|e| format!("certificate: {e}"))?;
    Ok(der.to_vec())
}

#[cfg(test)]
mod tests;
