//! The once-a-second look at Redis (and the one on each new connection): its durability
//! settings, memory and counts, for accepting, `/readyz` and metrics; and the consumers that
//! stopped replicas left in each route's group, removed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering as AtomicOrdering;

use super::health::{self, Durability};
use super::{Health, RedisQueue, lock, rows, scripts};
use crate::metrics::QueueGauges;
use crate::redis_link::LinkError;

/// Reads Redis's persistence settings and version, and its memory use and bound.
pub(super) async fn inspect(
    connection: &mut redis::aio::MultiplexedConnection,
) -> (Durability, Option<(u64, u64)>) {
    let mut config = redis::cmd("CONFIG");
    config
        .arg("GET")
        .arg("appendonly")
        .arg("appendfsync")
        .arg("maxmemory-policy");
    let settings: Result<HashMap<String, String>, String> = config
        .query_async(connection)
        .await
        .map_err(|e| crate::redis_link::describe(&e));
    let mut info = redis::cmd("INFO");
    info.arg("server").arg("memory");
    let Ok(info) = info.query_async::<String>(connection).await else {
        return (Durability::Unknown, None);
    };
    let number = |name: &str| health::field(&info, name).and_then(|v| v.parse().ok());
    let memory = number("used_memory").zip(number("maxmemory"));
    (health::judge(settings, &info), memory)
}

/// Stores a verdict, logging it when it changed: an error when it refuses durable routes, a
/// warning when the config accepts the risk.
pub(super) fn record(health: &Mutex<Health>, durability: Durability, allow_weak: bool) {
    let mut health = lock(health);
    if health.logged.as_ref() != Some(&durability) {
        match &durability {
            Durability::Weak(why) if allow_weak => tracing::warn!(
                why = why.as_str(),
                "queue store (redis) does not make acknowledged deliveries durable; accepting them anyway, as queue.allow_weak_durability says"
            ),
            Durability::Weak(why) => tracing::error!(
                why = why.as_str(),
                "queue store (redis) does not make acknowledged deliveries durable; durable routes answer 503 queue_unsafe"
            ),
            Durability::Durable { waitaof } => tracing::info!(
                waitaof,
                "queue store (redis) makes acknowledged deliveries durable"
            ),
            Durability::Unknown => {}
        }
        if durability != Durability::Unknown {
            health.logged = Some(durability.clone());
        }
    }
    health.durability = durability;
}

impl RedisQueue {
    /// Reads Redis's settings, memory and counts, for readiness and metrics; about once a
    /// second, from the deliverer.
    pub async fn check(&self) {
        let looked = self.look().await;
        let mut health = lock(&self.health);
        match looked {
            Ok((memory, stats, oldest)) => {
                health.reachable = Ok(());
                (health.used_memory, health.maxmemory) = memory.unwrap_or((0, 0));
                let count = |name: &str| stats.get(name).copied().unwrap_or(0).max(0);
                health.deliveries = count("deliveries").unsigned_abs();
                health.bytes = count("bytes").unsigned_abs();
                let mut deliveries: Vec<(String, &'static str, u64)> = stats
                    .iter()
                    .filter_map(|(name, n)| {
                        // A state no delivery is in is not a series, as with the embedded store.
                        let (state, route) = name.split_once(':')?;
                        let n = (*n > 0).then(|| n.unsigned_abs())?;
                        Some((route.to_owned(), rows::state(state)?.label(), n))
                    })
                    .collect();
                deliveries.sort();
                health.gauges = QueueGauges {
                    deliveries,
                    oldest_age_seconds: oldest,
                };
            }
            Err(e) => health.reachable = Err(e.to_string()),
        }
    }

    #[allow(clippy::type_complexity)]
    async fn look(
        &self,
    ) -> Result<(Option<(u64, u64)>, HashMap<String, i64>, Vec<(String, f64)>), LinkError> {
        self.link.ready().await?;
        let mut connection = self.link.connection_now().await?;
        let (durability, memory) = inspect(&mut connection).await;
        record(
            &self.health,
            durability,
            self.settings.allow_weak_durability,
        );
        let mut hgetall = redis::cmd("HGETALL");
        hgetall.arg(self.key("stats"));
        let stats: HashMap<String, i64> = self.link.run(&hgetall).await?;
        let mut smembers = redis::cmd("SMEMBERS");
        smembers.arg(self.key("routes"));
        let routes: Vec<String> = self.link.run(&smembers).await?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut oldest = Vec::new();
        let idle_ms = u64::try_from(self.settings.claim_after.as_millis()).unwrap_or(u64::MAX);
        for route in routes {
            let mut reap = redis::cmd("EVAL");
            reap.arg(scripts::REAP)
                .arg(1)
                .arg(self.key(&format!("s:{route}")))
                .arg(idle_ms)
                .arg(&self.consumer);
            let _: i64 = self.link.run(&reap).await?;
            let mut first = redis::cmd("ZRANGE");
            first
                .arg(self.key(&format!("ids:{route}")))
                .arg(0)
                .arg(0)
                .arg("WITHSCORES");
            let head: Vec<(String, f64)> = self.link.run(&first).await?;
            if let Some((_, received)) = head.first() {
                #[allow(clippy::cast_precision_loss)]
                let age = (now_ms as f64 - received) / 1000.0;
                oldest.push((route, age.max(0.0)));
            }
        }
        Ok((memory, stats, oldest))
    }

    /// Ready to accept: Redis answered the last look, is durable (or the config accepts
    /// that it is not), and has room.
    ///
    /// # Errors
    /// Why not, for `/readyz`.
    pub fn readiness(&self) -> Result<(), String> {
        let health = lock(&self.health);
        if let Err(e) = &health.reachable {
            return Err(format!("queue store (redis) unreachable: {e}"));
        }
        match &health.durability {
            Durability::Weak(why) if !self.settings.allow_weak_durability => {
                return Err(format!(
                    "queue store (redis) not durable (queue_unsafe): {why}"
                ));
            }
            Durability::Unknown if !self.settings.allow_weak_durability => {
                return Err("queue store (redis): its settings could not be read".to_owned());
            }
            _ => {}
        }
        if health.deliveries >= self.max_deliveries {
            return Err("queue full: max_deliveries reached".to_owned());
        }
        if health.bytes >= self.max_bytes {
            return Err("queue full: max_bytes reached".to_owned());
        }
        if health::near_maxmemory(health.used_memory, health.maxmemory, 0) {
            return Err("queue full: redis is near its maxmemory".to_owned());
        }
        Ok(())
    }

    /// Appends the queue's series to a scrape.
    pub fn render_metrics(&self, out: &mut String, _now_ms: i64) {
        use std::fmt::Write as _;
        let gauges = lock(&self.health).gauges.clone();
        self.metrics.render(out, &gauges);
        let _ = writeln!(
            out,
            "# HELP hookgate_queue_weak_durability_writes_total Deliveries accepted while Redis's settings did not make them durable (queue.allow_weak_durability).\n# TYPE hookgate_queue_weak_durability_writes_total counter\nhookgate_queue_weak_durability_writes_total {}",
            self.weak_writes.load(AtomicOrdering::Relaxed)
        );
    }
}
