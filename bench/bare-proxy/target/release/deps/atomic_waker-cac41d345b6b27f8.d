/work/main/bench/bare-proxy/target/release/deps/atomic_waker-cac41d345b6b27f8.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/atomic-waker-1.1.2/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libatomic_waker-cac41d345b6b27f8.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/atomic-waker-1.1.2/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libatomic_waker-cac41d345b6b27f8.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/atomic-waker-1.1.2/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/atomic-waker-1.1.2/src/lib.rs:
