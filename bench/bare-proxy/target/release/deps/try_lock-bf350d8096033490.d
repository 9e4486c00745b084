/work/main/bench/bare-proxy/target/release/deps/try_lock-bf350d8096033490.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/try-lock-0.2.5/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libtry_lock-bf350d8096033490.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/try-lock-0.2.5/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libtry_lock-bf350d8096033490.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/try-lock-0.2.5/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/try-lock-0.2.5/src/lib.rs:
