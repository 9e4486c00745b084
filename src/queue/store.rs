//! The embedded store: one redb file holding each delivery's metadata, its request, and the
//! replay keys of durable routes, so a delivery and the key that guards it are written in one
//! transaction.
//!
//! Commits that acknowledge a sender are durable (redb fsyncs before `commit` returns);
//! commits that only record an attempt or remove a delivered one are not, and become durable
//! with the next durable commit. Losing them in a crash repeats an attempt, never loses a
//! delivery.

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::record::{Id, Meta, Request};
use crate::replay::Key;

const META: TableDefinition<u128, &str> = TableDefinition::new("meta");
const REQUESTS: TableDefinition<u128, &[u8]> = TableDefinition::new("requests");
/// Replay key -> Unix second it expires at.
const REPLAY: TableDefinition<&[u8], i64> = TableDefinition::new("replay");

/// Why the store failed. After a failed commit the store is not used again (see `Queue`).
#[derive(Debug, thiserror::Error)]
#[error("queue store: {0}")]
pub struct StoreFailed(String);

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
        request: Vec<u8>,
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
        txn.open_table(META)?;
        txn.open_table(REQUESTS)?;
        txn.open_table(REPLAY)?;
        txn.commit()?;
        Ok(Store { db })
    }

    /// Every delivery's metadata, in id (arrival) order.
    pub(crate) fn load(&self) -> Result<Vec<(Id, Meta)>, StoreFailed> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(META)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (id, meta) = entry?;
            let meta: Meta = serde_json::from_str(meta.value())
                .map_err(|e| StoreFailed(format!("metadata of {:032x}: {e}", id.value())))?;
            out.push((id.value(), meta));
        }
        Ok(out)
    }

    /// A delivery's request, if it is still stored.
    pub(crate) fn request(&self, id: Id) -> Result<Option<Request>, StoreFailed> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(REQUESTS)?;
        let Some(bytes) = table.get(id)? else {
            return Ok(None);
        };
        Request::decode(bytes.value())
            .map(Some)
            .map_err(|e| StoreFailed(e.to_string()))
    }

    /// Applies `ops` in one transaction, durable when `durable`; one result per op (`None`
    /// for ops other than inserts).
    pub(crate) fn commit(
        &self,
        ops: &[Op],
        durable: bool,
    ) -> Result<Vec<Option<Inserted>>, StoreFailed> {
        let mut txn = self.db.begin_write()?;
        if !durable {
            txn.set_durability(Durability::None)?;
        }
        let mut results = Vec::with_capacity(ops.len());
        {
            let mut meta_table = txn.open_table(META)?;
            let mut requests = txn.open_table(REQUESTS)?;
            let mut replay = txn.open_table(REPLAY)?;
            for op in ops {
                results.push(match op {
                    Op::Insert {
                        id,
                        meta,
                        request,
                        replay: key,
                        now,
                    } => {
                        let live = match key {
                            Some((key, _)) => replay
                                .get(key.as_slice())?
                                .is_some_and(|expires| expires.value() > *now),
                            None => false,
                        };
                        if live {
                            Some(Inserted::Duplicate)
                        } else {
                            if let Some((key, expires_at)) = key {
                                replay.insert(key.as_slice(), *expires_at)?;
                            }
                            meta_table.insert(*id, encode_meta(meta)?.as_str())?;
                            requests.insert(*id, request.as_slice())?;
                            Some(Inserted::Stored)
                        }
                    }
                    Op::Update { id, meta } => {
                        if meta_table.get(*id)?.is_some() {
                            meta_table.insert(*id, encode_meta(meta)?.as_str())?;
                        }
                        None
                    }
                    Op::Remove { id } => {
                        meta_table.remove(*id)?;
                        requests.remove(*id)?;
                        None
                    }
                    Op::PruneReplay { now } => {
                        replay.retain(|_, expires| expires > *now)?;
                        None
                    }
                    Op::Flush => None,
                });
            }
        }
        txn.commit()?;
        Ok(results)
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

fn encode_meta(meta: &Meta) -> Result<String, StoreFailed> {
    serde_json::to_string(meta).map_err(|e| StoreFailed(e.to_string()))
}
