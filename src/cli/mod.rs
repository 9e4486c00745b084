//! The command line: `serve` (the default), `check`, `sign`, `probe` and `queue`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::clock::Clock;
use crate::config::{Config, Mode, ReplaySettings};
use crate::route::{Duplicates, PathMatch, ReplayPolicy};
use crate::scheme::{KeyKind, TimestampFormat};
use crate::verify::{Delivery, format_rfc3339, parse_timestamp};

/// A webhook-verification gateway.
#[derive(Debug, Parser)]
#[command(name = "hookgate", version, about)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The config file.
    #[arg(
        long,
        short,
        global = true,
        env = "HOOKGATE_CONFIG",
        default_value = "gateway.yaml"
    )]
    pub config: PathBuf,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve,
    /// Validate the config offline, secrets included, and summarise each route.
    Check,
    /// Print the headers a sender would attach to a body (signed with the route's first secret).
    Sign(SignArgs),
    /// Ask a running gateway's admin listener for a health endpoint; exit 0 on 200. For
    /// container health checks in images without a shell or curl.
    Probe(ProbeArgs),
    /// Inspect and operate a running gateway's durable queue (through its control socket).
    Queue(queue::QueueArgs),
}

pub mod queue;

/// Arguments of `probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The admin listener's address.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub admin: String,
    /// Which endpoint: /healthz or /readyz.
    #[arg(long, default_value = "/healthz")]
    pub path: String,
}

/// `hookgate probe`: GETs the endpoint with a 2-second bound; `Ok` on 200.
///
/// # Errors
/// Unreachable, timed out, or any status other than 200.
pub fn probe(args: &ProbeArgs) -> anyhow::Result<String> {
    use std::io::Write;
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let bound = Duration::from_secs(2);
    let addr = args
        .admin
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("`{}` is not an address", args.admin))?;
    let mut stream = TcpStream::connect_timeout(&addr, bound)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(bound))?;
    stream.set_write_timeout(Some(bound))?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        args.path
    )?;
    let mut reply = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut reply)
        .context("no answer")?;
    let reply = String::from_utf8_lossy(&reply);
    let status = reply.lines().next().unwrap_or_default();
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    if status.split(' ').nth(1) == Some("200") {
        Ok(body.to_owned())
    } else {
        bail!("{status}: {}", body.trim())
    }
}

/// Arguments of `sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The route whose scheme and first secret sign.
    #[arg(long)]
    pub route: String,
    /// The body to sign; standard input when omitted.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// The timestamp to sign with, written as the scheme writes it (Unix seconds,
    /// milliseconds or RFC 3339); now when omitted.
    #[arg(long)]
    pub timestamp: Option<String>,
    /// A message id, for schemes that sign one (sent in the header the replay key reads).
    #[arg(long)]
    pub id: Option<String>,
    /// The request path and query, for schemes that sign them; the route's path when omitted.
    #[arg(long)]
    pub path: Option<String>,
    /// A request header `Name: value` the scheme signs; repeatable.
    #[arg(long = "header")]
    pub headers: Vec<String>,
}

/// Loads the config, resolving secrets from the process environment.
///
/// # Errors
/// The config's problems, one per line.
pub fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path, &|name| std::env::var(name).ok()).map_err(anyhow::Error::new)
}

/// `hookgate check`: the summary printed when the config is valid.
pub fn summary(config: &Config, path: &std::path::Path) -> String {
    let mut out = format!(
        "{}: ok, listening on {}{}, {} route(s)\n",
        path.display(),
        config.listen,
        if config.tls.is_some() { " (TLS)" } else { "" },
        config.routes.iter().count()
    );
    if let Some(admin) = config.admin_listen {
        out.push_str(&format!("  admin on {admin}: /healthz /readyz /metrics\n"));
    }
    let store = match &config.replay {
        ReplaySettings::Memory { max_entries } => format!("memory, at most {max_entries} entries"),
        ReplaySettings::Redis(_) => "redis".to_owned(),
    };
    out.push_str(&format!("  replay store: {store}\n"));
    if let Some(q) = &config.queue {
        out.push_str(&format!(
            "  queue: {} (at most {} deliveries, {} body bytes), control socket {}\n",
            match &q.store {
                crate::queue::StoreSettings::Embedded { path, .. } => path.display().to_string(),
                crate::queue::StoreSettings::Redis(r) => format!(
                    "redis, keys under {:?}, claim after {} s{}",
                    r.key_prefix,
                    r.claim_after.as_secs(),
                    if r.allow_weak_durability {
                        ", weak durability allowed"
                    } else {
                        ""
                    }
                ),
            },
            q.max_deliveries,
            q.max_bytes,
            q.control_socket.display()
        ));
    }
    for route in config.routes.iter() {
        let path = match &route.path {
            PathMatch::Exact(p) => p.clone(),
            PathMatch::Prefix(p) => format!("{p}*"),
        };
        let replay = match route.replay {
            ReplayPolicy::Off => "replay off".to_owned(),
            ReplayPolicy::UntilStale => {
                format!("timestamp ±{}s, replay on", route.verifier.tolerance())
            }
            ReplayPolicy::Window(s) => format!("replay window {s}s"),
        };
        let replay = match route.duplicates {
            Duplicates::Reject => replay,
            Duplicates::Acknowledge => format!("{replay}, duplicates acknowledged"),
        };
        let handshake = route
            .handshake
            .map(|h| format!(", handshake {}", h.name()))
            .unwrap_or_default();
        let scheme = route.verifier.scheme();
        let keys = match scheme.algorithm.key_kind() {
            _ if scheme.sns.is_some() => format!(
                "certificate fetched from SNS, {} topic(s)",
                route.verifier.topics().len()
            ),
            _ if scheme.signing_cert.is_some() => format!(
                "certificate fetched from {}",
                scheme
                    .signing_cert
                    .as_ref()
                    .map_or(String::new(), |r| r.hosts.join(", "))
            ),
            _ if scheme.jwks.is_some() => {
                format!("key set fetched from {}", route.verifier.jwks_url())
            }
            KeyKind::PublicKey => "public key".to_owned(),
            _ => format!("{} secret(s)", route.secret_count),
        };
        let algorithm = if scheme.sns.is_some() {
            "sns"
        } else {
            scheme.algorithm.name()
        };
        let url = route
            .verifier
            .public_url()
            .map(|u| format!(", signs {u}{path}"))
            .unwrap_or_default();
        let mode = match route.mode {
            Mode::Enforce => String::new(),
            Mode::Observe => ", OBSERVE ONLY (forwards what fails)".to_owned(),
        };
        let rate = route
            .rate_limit
            .map(|r| format!(", rate {}/s burst {}", r.per_second, r.burst))
            .unwrap_or_default();
        let mode = match route.delivery {
            crate::route::Delivery::Sync => mode,
            crate::route::Delivery::Durable(d) => format!(
                "{mode}, DURABLE (answers {}, retries up to {}s, {} at a time{})",
                d.ack_status,
                d.retry.give_up_after_seconds,
                d.concurrency,
                if d.ordering == crate::route::Ordering::Route {
                    ", in order"
                } else {
                    ""
                }
            ),
        };
        out.push_str(&format!(
            "  {}  POST {path} -> {}  {} ({}), {keys}, {replay}{url}{handshake}, max body {} bytes{rate}{mode}\n",
            route.name,
            route.upstream,
            route.provider,
            algorithm,
            route.max_body_bytes,
        ));
    }
    out
}

/// `hookgate sign`: the header lines for a body.
///
/// # Errors
/// Unknown route, unreadable body, a malformed `--header` or `--timestamp`.
pub fn sign(config: &Config, args: &SignArgs) -> anyhow::Result<String> {
    let route = config
        .routes
        .by_name(&args.route)
        .with_context(|| format!("no route named `{}`", args.route))?;
    let body = match &args.body_file {
        Some(file) => {
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
        }
        None => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .context("cannot read the body from stdin")?;
            body
        }
    };
    let format = route.verifier.scheme().timestamp_format;
    let timestamp = match &args.timestamp {
        Some(t) if parse_timestamp(format, t.as_bytes()).is_ok() => t.clone(),
        Some(t) => bail!("--timestamp `{t}` is not a {format:?} timestamp"),
        None => {
            let now = Clock::System.now();
            match format {
                TimestampFormat::Unix => now.to_string(),
                TimestampFormat::UnixMs => (now * 1000).to_string(),
                TimestampFormat::Rfc3339 => format_rfc3339(now),
            }
        }
    };
    let mut headers = HeaderMap::new();
    let mut lines = String::new();
    if let Some(id) = &args.id {
        // The message id travels in the header the scheme's replay key reads.
        let name = route
            .verifier
            .scheme()
            .replay_key
            .as_ref()
            .and_then(|t| t.headers().next())
            .with_context(|| {
                format!(
                    "route `{}`: its scheme does not sign a message id",
                    route.name
                )
            })?;
        headers.insert(
            name.clone(),
            HeaderValue::try_from(id.as_str()).context("--id is not a header value")?,
        );
        lines.push_str(&format!("{name}: {id}\n"));
    }
    for line in &args.headers {
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("--header `{line}` is not `Name: value`"))?;
        headers.append(
            HeaderName::try_from(name.trim())
                .with_context(|| format!("bad header name in `{line}`"))?,
            HeaderValue::try_from(value.trim())
                .with_context(|| format!("bad header value in `{line}`"))?,
        );
    }
    let target = match (&args.path, &route.path) {
        (Some(p), _) => p.clone(),
        (None, PathMatch::Exact(p) | PathMatch::Prefix(p)) => p.clone(),
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target.as_str(), None),
    };
    let delivery = Delivery {
        method: &Method::POST,
        path,
        query,
        headers: &headers,
        body: (&body).into(),
    };
    let signed = route
        .verifier
        .sign(&delivery, &timestamp)
        .with_context(|| format!("route `{}`", route.name))?;
    for (name, value) in signed {
        lines.push_str(&format!("{name}: {value}\n"));
    }
    Ok(lines)
}
