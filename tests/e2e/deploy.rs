//! The dashboard in `deploy/grafana` only queries metrics hookgate exports, with labels it sets.

use crate::support::sign::sign;
use crate::support::{Act, GatewayConfig, RawUpstream, get, metrics, post};

#[tokio::test]
async fn every_dashboard_query_names_an_exported_metric_and_label() {
    // A durable route whose app fails its first attempt, then dies on the second, so every
    // queue series exists: deliveries by state, attempts by result, lag, dead, commits.
    let upstream = RawUpstream::start(|n| match n {
        0 => Act::Close(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
        _ => Act::Close(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n"),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_dir, gateway) = GatewayConfig::to(&format!("http://{}", upstream.addr))
        .admin()
        .top(&format!("queue: {{ path: {} }}", dir.path().join("q.db").display()))
        .flow("r", "/hook", "s")
        .with("delivery: { mode: durable, retry: { first_seconds: 1, max_seconds: 1, give_up_after_seconds: 1 } }")
        .binary(&[]);
    let admin = gateway.admin();
    for body in [&b"{\"a\":1}"[..], b"{\"a\":2}", b"{\"a\":3}"] {
        assert_eq!(
            post(gateway.addr, "/hook", &sign("flow", &["s"], body, 0), body)
                .await
                .status,
            200
        );
    }
    gateway.log_line("delivery given up: dead").await;
    // One more, still undelivered when scraped, for the oldest-age gauge.
    let body = b"{\"a\":4}";
    assert_eq!(
        post(gateway.addr, "/hook", &sign("flow", &["s"], body, 0), body)
            .await
            .status,
        200
    );
    let text = String::from_utf8(get(admin, "/metrics").await.body).unwrap();
    let scrape = metrics::parse(&text);
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/hookgate.json"
    ))
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    let mut queried = 0;
    for expr in &exprs {
        for token in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if !token.starts_with("hookgate_") {
                continue;
            }
            queried += 1;
            let exported = scrape
                .samples
                .keys()
                .filter(|k| k.split('{').next() == Some(token))
                .collect::<Vec<_>>();
            assert!(!exported.is_empty(), "{token} is not exported: {expr}");
            for label in [
                "route",
                "outcome",
                "reason",
                "secret_index",
                "operation",
                "result",
                "state",
                "le",
            ] {
                let used = expr.contains(&format!("{label}="))
                    || expr.contains(&format!("({label}"))
                    || expr.contains(&format!(" {label},"))
                    || expr.contains(&format!(", {label})"));
                if used {
                    assert!(
                        exported.iter().any(|k| k.contains(&format!("{label}=\""))),
                        "{token} has no label {label}: {expr}"
                    );
                }
            }
        }
    }
    assert!(
        queried >= 10,
        "the dashboard queries hookgate metrics ({queried})"
    );
}
