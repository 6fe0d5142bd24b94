//! The `StreamSessions` gRPC service: every unary RPC runs one skeleton over
//! its definition in [`operations`]: its request is checked, its GameLift
//! Streams call made through the [`GameLiftStreams`] seam (mutating calls at
//! most once per `request_id`), its answer converted, and any error mapped to
//! a status with details. No AWS call happens for invalid input.

pub mod deadline;
pub mod deferred;
pub mod fields;
pub mod inputs;
pub mod operations;
pub mod replay;
pub mod stages;
pub mod status;
pub mod validate;

#[cfg(test)]
mod contract;
#[cfg(test)]
mod tests;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::proto::v1 as pb;
use crate::sessions::terminations::PendingTerminations;
use crate::sessions::watch::stream::{wait_for, GroupWatch, SessionWatch, WaitError, WatchError};
use crate::sessions::watch::token::ResumeToken;
use crate::sessions::watch::{View, Watches};
use crate::sessions::{Call, GameLiftStreams};
use deferred::Deferrals;
use operations::{group_ctx, session_ctx, Service, Unary, Upstream};
use replay::Idempotency;
use status::{to_status, ApiError, CallContext};
use validate::FieldViolation;

/// The service implementation.
#[derive(Clone)]
pub struct Gateway {
    upstream: Arc<dyn GameLiftStreams>,
    idempotency: Arc<Idempotency>,
    watches: Watches,
    /// Terminations waiting for their session to leave ACTIVATING.
    deferrals: Arc<Deferrals>,
    /// GetStreamSession answered from a shared poll result this recent.
    recent: Option<Duration>,
}

/// The events of a watch RPC.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

impl Gateway {
    /// A gateway that calls GameLift Streams through `upstream`, keeping
    /// idempotency keys in `idempotency`, polling for watches through `watches`.
    pub fn new(upstream: Arc<dyn GameLiftStreams>, idempotency: Arc<Idempotency>, watches: Watches) -> Self {
        Self { upstream, idempotency, watches, deferrals: Arc::default(), recent: None }
    }

    /// The same, answering GetStreamSession from the watches' shared poll
    /// results (fleet mode) when one is at most `max_age` old.
    pub fn answering_gets_from_recent_polls(self, max_age: Duration) -> Self {
        Self { recent: Some(max_age), ..self }
    }

    /// The same, keeping deferred terminations in `store` (fleet mode: any
    /// sidecar carries them out), and taking over, every `sweep`, those that
    /// no live sidecar works on.
    pub fn keeping_terminations_in(self, store: Arc<dyn PendingTerminations>, sweep: Duration) -> Self {
        let gateway = Self { deferrals: Arc::new(Deferrals::new(store)), ..self };
        gateway.sweep_orphans(sweep);
        gateway
    }

    /// The terminations waiting for their session to leave ACTIVATING.
    pub fn deferrals(&self) -> &Arc<Deferrals> {
        &self.deferrals
    }

    /// The watches (to end them at shutdown).
    pub fn watches(&self) -> &Watches {
        &self.watches
    }

    /// A unary RPC of StreamSessions, run by [`unary`].
    async fn unary<R: Unary<Service = Self>>(&self, request: Request<R>) -> Result<Response<R::Response>, Status> {
        unary(self, request).await
    }

    /// Waits until the session is in a state `ready` takes, until `deadline`.
    async fn wait_ready(
        &self,
        group: &str,
        session: &str,
        deadline: Option<Instant>,
        ready: impl Fn(&pb::StreamSession) -> bool,
    ) -> Result<pb::StreamSession, ApiError> {
        let subscription = self.watches.watch_session(group, session, View::Full);
        match wait_for(subscription, deadline, ready).await {
            Ok(observed) => Ok(observed.session.clone()),
            Err(WaitError::Ended(observed)) => Err(ApiError::SessionEnded(Box::new(observed.session.clone()))),
            Err(WaitError::TimedOut(latest)) => Err(ApiError::NotReady {
                arn: latest.as_ref().map_or_else(|| session.to_string(), |o| o.session.arn.clone()),
                status: latest.map_or(0, |o| o.session.status),
            }),
            Err(WaitError::Watch(err)) => Err(err.into()),
        }
    }
}

impl Service for Gateway {
    type Upstream = Upstream;

    /// GameLift Streams, called by `deadline`.
    fn to(&self, deadline: Option<Instant>) -> Upstream {
        Upstream {
            api: self.upstream.clone(),
            call: Call::By(deadline),
            watches: self.watches.clone(),
            recent: self.recent,
        }
    }

    fn idempotency(&self) -> &Idempotency {
        &self.idempotency
    }
}

/// The skeleton of every unary RPC: its deadline (answered a little early),
/// its input checked before anything is sent, a mutating call run at most
/// once per `request_id`, then what the RPC does with the answer, any error
/// mapped to a status naming the RPC's resource.
pub async fn unary<R: Unary>(service: &R::Service, request: Request<R>) -> Result<Response<R::Response>, Status> {
    let deadline = deadline::answer_by(request.metadata(), Instant::now());
    let r = request.into_inner();
    respond(r.context(), async {
        let response = match r.request_id() {
            None => R::send(service.to(deadline), r.input(None)?).await?,
            Some(request_id) => {
                let idempotency = service.idempotency();
                let key = idempotency.key(R::OPERATION, request_id);
                let work = R::send(service.to(deadline), r.input(Some(key.client_token()))?);
                idempotency.run(key, !request_id.is_empty(), &r.params(), work).await?
            }
        };
        r.finish(service, response, deadline).await
    })
    .await
}

/// Whether a session has reached ACTIVE (or gone past it while still running).
fn is_ready(session: &pb::StreamSession) -> bool {
    use pb::StreamSessionStatus as S;
    matches!(session.status(), S::Active | S::Connected | S::PendingClientReconnection)
}

/// A watch's events, each in its RPC's response message (`wrap`), its errors
/// mapped to statuses.
fn event_stream<T: 'static>(
    events: impl Stream<Item = Result<pb::StreamSessionEvent, WatchError>> + Send + 'static,
    wrap: fn(pb::StreamSessionEvent) -> T,
    ctx: CallContext,
) -> EventStream<T> {
    Box::pin(events.map(move |event| event.map(wrap).map_err(|err| to_status(&ApiError::from(err), &ctx))))
}

/// Runs one RPC body and maps its error.
async fn respond<T>(
    ctx: CallContext,
    body: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<Response<T>, Status> {
    match body.await {
        Ok(out) => Ok(Response::new(out)),
        Err(err) => {
            let status = to_status(&err, &ctx);
            tracing::info!(operation = ctx.operation, code = ?status.code(), error = %status.message(), "call failed");
            Err(status)
        }
    }
}

#[tonic::async_trait]
impl pb::stream_sessions_server::StreamSessions for Gateway {
    async fn start_stream_session(
        &self,
        request: Request<pb::StartStreamSessionRequest>,
    ) -> Result<Response<pb::StartStreamSessionResponse>, Status> {
        self.unary(request).await
    }

    async fn get_stream_session(
        &self,
        request: Request<pb::GetStreamSessionRequest>,
    ) -> Result<Response<pb::GetStreamSessionResponse>, Status> {
        self.unary(request).await
    }

    async fn list_stream_sessions(
        &self,
        request: Request<pb::ListStreamSessionsRequest>,
    ) -> Result<Response<pb::ListStreamSessionsResponse>, Status> {
        self.unary(request).await
    }

    async fn list_stream_sessions_by_account(
        &self,
        request: Request<pb::ListStreamSessionsByAccountRequest>,
    ) -> Result<Response<pb::ListStreamSessionsByAccountResponse>, Status> {
        self.unary(request).await
    }

    async fn terminate_stream_session(
        &self,
        request: Request<pb::TerminateStreamSessionRequest>,
    ) -> Result<Response<pb::TerminateStreamSessionResponse>, Status> {
        self.unary(request).await
    }

    async fn create_stream_session_connection(
        &self,
        request: Request<pb::CreateStreamSessionConnectionRequest>,
    ) -> Result<Response<pb::CreateStreamSessionConnectionResponse>, Status> {
        self.unary(request).await
    }

    async fn export_stream_session_files(
        &self,
        request: Request<pb::ExportStreamSessionFilesRequest>,
    ) -> Result<Response<pb::ExportStreamSessionFilesResponse>, Status> {
        self.unary(request).await
    }

    type WatchStreamSessionStream = EventStream<pb::WatchStreamSessionResponse>;

    async fn watch_stream_session(
        &self,
        request: Request<pb::WatchStreamSessionRequest>,
    ) -> Result<Response<Self::WatchStreamSessionStream>, Status> {
        let r = request.into_inner();
        let ctx = session_ctx("WatchStreamSession", &r.stream_group_identifier, &r.stream_session_identifier);
        respond(ctx.clone(), async {
            let fields = inputs::get_fields(&r.stream_group_identifier, &r.stream_session_identifier);
            fields.known::<pb::StreamSessionView>("view", r.view).check(None)?;
            let resume = match r.resume_token.as_str() {
                "" => None,
                text => ResumeToken::decode(text)
                    .map_err(|e| vec![FieldViolation { field: "resume_token".into(), description: e.to_string() }])?,
            };
            let (group, session, view) = (&r.stream_group_identifier, &r.stream_session_identifier, r.view().into());
            let rx = self.watches.watch_session(group, session, view);
            let heartbeat = self.watches.config().heartbeat;
            let watch = SessionWatch::new(rx, &r.stream_session_identifier, heartbeat, resume);
            let wrap = |event| pb::WatchStreamSessionResponse { event: Some(event) };
            Ok(event_stream(watch.into_stream(), wrap, ctx))
        })
        .await
    }

    type WatchStreamSessionsStream = EventStream<pb::WatchStreamSessionsResponse>;

    async fn watch_stream_sessions(
        &self,
        request: Request<pb::WatchStreamSessionsRequest>,
    ) -> Result<Response<Self::WatchStreamSessionsStream>, Status> {
        let r = request.into_inner();
        let ctx = group_ctx("WatchStreamSessions", &r.stream_group_identifier);
        respond(ctx.clone(), async {
            let unknown = r.statuses.iter().find(|s| pb::StreamSessionStatus::try_from(**s).is_err());
            let fields = inputs::list_fields(&r.stream_group_identifier, 0, 0, 0, "");
            let fields = fields.known::<pb::StreamSessionStatus>("statuses", unknown.copied().unwrap_or_default());
            fields.known::<pb::StreamSessionView>("view", r.view).check(None)?;
            let rx = self.watches.watch_group(&r.stream_group_identifier, r.view().into());
            let watch = GroupWatch::new(rx, r.statuses, self.watches.config().heartbeat);
            let wrap = |event| pb::WatchStreamSessionsResponse { event: Some(event) };
            Ok(event_stream(watch.into_stream(), wrap, ctx))
        })
        .await
    }
}
