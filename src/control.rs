//! The queue's control socket: what `hookgate queue ...` asks a running gateway.
//!
//! Queued bodies are webhook payloads, so this is never a TCP port (the admin listener is
//! often reachable from the pod network). It is a Unix socket created with mode 0600 (bound
//! under a temporary name, restricted, then renamed into place, so it is never open to
//! others), and each connection's peer must run as the gateway's own user (or root), checked
//! with `SO_PEERCRED`.
//!
//! The protocol: one JSON request line; the answer is JSON lines, the last one
//! `{"done":N}` or `{"error":"..."}`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::clock::Clock;
use crate::queue::{Id, Meta, Queue, State, id_text, parse_id};

/// The longest request line accepted.
const MAX_REQUEST: usize = 64 << 10;

/// What the CLI asks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    /// `stats`, `list`, `show`, `redrive` or `purge`.
    pub op: String,
    /// Deliveries by id (`show`, `redrive`, `purge`).
    #[serde(default)]
    pub ids: Vec<String>,
    /// Only this route's deliveries.
    pub route: Option<String>,
    /// Only deliveries in this state.
    pub state: Option<State>,
    /// At most this many (`list`).
    pub limit: Option<usize>,
    /// Include the body, base64 (`show`).
    #[serde(default)]
    pub body: bool,
}

/// One delivery as the CLI shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// The delivery's id.
    pub id: String,
    /// Its route.
    pub route: String,
    /// Its state.
    pub state: State,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was accepted, RFC 3339.
    pub received_at: String,
    /// When it is attempted next (for a dead one: when it died), RFC 3339.
    pub next_attempt_at: String,
    /// The app's status on the last attempt.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The body's length.
    pub body_bytes: u64,
    /// The body, base64 (`show --body`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

fn row(id: Id, meta: &Meta) -> Row {
    let time = |ms: i64| crate::verify::format_rfc3339(ms.div_euclid(1000));
    Row {
        id: id_text(id),
        route: meta.route.clone(),
        state: meta.state,
        attempts: meta.attempts,
        received_at: time(meta.received_at_ms),
        next_attempt_at: time(meta.next_attempt_at_ms),
        last_status: meta.last_status,
        last_error: meta.last_error.clone(),
        body_bytes: meta.body_bytes,
        body: None,
    }
}

/// Binds the control socket at `path` with mode 0600, replacing a stale one.
///
/// # Errors
/// When the socket cannot be created or restricted.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let staging = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&staging);
    let listener = UnixListener::bind(&staging)?;
    std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&staging, path)?;
    Ok(listener)
}

/// Serves the control socket until the task is dropped.
pub async fn run(listener: UnixListener, queue: Arc<Queue>, clock: Clock, path: PathBuf) {
    let owner = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    tracing::info!(path = %path.display(), "queue control socket listening");
    while let Ok((stream, _)) = listener.accept().await {
        let peer = stream.peer_cred().ok().map(|c| c.uid());
        if peer.is_none() || (peer != owner && peer != Some(0)) {
            tracing::warn!(peer_uid = ?peer, "queue control connection refused: another user");
            continue;
        }
        let (queue, clock) = (Arc::clone(&queue), clock.clone());
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &queue, &clock).await {
                tracing::debug!(error = %e, "queue control connection failed");
            }
        });
    }
}

async fn answer(stream: UnixStream, queue: &Arc<Queue>, clock: &Clock) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
    reader.read_line(&mut line).await?;
    let lines = match serde_json::from_str::<Ask>(&line) {
        Ok(ask) => handle(&ask, queue, clock).await,
        Err(e) => Err(format!("request not understood: {e}")),
    };
    let mut out = String::new();
    match lines {
        Ok(lines) => {
            for l in &lines {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(&format!("{{\"done\":{}}}\n", lines.len()));
        }
        Err(e) => out.push_str(&serde_json::json!({ "error": e }).to_string()),
    }
    write.write_all(out.as_bytes()).await?;
    write.shutdown().await
}

/// Deliveries `ask` names: by id, or by route and state.
async fn select(ask: &Ask, queue: &Queue) -> Result<Vec<(Id, Meta)>, String> {
    if !ask.ids.is_empty() {
        let mut out = Vec::new();
        for text in &ask.ids {
            let id = parse_id(text).ok_or_else(|| format!("`{text}` is not a delivery id"))?;
            let meta = queue
                .meta(id)
                .await
                .ok_or_else(|| format!("no delivery {text}"))?;
            out.push((id, meta));
        }
        return Ok(out);
    }
    Ok(queue
        .list()
        .await?
        .into_iter()
        .filter(|(_, m)| ask.route.as_ref().is_none_or(|r| *r == m.route))
        .filter(|(_, m)| ask.state.is_none_or(|s| s == m.state))
        .collect())
}

async fn handle(ask: &Ask, queue: &Arc<Queue>, clock: &Clock) -> Result<Vec<String>, String> {
    match ask.op.as_str() {
        "stats" => {
            let mut counts: std::collections::BTreeMap<(String, &str), (u64, u64)> =
                std::collections::BTreeMap::new();
            for (_, meta) in queue.list().await? {
                let entry = counts
                    .entry((meta.route.clone(), meta.state.label()))
                    .or_default();
                entry.0 += 1;
                entry.1 += meta.body_bytes;
            }
            Ok(counts
                .into_iter()
                .map(|((route, state), (n, bytes))| {
                    serde_json::json!({"route": route, "state": state, "deliveries": n, "body_bytes": bytes}).to_string()
                })
                .collect())
        }
        "list" => {
            let limit = ask.limit.unwrap_or(100);
            Ok(select(ask, queue)
                .await?
                .iter()
                .take(limit)
                .map(|(id, meta)| json(&row(*id, meta)))
                .collect())
        }
        "show" => {
            let mut out = Vec::new();
            for (id, meta) in select(ask, queue).await? {
                let mut row = row(id, &meta);
                if ask.body {
                    let request = queue.request(id).await?;
                    let engine = base64::engine::general_purpose::STANDARD;
                    row.body = request.map(|r| engine.encode(&r.body));
                }
                out.push(json(&row));
            }
            Ok(out)
        }
        "redrive" => {
            require_selection(ask)?;
            let now = clock.now_ms();
            let mut out = Vec::new();
            for (id, mut meta) in select(ask, queue).await? {
                if meta.state == State::InFlight {
                    continue;
                }
                meta.state = State::Pending;
                meta.next_attempt_at_ms = now;
                meta.redriven_at_ms = Some(now);
                out.push(json(&row(id, &meta)));
                queue.update(id, meta).await;
            }
            Ok(out)
        }
        "purge" => {
            require_selection(ask)?;
            let mut out = Vec::new();
            for (id, meta) in select(ask, queue).await? {
                if meta.state == State::InFlight {
                    continue;
                }
                if let Some(meta) = queue.remove(id).await {
                    out.push(json(&row(id, &meta)));
                }
            }
            Ok(out)
        }
        other => Err(format!(
            "unknown op `{other}`: stats, list, show, redrive or purge"
        )),
    }
}

/// Redrive and purge act on ids, or on a route and a state together: never on everything
/// by accident.
fn require_selection(ask: &Ask) -> Result<(), String> {
    if ask.ids.is_empty() && (ask.route.is_none() || ask.state.is_none()) {
        return Err("name delivery ids, or both --route and --state".into());
    }
    Ok(())
}

fn json(row: &Row) -> String {
    serde_json::to_string(row).unwrap_or_default()
}

/// Sends `ask` to the socket at `path` and returns the answer's lines (the final
/// `{"done":N}` removed).
///
/// # Errors
/// When the gateway cannot be reached or answers an error.
pub fn ask(path: &Path, ask: &Ask) -> anyhow::Result<Vec<String>> {
    use std::io::{BufRead, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the gateway's queue control socket {}: {e}",
            path.display()
        )
    })?;
    let closed = |e: std::io::Error| {
        anyhow::anyhow!("the gateway closed the control socket (is this the gateway's user?): {e}")
    };
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    writeln!(stream, "{}", serde_json::to_string(ask)?).map_err(closed)?;
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stream).lines() {
        let line = line.map_err(closed)?;
        let value: serde_json::Value = serde_json::from_str(&line)?;
        if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
            anyhow::bail!("{error}");
        }
        if value.get("done").is_some() {
            return Ok(lines);
        }
        lines.push(line);
    }
    anyhow::bail!("the gateway closed the control socket before answering")
}
