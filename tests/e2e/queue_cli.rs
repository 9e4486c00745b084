//! `hookgate queue ...` against the running binary: list, show, redrive and purge through the
//! control socket, which no other local user can use.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;

use crate::support::sign::sign;
use crate::support::{Binary, GatewayConfig, Upstream, bin, post};

const SECRET: &str = "queue-cli-secret";

fn cli(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .arg("--config")
        .arg(config)
        .arg("queue")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn wait_for_dead(config: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (ok, out, err) = cli(config, &["list", "--state", "dead", "--json"]);
        assert!(ok, "{err}");
        let rows = json_lines(&out);
        if rows.len() >= n {
            return rows;
        }
        assert!(Instant::now() < deadline, "dead deliveries: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn dead_deliveries_are_listed_shown_redriven_and_purged() {
    let upstream = Upstream::start().await;
    upstream.answer(500);
    let dir = tempfile::tempdir().unwrap();
    let config = GatewayConfig::new(&upstream)
        .top(&format!("queue: {{ path: {} }}", dir.path().join("q.db").display()))
        .flow("orders", "/hook", SECRET)
        .with("delivery: { mode: durable, retry: { first_seconds: 1, max_seconds: 1, give_up_after_seconds: 1 } }")
        .write(dir.path());
    let gw = Binary::start(&config, &[]);
    let bodies = [&b"{\"n\":1}"[..], &b"{\"n\":2}"[..]];
    for body in bodies {
        assert_eq!(
            post(gw.addr, "/hook", &sign("flow", &[SECRET], body, 0), body)
                .await
                .status,
            200
        );
    }
    let dead = wait_for_dead(&config, 2).await;
    let ids: Vec<String> = dead
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        dead.iter()
            .all(|r| r["route"] == "orders" && r["last_status"] == 500)
    );

    let (ok, table, _) = cli(&config, &["stats"]);
    assert!(
        ok && table.contains("orders") && table.contains("dead"),
        "{table}"
    );
    let (ok, out, err) = cli(&config, &["show", &ids[0], "--body", "--json"]);
    assert!(ok, "{err}");
    let shown = &json_lines(&out)[0];
    let body = base64::engine::general_purpose::STANDARD
        .decode(shown["body"].as_str().unwrap())
        .unwrap();
    assert_eq!(body, bodies[0]);

    // The app is fixed; a redrive sends the first again, now with a fresh give-up period.
    upstream.answer(200);
    let before = upstream.count();
    let (ok, out, err) = cli(&config, &["redrive", &ids[0]]);
    assert!(ok && out.contains("redriven: 1"), "{out}{err}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while upstream.count() == before {
        assert!(
            Instant::now() < deadline,
            "the redriven delivery did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(upstream.received().last().unwrap().body.as_ref(), bodies[0]);

    // Purging by route and state asks for --yes; by id it does not.
    let (ok, _, err) = cli(&config, &["purge", "--route", "orders", "--state", "dead"]);
    assert!(!ok && err.contains("--yes"), "{err}");
    let (ok, out, _) = cli(&config, &["purge", &ids[1]]);
    assert!(ok && out.contains("purged: 1"), "{out}");
    let (ok, out, _) = cli(&config, &["list", "--json"]);
    assert!(ok && json_lines(&out).is_empty(), "{out}");
    let (ok, _, err) = cli(&config, &["show", &ids[1]]);
    assert!(!ok && err.contains("no delivery"), "{err}");
}

/// A command run as `nobody` (uid 65534): `setpriv` as root, through `sudo -n` otherwise.
fn nobody() -> Command {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap()
        == 0;
    let mut command = if root {
        Command::new("setpriv")
    } else {
        let sudo = Command::new("sudo").args(["-n", "true"]).status();
        assert!(
            sudo.is_ok_and(|s| s.success()),
            "this test runs a command as another user: it needs root or password-less sudo"
        );
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "setpriv"]);
        sudo
    };
    command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    command
}

#[tokio::test]
async fn another_local_user_cannot_use_the_control_socket_or_read_the_queue() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The other user may enter the directory (as a shared volume would allow).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = GatewayConfig::new(&upstream)
        .top(&format!(
            "queue: {{ path: {} }}",
            dir.path().join("q.db").display()
        ))
        .flow("orders", "/hook", SECRET)
        .with("delivery: { mode: durable }")
        .write(dir.path());
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _gw = Binary::start(&config, &[]);
    let socket = dir.path().join("q.db.sock");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600);
    assert_eq!(mode(&dir.path().join("q.db")), 0o600);
    let as_nobody = || {
        nobody()
            .arg(bin())
            .arg("--config")
            .arg(&config)
            .args(["queue", "stats"])
            .output()
            .unwrap()
    };
    let denied = as_nobody();
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Permission denied"),
        "{denied:?}"
    );
    // Even with the socket opened up by mistake, the gateway checks who is asking.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let refused = as_nobody();
    assert!(!refused.status.success(), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("closed the control socket"),
        "{refused:?}"
    );
    let read = nobody()
        .arg("cat")
        .arg(dir.path().join("q.db"))
        .output()
        .unwrap();
    assert!(!read.status.success(), "another user read the queue file");
}
