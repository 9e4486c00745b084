//! The writer thread: the only code that changes the store.
//!
//! It takes every job waiting and commits them in one transaction (group commit), durably
//! when any acknowledges a sender. Changes that need no fsync (an attempt's result, a
//! delivered one's removal) linger up to [`LINGER`] for a durable commit to ride along with,
//! since each commit costs about the same whatever it holds. After a failed commit nothing is
//! committed again: the file's state after a failed fsync is unknown, and a restart recovers
//! the last commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::store::{Inserted, Op, Store};
use super::{Job, MAX_BATCH, Shared};
use crate::metrics::QueueMetrics;

/// How long changes that need no fsync wait for company.
const LINGER: Duration = Duration::from_millis(20);

pub(super) fn write_loop(
    store: &Store,
    jobs: &mpsc::Receiver<Job>,
    failed: &AtomicBool,
    metrics: &QueueMetrics,
    shared: &Shared,
) {
    let mut held: Vec<Job> = Vec::new();
    let mut held_since: Option<Instant> = None;
    loop {
        let first = match held_since {
            None => match jobs.recv() {
                Ok(job) => Some(job),
                Err(_) => return,
            },
            Some(since) => match jobs.recv_timeout(LINGER.saturating_sub(since.elapsed())) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    commit(store, std::mem::take(&mut held), failed, metrics, shared);
                    return;
                }
            },
        };
        let mut batch = std::mem::take(&mut held);
        batch.extend(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let lingering = held_since.is_some_and(|since| since.elapsed() >= LINGER);
        if !batch.iter().any(Job::durable) && batch.len() < MAX_BATCH && !lingering {
            held = batch;
            held_since.get_or_insert_with(Instant::now);
            continue;
        }
        held_since = None;
        commit(store, batch, failed, metrics, shared);
    }
}

/// Commits `batch` in one transaction, schedules what it stored, and answers each job that
/// waits for it.
fn commit(
    store: &Store,
    batch: Vec<Job>,
    failed: &AtomicBool,
    metrics: &QueueMetrics,
    shared: &Shared,
) {
    if batch.is_empty() {
        return;
    }
    let durable = batch.iter().any(Job::durable);
    let (ops, replies): (Vec<Op>, Vec<_>) = batch.into_iter().map(|j| (j.op, j.reply)).unzip();
    let result = if failed.load(Ordering::Acquire) {
        Err(())
    } else {
        let started = Instant::now();
        let result = store.commit(&ops, durable);
        if durable {
            metrics.commit(started.elapsed());
        }
        result.map_err(|e| {
            failed.store(true, Ordering::Release);
            tracing::error!(error = %e, "queue commit failed; the queue accepts nothing more until a restart, which recovers the last commit");
        })
    };
    schedule(shared, ops, result.as_deref().ok());
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
