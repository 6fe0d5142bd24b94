//! A real `redis-server` (Debian's package, installed when missing) as
//! the test's own process on a free loopback port: killed with SIGKILL,
//! frozen with SIGSTOP, and restarted on the same port, empty or (when
//! started with a dump directory) from a dump saved earlier, so its state goes
//! back in time; flushed, starved of memory, and its keys overwritten with
//! values of the wrong range or type, for the fault tests.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{debian_packages, spawn, ChildProcess};

/// A `redis-server` the test owns.
pub struct RedisServer {
    pub port: u16,
    /// Flags beyond the port and persistence (TLS, a password).
    args: Vec<String>,
    /// Where `SAVE` writes `dump.rdb` and snapshots are kept (none: no dumps).
    dir: Option<PathBuf>,
    /// Snapshots taken so far.
    snapshots: usize,
    process: Option<ChildProcess>,
}

/// The dump file a persistent server loads at start and `SAVE` writes.
const DUMP: &str = "dump.rdb";

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
        Self { port: free_port(), args: Vec::new(), dir: None, snapshots: 0, process: None }
    }

    /// One that can dump its state to a directory of its own (only on
    /// [`save`](Self::save): nothing is saved by itself) and be restarted
    /// from such a dump.
    pub fn start_persistent() -> Self {
        let mut server = Self::not_started();
        let dir = std::env::temp_dir().join(format!("gls-redis-{}-{}", std::process::id(), server.port));
        std::fs::create_dir_all(&dir).expect("dump directory");
        server.args = vec!["--dir".into(), dir.display().to_string(), "--dbfilename".into(), DUMP.into()];
        server.dir = Some(dir);
        server.restart();
        server
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

    /// Starts it (again) on its port, empty (killed first if it runs).
    pub fn restart(&mut self) {
        self.kill9();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_file(dir.join(DUMP));
        }
        self.launch();
    }

    /// Kills it (SIGKILL) if it runs and starts it again holding what
    /// `snapshot` (from [`save`](Self::save)) held: its state goes back in time.
    pub fn restart_from(&mut self, snapshot: &Path) {
        self.kill9();
        let dir = self.dir.as_ref().expect("started with start_persistent");
        std::fs::copy(snapshot, dir.join(DUMP)).expect("dump in place");
        self.launch();
    }

    /// Whether it runs (it may be frozen).
    pub fn running(&self) -> bool {
        self.process.is_some()
    }

    /// `SAVE`s its state now and keeps a copy; the copy's path.
    pub fn save(&mut self) -> PathBuf {
        let reply = self.cli(&["SAVE"]);
        assert_eq!(reply, "OK", "SAVE");
        let dir = self.dir.as_ref().expect("started with start_persistent");
        self.snapshots += 1;
        let snapshot = dir.join(format!("snapshot-{}.rdb", self.snapshots));
        std::fs::copy(dir.join(DUMP), &snapshot).expect("snapshot kept");
        snapshot
    }

    /// `FLUSHALL`: every key gone.
    pub fn flushall(&self) {
        assert_eq!(self.cli(&["FLUSHALL"]), "OK", "FLUSHALL");
    }

    /// Out of memory (`maxmemory` 1 byte, `noeviction`: every write is
    /// refused with OOM, reads still answer) or back to unlimited.
    pub fn out_of_memory(&self, starved: bool) {
        assert_eq!(self.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]), "OK");
        assert_eq!(self.cli(&["CONFIG", "SET", "maxmemory", if starved { "1" } else { "0" }]), "OK");
    }

    /// The keys matching `pattern` (`KEYS`: the tests' Redis holds few).
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        self.cli(&["KEYS", pattern]).lines().map(str::to_string).filter(|k| !k.is_empty()).collect()
    }

    /// Overwrites `field` of hash `key` with `value`, any bytes (a number out
    /// of range, NaN, garbage): what a bug or an operator could leave there.
    pub fn corrupt_field(&self, key: &str, field: &str, value: &[u8]) -> Result<(), String> {
        self.command(redis::cmd("HSET").arg(key).arg(field).arg(value))
    }

    /// Replaces `key` by a value of another type, keeping its expiry: a
    /// string where a hash or sorted set was, a list where a string was.
    pub fn corrupt_type(&self, key: &str) -> Result<(), String> {
        let kind = self.cli(&["TYPE", key]);
        let ttl: i64 = self.cli(&["PTTL", key]).parse().unwrap_or(-1);
        self.command(redis::cmd("DEL").arg(key))?;
        if kind == "string" {
            self.command(redis::cmd("RPUSH").arg(key).arg(&b"\xff\x00corrupted"[..]))?;
        } else {
            self.command(redis::cmd("SET").arg(key).arg(&b"\xff\x00corrupted"[..]))?;
        }
        if ttl > 0 {
            self.command(redis::cmd("PEXPIRE").arg(key).arg(ttl))?;
        }
        Ok(())
    }

    /// Runs one command (binary-safe, unlike `redis-cli`'s arguments).
    fn command(&self, command: &redis::Cmd) -> Result<(), String> {
        let client = redis::Client::open(self.url()).map_err(|e| e.to_string())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(2)).map_err(|e| e.to_string())?;
        connection.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
        command.query::<redis::Value>(&mut connection).map(drop).map_err(|e| e.to_string())
    }

    fn launch(&mut self) {
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

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A real Redis Cluster of `redis-server` processes (masters only), made
/// with `redis-cli --cluster create` on free loopback ports.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` nodes and joins them into one cluster (every slot
    /// covered); waits until the cluster says it is ok.
    pub fn start(masters: usize) -> Self {
        let mut nodes = Vec::new();
        while nodes.len() < masters {
            let mut node = RedisServer::not_started();
            // A node also listens on its port + 10000 (the cluster bus).
            let bus = node.port.checked_add(10000).filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok());
            if bus.is_none() {
                continue;
            }
            let dir = std::env::temp_dir().join(format!("gls-cluster-{}-{}", std::process::id(), node.port));
            std::fs::create_dir_all(&dir).expect("node directory");
            node.args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--dir"]
                .iter()
                .map(ToString::to_string)
                .chain([dir.display().to_string()])
                .collect();
            node.dir = Some(dir);
            node.launch();
            nodes.push(node);
        }
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(out.status.success(), "cluster create: {}", String::from_utf8_lossy(&out.stdout));
        let cluster = Self { nodes };
        let started = Instant::now();
        while !cluster.nodes.iter().all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")) {
            assert!(started.elapsed() < Duration::from_secs(30), "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// The node that owns `key`'s slot, and one that does not.
    pub fn owner_and_other(&self, key: &str) -> (&RedisServer, &RedisServer) {
        let slot: u16 = self.nodes[0].cli(&["CLUSTER", "KEYSLOT", key]).parse().expect("a slot");
        let owns = |n: &&RedisServer| {
            let nodes = n.cli(&["CLUSTER", "NODES"]);
            let me = nodes.lines().find(|l| l.contains("myself")).expect("this node").to_string();
            me.split_whitespace().skip(8).any(|range| match range.split_once('-') {
                Some((a, b)) => (a.parse().unwrap_or(u16::MAX)..=b.parse().unwrap_or(0)).contains(&slot),
                None => range.parse::<u16>().ok() == Some(slot),
            })
        };
        let owner = self.nodes.iter().find(owns).expect("an owner");
        let other = self.nodes.iter().find(|n| !owns(n)).expect("another node");
        (owner, other)
    }
}
