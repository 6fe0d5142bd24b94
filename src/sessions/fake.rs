//! A GameLift Streams of its own for unit tests: sessions that follow a
//! scripted lifecycle on tokio's clock (paused in the tests), every call
//! logged in order, failures injected per operation. No HTTP, no wall clock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_gameliftstreams::operation::create_stream_session_connection::builders::CreateStreamSessionConnectionInputBuilder;
use aws_sdk_gameliftstreams::operation::create_stream_session_connection::CreateStreamSessionConnectionOutput;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::builders::ExportStreamSessionFilesInputBuilder;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::ExportStreamSessionFilesOutput;
use aws_sdk_gameliftstreams::operation::get_stream_session::builders::GetStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionOutput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::builders::ListStreamSessionsInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::ListStreamSessionsOutput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::builders::ListStreamSessionsByAccountInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::ListStreamSessionsByAccountOutput;
use aws_sdk_gameliftstreams::operation::start_stream_session::builders::StartStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::start_stream_session::StartStreamSessionOutput;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::builders::TerminateStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::TerminateStreamSessionOutput;
use aws_sdk_gameliftstreams::primitives::DateTime;
use aws_sdk_gameliftstreams::types::{StreamSessionStatus as Status, StreamSessionSummary};
use tokio::time::Instant;

use super::resilience::GiveUp;
use super::upstream::{Call, GameLiftStreams, Reply};
use super::watch::feed::resource_id;
use super::{CallFailure, CallResult, Resilience, RetryPolicy, SessionError, UpstreamKind};
use crate::sync::lock;

/// The stream group every fake session is in.
pub const GROUP: &str = "sg-1";

/// A lifecycle: each status from its offset after the session starts.
pub type Lifecycle = Vec<(Duration, Status)>;

/// Seconds after the start, and the status from then on.
pub fn steps(steps: &[(u64, Status)]) -> Lifecycle {
    steps.iter().map(|(s, status)| (Duration::from_secs(*s), status.clone())).collect()
}

struct Session {
    arn: String,
    started: Instant,
    lifecycle: Lifecycle,
    signal_response: String,
}

/// The wall-clock time (epoch seconds) of the fake's start, for `LastUpdatedAt`.
pub const UPDATED_BASE: f64 = 1_700_000_000.0;

/// How long a session reconnects, and terminates, after the call that asks for it.
const RECONNECTING: Duration = Duration::from_secs(2);
const TERMINATING: Duration = Duration::from_secs(1);

impl Session {
    /// From `now` on, the session follows `next` (offsets from `now`).
    fn then(&mut self, now: Instant, next: &[(Duration, Status)]) {
        let age = now - self.started;
        self.lifecycle.retain(|(at, _)| *at < age);
        self.lifecycle.extend(next.iter().map(|(after, status)| (age + *after, status.clone())));
    }

    fn status(&self, now: Instant) -> Status {
        let age = now - self.started;
        let current = self.lifecycle.iter().take_while(|(at, _)| *at <= age).last();
        current.map_or(Status::Activating, |(_, s)| s.clone())
    }

    /// When the current status began, as GameLift Streams stamps it: seconds
    /// since [`UPDATED_BASE`], the fake's epoch.
    fn updated_at(&self, epoch: Instant, now: Instant) -> DateTime {
        let age = now - self.started;
        let since = self.lifecycle.iter().take_while(|(at, _)| *at <= age).last().map_or(Duration::ZERO, |(at, _)| *at);
        DateTime::from_secs_f64(UPDATED_BASE + (self.started - epoch + since).as_secs_f64())
    }
}

struct State {
    epoch: Instant,
    sessions: BTreeMap<String, Session>,
    started: Lifecycle,
    calls: Vec<(&'static str, Instant)>,
    failures: HashMap<&'static str, VecDeque<SessionError>>,
    answers: u32,
}

/// The fake service.
pub struct FakeStreams {
    state: Mutex<State>,
}

/// A throttling answer.
pub fn throttled() -> SessionError {
    SessionError::Upstream {
        kind: UpstreamKind::Throttling,
        code: "ThrottlingException".into(),
        message: "Rate exceeded".into(),
        request_id: None,
    }
}

fn failure(error: SessionError) -> CallFailure {
    CallFailure { error, attempts: 1, gave_up: GiveUp::NotRetryable, retry_after: None }
}

fn not_found(id: &str) -> CallFailure {
    failure(SessionError::Upstream {
        kind: UpstreamKind::NotFound,
        code: "ResourceNotFoundException".into(),
        message: format!("stream session {id} not found"),
        request_id: None,
    })
}

impl FakeStreams {
    /// No session; started sessions follow `started`.
    pub fn new(started: Lifecycle) -> Arc<Self> {
        let state = State {
            epoch: Instant::now(),
            sessions: BTreeMap::new(),
            started,
            calls: Vec::new(),
            failures: HashMap::new(),
            answers: 0,
        };
        Arc::new(Self { state: Mutex::new(state) })
    }

    /// Adds session `id`, following `lifecycle` from now.
    pub fn add(&self, id: &str, lifecycle: Lifecycle) {
        let arn = format!("arn:aws:gameliftstreams:us-west-2:000000000000:streamsession/{GROUP}/{id}");
        let session = Session { arn, started: Instant::now(), lifecycle, signal_response: String::new() };
        lock(&self.state).sessions.insert(id.to_string(), session);
    }

    /// Session `id` (added) answers `signal_response` from now on.
    pub fn answer_signal(&self, id: &str, signal_response: &str) {
        if let Some(session) = lock(&self.state).sessions.get_mut(id) {
            session.signal_response = signal_response.to_string();
        }
    }

    /// The next `n` calls of `op` fail with what `error` makes.
    pub fn fail_next(&self, op: &'static str, n: usize, error: impl Fn() -> SessionError) {
        lock(&self.state).failures.entry(op).or_default().extend((0..n).map(|_| error()));
    }

    /// The operations called so far, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.state).calls.iter().map(|(op, _)| *op).collect()
    }

    /// How many times `op` was called.
    pub fn count(&self, op: &str) -> usize {
        lock(&self.state).calls.iter().filter(|(c, _)| *c == op).count()
    }

    /// When `op` was called, in whole seconds since the fake was made.
    pub fn seconds(&self, op: &str) -> Vec<u64> {
        let state = lock(&self.state);
        state.calls.iter().filter(|(c, _)| *c == op).map(|(_, at)| (*at - state.epoch).as_secs()).collect()
    }

    /// Logs a call of `op` and answers with `answer` unless a failure is due.
    fn answer<T>(&self, op: &'static str, answer: impl FnOnce(&mut State, Instant) -> CallResult<T>) -> CallResult<T> {
        let mut state = lock(&self.state);
        let now = Instant::now();
        state.calls.push((op, now));
        if let Some(error) = state.failures.get_mut(op).and_then(VecDeque::pop_front) {
            return Err(failure(error));
        }
        answer(&mut state, now)
    }

    fn ready<T: Send + 'static>(result: CallResult<T>) -> Reply<'static, T> {
        Box::pin(std::future::ready(result))
    }
}

fn session_of<'a>(state: &'a mut State, identifier: Option<&String>) -> CallResult<&'a mut Session> {
    let id = resource_id(identifier.map_or("", String::as_str)).to_string();
    state.sessions.get_mut(&id).ok_or_else(|| not_found(&id))
}

impl GameLiftStreams for FakeStreams {
    fn start_stream_session(&self, _: StartStreamSessionInputBuilder, _: Call) -> Reply<'_, StartStreamSessionOutput> {
        Self::ready(self.answer("StartStreamSession", |state, now| {
            let id = format!("ss-{}", state.sessions.len() + 1);
            let arn = format!("arn:aws:gameliftstreams:us-west-2:000000000000:streamsession/{GROUP}/{id}");
            let session = Session {
                arn: arn.clone(),
                started: now,
                lifecycle: state.started.clone(),
                signal_response: String::new(),
            };
            let status = session.status(now);
            state.sessions.insert(id, session);
            Ok(StartStreamSessionOutput::builder().arn(arn).status(status).build())
        }))
    }

    fn get_stream_session(&self, input: GetStreamSessionInputBuilder, _: Call) -> Reply<'_, GetStreamSessionOutput> {
        Self::ready(self.answer("GetStreamSession", |state, now| {
            let epoch = state.epoch;
            let session = session_of(state, input.get_stream_session_identifier().as_ref())?;
            Ok(GetStreamSessionOutput::builder()
                .arn(&session.arn)
                .status(session.status(now))
                .last_updated_at(session.updated_at(epoch, now))
                .signal_response(&session.signal_response)
                .build())
        }))
    }

    /// Pages of `MaxResults` sessions (100 unless given); the token is the
    /// index of the page's first session.
    fn list_stream_sessions(
        &self,
        input: ListStreamSessionsInputBuilder,
        _: Call,
    ) -> Reply<'_, ListStreamSessionsOutput> {
        Self::ready(self.answer("ListStreamSessions", |state, now| {
            let from: usize = input.get_next_token().as_deref().map_or(0, |t| t.parse().unwrap_or(0));
            let size = input.get_max_results().map_or(100, |n| usize::try_from(n).unwrap_or(100));
            let items = state
                .sessions
                .values()
                .skip(from)
                .take(size)
                .map(|s| {
                    let updated = s.updated_at(state.epoch, now);
                    StreamSessionSummary::builder().arn(&s.arn).status(s.status(now)).last_updated_at(updated).build()
                })
                .collect();
            let next = (from + size < state.sessions.len()).then(|| (from + size).to_string());
            Ok(ListStreamSessionsOutput::builder().set_items(Some(items)).set_next_token(next).build())
        }))
    }

    fn list_stream_sessions_by_account(
        &self,
        _: ListStreamSessionsByAccountInputBuilder,
        _: Call,
    ) -> Reply<'_, ListStreamSessionsByAccountOutput> {
        Self::ready(
            self.answer("ListStreamSessionsByAccount", |_, _| Ok(ListStreamSessionsByAccountOutput::builder().build())),
        )
    }

    fn terminate_stream_session(
        &self,
        input: TerminateStreamSessionInputBuilder,
        _: Call,
    ) -> Reply<'_, TerminateStreamSessionOutput> {
        Self::ready(self.answer("TerminateStreamSession", |state, now| {
            let session = session_of(state, input.get_stream_session_identifier().as_ref())?;
            session.then(now, &[(Duration::ZERO, Status::Terminating), (TERMINATING, Status::Terminated)]);
            Ok(TerminateStreamSessionOutput::builder().build())
        }))
    }

    fn create_stream_session_connection(
        &self,
        input: CreateStreamSessionConnectionInputBuilder,
        _: Call,
    ) -> Reply<'_, CreateStreamSessionConnectionOutput> {
        Self::ready(self.answer("CreateStreamSessionConnection", |state, now| {
            state.answers += 1;
            let answer = format!("answer-{}", state.answers);
            let session = session_of(state, input.get_stream_session_identifier().as_ref())?;
            session.signal_response = answer.clone();
            session.then(now, &[(Duration::ZERO, Status::Reconnecting), (RECONNECTING, Status::Active)]);
            Ok(CreateStreamSessionConnectionOutput::builder().signal_response(answer).build())
        }))
    }

    fn export_stream_session_files(
        &self,
        _: ExportStreamSessionFilesInputBuilder,
        _: Call,
    ) -> Reply<'_, ExportStreamSessionFilesOutput> {
        Self::ready(
            self.answer("ExportStreamSessionFiles", |_, _| Ok(ExportStreamSessionFilesOutput::builder().build())),
        )
    }

    fn send_rate(&self, _: &'static str) -> Option<f64> {
        Some(20.0)
    }
}

/// The fake behind the retry layer: every call paced at AWS's limits, as
/// the gateway sends them (watch polls in the slots callers leave).
pub struct Paced {
    fake: Arc<FakeStreams>,
    resilience: Resilience,
}

impl Paced {
    /// `fake`, paced at AWS's published limits.
    pub fn new(fake: Arc<FakeStreams>) -> Arc<Self> {
        Arc::new(Self { fake, resilience: Resilience::with_seed(RetryPolicy::default(), 1) })
    }

    fn paced<'a, I: Clone + Send + 'a, T: Send + 'a>(
        &'a self,
        op: &'static str,
        input: I,
        call: Call,
        send: fn(&'a FakeStreams, I, Call) -> Reply<'a, T>,
    ) -> Reply<'a, T> {
        let (deadline, attempts, priority, _) = call.policy();
        Box::pin(self.resilience.call_limited(op, deadline, attempts, priority, move || {
            let reply = send(&self.fake, input.clone(), call);
            async move { reply.await.map_err(|failure| failure.error) }
        }))
    }
}

impl GameLiftStreams for Paced {
    fn start_stream_session(
        &self,
        input: StartStreamSessionInputBuilder,
        call: Call,
    ) -> Reply<'_, StartStreamSessionOutput> {
        self.paced("StartStreamSession", input, call, FakeStreams::start_stream_session)
    }

    fn get_stream_session(&self, input: GetStreamSessionInputBuilder, call: Call) -> Reply<'_, GetStreamSessionOutput> {
        self.paced("GetStreamSession", input, call, FakeStreams::get_stream_session)
    }

    fn list_stream_sessions(
        &self,
        input: ListStreamSessionsInputBuilder,
        call: Call,
    ) -> Reply<'_, ListStreamSessionsOutput> {
        self.paced("ListStreamSessions", input, call, FakeStreams::list_stream_sessions)
    }

    fn list_stream_sessions_by_account(
        &self,
        input: ListStreamSessionsByAccountInputBuilder,
        call: Call,
    ) -> Reply<'_, ListStreamSessionsByAccountOutput> {
        self.paced("ListStreamSessionsByAccount", input, call, FakeStreams::list_stream_sessions_by_account)
    }

    fn terminate_stream_session(
        &self,
        input: TerminateStreamSessionInputBuilder,
        call: Call,
    ) -> Reply<'_, TerminateStreamSessionOutput> {
        self.paced("TerminateStreamSession", input, call, FakeStreams::terminate_stream_session)
    }

    fn create_stream_session_connection(
        &self,
        input: CreateStreamSessionConnectionInputBuilder,
        call: Call,
    ) -> Reply<'_, CreateStreamSessionConnectionOutput> {
        self.paced("CreateStreamSessionConnection", input, call, FakeStreams::create_stream_session_connection)
    }

    fn export_stream_session_files(
        &self,
        input: ExportStreamSessionFilesInputBuilder,
        call: Call,
    ) -> Reply<'_, ExportStreamSessionFilesOutput> {
        self.paced("ExportStreamSessionFiles", input, call, FakeStreams::export_stream_session_files)
    }

    fn send_rate(&self, op: &'static str) -> Option<f64> {
        self.resilience.rate(op)
    }
}
