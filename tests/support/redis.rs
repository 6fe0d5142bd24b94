//! A real `redis-server` (Debian's package, installed when missing) as
//! the test's own process on a free loopback port, without persistence: killed
//! with SIGKILL, frozen with SIGSTOP, and restarted on the same port.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{debian_packages, spawn, ChildProcess};

/// A `redis-server` the test owns.
pub struct RedisServer {
    pub port: u16,
    /// Flags beyond the port and persistence (TLS, a password).
    args: Vec<String>,
    process: Option<ChildProcess>,
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

impl RedisServer {
    /// Starts one on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let mut server = Self::not_started();
        server.restart();
        server
    }

    /// One on a free port that is not started yet (nothing listens there).
    pub fn not_started() -> Self {
        Self { port: free_port(), args: Vec::new(), process: None }
    }

    /// One that speaks only TLS (with the certificate and key in `dir`:
    /// `server.pem`, `server.key`, `ca.pem`) and wants `password`.
    pub fn start_tls(dir: &std::path::Path, password: &str) -> Self {
        let file = |name: &str| dir.join(name).display().to_string();
        let mut server = Self::not_started();
        server.args = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            server.port.to_string(),
            "--tls-cert-file".into(),
            file("server.pem"),
            "--tls-key-file".into(),
            file("server.key"),
            "--tls-ca-cert-file".into(),
            file("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
            "--requirepass".into(),
            password.into(),
        ];
        server.restart();
        server
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port, empty.
    pub fn restart(&mut self) {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| debian_packages(&["redis-server", "redis-tools"]));
        let mut command = Command::new("redis-server");
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        command.args(&self.args);
        let process = spawn(command);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start:\n{}", process.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
        self.process = Some(process);
    }

    /// SIGKILL, and waits for the exit.
    pub fn kill9(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.child.kill().expect("SIGKILL");
            process.child.wait().expect("exit");
        }
    }

    /// SIGSTOP (`freeze`) or SIGCONT (`thaw`): a Redis that holds every
    /// connection open and answers nothing, or answers again.
    pub fn signal(&self, signal: &str) {
        let pid = self.process.as_ref().expect("running").child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    /// A command's reply, through `redis-cli`.
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_with(&[], args)
    }

    /// The same, with `redis-cli` flags `options` (TLS, a password).
    pub fn cli_with(&self, options: &[&str], args: &[&str]) -> String {
        let mut command = Command::new("redis-cli");
        command.args(["-p", &self.port.to_string()]).args(options).args(args);
        let out = command.output().expect("redis-cli");
        assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}
