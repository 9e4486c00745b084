//! The real binary: `check`, `sign`, and `serve` accepting what `sign` printed.

use std::path::Path;
use std::process::Command;

use crate::support::{Binary, Upstream, bin, post};

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

const GOOD: &str = "\
listen: 127.0.0.1:0
upstream: http://127.0.0.1:3000
routes:
  - name: orders
    path: /webhooks/orders
    provider: flow
    secrets: [env:FLOW_SECRET]
  - name: payments
    path: /webhooks/payments
    provider: timestamped-v1
    secrets: [file:payments.secret, old-secret]
";

#[test]
fn shipped_gateway_yaml_checks() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/gateway.yaml");
    let (code, out, err) = run(&["check", "--config", config], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("9 route(s)"), "{out}");
}

#[test]
fn check_summarises_a_good_config_one_line_per_route() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "payments.secret", "from-a-file\n");
    let config = write(dir.path(), "gw.yaml", GOOD);
    let (code, out, err) = run(
        &["check", "--config", &config],
        &[("FLOW_SECRET", "s3cr3t-value")],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[1].contains("replay store: memory"), "{out}");
    let lines = [lines[0], lines[2], lines[3]];
    assert!(
        lines[1].contains("orders")
            && lines[1].contains("flow")
            && lines[1].contains("1 secret(s)"),
        "{out}"
    );
    assert!(
        lines[2].contains("payments")
            && lines[2].contains("2 secret(s)")
            && lines[2].contains("±300s"),
        "{out}"
    );
    assert!(
        !out.contains("s3cr3t-value") && !out.contains("from-a-file"),
        "no secret in the summary"
    );

    // HOOKGATE_CONFIG replaces the default path.
    let (code, _, err) = run(
        &["check"],
        &[("FLOW_SECRET", "x"), ("HOOKGATE_CONFIG", &config)],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn check_names_file_line_column_and_key_for_each_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "payments.secret", "x");
    let cases = [
        (
            "    provider: flow\n",
            "    providr: flow\n",
            ":6:5: routes[0].providr: unknown field `providr`",
        ),
        (
            "    provider: flow\n",
            "    provider: flo\n",
            ":6:15: routes[0].provider: unknown provider `flo`; did you mean `flow`?",
        ),
        (
            "",
            "",
            ":7:15: routes[0].secrets[0]: environment variable FLOW_SECRET is not set",
        ),
        (
            "name: payments",
            "name: orders",
            ":8:11: routes[1].name: duplicate route name `orders` (first defined at line 4)",
        ),
        (
            "upstream: http://127.0.0.1:3000",
            "upstream: 127.0.0.1:3000",
            ":2:11: upstream: `127.0.0.1:3000`: must be an absolute http:// or https:// URL with a host",
        ),
    ];
    for (from, to, expected) in cases {
        let text = GOOD.replacen(from, to, 1);
        let config = write(dir.path(), "broken.yaml", &text);
        let env: &[(&str, &str)] = if from.is_empty() {
            &[]
        } else {
            &[("FLOW_SECRET", "x")]
        };
        let (code, out, err) = run(&["check", "--config", &config], env);
        assert_eq!(code, 1, "{to}");
        assert!(out.is_empty());
        let expected = format!("{config}{expected}");
        assert!(
            err.starts_with(&expected),
            "expected {expected:?}\ngot {err:?}"
        );
    }
}

/// Writes `GOOD` pointing at `upstream`, with the payments secret file holding `secret`.
fn config_in_front_of(dir: &Path, upstream: &Upstream, secret: &str) -> String {
    write(dir, "payments.secret", secret);
    let text = GOOD.replace(
        "http://127.0.0.1:3000",
        &format!("http://{}", upstream.addr),
    );
    write(dir, "gw.yaml", &text)
}

#[tokio::test]
async fn sign_output_is_accepted_by_the_running_gateway_and_tampering_is_not() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_in_front_of(dir.path(), &upstream, "new-secret");
    let body = write(dir.path(), "body.json", "{\"order\":7}");
    let env = [("FLOW_SECRET", "flow-secret")];
    let gateway = Binary::start(Path::new(&config), &env);

    for (route, path) in [
        ("orders", "/webhooks/orders"),
        ("payments", "/webhooks/payments"),
    ] {
        let (code, out, err) = run(
            &[
                "sign",
                "--config",
                &config,
                "--route",
                route,
                "--body-file",
                &body,
            ],
            &env,
        );
        assert_eq!(code, 0, "{err}");
        let headers: Vec<(String, String)> = out
            .lines()
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap();
                (n.to_owned(), v.to_owned())
            })
            .collect();
        assert!(!headers.is_empty());
        let reply = post(gateway.addr, path, &headers, b"{\"order\":7}").await;
        assert_eq!(reply.status, 200, "{route}: {reply:?}");
        let reply = post(gateway.addr, path, &headers, b"{\"order\":8}").await;
        assert_eq!(reply.status, 401, "{route}: tampered");
    }
    assert_eq!(upstream.count(), 2);

    // Request lines are written in batches; wait for the batch with the first one.
    gateway.wait_for_log("\"outcome\":\"forwarded\"");
    let logs = gateway.logs().join("\n");
    for secret in ["flow-secret", "new-secret", "old-secret"] {
        assert!(!logs.contains(secret), "secret {secret} in the log");
    }
}

#[test]
fn sign_with_a_fixed_timestamp_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "payments.secret", "tv-secret-a");
    let config = write(dir.path(), "gw.yaml", GOOD);
    let body = write(
        dir.path(),
        "body.json",
        r#"{"event":"order.created","id":42}"#,
    );
    let (code, out, err) = run(
        &[
            "sign",
            "--config",
            &config,
            "--route",
            "payments",
            "--body-file",
            &body,
            "--timestamp",
            "1700000000",
        ],
        &[("FLOW_SECRET", "x")],
    );
    assert_eq!(code, 0, "{err}");
    // Computed independently with Python's hmac.
    assert_eq!(
        out,
        "x-webhook-signature: t=1700000000,v1=TMWK1IiQ83CdgOrC9DCn1rtdAxRUwllYX2cAfFWIPR4=\n"
    );
    let (code, _, err) = run(
        &["sign", "--config", &config, "--route", "nope"],
        &[("FLOW_SECRET", "x")],
    );
    assert_eq!(code, 1);
    assert!(err.contains("no route named `nope`"), "{err}");
}

#[tokio::test]
async fn sigterm_drains_an_in_flight_request_then_exits_zero() {
    let upstream = Upstream::start().await;
    upstream
        .delay_ms
        .store(700, std::sync::atomic::Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let config = config_in_front_of(dir.path(), &upstream, "x");
    let mut gateway = Binary::start(Path::new(&config), &[("FLOW_SECRET", "flow-secret")]);
    let (code, out, err) = run(
        &[
            "sign",
            "--config",
            &config,
            "--route",
            "orders",
            "--timestamp",
            "1",
        ],
        &[("FLOW_SECRET", "flow-secret")],
    );
    assert_eq!(code, 0, "{err}");
    let (name, value) = out.trim().split_once(": ").unwrap();
    let headers = vec![(name.to_owned(), value.to_owned())];
    let addr = gateway.addr;
    let in_flight =
        tokio::spawn(async move { post(addr, "/webhooks/orders", &headers, b"").await });
    upstream.wait_for(1).await;
    let pid = gateway.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let reply = in_flight.await.unwrap();
    assert_eq!(
        reply.status, 200,
        "the in-flight request finished: {reply:?}"
    );
    let status = tokio::task::spawn_blocking(move || gateway.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(upstream.count(), 1);
}

/// A custom scheme whose timestamp or replay key the signature does not cover would accept
/// a captured delivery again and again with a fresh value: `check` refuses it, at the line.
#[test]
fn check_refuses_a_custom_scheme_reading_unsigned_input() {
    let dir = tempfile::tempdir().unwrap();
    let text = "listen: 127.0.0.1:0\nupstream: http://127.0.0.1:3000\nroutes:\n  - name: custom\n    path: /c\n    secrets: [s]\n    scheme:\n      signature_header: X-Sig\n      timestamp_header: X-Ts\n      replay_key: '{header:x-delivery}'\n";
    let config = write(dir.path(), "unsigned.yaml", text);
    let (code, out, err) = run(&["check", "--config", &config], &[]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "{config}:8:7: routes[0].scheme.signed_payload: does not cover the timestamp: a replay with a fresh timestamp would pass; add {{timestamp}} (or the field or header it is read from) to signed_payload"
            ),
            format!(
                "{config}:8:7: routes[0].scheme.replay_key: reads {{header:x-delivery}} which the signature does not cover: a replay with a fresh value would pass; key on signed input only"
            ),
        ],
        "{err}"
    );
    // Signed, the same inputs are fine.
    let signed = text.replace(
        "      replay_key:",
        "      signed_payload: '{timestamp}.{header:x-delivery}.{body}'\n      replay_key:",
    );
    let config = write(dir.path(), "signed.yaml", &signed);
    let (code, _, err) = run(&["check", "--config", &config], &[]);
    assert_eq!(code, 0, "{err}");
}
