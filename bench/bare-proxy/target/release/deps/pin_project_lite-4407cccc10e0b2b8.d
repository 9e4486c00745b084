/work/main/bench/bare-proxy/target/release/deps/pin_project_lite-4407cccc10e0b2b8.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pin-project-lite-0.2.18/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libpin_project_lite-4407cccc10e0b2b8.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pin-project-lite-0.2.18/src/lib.rs

/work/main/bench/bare-proxy/target/release/deps/libpin_project_lite-4407cccc10e0b2b8.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pin-project-lite-0.2.18/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pin-project-lite-0.2.18/src/lib.rs:
