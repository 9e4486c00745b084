//! The dashboard in `deploy/grafana` only queries metrics hookgate exports, with labels it sets.

use crate::support::{Upstream, metrics, one_route};

#[tokio::test]
async fn every_dashboard_query_names_an_exported_metric_and_label() {
    let upstream = Upstream::start().await;
    let gateway = one_route(&upstream, "    provider: flow\n    secrets: [s]\n")
        .in_process()
        .await;
    let scrape = metrics::parse(&gateway.gateway.metrics().render(true));
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
