//! The gateway under test: the library in-process with a pinned clock, or the real binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookgate::access_log::AccessLog;
use hookgate::clock::Clock;
use hookgate::config::Config;
use hookgate::gateway::Gateway;

use super::field;

/// The pinned time of in-process gateways.
pub const NOW: i64 = 1_800_000_000;

/// The gateway library serving on an ephemeral port with a pinned clock.
pub struct InProcess {
    pub addr: SocketAddr,
    pub clock: Clock,
    pub gateway: Arc<Gateway>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl InProcess {
    /// The real wiring (`hookgate::app::App`, as `main` uses it) with a pinned clock.
    pub async fn start(config_yaml: &str) -> InProcess {
        let config = Config::parse(config_yaml, Path::new("test.yaml"), Path::new("."), &|_| {
            None
        })
        .unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
        let clock = Clock::fixed(NOW);
        let app = hookgate::app::App::bind(config, clock.clone(), AccessLog::disabled())
            .await
            .unwrap();
        let addr = app.addr().unwrap();
        let gateway = Arc::clone(&app.gateway);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        InProcess {
            addr,
            clock,
            gateway,
            stop: Some(stop),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The real binary, started with a config file, on the port it reports.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hookgate"))
}

impl Binary {
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Binary {
        let mut child = Command::new(bin())
            .args(["serve", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("\"message\":\"listening\"") {
                    let _ = tx.send(field(&line, "addr").unwrap_or_default());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!("gateway did not start; stderr: {:?}", lines.lock().unwrap())
            });
        Binary {
            child,
            addr: addr.parse().unwrap(),
            stderr: lines,
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to 10 s for a log line containing `needle`, blocking the thread.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.find_log(needle, deadline) {
                return line;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first log line containing `needle`; panics with the log once `deadline` passed.
    fn find_log(&self, needle: &str, deadline: std::time::Instant) -> Option<String> {
        let found = self.logs().into_iter().find(|l| l.contains(needle));
        assert!(
            found.is_some() || std::time::Instant::now() < deadline,
            "no log line with {needle:?}; stderr: {:?}",
            self.logs()
        );
        found
    }

    /// As [`Binary::wait_for_log`], yielding to the runtime (whose tasks, such as a test
    /// upstream, may be what the log line waits for).
    pub async fn log_line(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.find_log(needle, deadline) {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The admin listener's address, from its startup log line.
    pub fn admin(&self) -> SocketAddr {
        let line = self.wait_for_log("\"message\":\"admin listening\"");
        field(&line, "addr").unwrap().parse().unwrap()
    }

    /// Sends a signal (`"HUP"`, `"TERM"`) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
