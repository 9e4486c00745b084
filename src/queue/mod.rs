//! Durable delivery's queue: a delivery is stored (committed with fsync) before the sender
//! hears 2xx, then delivered to the app with retries by `crate::deliver`.
//!
//! One writer thread owns every change to the store and commits whatever has queued up in
//! one transaction (group commit), so concurrent senders share an fsync. The in-memory
//! [`index`] schedules attempts; it is rebuilt from the store at start, where deliveries a
//! crash left in flight are due again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, oneshot};

mod chunk;
mod index;
mod record;
mod settings;
mod store;
mod writer;

pub use index::Policy;
pub use record::{Id, Meta, Request, State, id_text, parse_id};
pub use settings::{
    DEFAULT_MAX_BYTES, DEFAULT_MAX_DELIVERIES, DEFAULT_MIN_FREE_BYTES, QueueSettings, StoreKind,
};
pub use store::StoreFailed;

use crate::metrics::{QueueGauges, QueueMetrics};
use crate::replay::Key;
use index::Index;
use store::{Inserted, Op, Store};

/// Ops committed in one transaction at most.
const MAX_BATCH: usize = 512;
/// Requests just stored are also kept in memory, up to this many bytes, so the first attempt
/// (the one that usually succeeds) does not read them back from the store.
const FRESH_BYTES: usize = 32 << 20;

/// What became of a delivery offered to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored durably under this id.
    Queued(Id),
    /// Its replay key is held by a delivery already queued or delivered.
    Duplicate,
}

/// Why the queue did not take a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// `max_deliveries` or `max_bytes` is reached.
    #[error("queue full")]
    Full,
    /// The store failed a commit; nothing is accepted until a restart.
    #[error("queue store failed")]
    Failed,
}

/// What the writer hears on its channel.
enum Msg {
    /// A change someone waits for.
    Job(Job),
    /// Quiet changes are waiting in [`Shared::quiet`].
    Nudge,
}

struct Job {
    op: Op,
    reply: Option<oneshot::Sender<Result<Option<Inserted>, ()>>>,
}

impl Job {
    /// Whether committing it must reach the disk before anyone hears back.
    fn durable(&self) -> bool {
        matches!(self.op, Op::Insert { .. } | Op::Flush)
    }
}

/// What the queue's handle and its writer thread share: the writer schedules what it stored
/// itself, so a delivery on disk is scheduled even when the sender hung up mid-commit.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    index: Mutex<Index>,
    /// Woken when a delivery becomes due sooner than the deliverer planned.
    wake: Notify,
    /// Changes that need no fsync and no answer, for the writer's next commit.
    quiet: Mutex<Vec<Op>>,
}

impl Shared {
    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_quiet(&self) -> Vec<Op> {
        std::mem::take(&mut *self.quiet.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The durable queue.
pub struct Queue {
    store: Arc<Store>,
    jobs: Mutex<mpsc::Sender<Msg>>,
    shared: Arc<Shared>,
    settings: QueueSettings,
    failed: Arc<AtomicBool>,
    /// Free bytes on the queue's file system at the last check (`u64::MAX` until then).
    free_bytes: AtomicU64,
    sequence: AtomicU64,
    fresh: Mutex<(HashMap<Id, Arc<Request>>, usize)>,
    /// The queue's own series.
    pub metrics: Arc<QueueMetrics>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// Opens the store named by `settings` and loads what it holds.
    ///
    /// # Errors
    /// When the file cannot be opened or recovered.
    pub fn open(settings: QueueSettings) -> Result<Arc<Queue>, StoreFailed> {
        let store = Store::open(&settings.path)?;
        Queue::start(store, settings)
    }

    fn start(store: Store, settings: QueueSettings) -> Result<Arc<Queue>, StoreFailed> {
        let store = Arc::new(store);
        let shared = Arc::new(Shared::default());
        let (deliveries, book) = store.load()?;
        for (id, meta) in deliveries {
            shared.index().insert(id, meta);
        }
        let loaded = shared.index().len();
        let (tx, rx) = mpsc::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let metrics = Arc::new(QueueMetrics::default());
        let writer = writer::Writer {
            store: Arc::clone(&store),
            book,
            failed: Arc::clone(&failed),
            metrics: Arc::clone(&metrics),
            shared: Arc::clone(&shared),
        };
        std::thread::Builder::new()
            .name("hookgate-queue".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| StoreFailed::from(redb::Error::Io(e)))?;
        tracing::info!(path = %settings.path.display(), deliveries = loaded, "queue opened");
        let queue = Arc::new(Queue {
            store,
            jobs: Mutex::new(tx),
            shared,
            settings,
            failed,
            free_bytes: AtomicU64::new(u64::MAX),
            sequence: AtomicU64::new(sequence_seed()),
            fresh: Mutex::new((HashMap::new(), 0)),
            metrics,
        });
        queue.check_disk();
        Ok(queue)
    }

    /// The settings it was opened with.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.shared.index()
    }

    /// Woken when a delivery becomes due sooner than the deliverer planned.
    pub fn wake(&self) -> &Notify {
        &self.shared.wake
    }

    fn send(&self, op: Op) -> Option<oneshot::Receiver<Result<Option<Inserted>, ()>>> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            op,
            reply: Some(reply),
        };
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.send(Msg::Job(job)).ok().map(|()| answer)
    }

    /// Hands the writer a change nobody waits for; only the first since its last commit
    /// wakes it.
    fn send_quietly(&self, op: Op) {
        let first = {
            let mut quiet = self
                .shared
                .quiet
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            quiet.push(op);
            quiet.len() == 1
        };
        if first {
            let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = jobs.send(Msg::Nudge);
        }
    }

    /// Stores a verified delivery for `route`, durably, unless `replay` (its key and when
    /// the key expires) is held by one already taken. Returns once the commit is on disk.
    ///
    /// # Errors
    /// [`Refused::Full`] past the limits, [`Refused::Failed`] when the store cannot commit.
    pub async fn accept(
        &self,
        route: &str,
        request: Request,
        replay: Option<(Key, i64)>,
        now_ms: i64,
    ) -> Result<Accepted, Refused> {
        if self.failed.load(AtomicOrdering::Acquire) {
            return Err(Refused::Failed);
        }
        let body_bytes = request.body.len() as u64;
        if self.disk_short() {
            return Err(Refused::Full);
        }
        let (max_deliveries, max_bytes) = (self.settings.max_deliveries, self.settings.max_bytes);
        if !self.index().admit(body_bytes, max_deliveries, max_bytes) {
            return Err(Refused::Full);
        }
        let sequence = self.sequence.fetch_add(1, AtomicOrdering::Relaxed);
        let id = (u128::from(now_ms.max(0).unsigned_abs()) << 64) | u128::from(sequence);
        let meta = Meta {
            route: route.to_owned(),
            state: State::Pending,
            attempts: 0,
            received_at_ms: now_ms,
            next_attempt_at_ms: now_ms,
            last_status: None,
            last_error: None,
            body_bytes,
            redriven_at_ms: None,
        };
        let request = Arc::new(request);
        let op = Op::Insert {
            id,
            meta,
            request: Arc::clone(&request),
            replay,
            now: now_ms.div_euclid(1000),
        };
        // Kept for the first attempt before the commit, since the writer schedules the
        // delivery the moment it is stored.
        self.keep_fresh(id, request);
        let Some(answer) = self.send(op) else {
            self.index().committed(body_bytes, None);
            let _ = self.fresh_request(id);
            return Err(Refused::Failed);
        };
        let outcome = match answer.await {
            Ok(Ok(Some(Inserted::Stored))) => return Ok(Accepted::Queued(id)),
            Ok(Ok(_)) => Ok(Accepted::Duplicate),
            _ => Err(Refused::Failed),
        };
        let _ = self.fresh_request(id);
        outcome
    }

    fn keep_fresh(&self, id: Id, request: Arc<Request>) {
        let mut fresh = self.fresh.lock().unwrap_or_else(PoisonError::into_inner);
        let size = request.body.len() + request.target.len() + 512;
        if fresh.1 + size <= FRESH_BYTES {
            fresh.1 += size;
            fresh.0.insert(id, request);
        }
    }

    /// Takes what is due now, marking it in flight; see [`Policy`].
    pub fn take_due(&self, now_ms: i64, policy: &dyn Fn(&str) -> Policy) -> Vec<(Id, Meta)> {
        self.index().take_due(now_ms, policy)
    }

    /// When the next delivery falls due, if any is waiting.
    pub fn next_due(&self) -> Option<i64> {
        self.index().next_due()
    }

    /// A delivery's request if it was stored moments ago and is still held in memory; taken,
    /// so later attempts read the store.
    pub fn fresh_request(&self, id: Id) -> Option<Request> {
        let mut fresh = self.fresh.lock().unwrap_or_else(PoisonError::into_inner);
        let request = fresh.0.remove(&id)?;
        fresh.1 -= request.body.len() + request.target.len() + 512;
        // The writer drops its share once the commit is done, so this rarely copies.
        Some(Arc::try_unwrap(request).unwrap_or_else(|shared| (*shared).clone()))
    }

    /// A delivery's stored request.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn request(&self, id: Id) -> Result<Option<Request>, StoreFailed> {
        self.store.request(id)
    }

    /// A delivery's metadata as the queue holds it now.
    pub fn meta(&self, id: Id) -> Option<Meta> {
        self.index().get(id).cloned()
    }

    /// Every delivery held, in arrival order.
    pub fn list(&self) -> Vec<(Id, Meta)> {
        self.index().all()
    }

    /// Records that a delivery reached the app: it leaves the queue (its replay key stays).
    pub fn delivered(&self, id: Id) {
        let _ = self.fresh_request(id);
        self.index().remove(id);
        self.send_quietly(Op::Remove { id });
    }

    /// Records a delivery's new metadata (a failed attempt, death, a redrive).
    pub fn update(&self, id: Id, meta: Meta) {
        self.index().replace(id, meta.clone());
        self.send_quietly(Op::Update { id, meta });
        self.shared.wake.notify_one();
    }

    /// Removes a delivery without delivering it (purge, retention).
    pub fn remove(&self, id: Id) -> Option<Meta> {
        let _ = self.fresh_request(id);
        let meta = self.index().remove(id)?;
        self.send_quietly(Op::Remove { id });
        Some(meta)
    }

    /// Makes every change so far durable (attempts recorded, deliveries removed); for
    /// shutdown, so a restart does not send again what was delivered.
    pub async fn sync(&self) {
        if let Some(answer) = self.send(Op::Flush) {
            let _ = answer.await;
        }
    }

    /// Drops replay keys that expired before `now` (Unix seconds).
    pub fn prune_replay_keys(&self, now: i64) {
        self.send_quietly(Op::PruneReplay { now });
    }

    /// Ready to accept: the store has not failed and there is room.
    ///
    /// # Errors
    /// Why not, for `/readyz`.
    pub fn readiness(&self) -> Result<(), &'static str> {
        if self.failed.load(AtomicOrdering::Acquire) {
            return Err("queue store failed; restart to recover");
        }
        let index = self.index();
        if index.len() >= self.settings.max_deliveries {
            return Err("queue full: max_deliveries reached");
        }
        if index.bytes() >= self.settings.max_bytes {
            return Err("queue full: max_bytes reached");
        }
        if self.disk_short() {
            return Err("queue full: the disk is short of space (below min_free_bytes)");
        }
        Ok(())
    }

    /// Measures the free space of the queue's file system (`statvfs`); the deliverer calls
    /// it about once a second.
    pub fn check_disk(&self) {
        let dir = self
            .settings
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if let Ok(stat) = rustix::fs::statvfs(dir) {
            let free = stat.f_bavail.saturating_mul(stat.f_frsize);
            self.free_bytes.store(free, AtomicOrdering::Relaxed);
        }
    }

    fn disk_short(&self) -> bool {
        self.free_bytes.load(AtomicOrdering::Relaxed) < self.settings.min_free_bytes
    }

    /// Whether a commit failed.
    pub fn failed(&self) -> bool {
        self.failed.load(AtomicOrdering::Acquire)
    }

    /// Appends the queue's series to a scrape taken at `now_ms`.
    pub fn render_metrics(&self, out: &mut String, now_ms: i64) {
        let gauges: QueueGauges = self.index().gauges(now_ms);
        self.metrics.render(out, &gauges);
    }
}

/// Where this process's id sequence starts: random, so two processes (or a restart within
/// the same millisecond) never mint the same id.
fn sequence_seed() -> u64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    // Half the range, so the sequence cannot wrap within a process's life.
    u64::from_be_bytes(bytes) >> 1
}

#[cfg(test)]
mod tests;
