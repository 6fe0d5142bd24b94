//! The `StreamSessions` gRPC service: each RPC validates its request, makes its
//! GameLift Streams call through [`Sessions`] (mutating calls at most once per
//! `request_id`), converts the answer, and maps any error to a status with
//! details. No AWS call happens for invalid input.

pub mod convert;
pub mod deadline;
pub mod replay;
pub mod status;
pub mod validate;

use std::pin::Pin;
use std::sync::Arc;

use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionInput;
use futures_util::{Stream, StreamExt};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::proto::v1 as pb;
use crate::sessions::watch::stream::{wait_for, GroupWatch, SessionWatch, WaitError, WatchError};
use crate::sessions::watch::token::ResumeToken;
use crate::sessions::watch::Watches;
use crate::sessions::Sessions;
use replay::Idempotency;
use status::{to_status, ApiError, CallContext};
use validate::{check, FieldViolation};

/// The service implementation.
#[derive(Clone)]
pub struct Gateway {
    sessions: Sessions,
    idempotency: Arc<Idempotency>,
    watches: Watches,
}

/// The events of a watch RPC.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<pb::StreamSessionEvent, Status>> + Send>>;

impl Gateway {
    /// A gateway that calls GameLift Streams through `sessions`, keeping
    /// idempotency keys in `idempotency`, polling for watches through `watches`.
    pub fn new(sessions: Sessions, idempotency: Arc<Idempotency>, watches: Watches) -> Self {
        Self { sessions, idempotency, watches }
    }

    /// The watches (to end them at shutdown).
    pub fn watches(&self) -> &Watches {
        &self.watches
    }

    /// Waits until the session is in a state `ready` takes, until `deadline`.
    async fn wait_ready(
        &self,
        group: &str,
        session: &str,
        deadline: Option<Instant>,
        ready: impl Fn(&pb::StreamSession) -> bool,
    ) -> Result<pb::StreamSession, ApiError> {
        let subscription = self.watches.watch_session(group, session);
        match wait_for(subscription, deadline, ready).await {
            Ok(observed) => Ok(observed.session.clone()),
            Err(WaitError::Ended(observed)) => Err(ApiError::SessionEnded(Box::new(observed.session.clone()))),
            Err(WaitError::TimedOut(latest)) => Err(ApiError::NotReady {
                arn: latest.as_ref().map_or_else(|| session.to_string(), |o| o.session.arn.clone()),
                status: status::aws_status(latest.map_or(0, |o| o.session.status)),
            }),
            Err(WaitError::Watch(err)) => Err(err.into()),
        }
    }
}

/// Whether a session has reached ACTIVE (or gone past it while still running).
fn is_ready(session: &pb::StreamSession) -> bool {
    use pb::StreamSessionStatus as S;
    matches!(session.status(), S::Active | S::Connected | S::PendingClientReconnection)
}

/// The session read right after CreateStreamSessionConnection; `None` if the
/// read failed (the connection was created all the same).
async fn read_back(
    sessions: &Sessions,
    input: GetStreamSessionInput,
    deadline: Option<Instant>,
) -> Option<pb::StreamSession> {
    match sessions.get(input, deadline).await {
        Ok(s) => Some(pb::StreamSession { signal_request: String::new(), ..s.into() }),
        Err(err) => {
            tracing::info!(error = %err, "session read after CreateStreamSessionConnection failed");
            None
        }
    }
}

/// A watch's events, its errors mapped to statuses.
fn event_stream(
    events: impl Stream<Item = Result<pb::StreamSessionEvent, WatchError>> + Send + 'static,
    ctx: CallContext,
) -> EventStream {
    Box::pin(events.map(move |event| event.map_err(|err| to_status(&ApiError::from(err), &ctx))))
}

fn session_ctx(operation: &'static str, session: &str) -> CallContext {
    CallContext { operation, resource_type: "StreamSession", resource_name: session.to_string() }
}

fn group_ctx(operation: &'static str, group: &str) -> CallContext {
    CallContext { operation, resource_type: "StreamGroup", resource_name: group.to_string() }
}

fn known<E: TryFrom<i32>>(value: i32) -> bool {
    E::try_from(value).is_ok()
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
        let deadline = deadline::answer_by(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = group_ctx("StartStreamSession", &r.stream_group_identifier);
        respond(ctx, async {
            let enums = [("protocol", known::<pb::Protocol>(r.protocol))];
            validate::check_start(&r, &enums)?;
            let params =
                pb::StartStreamSessionRequest { request_id: String::new(), wait_for_active: false, ..r.clone() };
            let (group, wait, signal_request) =
                (r.stream_group_identifier.clone(), r.wait_for_active, r.signal_request.clone());
            let request_id = r.request_id.clone();
            let mut response = self
                .idempotency
                .once("StartStreamSession", &request_id, &params, |token| {
                    let (sessions, input) = (self.sessions.clone(), convert::start_input(r, token)?);
                    Ok(async move {
                        let out = sessions.start(input, deadline).await?;
                        let session = pb::StreamSession { signal_request: String::new(), ..out.into() };
                        Ok(pb::StartStreamSessionResponse { stream_session: Some(session) })
                    })
                })
                .await?;
            if let Some(session) = response.stream_session.as_mut() {
                if wait {
                    *session = self.wait_ready(&group, &session.arn, deadline, is_ready).await?;
                }
                session.signal_request = signal_request;
            }
            Ok(response)
        })
        .await
    }

    async fn get_stream_session(
        &self,
        request: Request<pb::GetStreamSessionRequest>,
    ) -> Result<Response<pb::GetStreamSessionResponse>, Status> {
        let deadline = deadline::answer_by(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = session_ctx("GetStreamSession", &r.stream_session_identifier);
        respond(ctx, async {
            check("GetStreamSessionInput", &validate::get_members(&r), None, &[])?;
            let out = self
                .sessions
                .get(convert::get_input(r.stream_group_identifier, r.stream_session_identifier)?, deadline)
                .await?;
            Ok(pb::GetStreamSessionResponse { stream_session: Some(out.into()) })
        })
        .await
    }

    async fn list_stream_sessions(
        &self,
        request: Request<pb::ListStreamSessionsRequest>,
    ) -> Result<Response<pb::ListStreamSessionsResponse>, Status> {
        let deadline = deadline::answer_by(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = group_ctx("ListStreamSessions", &r.stream_group_identifier);
        respond(ctx, async {
            let enums = [
                ("status", known::<pb::StreamSessionStatus>(r.status)),
                ("export_files_status", known::<pb::ExportFilesStatus>(r.export_files_status)),
            ];
            check("ListStreamSessionsInput", &validate::list_members(&r), None, &enums)?;
            let out = self.sessions.list(convert::list_input(r)?, deadline).await?;
            Ok(pb::ListStreamSessionsResponse {
                stream_sessions: out.items.unwrap_or_default().into_iter().map(Into::into).collect(),
                next_page_token: out.next_token.unwrap_or_default(),
            })
        })
        .await
    }

    async fn list_stream_sessions_by_account(
        &self,
        request: Request<pb::ListStreamSessionsByAccountRequest>,
    ) -> Result<Response<pb::ListStreamSessionsByAccountResponse>, Status> {
        let deadline = deadline::answer_by(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = group_ctx("ListStreamSessionsByAccount", "");
        respond(ctx, async {
            let enums = [
                ("status", known::<pb::StreamSessionStatus>(r.status)),
                ("export_files_status", known::<pb::ExportFilesStatus>(r.export_files_status)),
            ];
            check("ListStreamSessionsByAccountInput", &validate::list_by_account_members(&r), None, &enums)?;
            let out = self.sessions.list_by_account(convert::list_by_account_input(r)?, deadline).await?;
            Ok(pb::ListStreamSessionsByAccountResponse {
                stream_sessions: out.items.unwrap_or_default().into_iter().map(Into::into).collect(),
                next_page_token: out.next_token.unwrap_or_default(),
            })
        })
        .await
    }

    async fn terminate_stream_session(
        &self,
        request: Request<pb::TerminateStreamSessionRequest>,
    ) -> Result<Response<pb::TerminateStreamSessionResponse>, Status> {
        let deadline = deadline::answer_by(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = session_ctx("TerminateStreamSession", &r.stream_session_identifier);
        respond(ctx, async {
            check("TerminateStreamSessionInput", &validate::terminate_members(&r), Some(&r.request_id), &[])?;
            let params = pb::TerminateStreamSessionRequest { request_id: String::new(), ..r.clone() };
            let request_id = r.request_id.clone();
            self.idempotency
                .once("TerminateStreamSession", &request_id, &params, |_| {
                    let (sessions, input) = (self.sessions.clone(), convert::terminate_input(r)?);
                    Ok(async move {
                        sessions.terminate(input, deadline).await?;
                        Ok(pb::TerminateStreamSessionResponse {})
                    })
                })
                .await
        })
        .await
    }

    async fn create_stream_session_connection(
        &self,
        request: Request<pb::CreateStreamSessionConnectionRequest>,
    ) -> Result<Response<pb::CreateStreamSessionConnectionResponse>, Status> {
        let deadline = deadline::answer_by(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = session_ctx("CreateStreamSessionConnection", &r.stream_session_identifier);
        respond(ctx, async {
            check("CreateStreamSessionConnectionInput", &validate::connection_members(&r), Some(&r.request_id), &[])?;
            let params = pb::CreateStreamSessionConnectionRequest {
                request_id: String::new(),
                wait_for_active: false,
                ..r.clone()
            };
            let (group, session, wait) =
                (r.stream_group_identifier.clone(), r.stream_session_identifier.clone(), r.wait_for_active);
            let request_id = r.request_id.clone();
            let mut response = self
                .idempotency
                .once("CreateStreamSessionConnection", &request_id, &params, |token| {
                    let get = convert::get_input(group.clone(), session.clone())?;
                    let (sessions, input) = (self.sessions.clone(), convert::connection_input(r, token)?);
                    Ok(async move {
                        let out = sessions.create_connection(input, deadline).await?;
                        let stream_session = if wait { None } else { read_back(&sessions, get, deadline).await };
                        Ok(pb::CreateStreamSessionConnectionResponse {
                            signal_response: out.signal_response.unwrap_or_default(),
                            stream_session,
                        })
                    })
                })
                .await?;
            if wait {
                let answer = response.signal_response.clone();
                self.watches.refresh(&group, &session);
                let ready = |s: &pb::StreamSession| is_ready(s) && s.signal_response == answer;
                response.stream_session = Some(self.wait_ready(&group, &session, deadline, ready).await?);
            }
            Ok(response)
        })
        .await
    }

    async fn export_stream_session_files(
        &self,
        request: Request<pb::ExportStreamSessionFilesRequest>,
    ) -> Result<Response<pb::ExportStreamSessionFilesResponse>, Status> {
        let deadline = deadline::answer_by(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = session_ctx("ExportStreamSessionFiles", &r.stream_session_identifier);
        respond(ctx, async {
            check("ExportStreamSessionFilesInput", &validate::export_members(&r), Some(&r.request_id), &[])?;
            let params = pb::ExportStreamSessionFilesRequest { request_id: String::new(), ..r.clone() };
            let request_id = r.request_id.clone();
            self.idempotency
                .once("ExportStreamSessionFiles", &request_id, &params, |_| {
                    let (sessions, input) = (self.sessions.clone(), convert::export_input(r)?);
                    Ok(async move {
                        sessions.export_files(input, deadline).await?;
                        Ok(pb::ExportStreamSessionFilesResponse {})
                    })
                })
                .await
        })
        .await
    }

    type WatchStreamSessionStream = EventStream;

    async fn watch_stream_session(
        &self,
        request: Request<pb::WatchStreamSessionRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let r = request.into_inner();
        let ctx = session_ctx("WatchStreamSession", &r.stream_session_identifier);
        respond(ctx.clone(), async {
            check("GetStreamSessionInput", &validate::watch_members(&r), None, &[])?;
            let resume = match r.resume_token.as_str() {
                "" => None,
                text => ResumeToken::decode(text)
                    .map_err(|e| vec![FieldViolation { field: "resume_token".into(), description: e.to_string() }])?,
            };
            let rx = self.watches.watch_session(&r.stream_group_identifier, &r.stream_session_identifier);
            let heartbeat = self.watches.config().heartbeat;
            let watch = SessionWatch::new(rx, &r.stream_session_identifier, heartbeat, resume);
            Ok(event_stream(watch.into_stream(), ctx))
        })
        .await
    }

    type WatchStreamSessionsStream = EventStream;

    async fn watch_stream_sessions(
        &self,
        request: Request<pb::WatchStreamSessionsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let r = request.into_inner();
        let ctx = group_ctx("WatchStreamSessions", &r.stream_group_identifier);
        respond(ctx.clone(), async {
            let unknown = r.statuses.iter().any(|s| !known::<pb::StreamSessionStatus>(*s));
            check("ListStreamSessionsInput", &validate::watch_group_members(&r), None, &[("statuses", !unknown)])?;
            let rx = self.watches.watch_group(&r.stream_group_identifier);
            let watch = GroupWatch::new(rx, r.statuses, self.watches.config().heartbeat);
            Ok(event_stream(watch.into_stream(), ctx))
        })
        .await
    }
}
