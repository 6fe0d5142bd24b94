//! The `StreamSessions` gRPC service: each RPC validates its request, makes its
//! GameLift Streams call through [`Sessions`] (mutating calls at most once per
//! `request_id`), converts the answer, and maps any error to a status with
//! details. No AWS call happens for invalid input.

pub mod convert;
pub mod deadline;
pub mod replay;
pub mod status;
pub mod validate;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::proto::v1 as pb;
use crate::sessions::Sessions;
use replay::Idempotency;
use status::{to_status, ApiError, CallContext};
use validate::check;

/// The service implementation.
#[derive(Clone)]
pub struct Gateway {
    sessions: Sessions,
    idempotency: Arc<Idempotency>,
}

impl Gateway {
    /// A gateway that calls GameLift Streams through `sessions`, keeping
    /// idempotency keys in `idempotency`.
    pub fn new(sessions: Sessions, idempotency: Arc<Idempotency>) -> Self {
        Self { sessions, idempotency }
    }
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
            tracing::info!(operation = ctx.operation, code = ?status.code(), error = %err, "call failed");
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
        let deadline = deadline::deadline(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = group_ctx("StartStreamSession", &r.stream_group_identifier);
        respond(ctx, async {
            let enums = [("protocol", known::<pb::Protocol>(r.protocol))];
            check("StartStreamSessionInput", &validate::start_members(&r), Some(&r.request_id), &enums)?;
            let (key, has_id) = (self.idempotency.key("StartStreamSession", &r.request_id), !r.request_id.is_empty());
            let params = pb::StartStreamSessionRequest { request_id: String::new(), ..r.clone() };
            let signal_request = r.signal_request.clone();
            let sessions = self.sessions.clone();
            let input = convert::start_input(r, key.client_token())?;
            let work = async move {
                let out = sessions.start(input, deadline).await?;
                let mut session = pb::StreamSession::from(out);
                session.signal_request.clear();
                Ok(pb::StartStreamSessionResponse { stream_session: Some(session) })
            };
            let mut response = self.idempotency.run(key, has_id, &params, work).await?;
            if let Some(session) = response.stream_session.as_mut() {
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
        let deadline = deadline::deadline(request.metadata(), tokio::time::Instant::now());
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
        let deadline = deadline::deadline(request.metadata(), tokio::time::Instant::now());
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
        let deadline = deadline::deadline(request.metadata(), tokio::time::Instant::now());
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
        let deadline = deadline::deadline(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = session_ctx("TerminateStreamSession", &r.stream_session_identifier);
        respond(ctx, async {
            check("TerminateStreamSessionInput", &validate::terminate_members(&r), Some(&r.request_id), &[])?;
            let (key, has_id) =
                (self.idempotency.key("TerminateStreamSession", &r.request_id), !r.request_id.is_empty());
            let params = pb::TerminateStreamSessionRequest { request_id: String::new(), ..r.clone() };
            let (sessions, input) = (self.sessions.clone(), convert::terminate_input(r)?);
            let work = async move {
                sessions.terminate(input, deadline).await?;
                Ok(pb::TerminateStreamSessionResponse {})
            };
            self.idempotency.run(key, has_id, &params, work).await
        })
        .await
    }

    async fn create_stream_session_connection(
        &self,
        request: Request<pb::CreateStreamSessionConnectionRequest>,
    ) -> Result<Response<pb::CreateStreamSessionConnectionResponse>, Status> {
        let deadline = deadline::deadline(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = session_ctx("CreateStreamSessionConnection", &r.stream_session_identifier);
        respond(ctx, async {
            check("CreateStreamSessionConnectionInput", &validate::connection_members(&r), Some(&r.request_id), &[])?;
            let operation = "CreateStreamSessionConnection";
            let (key, has_id) = (self.idempotency.key(operation, &r.request_id), !r.request_id.is_empty());
            let params = pb::CreateStreamSessionConnectionRequest { request_id: String::new(), ..r.clone() };
            let get = convert::get_input(r.stream_group_identifier.clone(), r.stream_session_identifier.clone())?;
            let (sessions, input) = (self.sessions.clone(), convert::connection_input(r, key.client_token())?);
            let work = async move {
                let out = sessions.create_connection(input, deadline).await?;
                let stream_session = match sessions.get(get, deadline).await {
                    Ok(s) => Some(pb::StreamSession { signal_request: String::new(), ..s.into() }),
                    Err(err) => {
                        tracing::info!(error = %err, "session read after CreateStreamSessionConnection failed");
                        None
                    }
                };
                Ok(pb::CreateStreamSessionConnectionResponse {
                    signal_response: out.signal_response.unwrap_or_default(),
                    stream_session,
                })
            };
            self.idempotency.run(key, has_id, &params, work).await
        })
        .await
    }

    async fn export_stream_session_files(
        &self,
        request: Request<pb::ExportStreamSessionFilesRequest>,
    ) -> Result<Response<pb::ExportStreamSessionFilesResponse>, Status> {
        let deadline = deadline::deadline(request.metadata(), tokio::time::Instant::now());
        let r = request.into_inner();
        let ctx = session_ctx("ExportStreamSessionFiles", &r.stream_session_identifier);
        respond(ctx, async {
            check("ExportStreamSessionFilesInput", &validate::export_members(&r), Some(&r.request_id), &[])?;
            let (key, has_id) =
                (self.idempotency.key("ExportStreamSessionFiles", &r.request_id), !r.request_id.is_empty());
            let params = pb::ExportStreamSessionFilesRequest { request_id: String::new(), ..r.clone() };
            let (sessions, input) = (self.sessions.clone(), convert::export_input(r)?);
            let work = async move {
                sessions.export_files(input, deadline).await?;
                Ok(pb::ExportStreamSessionFilesResponse {})
            };
            self.idempotency.run(key, has_id, &params, work).await
        })
        .await
    }
}
