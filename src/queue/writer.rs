//! The writer thread: the only code that changes the store.
//!
//! Senders' inserts arrive on a channel; everything that needs no fsync (an attempt's
//! result, a delivered one's removal) waits in [`Shared::quiet`] without waking the writer
//! each time, since on a busy machine every wake-up is a context switch. The writer commits
//! what it finds in one transaction (group commit), durably when any insert or flush is among
//! it, and commits quiet changes on their own at most [`LINGER`] after the first of them.
//! After a failed commit nothing is committed again: the file's state after a failed fsync is
//! unknown, and a restart recovers the last commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::chunk::Book;
use super::embedded::{Job, MAX_BATCH, Msg, Shared};
use super::store::{Inserted, Op, Store};
use crate::metrics::QueueMetrics;

/// How long changes that need no fsync wait for company.
const LINGER: Duration = Duration::from_millis(20);

/// What the writer thread owns.
pub(super) struct Writer {
    pub(super) store: Arc<Store>,
    /// The store's records as the writer last committed them.
    pub(super) book: Book,
    pub(super) failed: Arc<AtomicBool>,
    pub(super) metrics: Arc<QueueMetrics>,
    pub(super) shared: Arc<Shared>,
}

impl Writer {
    /// Commits until every sender of `messages` is gone.
    pub(super) fn run(mut self, messages: &mpsc::Receiver<Msg>) {
        // When the oldest quiet change not yet committed was announced.
        let mut quiet_since: Option<Instant> = None;
        loop {
            let first = match quiet_since {
                None => messages.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(since) => messages.recv_timeout(LINGER.saturating_sub(since.elapsed())),
            };
            let mut jobs = Vec::new();
            match first {
                Ok(Msg::Job(job)) => jobs.push(job),
                Ok(Msg::Nudge) => {
                    quiet_since.get_or_insert_with(Instant::now);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.commit(Vec::new());
                    return;
                }
            }
            while jobs.len() < MAX_BATCH {
                match messages.try_recv() {
                    Ok(Msg::Job(job)) => jobs.push(job),
                    Ok(Msg::Nudge) => {
                        quiet_since.get_or_insert_with(Instant::now);
                    }
                    Err(_) => break,
                }
            }
            let lingered = quiet_since.is_some_and(|since| since.elapsed() >= LINGER);
            if !jobs.is_empty() || lingered {
                quiet_since = None;
                self.commit(jobs);
            }
        }
    }

    /// Commits `jobs` and every quiet change in one transaction, schedules what it stored,
    /// and answers each job that waits.
    fn commit(&mut self, jobs: Vec<Job>) {
        let quiet = self.shared.take_quiet();
        if jobs.is_empty() && quiet.is_empty() {
            return;
        }
        let durable = jobs.iter().any(Job::durable);
        let (mut ops, replies): (Vec<Op>, Vec<_>) =
            jobs.into_iter().map(|j| (j.op, j.reply)).unzip();
        let waiting = ops.len();
        ops.extend(quiet);
        let result = if self.failed.load(Ordering::Acquire) {
            Err(())
        } else {
            let started = Instant::now();
            let result = self.store.commit(&mut self.book, &ops, durable);
            if durable {
                self.metrics.commit(started.elapsed());
            }
            result.map_err(|e| {
                self.failed.store(true, Ordering::Release);
                tracing::error!(error = %e, "queue commit failed; the queue accepts nothing more until a restart, which recovers the last commit");
            })
        };
        ops.truncate(waiting);
        schedule(&self.shared, ops, result.as_deref().ok());
        match result {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(result));
                    }
                }
            }
            Err(()) => {
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Err(()));
                }
            }
        }
    }
}

/// Puts what the commit stored into the schedule and wakes the deliverer; every insert,
/// stored or not, stops counting as admitted. `results` is `None` when the commit failed.
fn schedule(shared: &Shared, ops: Vec<Op>, results: Option<&[Option<Inserted>]>) {
    let mut stored_any = false;
    {
        let mut index = shared.index();
        for (i, op) in ops.into_iter().enumerate() {
            let Op::Insert { id, meta, .. } = op else {
                continue;
            };
            let stored =
                results.and_then(|r| r.get(i).copied().flatten()) == Some(Inserted::Stored);
            stored_any |= stored;
            let bytes = meta.body_bytes;
            index.committed(bytes, stored.then_some((id, meta)));
        }
    }
    if stored_any {
        shared.wake.notify_one();
    }
}
