//! A TCP proxy between the sidecars and Redis, for network faults a real
//! `redis-server` cannot make by itself: it delays Redis's replies by a set
//! latency, and it can blackhole (a partition: every byte both ways is held,
//! and new connections wait, until it heals; then what was held arrives, as
//! TCP would deliver it). It forwards bytes and understands nothing of them.
//! Runs on the test's tokio runtime; [`Proxy::set`] may be called from any
//! thread (a nemesis thread).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What the proxy does to the traffic now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// Added to every reply from Redis (requests go through at once).
    pub reply_latency: Duration,
    /// Nothing passes either way, and new connections wait.
    pub blackhole: bool,
}

/// A proxy on a loopback port in front of Redis's.
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accept: JoinHandle<()>,
}

/// The mode's sender is gone: the proxy was dropped.
struct Closed;

impl Proxy {
    /// Listens on a free loopback port; each connection is relayed to
    /// `upstream_port` (on loopback), connected when the client connects.
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, watching) = watch::channel(Mode::default());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream_port, watching.clone()));
            }
        });
        Self { addr, mode, accept }
    }

    /// The Redis URL to give the sidecars.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Changes what the proxy does, for every connection at once.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Back to forwarding everything at once (what was held is delivered).
    pub fn heal(&self) {
        self.set(Mode::default());
    }

    /// What it does now.
    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Dropping the sender ends every relay.
        self.accept.abort();
    }
}

/// Waits until the traffic may pass.
async fn open(mode: &mut watch::Receiver<Mode>) -> Result<(), Closed> {
    mode.wait_for(|m| !m.blackhole).await.map(drop).map_err(|_| Closed)
}

/// Relays one client connection until either side closes it (or the proxy goes).
async fn relay(client: TcpStream, upstream_port: u16, mut mode: watch::Receiver<Mode>) {
    if open(&mut mode).await.is_err() {
        return;
    }
    // Redis down: the client's connection is closed, as a refused one would be.
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mut gone = mode.clone();
    tokio::select! {
        _ = pump(client_read, server_write, mode.clone(), false) => {}
        _ = pump(server_read, client_write, mode, true) => {}
        _ = async { while gone.changed().await.is_ok() {} } => {}
    }
}

/// Copies one direction: each chunk read is written once it is due (its
/// arrival plus the reply latency, for replies) and the link is open, in order.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mode: watch::Receiver<Mode>, replies: bool) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let mut reading = mode.clone();
    let read = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if open(&mut reading).await.is_err() {
                return;
            }
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let delay = if replies { reading.borrow().reply_latency } else { Duration::ZERO };
                    if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    };
    let mut writing = mode;
    let write = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if open(&mut writing).await.is_err() || to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    // The writer drains what was read before the reader's end reached it.
    tokio::join!(read, write);
}
