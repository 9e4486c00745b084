//! hookgate: a webhook-verification gateway.
//!
//! It sits in front of an app, verifies each webhook's signature against the sender's scheme,
//! and forwards only what verifies, byte for byte.
//!
//! # Layout
//! Lowest layer first; a module uses only modules of the layers above it in this list
//! (`tests/e2e/layering.rs` keeps it so).
//! - Leaves: [`civil`] (calendar arithmetic), [`clock`] (the injectable wall clock),
//!   [`secret`] (a secret that never prints), [`form`] (urlencoded text), [`path`] (request
//!   path normalization), [`budget`] (the process-wide body budget), [`send_timeout`] (a write
//!   deadline for client connections), [`redis_link`] (one bounded, reconnecting Redis
//!   connection), [`tls`] (certificates), [`error`] ([`Rejection`]: the
//!   table of every client-visible rejection).
//! - [`scheme`] (what a signature scheme is, and the preset table), [`response`] (every
//!   response hookgate makes up), [`access_log`] and [`metrics`] (telemetry), [`body`]
//!   (bounded body reading).
//! - [`verify`] (the one engine that checks any scheme), [`replay`] (the replay stores and
//!   their settings).
//! - [`route`] (validated routes, their policies and the path table), [`handshake`]
//!   (requests a route answers itself).
//! - [`proxy`]: the upstream client, hop-by-hop and forwarding headers; [`keyfetch`]:
//!   signing keys fetched at run time, behind the SSRF guard.
//! - [`queue`]: durable delivery's stores (embedded redb, or Redis shared by replicas) and
//!   schedule.
//! - [`config`]: the YAML file's shape, then a validated [`config::Config`].
//! - [`gateway`]: the request path: route, limits, body, verify, replay, forward or enqueue.
//! - [`deliver`]: durable routes' deliveries, from the queue to the app, with retries.
//! - [`server`] (the accept loop, connection limits, graceful shutdown), [`admin`]
//!   (health, readiness, metrics) and [`control`] (the queue's control socket).
//! - [`cli`] (`serve`, `check`, `sign`, `probe`) and [`app`] (the wiring `main` and the
//!   end-to-end tests share).

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod civil;
pub mod clock;
pub mod error;
mod form;
pub mod path;
pub mod secret;

mod budget;
pub mod redis_link;
mod send_timeout;
pub mod tls;

pub mod access_log;
mod body;
pub mod metrics;
mod response;
pub mod scheme;

pub mod replay;
pub mod verify;

pub mod handshake;
pub mod route;

pub mod keyfetch;
pub mod proxy;

pub mod queue;

pub mod config;

pub mod gateway;

pub mod deliver;

mod admin;
pub mod control;
mod server;

pub mod app;
pub mod cli;

pub use error::Rejection;
