//! The queue in Redis, shared by every replica: any replica delivers what another accepted,
//! and an attempt a dead replica left unfinished is claimed by another after
//! `claim_after_seconds`. [`scripts`] says how the keys are laid out.
//!
//! Durability is Redis's, so it is checked: Redis's settings are read on each new connection
//! and about once a second ([`health`]); while they are weaker than an fsynced append-only
//! file, durable routes answer 503 `queue_unsafe` unless the config opted in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

use super::index::Policy;
use super::record::{Id, Meta, Request, State, id_text, parse_id};
use super::settings::RedisQueueSettings;
use super::store::StoreFailed;
use super::{Accepted, Refused};
use crate::metrics::{QueueGauges, QueueMetrics};
use crate::redis_link::{Link, LinkError};
use crate::replay::Key;
use health::Durability;

mod check;
mod health;
mod rows;
mod scripts;

/// How often, at most, the deliverer looks for work other replicas scheduled.
pub(crate) const POLL_MS: i64 = 250;

/// What the last look at Redis found, shared with the check each new connection runs.
#[derive(Debug)]
struct Health {
    durability: Durability,
    /// The verdict last logged, so a change is logged once.
    logged: Option<Durability>,
    reachable: Result<(), String>,
    used_memory: u64,
    maxmemory: u64,
    deliveries: u64,
    bytes: u64,
    gauges: QueueGauges,
}

/// The Redis store.
pub struct RedisQueue {
    link: Arc<Link>,
    settings: RedisQueueSettings,
    max_deliveries: u64,
    max_bytes: u64,
    /// This process's name in the consumer group.
    consumer: String,
    sequence: AtomicU64,
    wake: Notify,
    /// Deliveries this process took, with their route and stream entry.
    taken: Mutex<HashMap<Id, (String, String)>>,
    in_flight: Mutex<HashMap<String, u32>>,
    health: Arc<Mutex<Health>>,
    metrics: QueueMetrics,
    weak_writes: AtomicU64,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("settings", &self.settings)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RedisQueue {
    /// A queue in the Redis `settings` name, holding at most `limits` (deliveries, bytes).
    /// Connects lazily.
    ///
    /// # Errors
    /// When the URL does not parse.
    pub fn new(settings: &RedisQueueSettings, limits: (u64, u64)) -> Result<Self, StoreFailed> {
        let health = Arc::new(Mutex::new(Health {
            durability: Durability::Unknown,
            logged: None,
            reachable: Err("not checked yet".to_owned()),
            used_memory: 0,
            maxmemory: 0,
            deliveries: 0,
            bytes: 0,
            gauges: QueueGauges::default(),
        }));
        let allow = settings.allow_weak_durability;
        let shared = Arc::clone(&health);
        let link = Link::new(&settings.url, settings.ca_pem.as_deref(), settings.timeout)
            .map_err(|e| StoreFailed(e.to_string()))?
            .on_connect(Box::new(move |mut connection| {
                let health = Arc::clone(&shared);
                Box::pin(async move {
                    let (durability, _) = check::inspect(&mut connection).await;
                    check::record(&health, durability, allow);
                })
            }));
        Ok(RedisQueue {
            link: Arc::new(link),
            settings: settings.clone(),
            max_deliveries: limits.0,
            max_bytes: limits.1,
            consumer: format!("hookgate-{:016x}", super::sequence_seed()),
            sequence: AtomicU64::new(super::sequence_seed()),
            wake: Notify::new(),
            taken: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            health,
            metrics: QueueMetrics::default(),
            weak_writes: AtomicU64::new(0),
        })
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.settings.key_prefix)
    }

    fn delivery_key(&self, id: Id) -> String {
        self.key(&format!("d:{}", id_text(id)))
    }

    /// The queue's own series.
    pub fn metrics(&self) -> &QueueMetrics {
        &self.metrics
    }

    /// Woken when this replica stored a delivery.
    pub fn wake(&self) -> &Notify {
        &self.wake
    }

    /// Stores a verified delivery and its replay key in one script, then (per Redis's
    /// settings) waits for the append-only file's fsync or a replica.
    ///
    /// # Errors
    /// Full, unreachable (`Failed`), or not durable (`Unsafe`).
    pub async fn accept(
        &self,
        route: &str,
        request: Request,
        replay: Option<(Key, i64)>,
        now_ms: i64,
    ) -> Result<Accepted, Refused> {
        // Connecting (again) reads Redis's settings before this write relies on them.
        self.link.ready().await.map_err(|_| Refused::Failed)?;
        let size = request.body.len() as u64;
        let waitaof = {
            let health = lock(&self.health);
            if health::near_maxmemory(health.used_memory, health.maxmemory, size) {
                return Err(Refused::Full);
            }
            match &health.durability {
                Durability::Durable { waitaof } => *waitaof,
                _ if self.settings.allow_weak_durability => {
                    self.weak_writes.fetch_add(1, AtomicOrdering::Relaxed);
                    false
                }
                _ => return Err(Refused::Unsafe),
            }
        };
        let id = super::new_id(now_ms, self.sequence.fetch_add(1, AtomicOrdering::Relaxed));
        let now = now_ms.div_euclid(1000);
        let (replay_key, ttl) = match replay {
            Some((key, expires_at)) => (
                self.key(&format!("r:{}", hex::encode(key))),
                expires_at.saturating_sub(now).max(1),
            ),
            None => (self.key("stats"), 0),
        };
        let mut pipe = redis::pipe();
        pipe.cmd("EVAL")
            .arg(scripts::ACCEPT)
            .arg(6)
            .arg(self.key("stats"))
            .arg(self.key("routes"))
            .arg(self.key(&format!("s:{route}")))
            .arg(self.key(&format!("ids:{route}")))
            .arg(self.delivery_key(id))
            .arg(replay_key)
            .arg(id_text(id))
            .arg(route)
            .arg(request.encode())
            .arg(size)
            .arg(now_ms)
            .arg(self.max_deliveries)
            .arg(self.max_bytes)
            .arg(ttl);
        let wait_ms = u64::try_from(self.link.timeout().as_millis()).unwrap_or(u64::MAX);
        if waitaof {
            pipe.cmd("WAITAOF").arg(1).arg(0).arg(wait_ms);
        }
        if let Some(replica) = self.settings.replica_wait {
            pipe.cmd("WAIT")
                .arg(1)
                .arg(u64::try_from(replica.as_millis()).unwrap_or(u64::MAX));
        }
        let started = Instant::now();
        let answer: Vec<redis::Value> = self.link.run(&pipe).await.map_err(|e| match e {
            LinkError::Refused(why) if why.contains("OOM") => Refused::Full,
            e => {
                tracing::warn!(error = %e, "queue store (redis) did not take a delivery");
                Refused::Failed
            }
        })?;
        self.metrics.commit(started.elapsed());
        let number = |i: usize| {
            answer
                .get(i)
                .and_then(|v| redis::from_redis_value::<Vec<i64>>(v.clone()).ok())
        };
        match answer.first().cloned().map(redis::from_redis_value::<i64>) {
            Some(Ok(1)) => {}
            Some(Ok(0)) => return Ok(Accepted::Duplicate),
            Some(Ok(_)) => return Err(Refused::Full),
            _ => return Err(Refused::Failed),
        }
        let mut next = 1;
        if waitaof {
            if number(next).and_then(|n| n.first().copied()).unwrap_or(0) < 1 {
                tracing::error!(delivery_id = %id_text(id), "redis did not confirm the append-only file's fsync in time; the sender hears 503 and its retry is a duplicate of the stored delivery");
                return Err(Refused::Failed);
            }
            next += 1;
        }
        if self.settings.replica_wait.is_some() {
            let replicas = answer
                .get(next)
                .and_then(|v| redis::from_redis_value::<i64>(v.clone()).ok());
            if replicas.unwrap_or(0) < 1 {
                tracing::error!(delivery_id = %id_text(id), "no redis replica confirmed the delivery in time; the sender hears 503 and its retry is a duplicate of the stored delivery");
                return Err(Refused::Failed);
            }
        }
        self.wake.notify_one();
        Ok(Accepted::Queued(id))
    }

    /// Takes what is due on each route with a free slot here, marking it in flight.
    pub async fn take_due(
        &self,
        now_ms: i64,
        policy: &(dyn Fn(&str) -> Policy + Sync),
    ) -> Vec<(Id, Meta)> {
        let mut smembers = redis::cmd("SMEMBERS");
        smembers.arg(self.key("routes"));
        let Ok(routes) = self.link.run::<Vec<String>>(&smembers).await else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for route in routes {
            let Some((concurrency, _)) = policy(&route) else {
                continue;
            };
            let busy = lock(&self.in_flight).get(&route).copied().unwrap_or(0);
            let free = concurrency.saturating_sub(busy);
            if free == 0 {
                continue;
            }
            let mut take = redis::cmd("EVAL");
            take.arg(scripts::TAKE)
                .arg(3)
                .arg(self.key(&format!("s:{route}")))
                .arg(self.key(&format!("due:{route}")))
                .arg(self.key("stats"))
                .arg(&self.consumer)
                .arg(now_ms)
                .arg(free)
                .arg(u64::try_from(self.settings.claim_after.as_millis()).unwrap_or(u64::MAX))
                .arg(&route)
                .arg(self.key("d:"));
            let rows: Vec<Vec<String>> = match self.link.run(&take).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(route, error = %e, "cannot take due deliveries from redis");
                    continue;
                }
            };
            for row in rows {
                let [entry, id, rest @ ..] = row.as_slice() else {
                    continue;
                };
                let mut values = vec![Some(route.clone())];
                values.extend(rest.iter().cloned().map(Some));
                let (Some(id), Some(mut meta)) = (parse_id(id), rows::meta(&values)) else {
                    continue;
                };
                meta.state = State::InFlight;
                lock(&self.taken).insert(id, (route.clone(), entry.clone()));
                *lock(&self.in_flight).entry(route.clone()).or_default() += 1;
                out.push((id, meta));
            }
        }
        out
    }

    /// Forgets that this process took `id`: its (route, entry), if it did.
    fn untake(&self, id: Id) -> Option<(String, String)> {
        let taken = lock(&self.taken).remove(&id)?;
        if let Some(n) = lock(&self.in_flight).get_mut(&taken.0) {
            *n = n.saturating_sub(1);
        }
        Some(taken)
    }

    /// Sends an attempt's outcome again until Redis takes it, for half of
    /// `claim_after_seconds` (after that another replica may have claimed the attempt, and
    /// delivering it again is what at-least-once allows). Each script is idempotent.
    fn record_later(&self, id: Id, command: redis::Cmd) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let link = Arc::clone(&self.link);
        let give_up = Instant::now() + self.settings.claim_after / 2;
        runtime.spawn(async move {
            let mut wait = std::time::Duration::from_millis(100);
            while Instant::now() + wait < give_up {
                tokio::time::sleep(wait).await;
                if link.run::<i64>(&command).await.is_ok() {
                    tracing::info!(delivery_id = %id_text(id), "redis recorded the attempt's outcome");
                    return;
                }
                wait = (wait * 2).min(std::time::Duration::from_secs(2));
            }
        });
    }

    fn finish_command(&self, id: Id, route: &str, entry: &str) -> redis::Cmd {
        let mut finish = redis::cmd("EVAL");
        finish
            .arg(scripts::FINISH)
            .arg(4)
            .arg(self.key(&format!("s:{route}")))
            .arg(self.delivery_key(id))
            .arg(self.key(&format!("ids:{route}")))
            .arg(self.key("stats"))
            .arg(entry)
            .arg(id_text(id))
            .arg(route);
        finish
    }

    async fn finish(&self, id: Id, route: &str, entry: &str) -> Result<bool, LinkError> {
        Ok(self
            .link
            .run::<i64>(&self.finish_command(id, route, entry))
            .await?
            == 1)
    }

    /// A taken delivery reached the app. Should Redis not hear of it, the attempt stays
    /// pending and is delivered again after `claim_after_seconds`: at least once.
    pub async fn delivered(&self, id: Id) {
        let Some((route, entry)) = self.untake(id) else {
            return;
        };
        let finish = self.finish_command(id, &route, &entry);
        if let Err(e) = self.link.run::<i64>(&finish).await {
            tracing::warn!(delivery_id = %id_text(id), error = %e, "redis did not record a delivery; retrying in the background");
            self.record_later(id, finish);
        }
    }

    /// Records an attempt's outcome (a delivery this process took) or a redrive.
    pub async fn update(&self, id: Id, meta: Meta) {
        let entry = self.untake(id).map(|(_, entry)| entry).unwrap_or_default();
        let [route, state, next, status, error, redriven] = rows::outcome(&meta);
        let mut reschedule = redis::cmd("EVAL");
        reschedule
            .arg(scripts::RESCHEDULE)
            .arg(4)
            .arg(self.key(&format!("s:{route}")))
            .arg(self.delivery_key(id))
            .arg(self.key(&format!("due:{route}")))
            .arg(self.key("stats"))
            .arg(entry)
            .arg(id_text(id))
            .arg(route)
            .arg(state)
            .arg(next)
            .arg(status)
            .arg(error)
            .arg(redriven);
        if let Err(e) = self.link.run::<i64>(&reschedule).await {
            tracing::warn!(delivery_id = %id_text(id), error = %e, "redis did not record an attempt's outcome; retrying in the background");
            self.record_later(id, reschedule);
        }
    }

    /// Removes a delivery (not one another process has in flight).
    pub async fn remove(&self, id: Id) -> Option<Meta> {
        let meta = self.meta(id).await?;
        let entry = self.untake(id).map(|(_, entry)| entry).unwrap_or_default();
        match self.finish(id, &meta.route, &entry).await {
            Ok(true) => Some(meta),
            _ => None,
        }
    }

    /// A delivery's metadata.
    pub async fn meta(&self, id: Id) -> Option<Meta> {
        let mut hmget = redis::cmd("HMGET");
        hmget.arg(self.delivery_key(id)).arg(&rows::FIELDS[..]);
        let values: Vec<Option<String>> = self.link.run(&hmget).await.ok()?;
        rows::meta(&values)
    }

    /// A delivery's stored request.
    ///
    /// # Errors
    /// When Redis cannot be read or holds bytes hookgate did not write.
    pub async fn request(&self, id: Id) -> Result<Option<Request>, String> {
        let mut hget = redis::cmd("HGET");
        hget.arg(self.delivery_key(id)).arg("request");
        let bytes: Option<Vec<u8>> = self.link.run(&hget).await.map_err(|e| e.to_string())?;
        bytes
            .map(|b| Request::decode(&b).map_err(|e| e.to_string()))
            .transpose()
    }

    /// Every delivery, per route in arrival order.
    ///
    /// # Errors
    /// When Redis cannot be read.
    pub async fn list(&self) -> Result<Vec<(Id, Meta)>, String> {
        let fail = |e: LinkError| e.to_string();
        let mut smembers = redis::cmd("SMEMBERS");
        smembers.arg(self.key("routes"));
        let mut routes: Vec<String> = self.link.run(&smembers).await.map_err(fail)?;
        routes.sort();
        let mut out = Vec::new();
        for route in routes {
            let mut zrange = redis::cmd("ZRANGE");
            zrange.arg(self.key(&format!("ids:{route}"))).arg(0).arg(-1);
            let ids: Vec<String> = self.link.run(&zrange).await.map_err(fail)?;
            for chunk in ids.chunks(256) {
                let mut pipe = redis::pipe();
                for id in chunk {
                    pipe.cmd("HMGET")
                        .arg(self.key(&format!("d:{id}")))
                        .arg(&rows::FIELDS[..]);
                }
                let metas: Vec<Vec<Option<String>>> = self.link.run(&pipe).await.map_err(fail)?;
                for (id, values) in chunk.iter().zip(metas) {
                    if let (Some(id), Some(meta)) = (parse_id(id), rows::meta(&values)) {
                        out.push((id, meta));
                    }
                }
            }
        }
        Ok(out)
    }
}
