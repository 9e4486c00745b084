//! How deliveries lie in the store. A commit writes the deliveries it accepts as one *chunk*:
//! a record of their metadata and a record of their requests, each one B-tree entry however
//! many deliveries it holds, and one record of their replay keys. A row per delivery would
//! cost a B-tree insert and a page copy per row in each table, about as much CPU as the HTTP
//! work around it.
//!
//! A chunk is removed, in one transaction, once its last delivery leaves. Until then a
//! delivery's later metadata (an attempt's result, a redrive) and its removal are rows in
//! `changes`, keyed by id; an empty row marks a delivery gone. A replay-key record is removed
//! once every key in it has expired.

use std::collections::{BTreeMap, HashMap};

use redb::TableDefinition;

use super::record::{Id, Out};
use crate::replay::Key;

/// Chunk -> its deliveries' ids and metadata as accepted.
pub(super) const METAS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunk_metas");
/// Chunk -> its deliveries' ids and requests.
pub(super) const BODIES: TableDefinition<u64, &[u8]> = TableDefinition::new("chunk_bodies");
/// Delivery id -> its current metadata (JSON), or empty once it is gone.
pub(super) const CHANGES: TableDefinition<u128, &[u8]> = TableDefinition::new("changes");
/// Record -> replay keys of durable routes and the Unix second each expires at.
pub(super) const REPLAY: TableDefinition<u64, &[u8]> = TableDefinition::new("replay_keys");
/// Tables of the earlier layout (a row per delivery); a file holding them is refused.
pub(super) const EARLIER: [&str; 2] = ["meta", "requests"];

/// Requests bytes past which a commit starts another chunk, so that reading one request for
/// a retry reads a bounded record.
pub(super) const CHUNK_BYTES: usize = 1 << 20;

/// The length of a chunk record entry holding `len` bytes.
pub(super) const fn entry_len(len: usize) -> usize {
    20 + len
}

/// Writes an entry's head (id and length); its `len` bytes follow.
pub(super) fn entry_head(out: &mut Out<'_>, id: Id, len: usize) {
    out.put(&id.to_be_bytes());
    out.put(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

/// The entries of a chunk record, in the order written.
///
/// # Errors
/// When the record is truncated.
pub(super) fn entries(mut bytes: &[u8]) -> impl Iterator<Item = Result<(Id, &[u8]), ()>> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let Some((head, rest)) = bytes.split_first_chunk::<20>() else {
            bytes = &[];
            return Some(Err(()));
        };
        let (id, len) = head.split_at(16);
        let id = Id::from_be_bytes(id.try_into().unwrap_or_default());
        let len = u32::from_be_bytes(len.try_into().unwrap_or_default()) as usize;
        if rest.len() < len {
            bytes = &[];
            return Some(Err(()));
        }
        let (value, rest) = rest.split_at(len);
        bytes = rest;
        Some(Ok((id, value)))
    })
}

/// Appends a replay key to a replay-key record.
pub(super) fn push_key(out: &mut Vec<u8>, key: &Key, expires_at: i64) {
    out.extend_from_slice(key);
    out.extend_from_slice(&expires_at.to_be_bytes());
}

/// The keys of a replay-key record; a truncated tail is ignored.
pub(super) fn keys(bytes: &[u8]) -> impl Iterator<Item = (Key, i64)> + '_ {
    bytes.chunks_exact(24).map(|k| {
        let (key, expires) = k.split_at(16);
        (
            key.try_into().unwrap_or_default(),
            i64::from_be_bytes(expires.try_into().unwrap_or_default()),
        )
    })
}

/// What the writer knows about the store's records, so a commit never reads the store to
/// decide what to write. Rebuilt from the store at start.
#[derive(Debug, Default)]
pub(crate) struct Book {
    pub(super) chunks: HashMap<u64, Chunk>,
    /// The next record number (chunks and replay-key records share one sequence).
    pub(super) next: u64,
    /// Replay keys of durable routes -> when each expires.
    pub(super) replay: HashMap<Key, i64>,
    /// Replay-key record -> the latest expiry in it.
    pub(super) replay_records: BTreeMap<u64, i64>,
}

/// A chunk's deliveries still held, and those with a row in `changes`.
#[derive(Debug, Default)]
pub(super) struct Chunk {
    pub(super) live: u32,
    pub(super) changed: Vec<Id>,
}

impl Book {
    /// A new record number.
    pub(super) fn number(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        n
    }

    /// Whether `key` is held by a delivery taken before, at Unix second `now`.
    pub(super) fn replayed(&self, key: &Key, now: i64) -> bool {
        self.replay.get(key).is_some_and(|expires| *expires > now)
    }

    /// Forgets keys that expired by `now`; returns the replay-key records that hold no live
    /// key any more.
    pub(super) fn expire(&mut self, now: i64) -> Vec<u64> {
        self.replay.retain(|_, expires| *expires > now);
        let dead: Vec<u64> = self
            .replay_records
            .iter()
            .filter(|(_, latest)| **latest <= now)
            .map(|(record, _)| *record)
            .collect();
        for record in &dead {
            self.replay_records.remove(record);
        }
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_entries_round_trip_and_a_torn_tail_is_an_error() {
        let mut record = vec![0; entry_len(5) + entry_len(300)];
        let mut out = Out::new(&mut record);
        entry_head(&mut out, 1, 5);
        out.put(b"first");
        entry_head(&mut out, u128::MAX, 300);
        out.put(&[0xff; 300]);
        assert!(out.filled());
        let read: Vec<_> = entries(&record).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            read,
            vec![(1, &b"first"[..]), (u128::MAX, &[0xff; 300][..])]
        );
        let torn = &record[..record.len() - 1];
        assert!(entries(torn).any(|e| e.is_err()));
        assert!(entries(&record[..10]).any(|e| e.is_err()));
    }

    #[test]
    fn replay_records_expire_with_their_latest_key() {
        let mut book = Book::default();
        let mut record = Vec::new();
        push_key(&mut record, &[1; 16], 100);
        push_key(&mut record, &[2; 16], 200);
        let n = book.number();
        for (key, expires) in keys(&record) {
            book.replay.insert(key, expires);
        }
        book.replay_records.insert(n, 200);
        assert!(book.replayed(&[1; 16], 99));
        assert!(!book.replayed(&[1; 16], 100));
        assert!(book.expire(150).is_empty());
        assert!(!book.replay.contains_key(&[1; 16]));
        assert!(book.replayed(&[2; 16], 150));
        assert_eq!(book.expire(200), vec![n]);
        assert!(book.replay.is_empty());
    }
}
