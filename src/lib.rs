//! hookgate: a webhook-verification gateway.
//!
//! It sits in front of an app, verifies each webhook's signature against the sender's scheme,
//! and forwards only what verifies, byte for byte.
//!
//! # Layout
//! - [`config`]: the YAML file's shape, then a validated [`config::Config`].
//! - [`scheme`]: what a signature scheme is, and the table of built-in presets.
//! - [`verify`]: the one engine that checks any scheme.
//! - [`replay`]: the replay store (a trait and its in-memory implementation).
//! - [`gateway`]: the request path: route, limits, body, verify, replay, forward.
//! - [`proxy`]: the upstream client and header handling.
//! - [`server`]: the accept loop and graceful shutdown.
//! - [`error`]: [`Rejection`], every client-visible outcome with its status and reason.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod civil;
pub mod config;
pub mod error;
pub mod form;
pub mod route;
pub mod scheme;
pub mod secret;
pub mod verify;

pub use error::Rejection;
pub mod access_log;
pub mod admin;
pub mod body;
pub mod budget;
pub mod cli;
pub mod clock;
pub mod gateway;
pub mod handshake;
pub mod metrics;
pub mod path;
pub mod proxy;
pub mod replay;
pub mod response;
pub mod send_timeout;
pub mod server;
pub mod tls;
