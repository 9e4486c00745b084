/work/main/bench/bare-proxy/target/release/deps/want-a0503e0f1bd62bdd.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/want-0.3.2/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libwant-a0503e0f1bd62bdd.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/want-0.3.2/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libwant-a0503e0f1bd62bdd.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/want-0.3.2/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/want-0.3.2/src/lib.rs:
