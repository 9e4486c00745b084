//! The config file's shape, exactly as written. Unknown keys are refused; values that need a
//! semantic check keep their source location so that check can point at the line.

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::route::{Duplicates, Mode};
use crate::scheme::{Algorithm, SchemeSpec};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    pub(crate) listen: Spanned<String>,
    pub(crate) admin_listen: Option<Spanned<String>>,
    pub(crate) tls: Option<Spanned<TlsFile>>,
    pub(crate) upstream: Option<Spanned<String>>,
    pub(crate) upstream_ca_file: Option<Spanned<String>>,
    pub(crate) max_body_bytes: Option<Spanned<u64>>,
    pub(crate) max_connections: Option<Spanned<u64>>,
    pub(crate) max_requests_per_connection: Option<Spanned<u64>>,
    pub(crate) max_buffered_body_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    pub(crate) trusted_proxies: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) replay: ReplayFile,
    #[serde(default)]
    pub(crate) timeouts: TimeoutsFile,
    pub(crate) log_format: Option<LogFormat>,
    pub(crate) queue: Option<Spanned<QueueFile>>,
    pub(crate) routes: Spanned<Vec<RouteFile>>,
}

/// Output format of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Which replay store backs the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// In-process, bounded; state is lost on restart and not shared between replicas.
    #[default]
    Memory,
    /// A Redis server shared by every replica.
    Redis,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsFile {
    pub(crate) cert_file: Spanned<String>,
    pub(crate) key_file: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitFile {
    pub(crate) per_second: Spanned<u64>,
    pub(crate) burst: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayFile {
    #[serde(default)]
    pub(crate) store: Option<Spanned<StoreKind>>,
    pub(crate) max_entries: Option<Spanned<u64>>,
    pub(crate) redis_url: Option<Spanned<String>>,
    pub(crate) redis_ca_file: Option<Spanned<String>>,
    pub(crate) key_prefix: Option<Spanned<String>>,
    pub(crate) timeout_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TimeoutsFile {
    pub(crate) header_seconds: Option<Spanned<u64>>,
    pub(crate) body_seconds: Option<Spanned<u64>>,
    pub(crate) upstream_seconds: Option<Spanned<u64>>,
    pub(crate) send_seconds: Option<Spanned<u64>>,
    pub(crate) shutdown_grace_seconds: Option<Spanned<u64>>,
}

/// One route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteFile {
    pub(crate) name: Spanned<String>,
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) path_prefix: Option<Spanned<String>>,
    pub(crate) provider: Option<Spanned<String>>,
    pub(crate) scheme: Option<Spanned<SchemeSpec>>,
    pub(crate) algorithm: Option<Algorithm>,
    pub(crate) secrets: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) public_key: Option<Spanned<String>>,
    pub(crate) public_keys: Option<Spanned<std::collections::BTreeMap<String, Spanned<String>>>>,
    pub(crate) public_url: Option<Spanned<String>>,
    pub(crate) verify_token: Option<Spanned<String>>,
    pub(crate) topic_arns: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) webhook_id: Option<Spanned<String>>,
    pub(crate) jwks_url: Option<Spanned<String>>,
    pub(crate) upstream: Option<Spanned<String>>,
    pub(crate) tolerance_seconds: Option<Spanned<u64>>,
    pub(crate) replay: Option<bool>,
    pub(crate) replay_window_seconds: Option<Spanned<u64>>,
    pub(crate) duplicates: Option<Spanned<Duplicates>>,
    pub(crate) max_body_bytes: Option<Spanned<u64>>,
    pub(crate) handshake: Option<bool>,
    #[serde(default)]
    pub(crate) mode: Mode,
    pub(crate) rate_limit: Option<Spanned<RateLimitFile>>,
    pub(crate) delivery: Option<Spanned<DeliveryFile>>,
}

/// Where durable routes keep their deliveries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueueFile {
    pub(crate) store: Option<Spanned<crate::queue::StoreKind>>,
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) control_socket: Option<Spanned<String>>,
    pub(crate) max_deliveries: Option<Spanned<u64>>,
    pub(crate) max_bytes: Option<Spanned<u64>>,
    pub(crate) min_free_bytes: Option<Spanned<u64>>,
    pub(crate) redis_url: Option<Spanned<String>>,
    pub(crate) redis_ca_file: Option<Spanned<String>>,
    pub(crate) key_prefix: Option<Spanned<String>>,
    pub(crate) timeout_ms: Option<Spanned<u64>>,
    pub(crate) claim_after_seconds: Option<Spanned<u64>>,
    pub(crate) allow_weak_durability: Option<Spanned<bool>>,
    pub(crate) replica_wait_ms: Option<Spanned<u64>>,
}

/// How a durable route hands deliveries to the app.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryFile {
    pub(crate) mode: Spanned<DeliveryMode>,
    pub(crate) ack_status: Option<Spanned<u16>>,
    pub(crate) retry: Option<Spanned<RetryFile>>,
    pub(crate) concurrency: Option<Spanned<u64>>,
    #[serde(default)]
    pub(crate) ordering: crate::route::Ordering,
    pub(crate) dead_retention_seconds: Option<Spanned<u64>>,
}

/// `delivery.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// Forward at once; the sender hears the app's answer.
    Sync,
    /// Store, answer, deliver with retries.
    Durable,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetryFile {
    pub(crate) first_seconds: Option<Spanned<u64>>,
    pub(crate) max_seconds: Option<Spanned<u64>>,
    pub(crate) give_up_after_seconds: Option<Spanned<u64>>,
}
