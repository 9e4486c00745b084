/work/main/bench/bare-proxy/target/release/deps/bare_proxy-5a25eacb1ca8d669.d: src/main.rs

/work/main/bench/bare-proxy/target/release/deps/bare_proxy-5a25eacb1ca8d669: src/main.rs

src/main.rs:
