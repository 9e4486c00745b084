//! The embedded store: one redb file on local disk. A delivery is committed with fsync
//! before the sender hears 2xx.
//!
//! One writer thread owns every change to the store and commits whatever has queued up in
//! one transaction (group commit), so concurrent senders share an fsync. The in-memory
//! [`Index`] schedules attempts; it is rebuilt from the store at start, where deliveries a
//! crash left in flight are due again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as AtomicOrdering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, oneshot};

use super::index::{Index, Policy};
use super::record::{Id, Meta, Request, State};
use super::store::{Inserted, Op, Store, StoreFailed};
use super::{Accepted, Refused, sequence_seed, writer};
use crate::metrics::{QueueGauges, QueueMetrics};
use crate::replay::Key;

/// Ops committed in one transaction at most.
pub(super) const MAX_BATCH: usize = 512;
/// Requests just stored are also kept in memory, up to this many bytes, so the first attempt
/// (the one that usually succeeds) does not read them back from the store.
const FRESH_BYTES: usize = 32 << 20;

/// What the writer hears on its channel.
pub(super) enum Msg {
    /// A change someone waits for.
    Job(Job),
    /// Quiet changes are waiting in [`Shared::quiet`].
    Nudge,
}

pub(super) struct Job {
    pub(super) op: Op,
    pub(super) reply: Option<oneshot::Sender<Result<Option<Inserted>, ()>>>,
}

impl Job {
    /// Whether committing it must reach the disk before anyone hears back.
    pub(super) fn durable(&self) -> bool {
        matches!(self.op, Op::Insert { .. } | Op::Flush)
    }
}

/// What the queue's handle and its writer thread share: the writer schedules what it stored
/// itself, so a delivery on disk is scheduled even when the sender hung up mid-commit.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    index: Mutex<Index>,
    /// Woken when a delivery becomes due sooner than the deliverer planned.
    pub(super) wake: Notify,
    /// Changes that need no fsync and no answer, for the writer's next commit.
    quiet: Mutex<Vec<Op>>,
}

impl Shared {
    pub(super) fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn take_quiet(&self) -> Vec<Op> {
        std::mem::take(&mut *self.quiet.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The embedded queue.
pub struct Embedded {
    store: Arc<Store>,
    jobs: Mutex<mpsc::Sender<Msg>>,
    shared: Arc<Shared>,
    path: PathBuf,
    min_free_bytes: u64,
    max_deliveries: u64,
    max_bytes: u64,
    failed: Arc<AtomicBool>,
    /// Free bytes on the queue's file system at the last check (`u64::MAX` until then).
    free_bytes: AtomicU64,
    sequence: AtomicU64,
    fresh: Mutex<(HashMap<Id, Arc<Request>>, usize)>,
    /// The queue's own series.
    pub metrics: Arc<QueueMetrics>,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Embedded {
    /// Opens the file at `path` and loads what it holds; `limits` are `max_deliveries` and
    /// `max_bytes`, and `min_free_bytes` the free space its file system must keep.
    ///
    /// # Errors
    /// When the file cannot be opened or recovered.
    pub fn open(
        path: PathBuf,
        min_free_bytes: u64,
        limits: (u64, u64),
    ) -> Result<Embedded, StoreFailed> {
        let store = Store::open(&path)?;
        Embedded::start(store, path, min_free_bytes, limits)
    }

    pub(super) fn start(
        store: Store,
        path: PathBuf,
        min_free_bytes: u64,
        (max_deliveries, max_bytes): (u64, u64),
    ) -> Result<Embedded, StoreFailed> {
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
        tracing::info!(path = %path.display(), deliveries = loaded, "queue opened");
        let queue = Embedded {
            store,
            jobs: Mutex::new(tx),
            shared,
            path,
            min_free_bytes,
            max_deliveries,
            max_bytes,
            failed,
            free_bytes: AtomicU64::new(u64::MAX),
            sequence: AtomicU64::new(sequence_seed()),
            fresh: Mutex::new((HashMap::new(), 0)),
            metrics,
        };
        queue.check_disk();
        Ok(queue)
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
        let (max_deliveries, max_bytes) = (self.max_deliveries, self.max_bytes);
        if !self.index().admit(body_bytes, max_deliveries, max_bytes) {
            return Err(Refused::Full);
        }
        let sequence = self.sequence.fetch_add(1, AtomicOrdering::Relaxed);
        let id = super::new_id(now_ms, sequence);
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
        if index.len() >= self.max_deliveries {
            return Err("queue full: max_deliveries reached");
        }
        if index.bytes() >= self.max_bytes {
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
        self.free_bytes.load(AtomicOrdering::Relaxed) < self.min_free_bytes
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

#[cfg(test)]
mod tests;
