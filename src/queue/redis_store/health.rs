//! Whether Redis makes an acknowledged write durable, read from its own settings.
//!
//! A 2xx to the sender means the delivery is in Redis's append-only file, fsynced. That needs
//! `appendonly yes` and either `appendfsync always`, or Redis 7.2+ where each accept waits
//! with `WAITAOF 1 0` (which lets concurrent writes share an fsync); and
//! `maxmemory-policy noeviction`, or Redis may evict queued deliveries to make room.

use std::collections::HashMap;

/// What the last look at Redis found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Durability {
    /// Not looked at yet, or Redis did not answer.
    Unknown,
    /// Acknowledged writes are on disk; `waitaof`: each accept must wait for it.
    Durable {
        /// Wait with `WAITAOF 1 0` after each accept (appendfsync is not `always`).
        waitaof: bool,
    },
    /// Not durable, and why (the setting to change).
    Weak(String),
}

/// Redis's answers to `CONFIG GET appendonly appendfsync maxmemory-policy` (or why there
/// were none) and `INFO server`, judged.
pub(super) fn judge(config: Result<HashMap<String, String>, String>, info: &str) -> Durability {
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            return Durability::Weak(format!(
                "CONFIG GET is not available ({e}), so appendonly, appendfsync and maxmemory-policy cannot be confirmed; on a managed Redis whose persistence you have confirmed, set queue.allow_weak_durability: true"
            ));
        }
    };
    let setting = |name: &str| config.get(name).map_or("", String::as_str);
    if setting("appendonly") != "yes" {
        return Durability::Weak(format!(
            "appendonly is `{}`; set appendonly yes",
            setting("appendonly")
        ));
    }
    if setting("maxmemory-policy") != "noeviction" {
        return Durability::Weak(format!(
            "maxmemory-policy is `{}`, which may evict queued deliveries; set maxmemory-policy noeviction",
            setting("maxmemory-policy")
        ));
    }
    match setting("appendfsync") {
        "always" => Durability::Durable { waitaof: false },
        _ if version(info) >= (7, 2) => Durability::Durable { waitaof: true },
        other => Durability::Weak(format!(
            "appendfsync is `{other}` and this Redis is older than 7.2 (no WAITAOF); set appendfsync always"
        )),
    }
}

/// `redis_version` from `INFO server`, as (major, minor); (0, 0) when absent.
pub(super) fn version(info: &str) -> (u32, u32) {
    let Some(text) = field(info, "redis_version") else {
        return (0, 0);
    };
    let mut parts = text.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// One `name:value` line of an `INFO` answer.
pub(super) fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == name).then(|| value.trim())
    })
}

/// Whether a delivery of `bytes` would take Redis past 90% of its `maxmemory` (none: no bound),
/// counting twice its size for the copies Redis briefly holds (the script's argument, the hash).
pub(super) fn near_maxmemory(used: u64, max: u64, bytes: u64) -> bool {
    max > 0 && used.saturating_add(bytes.saturating_mul(2)) > max / 10 * 9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<HashMap<String, String>, String> {
        Ok(pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect())
    }

    #[test]
    fn only_an_fsynced_aof_without_eviction_is_durable() {
        let v70 = "# Server\r\nredis_version:7.0.15\r\n";
        let v72 = "redis_version:7.2.4\r\n";
        let always = [
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("maxmemory-policy", "noeviction"),
        ];
        assert_eq!(
            judge(config(&always), v70),
            Durability::Durable { waitaof: false }
        );
        let everysec = [
            ("appendonly", "yes"),
            ("appendfsync", "everysec"),
            ("maxmemory-policy", "noeviction"),
        ];
        assert_eq!(
            judge(config(&everysec), v72),
            Durability::Durable { waitaof: true }
        );
        let Durability::Weak(why) = judge(config(&everysec), v70) else {
            panic!("everysec on 7.0 is weak")
        };
        assert!(why.contains("appendfsync is `everysec`"), "{why}");
        let mut no_aof = always;
        no_aof[0].1 = "no";
        assert!(
            matches!(judge(config(&no_aof), v72), Durability::Weak(w) if w.contains("appendonly"))
        );
        let mut evicting = always;
        evicting[2].1 = "allkeys-lru";
        assert!(
            matches!(judge(config(&evicting), v72), Durability::Weak(w) if w.contains("noeviction"))
        );
        let disabled = judge(Err("ERR unknown command".into()), v72);
        assert!(matches!(disabled, Durability::Weak(w) if w.contains("allow_weak_durability")));
    }

    #[test]
    fn memory_headroom_is_a_tenth_of_maxmemory() {
        assert!(!near_maxmemory(10, 0, 1 << 40), "no maxmemory: no bound");
        assert!(!near_maxmemory(800, 1000, 40));
        assert!(near_maxmemory(800, 1000, 60));
        assert_eq!(version("redis_version:8.2.1\n"), (8, 2));
        assert_eq!(version(""), (0, 0));
    }
}
