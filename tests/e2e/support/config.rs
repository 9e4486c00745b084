//! The one way the e2e tests write a gateway config: the keys every test shares, then only
//! what a test is about, so a reader sees the difference and nothing else.

use std::path::{Path, PathBuf};

use super::{Binary, InProcess, Upstream};

/// A gateway config under construction. `yaml()` renders it; `write`, `binary` and
/// `in_process` run it.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    upstream: Option<String>,
    log_format: String,
    top: Vec<String>,
    routes: Vec<String>,
}

impl GatewayConfig {
    /// `listen: 127.0.0.1:0`, JSON logs, in front of `upstream`.
    pub fn new(upstream: &Upstream) -> GatewayConfig {
        GatewayConfig::to(&format!("http://{}", upstream.addr))
    }

    /// The same in front of any upstream URL (a raw upstream, https, a closed port).
    pub fn to(url: &str) -> GatewayConfig {
        GatewayConfig {
            upstream: Some(url.to_owned()),
            ..GatewayConfig::without_upstream()
        }
    }

    /// No top-level upstream: every route names its own.
    pub fn without_upstream() -> GatewayConfig {
        GatewayConfig {
            upstream: None,
            log_format: "json".to_owned(),
            top: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Top-level keys, one or more YAML lines, e.g. `"max_connections: 4"`. A key given
    /// again replaces the earlier one, so a test can override a default.
    pub fn top(mut self, yaml: &str) -> GatewayConfig {
        for line in yaml.lines().filter(|l| !l.trim().is_empty()) {
            if line.starts_with(' ') {
                if let Some(last) = self.top.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
                continue;
            }
            let key = |entry: &str| entry.split(':').next().map(str::to_owned);
            self.top.retain(|entry| key(entry) != key(line));
            self.top.push(line.to_owned());
        }
        self
    }

    /// An admin listener on an ephemeral port (`Binary::admin` finds it).
    pub fn admin(self) -> GatewayConfig {
        self.top("admin_listen: 127.0.0.1:0")
    }

    pub fn log_format(mut self, format: &str) -> GatewayConfig {
        self.log_format = format.to_owned();
        self
    }

    /// A route named `name`; `keys` are its other keys (path, provider, ...) as YAML lines,
    /// at any indentation: they are re-indented under the route.
    pub fn route(mut self, name: &str, keys: &str) -> GatewayConfig {
        let mut route = format!("  - name: {name}\n");
        route.push_str(&indent(keys, "    "));
        self.routes.push(route);
        self
    }

    /// The route most tests use: `name` at `path`, Flow's scheme, one secret.
    pub fn flow(self, name: &str, path: &str, secret: &str) -> GatewayConfig {
        self.route(
            name,
            &format!("path: {path}\nprovider: flow\nsecrets: ['{secret}']"),
        )
    }

    /// More keys for the last route added.
    pub fn with(mut self, keys: &str) -> GatewayConfig {
        if let Some(last) = self.routes.last_mut() {
            last.push_str(&indent(keys, "    "));
        }
        self
    }

    pub fn yaml(&self) -> String {
        let mut out = format!("listen: 127.0.0.1:0\nlog_format: {}\n", self.log_format);
        if let Some(url) = &self.upstream {
            out.push_str(&format!("upstream: {url}\n"));
        }
        for top in &self.top {
            out.push_str(top);
            out.push('\n');
        }
        out.push_str("routes:\n");
        for route in &self.routes {
            out.push_str(route);
        }
        out
    }

    /// Writes `gateway.yaml` in `dir`.
    pub fn write(&self, dir: &Path) -> PathBuf {
        self.write_as(dir, "gateway.yaml")
    }

    pub fn write_as(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, self.yaml()).unwrap();
        path
    }

    /// The real binary with this config, written to a temporary directory that lives as
    /// long as the returned guard.
    pub fn binary(&self, env: &[(&str, &str)]) -> (tempfile::TempDir, Binary) {
        let dir = tempfile::tempdir().unwrap();
        let binary = Binary::start(&self.write(dir.path()), env);
        (dir, binary)
    }

    /// The config as the gateway validates it (secrets as written; no env, no files).
    pub fn parse(&self) -> hookgate::config::Config {
        hookgate::config::Config::parse(
            &self.yaml(),
            Path::new("test.yaml"),
            Path::new("."),
            &|_| None,
        )
        .unwrap_or_else(|e| panic!("test config invalid:\n{e}"))
    }

    /// The library serving this config in-process with a pinned clock.
    pub async fn in_process(&self) -> InProcess {
        InProcess::start(&self.yaml()).await
    }
}

/// `text`'s lines with their common indentation replaced by `prefix`.
fn indent(text: &str, prefix: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let common = lines
        .iter()
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| format!("{prefix}{}\n", &l[common..]))
        .collect()
}

#[test]
fn keys_at_any_indentation_land_under_their_route() {
    let yaml = GatewayConfig::to("http://127.0.0.1:9")
        .route(
            "a",
            "    path: /a\n    scheme:\n      signature_header: X\n",
        )
        .route("b", "path: /b")
        .with("mode: observe")
        .top("max_connections: 4\nreplay:\n  store: memory")
        .top("max_connections: 8")
        .yaml();
    assert!(yaml.contains("replay:\n  store: memory\nmax_connections: 8\nroutes:"));
    assert!(yaml.ends_with(
        "routes:\n  - name: a\n    path: /a\n    scheme:\n      signature_header: X\n\
         \x20 - name: b\n    path: /b\n    mode: observe\n"
    ));
}
