//! A real `redis-server` on a free loopback port, stopped and restarted at will.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process. Persistence is off unless [`RedisServer::durable`] turned
/// it on: a restart then comes back from its append-only file.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    /// More `redis-server` arguments (TLS, ACL users).
    args: Vec<String>,
    /// User and password the helpers authenticate as, when the default user is off.
    auth: Option<(String, String)>,
    /// The server binary, when not `HOOKGATE_TEST_REDIS` or `redis-server`.
    binary: Option<String>,
}

impl RedisServer {
    /// Starts one on a free port. The binary is `HOOKGATE_TEST_REDIS` or `redis-server` on the
    /// PATH (`.ci/run` installs it).
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[], None)
    }

    /// Starts one with more arguments; the helpers authenticate as `auth` if given.
    pub fn start_with(args: &[&str], auth: Option<(&str, &str)>) -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            child: None,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
            binary: None,
        };
        server.restart();
        server
    }

    /// Starts one whose append-only file is in `dir`, fsynced as `appendfsync` says.
    pub fn durable(dir: &std::path::Path, appendfsync: &str) -> RedisServer {
        RedisServer::durable_with(None, dir, appendfsync)
    }

    /// As [`RedisServer::durable`], with Valkey (`valkey-server`, which `.ci/run` installs
    /// from bookworm-backports): Redis 7.2's commands, WAITAOF among them.
    pub fn durable_valkey(dir: &std::path::Path, appendfsync: &str) -> RedisServer {
        RedisServer::durable_with(Some("valkey-server"), dir, appendfsync)
    }

    fn durable_with(binary: Option<&str>, dir: &std::path::Path, appendfsync: &str) -> RedisServer {
        let dir = dir.display().to_string();
        let args = [
            "--appendonly",
            "yes",
            "--appendfsync",
            appendfsync,
            "--dir",
            &dir,
        ];
        let mut server = RedisServer {
            port: free_port(),
            child: None,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            auth: None,
            binary: binary.map(str::to_owned),
        };
        server.restart();
        server
    }

    /// Runs one command with `redis-cli` and returns its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli (from redis-tools, which redis-server depends on)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to clients).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty, and waits until it answers PING.
    pub fn restart(&mut self) {
        self.stop();
        let binary = self.binary.clone().unwrap_or_else(|| {
            std::env::var("HOOKGATE_TEST_REDIS").unwrap_or_else(|_| "redis-server".to_owned())
        });
        let child = Command::new(&binary)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                // For DEBUG SLEEP, which makes a slow Redis on demand.
                "--enable-debug-command",
                "local",
            ])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}; install it (.ci/run does)"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (up to 5 s) until the server stops answering within 100 ms, as while it runs a
    /// `DEBUG SLEEP` sent on another connection.
    pub fn wait_until_busy(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.answers_ping_within(Duration::from_millis(100)) {
            assert!(Instant::now() < deadline, "redis-server never got busy");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn answers_ping(&self) -> bool {
        self.answers_ping_within(Duration::from_millis(500))
    }

    fn answers_ping_within(&self, timeout: Duration) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(timeout));
        if !self.authenticate(&mut stream) {
            return false;
        }
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Number of keys in database 0, via the protocol directly.
    pub fn dbsize(&self) -> u64 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        assert!(self.authenticate(&mut stream));
        stream.write_all(b"DBSIZE\r\n").unwrap();
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        text.trim().trim_start_matches(':').parse().unwrap()
    }
}

impl RedisServer {
    /// Sends `AUTH` when the server has a helper user; true when it may go on.
    fn authenticate(&self, stream: &mut TcpStream) -> bool {
        let Some((user, password)) = &self.auth else {
            return true;
        };
        let mut reply = [0u8; 5];
        stream
            .write_all(format!("AUTH {user} {password}\r\n").as_bytes())
            .is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+OK\r\n"
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
