//! A delivery's metadata as hash fields in Redis, and back.

use super::super::record::{Meta, State};

/// The hash fields [`meta`] reads, in its order.
pub(super) const FIELDS: [&str; 9] = [
    "route", "state", "attempts", "received", "next", "status", "error", "bytes", "redriven",
];

/// A state from its label.
pub(super) fn state(label: &str) -> Option<State> {
    State::ALL.into_iter().find(|s| s.label() == label)
}

/// Metadata from [`FIELDS`]' values (`None` for a missing hash or a field that does not
/// parse: written by something other than hookgate).
pub(super) fn meta(values: &[Option<String>]) -> Option<Meta> {
    let text = |i: usize| values.get(i).and_then(|v| v.as_deref());
    let optional = |i: usize| text(i).filter(|t| !t.is_empty());
    Some(Meta {
        route: text(0)?.to_owned(),
        state: state(text(1)?)?,
        attempts: text(2)?.parse().ok()?,
        received_at_ms: text(3)?.parse().ok()?,
        next_attempt_at_ms: text(4)?.parse().ok()?,
        last_status: optional(5).and_then(|t| t.parse().ok()),
        last_error: optional(6).map(str::to_owned),
        body_bytes: text(7)?.parse().ok()?,
        redriven_at_ms: optional(8).and_then(|t| t.parse().ok()),
    })
}

/// The values RESCHEDULE takes after the entry and id: route, state, next, status, error,
/// redriven.
pub(super) fn outcome(meta: &Meta) -> [String; 6] {
    [
        meta.route.clone(),
        meta.state.label().to_owned(),
        meta.next_attempt_at_ms.to_string(),
        meta.last_status.map(|s| s.to_string()).unwrap_or_default(),
        meta.last_error.clone().unwrap_or_default(),
        meta.redriven_at_ms
            .map(|t| t.to_string())
            .unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_hash_fields() {
        let meta = Meta {
            route: "r".into(),
            state: State::Retrying,
            attempts: 3,
            received_at_ms: 1_800_000_000_000,
            next_attempt_at_ms: 1_800_000_004_000,
            last_status: Some(503),
            last_error: None,
            body_bytes: 12,
            redriven_at_ms: None,
        };
        let [route, state, next, status, error, redriven] = outcome(&meta);
        let values: Vec<Option<String>> = [
            route,
            state,
            "3".into(),
            meta.received_at_ms.to_string(),
            next,
            status,
            error,
            "12".into(),
            redriven,
        ]
        .into_iter()
        .map(Some)
        .collect();
        assert_eq!(super::meta(&values), Some(meta));
        assert_eq!(super::meta(&vec![None; 9]), None);
    }
}
