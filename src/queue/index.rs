//! The queue's view in memory: every delivery's metadata, what is due when, and what is in
//! flight per route. Rebuilt from the store at start; the store stays the truth.

use std::collections::{BTreeSet, HashMap};

use super::record::{Id, Meta, State};
use crate::metrics::QueueGauges;
use crate::route::Ordering;

/// How the deliverer may take a route's deliveries; `None` for a route no longer configured
/// (its deliveries wait).
pub type Policy = Option<(u32, Ordering)>;

#[derive(Debug, Default)]
pub(crate) struct Index {
    entries: HashMap<Id, Meta>,
    /// Pending and retrying deliveries by due time, per route, so taking what is due costs
    /// what is taken, not what waits.
    due: HashMap<String, BTreeSet<(i64, Id)>>,
    /// Undelivered, not dead, per route, in arrival order (for `ordering: route`).
    live: HashMap<String, BTreeSet<Id>>,
    in_flight: HashMap<String, u32>,
    bytes: u64,
    /// Deliveries (and their body bytes) admitted but not yet committed: they count against
    /// the limits, so concurrent senders cannot overshoot them.
    admitted: (u64, u64),
}

impl Index {
    pub(crate) fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Counts a delivery of `body_bytes` toward the limits before its commit; false when it
    /// would pass `max_deliveries` or `max_bytes`.
    pub(crate) fn admit(&mut self, body_bytes: u64, max_deliveries: u64, max_bytes: u64) -> bool {
        let fits = self.len() + self.admitted.0 < max_deliveries
            && self.bytes + self.admitted.1 + body_bytes <= max_bytes;
        if fits {
            self.admitted.0 += 1;
            self.admitted.1 += body_bytes;
        }
        fits
    }

    /// The commit of an admitted delivery ended: stored (then scheduled) or not.
    pub(crate) fn committed(&mut self, body_bytes: u64, stored: Option<(Id, Meta)>) {
        self.admitted.0 = self.admitted.0.saturating_sub(1);
        self.admitted.1 = self.admitted.1.saturating_sub(body_bytes);
        if let Some((id, meta)) = stored {
            self.insert(id, meta);
        }
    }

    pub(crate) fn get(&self, id: Id) -> Option<&Meta> {
        self.entries.get(&id)
    }

    /// Every delivery, in id order.
    pub(crate) fn all(&self) -> Vec<(Id, Meta)> {
        let mut all: Vec<_> = self.entries.iter().map(|(i, m)| (*i, m.clone())).collect();
        all.sort_by_key(|(id, _)| *id);
        all
    }

    /// Adds a delivery (a stored one at start: `InFlight` never reaches the disk).
    pub(crate) fn insert(&mut self, id: Id, mut meta: Meta) {
        if meta.state == State::InFlight {
            meta.state = State::Retrying;
        }
        self.bytes += meta.body_bytes;
        if meta.state != State::Dead {
            let due = self.due.entry(meta.route.clone()).or_default();
            due.insert((meta.next_attempt_at_ms, id));
            self.live.entry(meta.route.clone()).or_default().insert(id);
        }
        self.entries.insert(id, meta);
    }

    /// Removes a delivery, whatever its state.
    pub(crate) fn remove(&mut self, id: Id) -> Option<Meta> {
        let meta = self.entries.remove(&id)?;
        self.bytes -= meta.body_bytes;
        if let Some(due) = self.due.get_mut(&meta.route) {
            due.remove(&(meta.next_attempt_at_ms, id));
        }
        if let Some(live) = self.live.get_mut(&meta.route) {
            live.remove(&id);
        }
        if meta.state == State::InFlight {
            self.release(&meta.route);
        }
        Some(meta)
    }

    /// Replaces a delivery's metadata after an attempt or a redrive.
    pub(crate) fn replace(&mut self, id: Id, meta: Meta) {
        if self.remove(id).is_some() {
            self.insert(id, meta);
        }
    }

    fn release(&mut self, route: &str) {
        if let Some(n) = self.in_flight.get_mut(route) {
            *n = n.saturating_sub(1);
        }
    }

    /// Marks what is due at `now` and allowed by each route's policy as in flight, and
    /// returns it.
    pub(crate) fn take_due(
        &mut self,
        now: i64,
        policy: &dyn Fn(&str) -> Policy,
    ) -> Vec<(Id, Meta)> {
        let mut taken = Vec::new();
        for (route, due) in &mut self.due {
            let busy = self.in_flight.get(route).copied().unwrap_or(0);
            let room = match policy(route) {
                None => 0,
                Some((concurrency, Ordering::None)) => concurrency.saturating_sub(busy),
                // Only the oldest may go; a later one that is due waits behind it.
                Some((_, Ordering::Route)) => {
                    let head = self.live.get(route).and_then(|l| l.first());
                    let head_due = head
                        .and_then(|id| self.entries.get(id))
                        .is_some_and(|m| m.state != State::InFlight && m.next_attempt_at_ms <= now);
                    if busy == 0 && head_due {
                        let id = *head.unwrap_or(&0);
                        let at = self.entries.get(&id).map_or(0, |m| m.next_attempt_at_ms);
                        due.remove(&(at, id));
                        taken.push(id);
                        *self.in_flight.entry(route.clone()).or_default() += 1;
                    }
                    0
                }
            };
            for _ in 0..room {
                match due.first() {
                    Some(&(at, id)) if at <= now => {
                        due.pop_first();
                        taken.push(id);
                        *self.in_flight.entry(route.clone()).or_default() += 1;
                    }
                    _ => break,
                }
            }
        }
        taken
            .into_iter()
            .filter_map(|id| {
                let meta = self.entries.get_mut(&id)?;
                meta.state = State::InFlight;
                Some((id, meta.clone()))
            })
            .collect()
    }

    /// When the next pending or retrying delivery falls due.
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.due
            .values()
            .filter_map(|d| d.first())
            .map(|(at, _)| *at)
            .min()
    }

    /// Deliveries by route and state, and each route's oldest undelivered age.
    pub(crate) fn gauges(&self, now: i64) -> QueueGauges {
        let mut counts: std::collections::BTreeMap<(String, &'static str), u64> =
            Default::default();
        let mut oldest: std::collections::BTreeMap<String, i64> = Default::default();
        for meta in self.entries.values() {
            *counts
                .entry((meta.route.clone(), meta.state.label()))
                .or_default() += 1;
            if meta.state != State::Dead {
                let at = oldest
                    .entry(meta.route.clone())
                    .or_insert(meta.received_at_ms);
                *at = (*at).min(meta.received_at_ms);
            }
        }
        QueueGauges {
            deliveries: counts.into_iter().map(|((r, s), n)| (r, s, n)).collect(),
            oldest_age_seconds: oldest
                .into_iter()
                .map(|(r, at)| (r, (now - at).max(0) as f64 / 1000.0))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(route: &str, at: i64) -> Meta {
        Meta {
            route: route.into(),
            state: State::Pending,
            attempts: 0,
            received_at_ms: at,
            next_attempt_at_ms: at,
            last_status: None,
            last_error: None,
            body_bytes: 10,
            redriven_at_ms: None,
        }
    }

    #[test]
    fn concurrency_and_route_ordering_bound_what_is_taken() {
        let mut index = Index::default();
        for i in 0..5 {
            index.insert(i, meta("a", 100 + i as i64));
            index.insert(100 + i, meta("b", 100 + i as i64));
        }
        let policy = |route: &str| match route {
            "a" => Some((2, Ordering::None)),
            _ => Some((4, Ordering::Route)),
        };
        let mut taken: Vec<Id> = index
            .take_due(1000, &policy)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        taken.sort_unstable();
        assert_eq!(taken, vec![0, 1, 100]);
        // Nothing more until one finishes.
        assert!(index.take_due(1000, &policy).is_empty());
        index.remove(100);
        let taken: Vec<Id> = index
            .take_due(1000, &policy)
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(taken, vec![101]);
        assert_eq!(index.bytes(), 90);
    }

    #[test]
    fn the_head_of_an_ordered_route_blocks_it_while_it_waits_to_retry() {
        let mut index = Index::default();
        let mut head = meta("b", 100);
        head.state = State::Retrying;
        head.next_attempt_at_ms = 5000;
        index.insert(1, head);
        index.insert(2, meta("b", 200));
        let policy = |_: &str| Some((1, Ordering::Route));
        assert!(index.take_due(1000, &policy).is_empty());
        assert_eq!(index.take_due(5000, &policy).len(), 1);
        // A route no longer configured waits.
        let gone = |_: &str| None;
        index.insert(3, meta("c", 100));
        assert!(index.take_due(9000, &gone).is_empty());
    }
}
