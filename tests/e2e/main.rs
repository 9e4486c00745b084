//! End-to-end tests over real sockets: the gateway (in-process with a pinned clock, or the real
//! binary) in front of a real recording HTTP upstream.

mod ops;
mod redis;
mod redis_queue;
mod redis_tls;
mod support;
mod tls;
mod vectors;
mod verified;

mod budget;
mod cli;
mod deploy;
mod duplicates;
mod durable;
mod fireblocks;
mod frames;
mod handshake_catalog;
mod handshakes;
mod hostile;
mod jwt;
mod jwt_body;
mod key_ids;
mod layering;
mod limits;
mod oracle;
mod paths;
mod paypal;
mod providers_doc;
mod query_signature;
mod queue_cli;
mod reload;
mod seed_senders;
mod slots;
mod sns;
