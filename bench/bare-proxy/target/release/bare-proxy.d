/work/main/bench/bare-proxy/target/release/bare-proxy: /work/main/bench/bare-proxy/src/main.rs
