//! A GameLift Streams and IVS Real-Time emulator: one HTTP server that speaks
//! both services' restJson1 protocol from botocore's models, with their
//! lifecycles on a simulated clock, AWS's rate limits, and fault injection. The
//! gateway talks to it only over HTTP, like to the real services.

mod admin;
mod calls;
mod clock;
mod errors;
mod faults;
pub mod ivs;
pub mod model;
mod quota;
mod responses;
mod routes;
mod service;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use calls::{CallCounts, CallPeaks};
pub use errors::ApiError;
pub use faults::FaultRule;
pub use model::{Timings, WorldConfig, SEEDED_APPLICATION_ID, SEEDED_STREAM_GROUP_ID};
pub use quota::{AWS_RATE_LIMITS, IVS_REALTIME_RATE_LIMITS};
pub use service::{Service, IVS_KEY_PREFIX};

use calls::CallLog;
use clock::SimClock;
use faults::Faults;
use ivs::IvsWorld;
use model::World;
use quota::RateLimits;

/// Everything an emulator is started with.
#[derive(Debug, Clone, PartialEq)]
pub struct EmulatorConfig {
    /// The seeded account.
    pub world: WorldConfig,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Requests per second per operation, by call key (see [`Service::call_key`]);
    /// an operation missing here is not limited.
    pub rate_limits: HashMap<String, f64>,
    /// Seed of the fault-injection dice; random when none.
    pub seed: Option<u64>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let region = "us-west-2".to_string();
        Self {
            world: WorldConfig {
                capacity: vec![(region.clone(), 4)],
                region,
                account_id: "111122223333".into(),
                timings: Timings::default(),
            },
            time_scale: 1.0,
            rate_limits: AWS_RATE_LIMITS
                .iter()
                .map(|(op, rate)| (op.to_string(), *rate))
                .chain(IVS_REALTIME_RATE_LIMITS.iter().map(|(op, rate)| (Service::IvsRealTime.call_key(op), *rate)))
                .collect(),
            seed: None,
        }
    }
}

/// The state every request of one emulator shares.
pub struct Emulator {
    world: Mutex<World>,
    ivs: Mutex<IvsWorld>,
    clock: SimClock,
    limits: RateLimits,
    faults: Faults,
    calls: CallLog,
}

/// A running emulator.
pub struct EmulatorHandle {
    addr: SocketAddr,
    state: Arc<Emulator>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Binds `addr` and serves the emulator on it in the background.
pub async fn start(addr: SocketAddr, config: EmulatorConfig) -> io::Result<EmulatorHandle> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let clock = SimClock::new(config.time_scale);
    let state = Arc::new(Emulator {
        ivs: Mutex::new(IvsWorld::new(&config.world)),
        world: Mutex::new(World::new(config.world, clock.now())),
        clock,
        limits: RateLimits::new(&config.rate_limits),
        faults: Faults::new(config.seed),
        calls: CallLog::default(),
    });
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(routes::serve(listener, state.clone(), rx));
    Ok(EmulatorHandle { addr, state, shutdown: Some(tx), task })
}

impl EmulatorHandle {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give an SDK as its endpoint.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Calls answered so far, per operation and outcome.
    pub fn calls(&self) -> CallCounts {
        self.state.calls.snapshot()
    }

    /// The most calls of each operation that arrived within any one second.
    pub fn call_peaks(&self) -> CallPeaks {
        self.state.calls.peaks()
    }

    /// How many calls of `operation` ended with `outcome` (`Success`, an error
    /// type, or `ConnectionDropped`).
    pub fn call_count(&self, operation: &str, outcome: &str) -> u64 {
        self.calls().get(operation).and_then(|outcomes| outcomes.get(outcome)).copied().unwrap_or(0)
    }

    /// Adds a fault rule; returns its id.
    pub fn add_fault(&self, rule: FaultRule) -> Result<u64, String> {
        self.state.faults.add(rule)
    }

    /// The active fault rules (a rule with a `count` goes once its last call
    /// has arrived).
    pub fn faults(&self) -> Vec<FaultRule> {
        self.state.faults.list()
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }

    /// Moves the simulated clock forward; returns the new time, or why it
    /// cannot move that far.
    pub fn advance_clock(&self, seconds: f64) -> Result<f64, String> {
        self.state.clock.advance(seconds)
    }

    /// Stops accepting, closes open connections, and waits for the server to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `name` is the call key of an operation of either model: its name,
/// or `ivs-realtime:<name>` for IVS Real-Time's tag operations.
pub fn is_operation(name: &str) -> bool {
    service::is_call_key(name)
}
