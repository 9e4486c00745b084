//! The embedded store: one redb file holding each delivery's metadata, its request, and the
//! replay keys of durable routes, so a delivery and the key that guards it are written in one
//! transaction. How they are laid out is [`super::chunk`]'s business.
//!
//! Commits that acknowledge a sender are durable (redb fsyncs before `commit` returns);
//! commits that only record an attempt or remove a delivered one are not, and become durable
//! with the next durable commit. Losing them in a crash repeats an attempt, never loses a
//! delivery.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard, PoisonError};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, Table, TableHandle};

use super::chunk::{self, BODIES, Book, CHANGES, CHUNK_BYTES, METAS, REPLAY};
use super::record::{Id, Meta, Out, Request};
use crate::replay::Key;

/// Why the store failed. After a failed commit the store is not used again (see `Queue`).
#[derive(Debug, thiserror::Error)]
#[error("queue store: {0}")]
pub struct StoreFailed(pub(crate) String);

impl<E: Into<redb::Error>> From<E> for StoreFailed {
    fn from(e: E) -> StoreFailed {
        StoreFailed(e.into().to_string())
    }
}

/// One change, applied with others in one transaction.
#[derive(Debug)]
pub(crate) enum Op {
    /// A new delivery; refused as a duplicate when `replay` names a live key.
    Insert {
        id: Id,
        meta: Meta,
        request: Arc<Request>,
        replay: Option<(Key, i64)>,
        now: i64,
    },
    /// New metadata for a delivery (an attempt's result, a redrive).
    Update { id: Id, meta: Meta },
    /// A delivered or purged delivery; its replay key stays until it expires.
    Remove { id: Id },
    /// Drops replay keys that expired before `now`.
    PruneReplay { now: i64 },
    /// Nothing, made durable: what earlier non-durable commits changed reaches the disk.
    Flush,
}

/// What became of an [`Op::Insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// Stored.
    Stored,
    /// A live replay key says this delivery is already queued or delivered.
    Duplicate,
}

/// The open database.
#[derive(Debug)]
pub(crate) struct Store {
    db: Database,
    /// Which chunk holds each delivery still stored, for reading its request.
    chunk_of: Mutex<HashMap<Id, u64>>,
}

impl Store {
    /// Opens (or creates) the file at `path`, recovering to its last durable commit.
    pub(crate) fn open(path: &Path) -> Result<Store, StoreFailed> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreFailed(format!("{}: {e}", dir.display())))?;
        }
        // Bodies are webhook payloads: the file is the gateway user's alone, whatever the umask.
        restrict(path).map_err(|e| StoreFailed(format!("{}: {e}", path.display())))?;
        let db =
            Database::create(path).map_err(|e| StoreFailed(format!("{}: {e}", path.display())))?;
        Store::init(db)
    }

    /// A store on any redb backend (tests use one that can lose unsynced writes).
    #[cfg(test)]
    pub(crate) fn with_backend(backend: impl redb::StorageBackend) -> Result<Store, StoreFailed> {
        Store::init(Database::builder().create_with_backend(backend)?)
    }

    fn init(db: Database) -> Result<Store, StoreFailed> {
        let txn = db.begin_write()?;
        let earlier = txn
            .list_tables()?
            .any(|t| chunk::EARLIER.contains(&t.name()));
        if earlier {
            return Err(StoreFailed(
                "the file was written by an earlier hookgate in a layout this one does not read; \
                 drain it with that version, or move it aside"
                    .into(),
            ));
        }
        txn.open_table(METAS)?;
        txn.open_table(BODIES)?;
        txn.open_table(CHANGES)?;
        txn.open_table(REPLAY)?;
        txn.commit()?;
        Ok(Store {
            db,
            chunk_of: Mutex::new(HashMap::new()),
        })
    }

    /// Rows in the delivery tables, for tests that check nothing is left behind.
    #[cfg(test)]
    pub(crate) fn rows(&self) -> Result<u64, StoreFailed> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(METAS)?.len()?
            + txn.open_table(BODIES)?.len()?
            + txn.open_table(CHANGES)?.len()?)
    }

    fn chunk_of(&self) -> MutexGuard<'_, HashMap<Id, u64>> {
        self.chunk_of.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every delivery's metadata, in id (arrival) order, and the writer's book of records.
    pub(crate) fn load(&self) -> Result<(Vec<(Id, Meta)>, Book), StoreFailed> {
        let txn = self.db.begin_read()?;
        let mut changes = HashMap::new();
        for row in txn.open_table(CHANGES)?.iter()? {
            let (id, change) = row?;
            changes.insert(id.value(), change.value().to_vec());
        }
        let mut book = Book::default();
        let mut out = Vec::new();
        let mut chunk_of = self.chunk_of();
        for record in txn.open_table(METAS)?.iter()? {
            let (number, metas) = record?;
            let number = number.value();
            book.next = book.next.max(number + 1);
            let chunk = book.chunks.entry(number).or_default();
            for entry in chunk::entries(metas.value()) {
                let (id, initial) =
                    entry.map_err(|()| StoreFailed(format!("chunk {number} is truncated")))?;
                let meta = match changes.get(&id) {
                    Some(change) if change.is_empty() => {
                        chunk.changed.push(id);
                        continue;
                    }
                    Some(change) => {
                        chunk.changed.push(id);
                        decode_meta(id, change)?
                    }
                    None => decode_meta(id, initial)?,
                };
                chunk.live += 1;
                chunk_of.insert(id, number);
                out.push((id, meta));
            }
        }
        for record in txn.open_table(REPLAY)?.iter()? {
            let (number, keys) = record?;
            let number = number.value();
            book.next = book.next.max(number + 1);
            let mut latest = i64::MIN;
            for (key, expires_at) in chunk::keys(keys.value()) {
                latest = latest.max(expires_at);
                let held = book.replay.entry(key).or_insert(expires_at);
                *held = (*held).max(expires_at);
            }
            book.replay_records.insert(number, latest);
        }
        out.sort_by_key(|(id, _)| *id);
        Ok((out, book))
    }

    /// A delivery's request, if it is still stored.
    pub(crate) fn request(&self, id: Id) -> Result<Option<Request>, StoreFailed> {
        let Some(number) = self.chunk_of().get(&id).copied() else {
            return Ok(None);
        };
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BODIES)?;
        let Some(bodies) = table.get(number)? else {
            return Ok(None);
        };
        for entry in chunk::entries(bodies.value()) {
            let (found, bytes) =
                entry.map_err(|()| StoreFailed(format!("chunk {number} is truncated")))?;
            if found == id {
                return Request::decode(bytes)
                    .map(Some)
                    .map_err(|e| StoreFailed(e.to_string()));
            }
        }
        Ok(None)
    }

    /// Applies `ops` in one transaction, durable when `durable`; one result per op (`None`
    /// for ops other than inserts). `book` is the writer's, kept in step with the store; after
    /// a failed commit neither is used again.
    pub(crate) fn commit(
        &self,
        book: &mut Book,
        ops: &[Op],
        durable: bool,
    ) -> Result<Vec<Option<Inserted>>, StoreFailed> {
        let mut txn = self.db.begin_write()?;
        if !durable {
            txn.set_durability(Durability::None)?;
        }
        let mut results = Vec::with_capacity(ops.len());
        let mut stored: Vec<(u64, Vec<Id>)> = Vec::new();
        {
            let mut tables = Tables {
                metas: txn.open_table(METAS)?,
                bodies: txn.open_table(BODIES)?,
                changes: txn.open_table(CHANGES)?,
                replay: txn.open_table(REPLAY)?,
            };
            // Stored inserts, with their metadata encoded, for this commit's chunks.
            let mut fresh: Vec<(Id, Vec<u8>, &Request)> = Vec::new();
            let mut keys = Vec::new();
            let mut latest = i64::MIN;
            let mut chunk_of = self.chunk_of();
            for op in ops {
                results.push(match op {
                    Op::Insert {
                        id,
                        meta,
                        request,
                        replay: key,
                        now,
                    } => {
                        if key.as_ref().is_some_and(|(k, _)| book.replayed(k, *now)) {
                            Some(Inserted::Duplicate)
                        } else {
                            if let Some((key, expires_at)) = key {
                                book.replay.insert(*key, *expires_at);
                                chunk::push_key(&mut keys, key, *expires_at);
                                latest = latest.max(*expires_at);
                            }
                            fresh.push((*id, encode_meta(meta)?, request));
                            Some(Inserted::Stored)
                        }
                    }
                    Op::Update { id, meta } => {
                        if let Some(number) = chunk_of.get(id) {
                            tables.changes.insert(*id, encode_meta(meta)?.as_slice())?;
                            book.chunks.entry(*number).or_default().changed.push(*id);
                        }
                        None
                    }
                    Op::Remove { id } => {
                        if let Some(number) = chunk_of.remove(id) {
                            tables.remove(book, number, *id)?;
                        }
                        None
                    }
                    Op::PruneReplay { now } => {
                        for record in book.expire(*now) {
                            tables.replay.remove(record)?;
                        }
                        None
                    }
                    Op::Flush => None,
                });
            }
            let mut rest = fresh.as_slice();
            while !rest.is_empty() {
                let mut bytes = 0;
                let cut = rest
                    .iter()
                    .position(|(_, _, request)| {
                        bytes += request.encoded_len();
                        bytes >= CHUNK_BYTES
                    })
                    .map_or(rest.len(), |last| last + 1);
                let (group, tail) = rest.split_at(cut);
                stored.push(tables.write_chunk(book, group)?);
                rest = tail;
            }
            if !keys.is_empty() {
                let number = book.number();
                tables.replay.insert(number, keys.as_slice())?;
                book.replay_records.insert(number, latest);
            }
            for (number, ids) in &stored {
                for id in ids {
                    chunk_of.insert(*id, *number);
                }
            }
        }
        txn.commit()?;
        Ok(results)
    }
}

/// The tables of one write transaction.
struct Tables<'txn> {
    metas: Table<'txn, u64, &'static [u8]>,
    bodies: Table<'txn, u64, &'static [u8]>,
    changes: Table<'txn, u128, &'static [u8]>,
    replay: Table<'txn, u64, &'static [u8]>,
}

impl Tables<'_> {
    /// Writes a chunk's two records straight into their pages; returns its number and ids.
    fn write_chunk(
        &mut self,
        book: &mut Book,
        group: &[(Id, Vec<u8>, &Request)],
    ) -> Result<(u64, Vec<Id>), StoreFailed> {
        let number = book.number();
        let truncated = || StoreFailed(format!("chunk {number} was not written whole"));
        let metas_len = group
            .iter()
            .map(|(_, m, _)| chunk::entry_len(m.len()))
            .sum();
        let mut record = self.metas.insert_reserve(number, metas_len)?;
        let mut out = Out::new(record.as_mut());
        for (id, meta, _) in group {
            chunk::entry_head(&mut out, *id, meta.len());
            out.put(meta);
        }
        if !out.filled() {
            return Err(truncated());
        }
        drop(record);
        let bodies_len = group
            .iter()
            .map(|(_, _, r)| chunk::entry_len(r.encoded_len()))
            .sum();
        let mut record = self.bodies.insert_reserve(number, bodies_len)?;
        let mut out = Out::new(record.as_mut());
        for (id, _, request) in group {
            chunk::entry_head(&mut out, *id, request.encoded_len());
            request.write_to(&mut out);
        }
        if !out.filled() {
            return Err(truncated());
        }
        drop(record);
        book.chunks.insert(
            number,
            chunk::Chunk {
                live: u32::try_from(group.len()).unwrap_or(u32::MAX),
                changed: Vec::new(),
            },
        );
        Ok((number, group.iter().map(|(id, _, _)| *id).collect()))
    }

    /// Removes delivery `id` of chunk `number`: the whole chunk when it was its last.
    fn remove(&mut self, book: &mut Book, number: u64, id: Id) -> Result<(), StoreFailed> {
        let chunk = book.chunks.entry(number).or_default();
        chunk.live = chunk.live.saturating_sub(1);
        if chunk.live > 0 {
            self.changes.insert(id, &[][..])?;
            chunk.changed.push(id);
            return Ok(());
        }
        let chunk = book.chunks.remove(&number).unwrap_or_default();
        self.metas.remove(number)?;
        self.bodies.remove(number)?;
        for id in chunk.changed {
            self.changes.remove(id)?;
        }
        Ok(())
    }
}

/// Creates `path` with mode 0600 if it is missing, and sets 0600 if it exists.
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn encode_meta(meta: &Meta) -> Result<Vec<u8>, StoreFailed> {
    serde_json::to_vec(meta).map_err(|e| StoreFailed(e.to_string()))
}

fn decode_meta(id: Id, bytes: &[u8]) -> Result<Meta, StoreFailed> {
    serde_json::from_slice(bytes).map_err(|e| StoreFailed(format!("metadata of {id:032x}: {e}")))
}
