//! The queue on a simulated disk that loses what was not synced: every delivery the queue
//! acknowledged survives a crash at any moment, whichever unsynced writes reach the platter.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use redb::StorageBackend;

use super::*;

/// A disk with a page cache: writes land in `cache`; `sync_data` makes them durable. A crash
/// keeps the durable image plus any subset of the writes since the last sync.
#[derive(Debug, Clone, Default)]
struct Disk(Arc<Mutex<DiskState>>);

#[derive(Debug, Default)]
struct DiskState {
    durable: Vec<u8>,
    cache: Vec<u8>,
    /// Writes (and length changes, as `None` data) since the last sync.
    unsynced: Vec<(u64, Option<Vec<u8>>)>,
    syncs: u64,
    /// fsync fails from now on, as on a dying disk.
    failing: bool,
}

type Io<T> = Result<T, std::io::Error>;

impl StorageBackend for Disk {
    fn len(&self) -> Io<u64> {
        Ok(self.0.lock().unwrap().cache.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Io<()> {
        let disk = self.0.lock().unwrap();
        let start = usize::try_from(offset).unwrap();
        out.copy_from_slice(&disk.cache[start..start + out.len()]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Io<()> {
        let mut disk = self.0.lock().unwrap();
        disk.cache.resize(usize::try_from(len).unwrap(), 0);
        disk.unsynced.push((len, None));
        Ok(())
    }

    fn sync_data(&self) -> Io<()> {
        let mut disk = self.0.lock().unwrap();
        if disk.failing {
            return Err(std::io::Error::other("simulated fsync failure"));
        }
        disk.durable = disk.cache.clone();
        disk.unsynced.clear();
        disk.syncs += 1;
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Io<()> {
        let mut disk = self.0.lock().unwrap();
        let start = usize::try_from(offset).unwrap();
        if disk.cache.len() < start + data.len() {
            disk.cache.resize(start + data.len(), 0);
        }
        disk.cache[start..start + data.len()].copy_from_slice(data);
        disk.unsynced.push((offset, Some(data.to_vec())));
        Ok(())
    }
}

impl Disk {
    /// The disk after power loss now: the durable image, then the unsynced writes `keep`
    /// picks, in order.
    fn crash(&self, mut keep: impl FnMut(usize) -> bool) -> Disk {
        let disk = self.0.lock().unwrap();
        let mut image = disk.durable.clone();
        for (i, (offset, data)) in disk.unsynced.iter().enumerate() {
            if !keep(i) {
                continue;
            }
            match data {
                None => image.resize(usize::try_from(*offset).unwrap(), 0),
                Some(data) => {
                    let start = usize::try_from(*offset).unwrap();
                    if image.len() < start + data.len() {
                        image.resize(start + data.len(), 0);
                    }
                    image[start..start + data.len()].copy_from_slice(data);
                }
            }
        }
        Disk(Arc::new(Mutex::new(DiskState {
            durable: image.clone(),
            cache: image,
            ..DiskState::default()
        })))
    }
}

struct Limits {
    max_deliveries: u64,
    max_bytes: u64,
}

fn settings() -> Limits {
    Limits {
        max_deliveries: 1_000_000,
        max_bytes: 1 << 30,
    }
}

type Queue = Embedded;

impl Embedded {
    fn on(store: Store, limits: Limits) -> Result<Arc<Embedded>, StoreFailed> {
        let limits = (limits.max_deliveries, limits.max_bytes);
        Embedded::start(store, "unused".into(), 0, limits).map(Arc::new)
    }
}

fn request(n: u32) -> Request {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-n", http::HeaderValue::from(n));
    Request {
        method: http::Method::POST,
        target: format!("/hook?n={n}"),
        headers,
        body: Bytes::from(vec![b'x'; 100 + (n as usize % 700)]),
    }
}

/// A cheap deterministic generator, so a failing round can be replayed.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_delivery_survives_power_loss_at_any_moment() {
    let mut seed = 0x5eed_u64;
    for round in 0..20 {
        let disk = Disk::default();
        let queue = Queue::on(Store::with_backend(disk.clone()).unwrap(), settings()).unwrap();
        let acked = Arc::new(Mutex::new(Vec::new()));
        let mut senders = Vec::new();
        for sender in 0..8u32 {
            let (queue, acked) = (Arc::clone(&queue), Arc::clone(&acked));
            senders.push(tokio::spawn(async move {
                for n in 0..1000 {
                    let n = sender * 1000 + n;
                    match queue
                        .accept("orders", request(n), None, 1_800_000_000_000)
                        .await
                    {
                        Ok(Accepted::Queued(id)) => acked.lock().unwrap().push((id, n)),
                        other => panic!("{other:?}"),
                    }
                }
            }));
        }
        // Crash while the senders are mid-flight: after a random number of acknowledgements.
        let at = 20 + lcg(&mut seed) as usize % 400;
        while acked.lock().unwrap().len() < at {
            tokio::task::yield_now().await;
        }
        let keep_all = round % 4 == 0;
        let acked_then: Vec<(Id, u32)> = acked.lock().unwrap().clone();
        let mut pick = lcg(&mut seed);
        let after = disk.crash(|_| {
            keep_all || {
                pick = pick.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                pick >> 63 == 1
            }
        });
        for s in senders {
            s.abort();
        }
        let recovered = Store::with_backend(after).unwrap();
        let stored: std::collections::HashMap<Id, Meta> =
            recovered.load().unwrap().0.into_iter().collect();
        for (id, n) in &acked_then {
            assert!(
                stored.contains_key(id),
                "round {round}: acknowledged delivery {n} lost"
            );
            assert_eq!(
                recovered.request(*id).unwrap().unwrap(),
                request(*n),
                "round {round}"
            );
        }
        assert!(disk.0.lock().unwrap().syncs > 0);
    }
}

#[tokio::test]
async fn a_replay_key_makes_a_duplicate_until_it_expires_and_survives_a_reopen() {
    let disk = Disk::default();
    let queue = Queue::on(Store::with_backend(disk.clone()).unwrap(), settings()).unwrap();
    let key = [7u8; 16];
    let now = 1_800_000_000_000;
    let first = queue
        .accept("r", request(1), Some((key, 1_800_000_100)), now)
        .await;
    assert!(matches!(first, Ok(Accepted::Queued(_))));
    let again = queue
        .accept("r", request(1), Some((key, 1_800_000_100)), now)
        .await;
    assert_eq!(again, Ok(Accepted::Duplicate));
    // After a crash (everything acknowledged is synced) the key still holds.
    let reopened = Queue::on(
        Store::with_backend(disk.crash(|_| false)).unwrap(),
        settings(),
    )
    .unwrap();
    assert_eq!(reopened.list().len(), 1);
    let after = reopened
        .accept("r", request(1), Some((key, 1_800_000_100)), now)
        .await;
    assert_eq!(after, Ok(Accepted::Duplicate));
    // Past its expiry the key no longer counts.
    let later = reopened
        .accept(
            "r",
            request(1),
            Some((key, 1_800_000_300)),
            1_800_000_200_000,
        )
        .await;
    assert!(matches!(later, Ok(Accepted::Queued(_))));
}

#[tokio::test]
async fn past_max_deliveries_or_max_bytes_the_queue_refuses_and_recovers() {
    let mut limits = settings();
    limits.max_deliveries = 2;
    let queue = Queue::on(Store::with_backend(Disk::default()).unwrap(), limits).unwrap();
    let mut ids = Vec::new();
    for n in 0..2 {
        match queue.accept("r", request(n), None, 1).await {
            Ok(Accepted::Queued(id)) => ids.push(id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        queue.accept("r", request(3), None, 1).await,
        Err(Refused::Full)
    );
    assert!(queue.readiness().is_err());
    queue.delivered(ids[0]);
    assert!(queue.readiness().is_ok());
    assert!(matches!(
        queue.accept("r", request(3), None, 1).await,
        Ok(Accepted::Queued(_))
    ));

    let mut small = settings();
    small.max_bytes = 150;
    let queue = Queue::on(Store::with_backend(Disk::default()).unwrap(), small).unwrap();
    assert!(matches!(
        queue.accept("r", request(1), None, 1).await,
        Ok(Accepted::Queued(_))
    ));
    assert_eq!(
        queue.accept("r", request(2), None, 1).await,
        Err(Refused::Full)
    );
}

#[tokio::test]
async fn a_failed_fsync_refuses_the_delivery_and_everything_after_it() {
    let disk = Disk::default();
    let queue = Queue::on(Store::with_backend(disk.clone()).unwrap(), settings()).unwrap();
    assert!(matches!(
        queue.accept("r", request(1), None, 1).await,
        Ok(Accepted::Queued(_))
    ));
    disk.0.lock().unwrap().failing = true;
    assert_eq!(
        queue.accept("r", request(2), None, 1).await,
        Err(Refused::Failed)
    );
    assert!(queue.failed());
    assert!(queue.readiness().unwrap_err().contains("failed"));
    // Never retried in place, even once the disk answers again.
    disk.0.lock().unwrap().failing = false;
    assert_eq!(
        queue.accept("r", request(3), None, 1).await,
        Err(Refused::Failed)
    );
    assert_eq!(
        queue.list().len(),
        1,
        "the refused deliveries were not indexed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_cannot_overshoot_max_deliveries() {
    let mut limits = settings();
    limits.max_deliveries = 5;
    let queue = Queue::on(Store::with_backend(Disk::default()).unwrap(), limits).unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let queue = Arc::clone(&queue);
            tokio::spawn(async move { queue.accept("r", request(n), None, 1).await })
        })
        .collect();
    let mut queued = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Accepted::Queued(_)) => queued += 1,
            Err(Refused::Full) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(queued, 5);
    assert_eq!(queue.list().len(), 5);
}

fn meta(n: u32) -> Meta {
    Meta {
        route: "r".into(),
        state: State::Pending,
        attempts: 0,
        received_at_ms: i64::from(n),
        next_attempt_at_ms: i64::from(n),
        last_status: None,
        last_error: None,
        body_bytes: request(n).body.len() as u64,
        redriven_at_ms: None,
    }
}

#[test]
fn a_chunk_leaves_with_its_last_delivery_and_changes_survive_a_reopen() {
    let disk = Disk::default();
    let store = Store::with_backend(disk.clone()).unwrap();
    let (_, mut book) = store.load().unwrap();
    let insert = |n: u32| Op::Insert {
        id: Id::from(n),
        meta: meta(n),
        request: Arc::new(request(n)),
        replay: None,
        now: 0,
    };
    store
        .commit(&mut book, &[insert(1), insert(2), insert(3)], true)
        .unwrap();
    let mut retried = meta(2);
    retried.state = State::Retrying;
    retried.attempts = 1;
    let changes = [
        Op::Remove { id: 1 },
        Op::Update {
            id: 2,
            meta: retried.clone(),
        },
        Op::Flush,
    ];
    store.commit(&mut book, &changes, true).unwrap();

    let reopened = Store::with_backend(disk.crash(|_| false)).unwrap();
    let (held, mut book) = reopened.load().unwrap();
    assert_eq!(held, vec![(2, retried), (3, meta(3))]);
    assert_eq!(reopened.request(1).unwrap(), None);
    assert_eq!(reopened.request(3).unwrap(), Some(request(3)));
    assert!(reopened.rows().unwrap() > 0);
    // A removal of one already gone changes nothing; the last one takes the chunk along.
    let rest = [
        Op::Remove { id: 3 },
        Op::Remove { id: 3 },
        Op::Remove { id: 2 },
    ];
    reopened.commit(&mut book, &rest, true).unwrap();
    assert_eq!(reopened.rows().unwrap(), 0);
    assert!(reopened.load().unwrap().0.is_empty());
}

#[test]
fn a_file_in_the_earlier_layout_is_refused_with_a_reason() {
    let disk = Disk::default();
    {
        let db = redb::Database::builder()
            .create_with_backend(disk.clone())
            .unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<u128, &str>::new("meta"))
            .unwrap();
        txn.commit().unwrap();
    }
    let refused = Store::with_backend(disk).unwrap_err().to_string();
    assert!(refused.contains("earlier hookgate"), "{refused}");
}

#[test]
fn a_commit_past_a_chunks_size_splits_and_each_request_reads_back() {
    let store = Store::with_backend(Disk::default()).unwrap();
    let (_, mut book) = store.load().unwrap();
    let big = |n: u32| {
        let mut r = request(n);
        r.body = Bytes::from(vec![b'0' + n as u8; 600 << 10]);
        r
    };
    let ops: Vec<Op> = (1..=3)
        .map(|n| Op::Insert {
            id: Id::from(n),
            meta: meta(n),
            request: Arc::new(big(n)),
            replay: None,
            now: 0,
        })
        .collect();
    store.commit(&mut book, &ops, true).unwrap();
    assert_eq!(
        book.chunks.len(),
        2,
        "1.2 MiB in the first chunk, the rest in a second"
    );
    for n in 1..=3 {
        assert_eq!(store.request(Id::from(n)).unwrap(), Some(big(n)));
    }
    let gone = [Op::Remove { id: 1 }, Op::Remove { id: 2 }];
    store.commit(&mut book, &gone, false).unwrap();
    assert_eq!(book.chunks.len(), 1);
    assert_eq!(store.request(3).unwrap(), Some(big(3)));
}
