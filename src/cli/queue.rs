//! `hookgate queue ...`: inspect and operate a running gateway's durable queue through its
//! control socket (see `crate::control`).

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::control::{self, Ask, Row};
use crate::queue::State;

/// Arguments of `queue`.
#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: QueueCommand,
    /// One JSON object per line instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The queue subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Deliveries and body bytes held, by route and state.
    Stats,
    /// Deliveries, oldest first.
    List {
        /// Only this route's.
        #[arg(long)]
        route: Option<String>,
        /// Only this state's: pending, in_flight, retrying, dead.
        #[arg(long, value_parser = parse_state)]
        state: Option<State>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// One or more deliveries in full.
    Show {
        /// Delivery ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Include the body (base64). Bodies are webhook payloads: mind where the output goes.
        #[arg(long)]
        body: bool,
    },
    /// Attempt deliveries again now, with a fresh give-up period (dead ones included).
    Redrive(Selection),
    /// Remove deliveries without delivering them.
    Purge {
        /// Which deliveries.
        #[command(flatten)]
        selection: Selection,
        /// Confirm, when selecting by route and state.
        #[arg(long)]
        yes: bool,
    },
}

/// Deliveries by id, or every one of a route in a state.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Delivery ids.
    pub ids: Vec<String>,
    /// With --state: every delivery of this route in that state.
    #[arg(long)]
    pub route: Option<String>,
    /// With --route.
    #[arg(long, value_parser = parse_state)]
    pub state: Option<State>,
}

fn parse_state(text: &str) -> Result<State, String> {
    State::ALL
        .into_iter()
        .find(|s| s.label() == text)
        .ok_or_else(|| format!("`{text}` is not a state: pending, in_flight, retrying, dead"))
}

/// Runs a queue subcommand against the gateway `config` describes; returns what to print.
///
/// # Errors
/// No queue in the config, the gateway unreachable, or its refusal.
pub fn run(config: &Config, args: &QueueArgs) -> anyhow::Result<String> {
    let settings = config
        .queue
        .as_ref()
        .context("this config has no `queue:` block, so no durable routes")?;
    let ask = match &args.command {
        QueueCommand::Stats => Ask {
            op: "stats".into(),
            ..Ask::default()
        },
        QueueCommand::List {
            route,
            state,
            limit,
        } => Ask {
            op: "list".into(),
            route: route.clone(),
            state: *state,
            limit: Some(*limit),
            ..Ask::default()
        },
        QueueCommand::Show { ids, body } => Ask {
            op: "show".into(),
            ids: ids.clone(),
            body: *body,
            ..Ask::default()
        },
        QueueCommand::Redrive(s) => selection("redrive", s),
        QueueCommand::Purge { selection: s, yes } => {
            if s.ids.is_empty() && !yes {
                anyhow::bail!("purging by route and state removes every match: add --yes");
            }
            selection("purge", s)
        }
    };
    let lines = control::ask(&settings.control_socket, &ask)?;
    if args.json {
        return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
    }
    Ok(match &args.command {
        QueueCommand::Stats => stats_table(&lines)?,
        QueueCommand::Show { body: true, .. } => lines.iter().map(|l| format!("{l}\n")).collect(),
        QueueCommand::Redrive(_) => format!("redriven: {}\n", lines.len()),
        QueueCommand::Purge { .. } => format!("purged: {}\n", lines.len()),
        _ => rows_table(&lines)?,
    })
}

fn selection(op: &str, s: &Selection) -> Ask {
    Ask {
        op: op.into(),
        ids: s.ids.clone(),
        route: s.route.clone(),
        state: s.state,
        ..Ask::default()
    }
}

fn stats_table(lines: &[String]) -> anyhow::Result<String> {
    let mut out = format!(
        "{:<24} {:<10} {:>10} {:>14}\n",
        "ROUTE", "STATE", "DELIVERIES", "BODY BYTES"
    );
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line)?;
        out.push_str(&format!(
            "{:<24} {:<10} {:>10} {:>14}\n",
            v["route"].as_str().unwrap_or(""),
            v["state"].as_str().unwrap_or(""),
            v["deliveries"].as_u64().unwrap_or(0),
            v["body_bytes"].as_u64().unwrap_or(0)
        ));
    }
    Ok(out)
}

fn rows_table(lines: &[String]) -> anyhow::Result<String> {
    let mut out = format!(
        "{:<32} {:<16} {:<9} {:>8} {:<20} {:<20} {}\n",
        "ID", "ROUTE", "STATE", "ATTEMPTS", "RECEIVED", "NEXT", "LAST"
    );
    for line in lines {
        let r: Row = serde_json::from_str(line)?;
        let last = match (r.last_status, &r.last_error) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => e.clone(),
            (None, None) => String::new(),
        };
        out.push_str(&format!(
            "{:<32} {:<16} {:<9} {:>8} {:<20} {:<20} {last}\n",
            r.id,
            r.route,
            r.state.label(),
            r.attempts,
            r.received_at,
            r.next_attempt_at
        ));
    }
    Ok(out)
}
