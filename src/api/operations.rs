//! Each unary RPC defined once: the AWS operation it calls, the resource its
//! errors name, its input (the rows of [`inputs`](super::inputs)), what
//! idempotency compares, the call and the conversion of its answer. The
//! skeleton that runs them is [`Gateway`]'s; nothing here reads gRPC metadata.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_gameliftstreams::operation::create_stream_session_connection::builders::CreateStreamSessionConnectionInputBuilder;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::builders::ExportStreamSessionFilesInputBuilder;
use aws_sdk_gameliftstreams::operation::get_stream_session::builders::GetStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionInput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::builders::ListStreamSessionsInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::builders::ListStreamSessionsByAccountInputBuilder;
use aws_sdk_gameliftstreams::operation::start_stream_session::builders::StartStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::builders::TerminateStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::types as aws;
use tokio::time::Instant;

use super::inputs::{
    connection_fields, export_fields, get_fields, list_by_account_fields, list_fields, start_fields, terminate_fields,
};
use super::replay::Idempotency;
use super::status::{ApiError, CallContext};
use super::{is_ready, validate, Gateway};
use crate::proto::v1 as pb;
use crate::sessions::watch::feed::is_terminal;
use crate::sessions::watch::Watches;
use crate::sessions::{Call, CallFailure, GameLiftStreams};

/// What serves unary RPCs: where their calls go, and their idempotency.
pub trait Service: Send + Sync {
    /// Where an RPC's call goes, by a deadline.
    type Upstream: Send + 'static;

    /// Where a call due by `deadline` goes.
    fn to(&self, deadline: Option<Instant>) -> Self::Upstream;

    /// The keys of mutating calls.
    fn idempotency(&self) -> &Idempotency;
}

/// One unary RPC of a service.
pub trait Unary: prost::Message + Default + Sized + Send + Sync + 'static {
    /// The AWS operation it calls (and its idempotency namespace).
    const OPERATION: &'static str;
    /// The service it belongs to.
    type Service: Service;
    /// What it answers.
    type Response: prost::Message + Default + Send + 'static;
    /// What it sends: the SDK's input builder, checked.
    type Input: Send + 'static;

    /// The resource its errors name.
    fn context(&self) -> CallContext;

    /// The `request_id` of a mutating RPC; `None` for a read.
    fn request_id(&self) -> Option<&str> {
        None
    }

    /// What a repeated `request_id` must repeat: the request without what
    /// does not change the AWS call (a read, without `request_id`, has none).
    fn params(&self) -> Self {
        Self::default()
    }

    /// The checked input; `client_token` is the ClientToken of a mutating call.
    fn input(&self, client_token: Option<String>) -> Result<Self::Input, ApiError>;

    /// Sends `input` and converts the answer.
    fn send(
        to: <Self::Service as Service>::Upstream,
        input: Self::Input,
    ) -> impl Future<Output = Answer<Self::Response>> + Send + 'static;

    /// What the RPC does with the answer (once per caller, also on a replay).
    fn finish(
        self,
        _service: &Self::Service,
        response: Self::Response,
        _deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Self::Response, ApiError>> + Send {
        async move { Ok(response) }
    }
}

/// What an RPC answers, or why not.
pub type Answer<T> = Result<T, ApiError>;

/// Where an RPC's call goes, and how it may be tried.
pub struct Upstream {
    /// GameLift Streams.
    pub api: Arc<dyn GameLiftStreams>,
    /// By the caller's deadline.
    pub call: Call,
    /// The watches: told every state a call answered (their snapshots need
    /// no read of it), and, with `recent`, where a GetStreamSession may be
    /// answered instead.
    pub watches: Watches,
    /// How recent a shared poll result must be to answer a GetStreamSession.
    pub recent: Option<Duration>,
}

impl Upstream {
    /// `session`, as a call to `group` just answered it, told to the watches.
    fn answered(&self, group: &str, session: pb::StreamSession) -> pb::StreamSession {
        self.watches.answered(group, &session);
        session
    }
}

/// A page of sessions as the list RPCs answer it.
fn page(items: Option<Vec<aws::StreamSessionSummary>>, next_token: Option<String>) -> (Vec<pb::StreamSession>, String) {
    (items.unwrap_or_default().into_iter().map(Into::into).collect(), next_token.unwrap_or_default())
}

/// Errors about one stream session of a stream group.
pub fn session_ctx(operation: &'static str, group: &str, session: &str) -> CallContext {
    CallContext::new(operation, "StreamSession", session).also("StreamGroup", group)
}

/// Errors about a stream group (or the account, with an empty name).
pub fn group_ctx(operation: &'static str, group: &str) -> CallContext {
    CallContext::new(operation, "StreamGroup", group)
}

/// A session as a call that carries the caller's signal request answers it:
/// without it (the caller has it; it is put back where the RPC returns it).
fn without_signal_request(session: impl Into<pb::StreamSession>) -> pb::StreamSession {
    pb::StreamSession { signal_request: String::new(), ..session.into() }
}

impl Unary for pb::StartStreamSessionRequest {
    const OPERATION: &'static str = "StartStreamSession";
    type Service = Gateway;
    type Response = pb::StartStreamSessionResponse;
    type Input = StartStreamSessionInputBuilder;

    fn context(&self) -> CallContext {
        group_ctx(Self::OPERATION, &self.stream_group_identifier).also("Application", &self.application_identifier)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), wait_for_active: false, ..self.clone() }
    }

    fn input(&self, client_token: Option<String>) -> Result<Self::Input, ApiError> {
        validate::check_counts(self)?;
        Ok(start_fields(self, client_token)?.check(Some(&self.request_id))?)
    }

    async fn send(to: Upstream, input: Self::Input) -> Answer<Self::Response> {
        let group = input.get_identifier().clone().unwrap_or_default();
        let out = to.api.start_stream_session(input, to.call).await?;
        Ok(pb::StartStreamSessionResponse { stream_session: Some(to.answered(&group, without_signal_request(out))) })
    }

    async fn finish(
        self,
        gateway: &Gateway,
        mut response: Self::Response,
        deadline: Option<Instant>,
    ) -> Result<Self::Response, ApiError> {
        if let Some(session) = response.stream_session.as_mut() {
            if self.wait_for_active {
                *session = gateway.wait_ready(&self.stream_group_identifier, &session.arn, deadline, is_ready).await?;
            }
            session.signal_request = self.signal_request;
        }
        Ok(response)
    }
}

impl Unary for pb::GetStreamSessionRequest {
    const OPERATION: &'static str = "GetStreamSession";
    type Service = Gateway;
    type Response = pb::GetStreamSessionResponse;
    type Input = GetStreamSessionInputBuilder;

    fn context(&self) -> CallContext {
        session_ctx(Self::OPERATION, &self.stream_group_identifier, &self.stream_session_identifier)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(get_fields(&self.stream_group_identifier, &self.stream_session_identifier).check(None)?)
    }

    async fn send(to: Upstream, input: Self::Input) -> Answer<Self::Response> {
        let group = input.get_identifier().clone().unwrap_or_default();
        if let (Some(max_age), Some(session)) = (to.recent, input.get_stream_session_identifier()) {
            if let Some(recent) = to.watches.recent_session(&group, session, max_age).await {
                return Ok(pb::GetStreamSessionResponse { stream_session: Some(recent) });
            }
        }
        let out = to.api.get_stream_session(input, to.call).await?;
        Ok(pb::GetStreamSessionResponse { stream_session: Some(to.answered(&group, out.into())) })
    }
}

impl Unary for pb::ListStreamSessionsRequest {
    const OPERATION: &'static str = "ListStreamSessions";
    type Service = Gateway;
    type Response = pb::ListStreamSessionsResponse;
    type Input = ListStreamSessionsInputBuilder;

    fn context(&self) -> CallContext {
        group_ctx(Self::OPERATION, &self.stream_group_identifier)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        let fields = list_fields(
            &self.stream_group_identifier,
            self.status,
            self.export_files_status,
            self.page_size,
            &self.page_token,
        );
        Ok(fields.check(None)?)
    }

    async fn send(to: Upstream, input: Self::Input) -> Answer<Self::Response> {
        let out = to.api.list_stream_sessions(input, to.call).await?;
        let (stream_sessions, next_page_token) = page(out.items, out.next_token);
        Ok(pb::ListStreamSessionsResponse { stream_sessions, next_page_token })
    }
}

impl Unary for pb::ListStreamSessionsByAccountRequest {
    const OPERATION: &'static str = "ListStreamSessionsByAccount";
    type Service = Gateway;
    type Response = pb::ListStreamSessionsByAccountResponse;
    type Input = ListStreamSessionsByAccountInputBuilder;

    fn context(&self) -> CallContext {
        group_ctx(Self::OPERATION, "")
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(list_by_account_fields(self).check(None)?)
    }

    async fn send(to: Upstream, input: Self::Input) -> Answer<Self::Response> {
        let out = to.api.list_stream_sessions_by_account(input, to.call).await?;
        let (stream_sessions, next_page_token) = page(out.items, out.next_token);
        Ok(pb::ListStreamSessionsByAccountResponse { stream_sessions, next_page_token })
    }
}

impl Unary for pb::TerminateStreamSessionRequest {
    const OPERATION: &'static str = "TerminateStreamSession";
    type Service = Gateway;
    type Response = pb::TerminateStreamSessionResponse;
    /// The termination, and the session read right after it.
    type Input = (TerminateStreamSessionInputBuilder, GetStreamSessionInputBuilder);

    fn context(&self) -> CallContext {
        session_ctx(Self::OPERATION, &self.stream_group_identifier, &self.stream_session_identifier)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        let fields = terminate_fields(&self.stream_group_identifier, &self.stream_session_identifier);
        let read_back = GetStreamSessionInput::builder()
            .identifier(&self.stream_group_identifier)
            .stream_session_identifier(&self.stream_session_identifier);
        Ok((fields.check(Some(&self.request_id))?, read_back))
    }

    /// AWS refuses to terminate a session in ACTIVATING: then the session is
    /// answered as it is, and [`finish`](Unary::finish) defers the termination.
    /// A session that left ACTIVATING between the refusal and the read is
    /// terminated again, one that ended meanwhile is answered as it is, and
    /// one that cannot be read makes the answer the read's failure (whether
    /// AWS refused a bad request cannot be told).
    async fn send(to: Upstream, (input, read_back): Self::Input) -> Answer<Self::Response> {
        let refused = match to.api.terminate_stream_session(input.clone(), to.call).await {
            Ok(_) => None,
            Err(failure) if failure.error.refused_while_activating() => Some(failure),
            Err(failure) => return Err(failure.into()),
        };
        let group = read_back.get_identifier().clone().unwrap_or_default();
        let read =
            to.api.get_stream_session(read_back.clone(), to.call).await.map(|out| to.answered(&group, out.into()));
        let stream_session = match (refused, read) {
            (None, read) => read_or_none(read, Self::OPERATION),
            // Still ACTIVATING (`finish` defers it), or ended meanwhile (by
            // another call: what was asked for is done).
            (Some(_), Ok(session)) if is_activating(&session) || is_terminal(session.status()) => Some(session),
            (Some(_), Ok(_)) => {
                to.api.terminate_stream_session(input, to.call).await?;
                read_session(&to, read_back, Self::OPERATION).await
            }
            (Some(_), Err(unread)) => return Err(unread.into()),
        };
        Ok(pb::TerminateStreamSessionResponse { stream_session })
    }

    /// Watchers of the session see TERMINATING at once, not at its next
    /// scheduled read (10 s away while CONNECTED); a session still
    /// ACTIVATING is terminated once it leaves ACTIVATING.
    async fn finish(
        self,
        gateway: &Gateway,
        response: Self::Response,
        _: Option<Instant>,
    ) -> Result<Self::Response, ApiError> {
        match response.stream_session.as_ref().filter(|s| is_activating(s)) {
            Some(session) => gateway.defer_termination(&self.stream_group_identifier, &session.arn).await,
            None => gateway.watches().refresh(&self.stream_group_identifier, &self.stream_session_identifier),
        }
        Ok(response)
    }
}

fn is_activating(session: &pb::StreamSession) -> bool {
    session.status() == pb::StreamSessionStatus::Activating
}

impl Unary for pb::CreateStreamSessionConnectionRequest {
    const OPERATION: &'static str = "CreateStreamSessionConnection";
    type Service = Gateway;
    type Response = pb::CreateStreamSessionConnectionResponse;
    /// The connection, and the session read right after it unless the RPC
    /// waits for the session instead.
    type Input = (CreateStreamSessionConnectionInputBuilder, Option<GetStreamSessionInputBuilder>);

    fn context(&self) -> CallContext {
        session_ctx(Self::OPERATION, &self.stream_group_identifier, &self.stream_session_identifier)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), wait_for_active: false, ..self.clone() }
    }

    fn input(&self, client_token: Option<String>) -> Result<Self::Input, ApiError> {
        let connection = connection_fields(self, client_token).check(Some(&self.request_id))?;
        let read_back = (!self.wait_for_active).then(|| {
            GetStreamSessionInput::builder()
                .identifier(&self.stream_group_identifier)
                .stream_session_identifier(&self.stream_session_identifier)
        });
        Ok((connection, read_back))
    }

    async fn send(to: Upstream, (input, read_back): Self::Input) -> Answer<Self::Response> {
        let out = to.api.create_stream_session_connection(input, to.call).await?;
        let stream_session = match read_back {
            Some(get) => read_session(&to, get, Self::OPERATION).await.map(without_signal_request),
            None => None,
        };
        Ok(pb::CreateStreamSessionConnectionResponse {
            signal_response: out.signal_response.unwrap_or_default(),
            stream_session,
        })
    }

    async fn finish(
        self,
        gateway: &Gateway,
        mut response: Self::Response,
        deadline: Option<Instant>,
    ) -> Result<Self::Response, ApiError> {
        if self.wait_for_active {
            let (group, session) = (&self.stream_group_identifier, &self.stream_session_identifier);
            let answer = response.signal_response.clone();
            gateway.watches().refresh(group, session);
            let ready = |s: &pb::StreamSession| is_ready(s) && s.signal_response == answer;
            response.stream_session = Some(gateway.wait_ready(group, session, deadline, ready).await?);
        }
        Ok(response)
    }
}

/// The session read right after a call that changed it (`after`); `None` if
/// the read failed (the change was made all the same).
async fn read_session(to: &Upstream, input: GetStreamSessionInputBuilder, after: &str) -> Option<pb::StreamSession> {
    let group = input.get_identifier().clone().unwrap_or_default();
    let read = to.api.get_stream_session(input, to.call).await.map(|out| to.answered(&group, out.into()));
    read_or_none(read, after)
}

fn read_or_none(read: Result<pb::StreamSession, CallFailure>, after: &str) -> Option<pb::StreamSession> {
    match read {
        Ok(session) => Some(session),
        Err(err) => {
            tracing::info!(error = %err, operation = after, "session read after the call failed");
            None
        }
    }
}

impl Unary for pb::ExportStreamSessionFilesRequest {
    const OPERATION: &'static str = "ExportStreamSessionFiles";
    type Service = Gateway;
    type Response = pb::ExportStreamSessionFilesResponse;
    type Input = ExportStreamSessionFilesInputBuilder;

    fn context(&self) -> CallContext {
        session_ctx(Self::OPERATION, &self.stream_group_identifier, &self.stream_session_identifier)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(export_fields(self).check(Some(&self.request_id))?)
    }

    async fn send(to: Upstream, input: Self::Input) -> Answer<Self::Response> {
        to.api.export_stream_session_files(input, to.call).await?;
        Ok(pb::ExportStreamSessionFilesResponse {})
    }
}
