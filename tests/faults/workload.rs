//! The workload of a fault run: clients of every sidecar sending
//! StartStreamSession (new request_ids, the same one to two sidecars at once,
//! replays, a request_id reused with other parameters, an unknown
//! application), CreateStreamSessionConnection (some to two sidecars, some
//! replayed), TerminateStreamSession, the simulated WebRTC client connecting
//! and disconnecting, and watchers (WatchStreamSession of a started session
//! on two sidecars, WatchStreamSessions on each), at a demand that goes above
//! the quota at times. Every answer and event goes to the [`Recorder`]; the
//! workload checks nothing.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::proto::v1::WatchResponse;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tonic::transport::Channel;
use tonic_types::StatusExt;

use super::history::{Answer, Call, Event, Op, Recorder, StartParams, Target};
use crate::support::{start_request_with_id, Harness, GROUP};

/// An application that does not exist (a valid ID): starts fail for good.
const UNKNOWN_APP: &str = "a-999999999";
/// Simulated seconds a session waits for a client (the emulator runs faster
/// than real time, so sessions nobody connects to end within the run).
const CONNECTION_TIMEOUT: i32 = 60;
/// Simulated seconds a session lasts at most: the run ends every session by
/// moving the emulator's clock past it.
pub const SESSION_LENGTH: i32 = 1800;
/// The share of started sessions watched (each on two sidecars).
const WATCHED: f64 = 0.35;
/// Demand, in actions a second, when high (≈ 30 start calls/s, above the
/// fleet's 19/s) and when low.
const HIGH: u32 = 40;
const LOW: u32 = 10;

/// What the workload knows of what it did, to pick its next action.
#[derive(Default)]
struct Known {
    /// request_ids sent, with their parameters (`Usual` or `UnknownApp`).
    starts: Vec<(String, StartParams)>,
    /// request_ids answered OK, with the session.
    started: Vec<(String, String)>,
    started_ids: HashSet<String>,
    /// CreateStreamSessionConnection request_ids with their session and signal request.
    reconnects: Vec<(String, String, String)>,
}

/// What every task of the workload shares.
struct Shared {
    clients: Vec<StreamSessionsClient<Channel>>,
    emulator: Arc<Harness>,
    recorder: Recorder,
    known: Mutex<Known>,
    next_watcher: AtomicUsize,
    stop: watch::Receiver<bool>,
    watchers: Mutex<Vec<JoinHandle<()>>>,
}

/// The workload against the sidecars of `clients`.
pub struct Workload {
    shared: Arc<Shared>,
    rng: StdRng,
    calls: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    ids: u64,
}

/// One step of the workload.
#[derive(Debug, Clone, Copy)]
enum Action {
    Start,
    StartTwiceAtOnce,
    StartUnknownApp,
    Replay,
    Reuse,
    Reconnect,
    ReplayReconnect,
    Terminate,
    ClientConnects,
    ClientDisconnects,
}

/// How often each action is drawn, out of the sum: about 0.7 start calls
/// an action (new, twice, unknown, replayed, reused).
const ACTIONS: &[(Action, u32)] = &[
    (Action::Start, 40),
    (Action::StartTwiceAtOnce, 10),
    (Action::StartUnknownApp, 5),
    (Action::Replay, 10),
    (Action::Reuse, 3),
    (Action::Reconnect, 7),
    (Action::ReplayReconnect, 3),
    (Action::Terminate, 8),
    (Action::ClientConnects, 9),
    (Action::ClientDisconnects, 5),
];

impl Workload {
    /// A workload over `clients` (one per sidecar), drawing from `seed`.
    pub fn new(
        clients: Vec<StreamSessionsClient<Channel>>,
        emulator: Arc<Harness>,
        recorder: Recorder,
        seed: u64,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            clients,
            emulator,
            recorder,
            known: Mutex::default(),
            next_watcher: AtomicUsize::new(0),
            stop: stopped,
            watchers: Mutex::default(),
        });
        Self { shared, rng: StdRng::seed_from_u64(seed), calls: Vec::new(), stop, ids: 0 }
    }

    /// Opens one WatchStreamSessions stream on each sidecar.
    pub fn watch_the_group(&mut self) {
        for sidecar in 0..self.shared.clients.len() {
            spawn_watcher(&self.shared, sidecar, Target::Group);
        }
    }

    /// Acts for `seconds`, in phases of high and low demand.
    pub async fn drive(&mut self, seconds: f64) {
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < end {
            let rate = if self.rng.random_bool(0.5) { HIGH } else { LOW };
            let phase_end = (Instant::now() + Duration::from_secs_f64(self.rng.random_range(2.0..5.0))).min(end);
            let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            while Instant::now() < phase_end {
                tick.tick().await;
                self.act();
            }
        }
    }

    /// Waits for every call in flight (each has a deadline).
    pub async fn settle(&mut self) {
        for call in self.calls.drain(..) {
            let _ = call.await;
        }
    }

    /// Sends each sidecar starts with new request_ids until one is answered
    /// OK or with a final error, or `within` passes (transient answers are
    /// retried): does the fleet serve again?
    pub async fn probe(&mut self, within: Duration) {
        let until = Instant::now() + within;
        let probes: Vec<_> = (0..self.shared.clients.len())
            .map(|sidecar| {
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    for n in 0.. {
                        let id = format!("probe-{sidecar}-{n}");
                        let answer =
                            start(&shared, sidecar, &id, StartParams::Usual, Duration::from_secs(5), true).await;
                        if !answer.is_transient() || Instant::now() >= until {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                })
            })
            .collect();
        for probe in probes {
            let _ = probe.await;
        }
    }

    /// Stops every watcher, leaving what each recorded (a stream still open
    /// stays open in the history).
    pub async fn stop_watching(&mut self) {
        self.stop.send_replace(true);
        let watchers: Vec<_> = std::mem::take(&mut *self.shared.watchers.lock().expect("watchers"));
        for watcher in watchers {
            let _ = watcher.await;
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.ids += 1;
        format!("{prefix}-{}", self.ids)
    }

    fn sidecar(&mut self) -> usize {
        self.rng.random_range(0..self.shared.clients.len())
    }

    /// Two different sidecars (the same one when there is only one).
    fn two_sidecars(&mut self) -> (usize, usize) {
        let n = self.shared.clients.len();
        let a = self.sidecar();
        let b = if n > 1 { (a + self.rng.random_range(1..n)) % n } else { a };
        (a, b)
    }

    /// One of the last 60 of what `list` picks of what the workload knows, if any.
    fn recent<T: Clone>(&mut self, list: impl Fn(&Known) -> &Vec<T>) -> Option<T> {
        let known = self.shared.known.lock().expect("known");
        let items = list(&known);
        let from = items.len().saturating_sub(60);
        (from < items.len()).then(|| items[self.rng.random_range(from..items.len())].clone())
    }

    fn pick(&mut self) -> Action {
        let total: u32 = ACTIONS.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for (action, weight) in ACTIONS {
            if roll < *weight {
                return *action;
            }
            roll -= weight;
        }
        Action::Start
    }

    /// A start's deadline: short ones meet the pacing's RATE_LIMITED, long
    /// ones outlast a join on another sidecar.
    fn start_deadline(&mut self) -> Duration {
        Duration::from_secs(if self.rng.random_bool(0.3) { 3 } else { 15 })
    }

    fn act(&mut self) {
        match self.pick() {
            Action::Start => {
                let (id, sidecar, deadline) = (self.fresh("s"), self.sidecar(), self.start_deadline());
                self.start(sidecar, id, StartParams::Usual, deadline);
            }
            Action::StartTwiceAtOnce => {
                let (id, (a, b)) = (self.fresh("s2"), self.two_sidecars());
                self.start(a, id.clone(), StartParams::Usual, Duration::from_secs(15));
                self.start(b, id, StartParams::Usual, Duration::from_secs(15));
            }
            Action::StartUnknownApp => {
                let (id, sidecar) = (self.fresh("u"), self.sidecar());
                self.start(sidecar, id, StartParams::UnknownApp, Duration::from_secs(15));
            }
            Action::Replay => {
                if let Some((id, params)) = self.recent(|k| &k.starts) {
                    let sidecar = self.sidecar();
                    self.start(sidecar, id, params, Duration::from_secs(15));
                }
            }
            Action::Reuse => {
                if let Some((id, _)) = self.recent(|k| &k.started) {
                    let sidecar = self.sidecar();
                    self.start(sidecar, id, StartParams::Other, Duration::from_secs(15));
                }
            }
            Action::Reconnect => {
                if let Some((_, arn)) = self.recent(|k| &k.started) {
                    let id = self.fresh("c");
                    let signal = format!("offer-{id}");
                    self.shared.known.lock().expect("known").reconnects.push((id.clone(), arn.clone(), signal.clone()));
                    let (a, b) = self.two_sidecars();
                    self.reconnect(a, id.clone(), arn.clone(), signal.clone());
                    if self.rng.random_bool(0.3) {
                        self.reconnect(b, id, arn, signal);
                    }
                }
            }
            Action::ReplayReconnect => {
                if let Some((id, arn, signal)) = self.recent(|k| &k.reconnects) {
                    let sidecar = self.sidecar();
                    self.reconnect(sidecar, id, arn, signal);
                }
            }
            Action::Terminate => {
                if let Some((_, arn)) = self.recent(|k| &k.started) {
                    let (id, sidecar) = (self.fresh("t"), self.sidecar());
                    self.terminate(sidecar, id, arn);
                }
            }
            Action::ClientConnects => self.simulated_client("connect"),
            Action::ClientDisconnects => self.simulated_client("disconnect"),
        }
    }

    fn spawn(&mut self, call: impl Future<Output = ()> + Send + 'static) {
        self.calls.retain(|c| !c.is_finished());
        self.calls.push(tokio::spawn(call));
    }

    fn start(&mut self, sidecar: usize, id: String, params: StartParams, deadline: Duration) {
        let watchers = self.rng.random_bool(WATCHED).then(|| self.two_sidecars());
        let shared = self.shared.clone();
        if params != StartParams::Other {
            let mut known = shared.known.lock().expect("known");
            if !known.starts.iter().any(|(known_id, _)| *known_id == id) {
                known.starts.push((id.clone(), params));
            }
        }
        self.spawn(async move {
            let answer = start(&shared, sidecar, &id, params, deadline, false).await;
            let Answer::Ok { arn, .. } = answer else { return };
            if params != StartParams::Usual || arn.is_empty() {
                return;
            }
            let first = {
                let mut known = shared.known.lock().expect("known");
                let first = known.started_ids.insert(id.clone());
                if first {
                    known.started.push((id, arn.clone()));
                }
                first
            };
            if let (true, Some((a, b))) = (first, watchers) {
                spawn_watcher(&shared, a, Target::Session(arn.clone()));
                spawn_watcher(&shared, b, Target::Session(arn));
            }
        });
    }

    fn reconnect(&mut self, sidecar: usize, id: String, arn: String, signal: String) {
        let shared = self.shared.clone();
        self.spawn(async move {
            let mut client = shared.clients[sidecar].clone();
            let request = pb::CreateStreamSessionConnectionRequest {
                stream_group_identifier: GROUP.into(),
                stream_session_identifier: arn.clone(),
                signal_request: signal.clone(),
                request_id: id.clone(),
                wait_for_active: false,
            };
            let invoked = shared.recorder.now();
            let deadline = Duration::from_secs(10);
            let answer = match call(client.create_stream_session_connection(timed(request, deadline)), deadline).await {
                Ok(response) => Answer::Ok {
                    arn: String::new(),
                    status: response.stream_session.map(|s| s.status()).unwrap_or_default(),
                    signal_response: response.signal_response,
                },
                Err(answer) => answer,
            };
            let call = Call::Reconnect { request_id: id, arn, signal };
            shared.recorder.op(Op { sidecar, call, invoked, completed: shared.recorder.now(), answer, probe: false });
        });
    }

    fn terminate(&mut self, sidecar: usize, id: String, arn: String) {
        let shared = self.shared.clone();
        self.spawn(async move {
            let mut client = shared.clients[sidecar].clone();
            let request = pb::TerminateStreamSessionRequest {
                stream_group_identifier: GROUP.into(),
                stream_session_identifier: arn.clone(),
                request_id: id.clone(),
            };
            let invoked = shared.recorder.now();
            let deadline = Duration::from_secs(10);
            let answer = match call(client.terminate_stream_session(timed(request, deadline)), deadline).await {
                Ok(response) => {
                    let session = response.stream_session.unwrap_or_default();
                    let status = session.status();
                    Answer::Ok { arn: session.arn, status, signal_response: String::new() }
                }
                Err(answer) => answer,
            };
            let call = Call::Terminate { request_id: id, arn };
            shared.recorder.op(Op { sidecar, call, invoked, completed: shared.recorder.now(), answer, probe: false });
        });
    }

    /// The simulated WebRTC client of a recent session connects or goes
    /// away (refused when the session is in another status: that is fine).
    fn simulated_client(&mut self, action: &'static str) {
        let Some((_, arn)) = self.recent(|k| &k.started) else { return };
        let emulator = self.shared.emulator.clone();
        self.spawn(async move {
            let id = arn.rsplit('/').next().unwrap_or_default().to_string();
            emulator.admin(Method::POST, &format!("sessions/{id}/{action}"), None).await;
        });
    }
}

/// `request` with a gRPC deadline.
fn timed<T>(request: T, deadline: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(request);
    request.set_timeout(deadline);
    request
}

/// A call's response, or its error as an [`Answer`]; a call still
/// unanswered 5 s past its deadline is given up (DEADLINE_EXCEEDED).
async fn call<T>(
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    deadline: Duration,
) -> Result<T, Answer> {
    match tokio::time::timeout(deadline + Duration::from_secs(5), call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(error(&status)),
        Err(_) => Err(Answer::Err {
            code: tonic::Code::DeadlineExceeded,
            reason: String::new(),
            retry_info: false,
            message: "no answer 5 s past the deadline: the client gave up".into(),
        }),
    }
}

/// An error status as recorded (its reason as sent, even one not in ErrorReason).
fn error(status: &tonic::Status) -> Answer {
    let details = status.get_error_details();
    Answer::Err {
        code: status.code(),
        reason: details.error_info().map(|i| i.reason.clone()).unwrap_or_default(),
        retry_info: details.retry_info().is_some(),
        message: status.message().to_string(),
    }
}

/// Sends one StartStreamSession and records it; its answer.
async fn start(
    shared: &Shared,
    sidecar: usize,
    id: &str,
    params: StartParams,
    deadline: Duration,
    probe: bool,
) -> Answer {
    let mut request = start_request_with_id(id);
    request.connection_timeout_seconds = Some(CONNECTION_TIMEOUT);
    request.session_length_seconds = Some(SESSION_LENGTH);
    request.description = if params == StartParams::Other { "other parameters" } else { "usual" }.into();
    if params == StartParams::UnknownApp {
        request.application_identifier = UNKNOWN_APP.into();
    }
    let mut client = shared.clients[sidecar].clone();
    let invoked = shared.recorder.now();
    let answer = match call(client.start_stream_session(timed(request, deadline)), deadline).await {
        Ok(response) => {
            let session = response.stream_session.unwrap_or_default();
            let status = session.status();
            Answer::Ok { arn: session.arn, status, signal_response: String::new() }
        }
        Err(answer) => answer,
    };
    let call = Call::Start { request_id: id.to_string(), params };
    let completed = shared.recorder.now();
    shared.recorder.op(Op { sidecar, call, invoked, completed, answer: answer.clone(), probe });
    answer
}

fn spawn_watcher(shared: &Arc<Shared>, sidecar: usize, target: Target) {
    let watcher = shared.next_watcher.fetch_add(1, Ordering::Relaxed);
    let task = tokio::spawn(watch_stream(shared.clone(), watcher, sidecar, target));
    shared.watchers.lock().expect("watchers").push(task);
}

/// Records one event.
fn record(shared: &Shared, stream: usize, event: pb::StreamSessionEvent) {
    let kind = event.kind();
    let session = event.stream_session.unwrap_or_default();
    let status = session.status();
    let last_updated_at = session.last_updated_at.map(|t| t.seconds as f64 + f64::from(t.nanos) * 1e-9);
    let at = shared.recorder.now();
    let event = Event { at, kind, arn: session.arn, status, last_updated_at, revision: event.revision };
    shared.recorder.event(stream, event);
}

/// The events of a watch stream.
type Events = futures_util::stream::BoxStream<'static, Result<pb::StreamSessionEvent, tonic::Status>>;

/// Opens a watch stream of `target` (a session's resuming after `resume`).
async fn open_events(
    mut client: StreamSessionsClient<Channel>,
    target: Target,
    resume: String,
) -> Result<Events, tonic::Status> {
    use futures_util::StreamExt;
    Ok(match target {
        Target::Session(arn) => {
            let request = pb::WatchStreamSessionRequest {
                stream_group_identifier: GROUP.into(),
                stream_session_identifier: arn,
                resume_token: resume,
                ..Default::default()
            };
            client.watch_stream_session(request).await?.into_inner().map(|m| m.map(WatchResponse::into_event)).boxed()
        }
        Target::Group => {
            let request = pb::WatchStreamSessionsRequest {
                stream_group_identifier: GROUP.into(),
                view: pb::StreamSessionView::Basic.into(),
                ..Default::default()
            };
            client.watch_stream_sessions(request).await?.into_inner().map(|m| m.map(WatchResponse::into_event)).boxed()
        }
    })
}

/// One watcher: a stream that breaks is opened again (a session's resuming
/// after its last event; a group's afresh, as another watcher); it stops at
/// a session stream's OK end or when the workload stops watching.
async fn watch_stream(shared: Arc<Shared>, mut watcher: usize, sidecar: usize, target: Target) {
    use futures_util::StreamExt;
    let mut stop = shared.stop.clone();
    let mut resume = String::new();
    loop {
        let stream = shared.recorder.open(watcher, sidecar, target.clone());
        let client = shared.clients[sidecar].clone();
        let opened = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            opened = open_events(client, target.clone(), resume.clone()) => opened,
        };
        let ended = match opened {
            Err(status) => Some(status),
            Ok(mut events) => loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    next = events.next() => match next {
                        Some(Ok(event)) => {
                            if !event.resume_token.is_empty() {
                                resume.clone_from(&event.resume_token);
                            }
                            record(&shared, stream, event);
                        }
                        None => break None,
                        Some(Err(status)) => break Some(status),
                    },
                }
            },
        };
        match ended {
            None => {
                shared.recorder.end(stream, None);
                if matches!(target, Target::Session(_)) {
                    return;
                }
            }
            Some(status) => {
                let reason = match error(&status) {
                    Answer::Err { reason, .. } => reason,
                    Answer::Ok { .. } => String::new(),
                };
                shared.recorder.end(stream, Some((status.code(), reason)));
            }
        }
        if matches!(target, Target::Group) {
            watcher = shared.next_watcher.fetch_add(1, Ordering::Relaxed);
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
    }
}
