/work/main/bench/bare-proxy/target/release/deps/tower_service-f2eb40bbded8bebc.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tower-service-0.3.3/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libtower_service-f2eb40bbded8bebc.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tower-service-0.3.3/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libtower_service-f2eb40bbded8bebc.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tower-service-0.3.3/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tower-service-0.3.3/src/lib.rs:
