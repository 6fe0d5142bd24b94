//! What a fault run recorded, as plain data: every client call and its answer,
//! every watch stream's events and end, the nemesis's faults with their
//! times; and what the emulator holds at the end. The workload and the
//! nemesis write it through [`Recorder`]; the checker only reads it. Times are
//! seconds since the run began.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use gamelift_streams_gateway::proto::v1::{StreamSessionEventKind as Kind, StreamSessionStatus as Status};
use tokio::time::Instant;
use tonic::Code;

/// Seconds since the run began.
pub type Secs = f64;

/// The parameters a StartStreamSession was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartParams {
    /// The seeded application, the workload's usual fields.
    Usual,
    /// The same, but another description: a request_id reused with other parameters.
    Other,
    /// An application that does not exist: fails for good with NOT_FOUND.
    UnknownApp,
}

/// One client call.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// StartStreamSession.
    Start { request_id: String, params: StartParams },
    /// CreateStreamSessionConnection.
    Reconnect { request_id: String, arn: String, signal: String },
    /// TerminateStreamSession.
    Terminate { request_id: String, arn: String },
}

/// What the client was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// OK: the session in the response (StartStreamSession), the signal
    /// response (CreateStreamSessionConnection).
    Ok { arn: String, status: Status, signal_response: String },
    /// An error: its code, ErrorInfo reason (empty without one), whether it
    /// carried RetryInfo, and its message.
    Err { code: Code, reason: String, retry_info: bool, message: String },
}

impl Answer {
    /// An answer a client should retry (with the same request_id): it says
    /// nothing about the outcome.
    pub fn is_transient(&self) -> bool {
        match self {
            Answer::Ok { .. } => false,
            Answer::Err { code, retry_info, .. } => {
                *code == Code::DeadlineExceeded || (*code == Code::Unavailable && *retry_info)
            }
        }
    }

    /// `OK arn` or `CODE REASON`, for reports.
    pub fn brief(&self) -> String {
        match self {
            Answer::Ok { arn, signal_response, .. } if arn.is_empty() && !signal_response.is_empty() => {
                format!("OK signal {signal_response:.40}")
            }
            Answer::Ok { arn, .. } => format!("OK {arn:?}"),
            Answer::Err { code, reason, message, .. } => format!("{code:?} {reason} ({message:.80})"),
        }
    }
}

/// One call and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub sidecar: usize,
    pub call: Call,
    pub invoked: Secs,
    pub completed: Secs,
    pub answer: Answer,
    /// Sent after the faults healed, to see the fleet serve again.
    pub probe: bool,
}

/// What a watch stream watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// WatchStreamSession of this ARN.
    Session(String),
    /// WatchStreamSessions of the seeded stream group.
    Group,
}

/// One event of a watch stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: Secs,
    pub kind: Kind,
    /// Empty on a group's heartbeats and on SYNCED.
    pub arn: String,
    pub status: Status,
    /// Seconds since the epoch; `None` when the event carries no session.
    pub last_updated_at: Option<f64>,
    pub revision: i64,
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq)]
pub struct End {
    pub at: Secs,
    /// `None`: it ended with OK.
    pub error: Option<(Code, String)>,
}

/// One watch stream. Streams of one `watcher` follow each other: the
/// workload opens the next (resuming after the last event) when one breaks.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub watcher: usize,
    pub sidecar: usize,
    pub target: Target,
    pub opened: Secs,
    pub events: Vec<Event>,
    /// `None`: still open when the run ended.
    pub end: Option<End>,
}

/// A fault the nemesis caused, from `start` until `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub start: Secs,
    pub end: Secs,
    pub what: String,
}

/// Everything the run recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub ops: Vec<Op>,
    pub streams: Vec<Stream>,
    pub faults: Vec<Fault>,
}

impl History {
    /// The faults under way at `at`, and those that ended within 5 s
    /// before it, for reports: what the fleet was going through.
    pub fn faults_at(&self, at: Secs) -> String {
        let mut near: Vec<(Secs, String)> = self
            .faults
            .iter()
            .filter(|f| f.start <= at && at - f.end <= 5.0)
            .map(|f| match at - f.end {
                since if since <= 0.0 => (0.0, format!("during {}", f.what)),
                since => (since, format!("{since:.1} s after {}", f.what)),
            })
            .collect();
        if near.is_empty() {
            return "no fault".into();
        }
        near.sort_by(|a, b| a.0.total_cmp(&b.0));
        near.into_iter().map(|(_, said)| said).collect::<Vec<_>>().join("; ")
    }
}

/// What the emulator holds at the end of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Upstream {
    /// Which ClientToken of StartStreamSession made which session.
    pub tokens: BTreeMap<String, String>,
    /// Every session (ARN) and its status.
    pub sessions: BTreeMap<String, Status>,
    /// The most calls of each operation within any sliding second.
    pub peaks: BTreeMap<String, usize>,
    /// Each operation's quota, requests per second.
    pub ceilings: BTreeMap<String, f64>,
}

/// Writes a [`History`] from many tasks and threads.
#[derive(Clone)]
pub struct Recorder {
    began: Instant,
    history: Arc<Mutex<History>>,
}

impl Recorder {
    /// A history whose clock starts now.
    pub fn new() -> Self {
        Self { began: Instant::now(), history: Arc::default() }
    }

    /// Seconds since the run began.
    pub fn now(&self) -> Secs {
        self.began.elapsed().as_secs_f64()
    }

    fn with<R>(&self, f: impl FnOnce(&mut History) -> R) -> R {
        f(&mut self.history.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// Records a call that was answered.
    pub fn op(&self, op: Op) {
        self.with(|h| h.ops.push(op));
    }

    /// Records a fault; returns its index, for [`healed`](Self::healed).
    pub fn fault(&self, what: String) -> usize {
        let now = self.now();
        self.with(|h| {
            h.faults.push(Fault { start: now, end: now, what });
            h.faults.len() - 1
        })
    }

    /// Adds what the nemesis found out to fault `fault`'s description.
    pub fn note(&self, fault: usize, note: &str) {
        self.with(|h| {
            let what = &mut h.faults[fault].what;
            what.push_str(": ");
            what.push_str(note);
        });
    }

    /// The fault ended now.
    pub fn healed(&self, fault: usize) {
        let now = self.now();
        self.with(|h| h.faults[fault].end = now);
    }

    /// Records a stream opened now; its index.
    pub fn open(&self, watcher: usize, sidecar: usize, target: Target) -> usize {
        let opened = self.now();
        self.with(|h| {
            h.streams.push(Stream { watcher, sidecar, target, opened, events: Vec::new(), end: None });
            h.streams.len() - 1
        })
    }

    /// Records an event of stream `stream`.
    pub fn event(&self, stream: usize, event: Event) {
        self.with(|h| h.streams[stream].events.push(event));
    }

    /// Stream `stream` ended now.
    pub fn end(&self, stream: usize, error: Option<(Code, String)>) {
        let at = self.now();
        self.with(|h| h.streams[stream].end = Some(End { at, error }));
    }

    /// A copy of what was recorded so far.
    pub fn snapshot(&self) -> History {
        self.with(|h| h.clone())
    }
}
