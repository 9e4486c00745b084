//! What the memory replay store costs: resident memory for one million live reservations.
//!
//! `cargo bench --bench replay_memory` prints a `RESULT {...}` line that `bench/run` reads.

use std::sync::Arc;

use hookgate::replay::{self, MemoryStore, ReplayStore};

const KEYS: u64 = 1_000_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let store: Arc<dyn ReplayStore> = Arc::new(MemoryStore::new(KEYS as usize));
    let before = rss_kib();
    runtime.block_on(async {
        for i in 0..KEYS {
            let key = replay::key("github-on", &i.to_le_bytes());
            let taken = store.reserve(key, 2_000_000_000, 1_000_000_000).await;
            assert_eq!(taken, Ok(Some(0)));
        }
    });
    let after = rss_kib();
    println!(
        "RESULT {{\"keys\":{KEYS},\"rss_before_kib\":{before},\"rss_after_kib\":{after},\"bytes_per_key\":{}}}",
        (after - before) * 1024 / KEYS
    );
}
