//! The gateway binary (or any command) as a child process, for the tests and
//! the benchmarks: its stdout lines (its announcements) read as they come
//! and kept open, its stderr collected (a full pipe would block it), SIGTERM
//! to stop it, killed when dropped; and what /proc says of its memory and CPU.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a test waits for an announcement.
const ANNOUNCE_WAIT: Duration = Duration::from_secs(30);

/// A running child process.
pub struct ChildProcess {
    pub child: Child,
    /// What [`announced`] read after its prefix (empty otherwise).
    pub address: String,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

/// Starts `command` with its stdout and stderr read as they come.
pub fn spawn(mut command: Command) -> ChildProcess {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("child starts");
    let (tx, stdout) = mpsc::channel();
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| drop(tx.send(line))));
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = stderr.clone();
    let mut pipe = child.stderr.take().expect("stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            sink.lock().expect("stderr").push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    ChildProcess { child, address: String::new(), stdout, stderr, stderr_reader: Some(stderr_reader) }
}

/// Installs the Debian packages a test runs (`tests/debian.sh`, which skips
/// what is installed): a test file needs nothing installed before it.
pub fn debian_packages(packages: &[&str]) {
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/debian.sh");
    let out = Command::new("bash").arg(script).args(packages).output().expect("tests/debian.sh runs");
    assert!(out.status.success(), "tests/debian.sh {packages:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A gateway process over the emulator at `endpoint` (with its credentials)
/// and `extra` flags; its URL.
pub fn gateway_process(endpoint: &str, extra: &[&str]) -> (ChildProcess, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--aws-endpoint-url", endpoint, "--aws-region", "us-west-2"])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "AKIDEMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    let process = announced(command, "gateway listening on ");
    let url = format!("http://{}", process.address);
    (process, url)
}

/// Starts `command` and reads the rest of its first stdout line, which must
/// start with `prefix`, into its `address`.
pub fn announced(command: Command, prefix: &str) -> ChildProcess {
    let mut process = spawn(command);
    process.address = process.expect_line(prefix);
    process
}

impl ChildProcess {
    /// The next stdout line.
    pub fn next_line(&self) -> String {
        self.stdout.recv_timeout(ANNOUNCE_WAIT).unwrap_or_else(|e| panic!("no stdout line: {e}\n{}", self.stderr()))
    }

    /// The rest of the next stdout line, which must start with `prefix`.
    pub fn expect_line(&self, prefix: &str) -> String {
        let line = self.next_line();
        match line.strip_prefix(prefix) {
            Some(rest) => rest.to_string(),
            None => panic!("expected '{prefix}…', got '{line}'\n{}", self.stderr()),
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let kill = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(kill.success(), "SIGTERM sent");
    }

    /// Waits until its stderr contains `needle`.
    pub fn wait_for_stderr(&self, needle: &str) {
        let started = std::time::Instant::now();
        while !self.stderr().contains(needle) {
            assert!(started.elapsed() < ANNOUNCE_WAIT, "no '{needle}' in stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    /// Sends SIGTERM and waits for the exit; its status and whole stderr.
    pub fn stop(mut self) -> (ExitStatus, String) {
        self.terminate();
        let status = self.child.wait().expect("exit");
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().expect("stderr read to its end");
        }
        (status, self.stderr())
    }

    /// Resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS in kB")
}

/// CPU time process `pid` has used so far (user + system), seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // The fields after the command name (which may hold spaces) end with ")".
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("clock ticks");
    // utime and stime are fields 14 and 15 of stat(5), in USER_HZ (100 on Linux).
    (ticks(11) + ticks(12)) / 100.0
}
