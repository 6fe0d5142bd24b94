//! Each unary RPC defined once: the AWS operation it calls, the resource its
//! errors name, its input (every AWS member listed once, as a row from which
//! the check and the SDK builder both come), what idempotency compares, the
//! call and the conversion of its answer. The skeleton that runs them is
//! [`Gateway`]'s; nothing here reads gRPC metadata.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_gameliftstreams::operation::create_stream_session_connection::builders::CreateStreamSessionConnectionInputBuilder;
use aws_sdk_gameliftstreams::operation::create_stream_session_connection::CreateStreamSessionConnectionInput;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::builders::ExportStreamSessionFilesInputBuilder;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::ExportStreamSessionFilesInput;
use aws_sdk_gameliftstreams::operation::get_stream_session::builders::GetStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionInput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::builders::ListStreamSessionsInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::ListStreamSessionsInput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::builders::ListStreamSessionsByAccountInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::ListStreamSessionsByAccountInput;
use aws_sdk_gameliftstreams::operation::start_stream_session::builders::StartStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::start_stream_session::StartStreamSessionInput;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::builders::TerminateStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::TerminateStreamSessionInput;
use aws_sdk_gameliftstreams::types as aws;
use tokio::time::Instant;

use super::fields::{list, text, Fields};
use super::status::{ApiError, CallContext};
use super::{is_ready, validate, Gateway};
use crate::convert::{export_status_to_aws, status_to_aws};
use crate::proto::v1 as pb;
use crate::sessions::{Call, GameLiftStreams};

/// One unary RPC of the service.
pub trait Unary: prost::Message + Default + Sized + Send + Sync + 'static {
    /// The AWS operation it calls (and its idempotency namespace).
    const OPERATION: &'static str;
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
    fn send(to: Upstream, input: Self::Input) -> impl Future<Output = Answer<Self::Response>> + Send + 'static;

    /// What the RPC does with the answer (once per caller, also on a replay).
    fn finish(
        self,
        _gateway: &Gateway,
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
}

/// A page of sessions as the list RPCs answer it.
fn page(items: Option<Vec<aws::StreamSessionSummary>>, next_token: Option<String>) -> (Vec<pb::StreamSession>, String) {
    (items.unwrap_or_default().into_iter().map(Into::into).collect(), next_token.unwrap_or_default())
}

/// Errors about one stream session.
pub fn session_ctx(operation: &'static str, session: &str) -> CallContext {
    CallContext { operation, resource_type: "StreamSession", resource_name: session.to_string() }
}

/// Errors about a stream group (or the account, with an empty name).
pub fn group_ctx(operation: &'static str, group: &str) -> CallContext {
    CallContext { operation, resource_type: "StreamGroup", resource_name: group.to_string() }
}

/// GetStreamSession's input: what a session read sends, and what a session
/// watch (whose poller reads the same two members) is checked as.
pub fn get_fields(group: &str, session: &str) -> Fields<GetStreamSessionInputBuilder> {
    Fields::new("GetStreamSessionInput", GetStreamSessionInput::builder())
        .member("Identifier", "stream_group_identifier", text(group), GetStreamSessionInputBuilder::set_identifier)
        .member(
            "StreamSessionIdentifier",
            "stream_session_identifier",
            text(session),
            GetStreamSessionInputBuilder::set_stream_session_identifier,
        )
}

/// ListStreamSessions's input: what a listing sends, and what a stream group
/// watch (whose poller lists by the identifier) is checked as.
pub fn list_fields(
    group: &str,
    status: i32,
    export: i32,
    page_size: Option<i32>,
    page_token: &str,
) -> Fields<ListStreamSessionsInputBuilder> {
    type B = ListStreamSessionsInputBuilder;
    Fields::new("ListStreamSessionsInput", ListStreamSessionsInput::builder())
        .member("Identifier", "stream_group_identifier", text(group), B::set_identifier)
        .known::<pb::StreamSessionStatus>("status", status)
        .known::<pb::ExportFilesStatus>("export_files_status", export)
        .member("Status", "status", status_filter(status), B::set_status)
        .member("ExportFilesStatus", "export_files_status", export_filter(export), B::set_export_files_status)
        .member("MaxResults", "page_size", page_size, B::set_max_results)
        .member("NextToken", "page_token", text(page_token), B::set_next_token)
}

fn status_filter(status: i32) -> Option<aws::StreamSessionStatus> {
    pb::StreamSessionStatus::try_from(status).ok().and_then(status_to_aws)
}

fn export_filter(export: i32) -> Option<aws::ExportFilesStatus> {
    pb::ExportFilesStatus::try_from(export).ok().and_then(export_status_to_aws)
}

/// StartStreamSession's input.
pub fn start_fields(
    r: &pb::StartStreamSessionRequest,
    client_token: Option<String>,
) -> Result<Fields<StartStreamSessionInputBuilder>, ApiError> {
    type B = StartStreamSessionInputBuilder;
    let resolution = r
        .display_configuration
        .as_ref()
        .and_then(|d| d.resolution.as_ref())
        .map(|res| aws::Resolution::builder().width(res.width).height(res.height).build())
        .transpose()?;
    let display = r
        .display_configuration
        .as_ref()
        .map(|_| aws::DisplayConfiguration::builder().set_resolution(resolution).build());
    let stats = r
        .performance_stats_configuration
        .as_ref()
        .map(|p| aws::PerformanceStatsConfiguration::builder().set_shared_with_client(p.shared_with_client).build());
    let environment = (!r.additional_environment_variables.is_empty())
        .then(|| r.additional_environment_variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    Ok(Fields::new("StartStreamSessionInput", StartStreamSessionInput::builder())
        .member("Identifier", "stream_group_identifier", text(&r.stream_group_identifier), B::set_identifier)
        .member(
            "ApplicationIdentifier",
            "application_identifier",
            text(&r.application_identifier),
            B::set_application_identifier,
        )
        .known::<pb::Protocol>("protocol", r.protocol)
        .member("Protocol", "protocol", Some(aws::Protocol::Webrtc), B::set_protocol)
        .member("SignalRequest", "signal_request", text(&r.signal_request), B::set_signal_request)
        .member("ClientToken", "request_id", client_token, B::set_client_token)
        .member("Description", "description", text(&r.description), B::set_description)
        .member("UserId", "user_id", text(&r.user_id), B::set_user_id)
        .member("Locations", "locations", list(&r.locations), B::set_locations)
        .member(
            "ConnectionTimeoutSeconds",
            "connection_timeout_seconds",
            r.connection_timeout_seconds,
            B::set_connection_timeout_seconds,
        )
        .member(
            "SessionLengthSeconds",
            "session_length_seconds",
            r.session_length_seconds,
            B::set_session_length_seconds,
        )
        .member(
            "AdditionalLaunchArgs",
            "additional_launch_args",
            list(&r.additional_launch_args),
            B::set_additional_launch_args,
        )
        .member(
            "AdditionalEnvironmentVariables",
            "additional_environment_variables",
            environment,
            B::set_additional_environment_variables,
        )
        .member(
            "PerformanceStatsConfiguration",
            "performance_stats_configuration",
            stats,
            B::set_performance_stats_configuration,
        )
        .member("RoleArn", "role_arn", text(&r.role_arn), B::set_role_arn)
        .member("DisplayConfiguration", "display_configuration", display, B::set_display_configuration))
}

/// TerminateStreamSession's input.
pub fn terminate_fields(group: &str, session: &str) -> Fields<TerminateStreamSessionInputBuilder> {
    type B = TerminateStreamSessionInputBuilder;
    Fields::new("TerminateStreamSessionInput", TerminateStreamSessionInput::builder())
        .member("Identifier", "stream_group_identifier", text(group), B::set_identifier)
        .member("StreamSessionIdentifier", "stream_session_identifier", text(session), B::set_stream_session_identifier)
}

/// CreateStreamSessionConnection's input.
pub fn connection_fields(
    r: &pb::CreateStreamSessionConnectionRequest,
    client_token: Option<String>,
) -> Fields<CreateStreamSessionConnectionInputBuilder> {
    type B = CreateStreamSessionConnectionInputBuilder;
    Fields::new("CreateStreamSessionConnectionInput", CreateStreamSessionConnectionInput::builder())
        .member("Identifier", "stream_group_identifier", text(&r.stream_group_identifier), B::set_identifier)
        .member(
            "StreamSessionIdentifier",
            "stream_session_identifier",
            text(&r.stream_session_identifier),
            B::set_stream_session_identifier,
        )
        .member("SignalRequest", "signal_request", text(&r.signal_request), B::set_signal_request)
        .member("ClientToken", "request_id", client_token, B::set_client_token)
}

/// ExportStreamSessionFiles's input.
pub fn export_fields(r: &pb::ExportStreamSessionFilesRequest) -> Fields<ExportStreamSessionFilesInputBuilder> {
    type B = ExportStreamSessionFilesInputBuilder;
    Fields::new("ExportStreamSessionFilesInput", ExportStreamSessionFilesInput::builder())
        .member("Identifier", "stream_group_identifier", text(&r.stream_group_identifier), B::set_identifier)
        .member(
            "StreamSessionIdentifier",
            "stream_session_identifier",
            text(&r.stream_session_identifier),
            B::set_stream_session_identifier,
        )
        .member("OutputUri", "output_uri", text(&r.output_uri), B::set_output_uri)
}

/// ListStreamSessionsByAccount's input.
pub fn list_by_account_fields(
    r: &pb::ListStreamSessionsByAccountRequest,
) -> Fields<ListStreamSessionsByAccountInputBuilder> {
    type B = ListStreamSessionsByAccountInputBuilder;
    Fields::new("ListStreamSessionsByAccountInput", ListStreamSessionsByAccountInput::builder())
        .known::<pb::StreamSessionStatus>("status", r.status)
        .known::<pb::ExportFilesStatus>("export_files_status", r.export_files_status)
        .member("Status", "status", status_filter(r.status), B::set_status)
        .member(
            "ExportFilesStatus",
            "export_files_status",
            export_filter(r.export_files_status),
            B::set_export_files_status,
        )
        .member("MaxResults", "page_size", r.page_size, B::set_max_results)
        .member("NextToken", "page_token", text(&r.page_token), B::set_next_token)
}

/// A session as a call that carries the caller's signal request answers it:
/// without it (the caller has it; it is put back where the RPC returns it).
fn without_signal_request(session: impl Into<pb::StreamSession>) -> pb::StreamSession {
    pb::StreamSession { signal_request: String::new(), ..session.into() }
}

impl Unary for pb::StartStreamSessionRequest {
    const OPERATION: &'static str = "StartStreamSession";
    type Response = pb::StartStreamSessionResponse;
    type Input = StartStreamSessionInputBuilder;

    fn context(&self) -> CallContext {
        group_ctx(Self::OPERATION, &self.stream_group_identifier)
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
        let out = to.api.start_stream_session(input, to.call).await?;
        Ok(pb::StartStreamSessionResponse { stream_session: Some(without_signal_request(out)) })
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
    type Response = pb::GetStreamSessionResponse;
    type Input = GetStreamSessionInputBuilder;

    fn context(&self) -> CallContext {
        session_ctx(Self::OPERATION, &self.stream_session_identifier)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(get_fields(&self.stream_group_identifier, &self.stream_session_identifier).check(None)?)
    }

    async fn send(to: Upstream, input: Self::Input) -> Answer<Self::Response> {
        let out = to.api.get_stream_session(input, to.call).await?;
        Ok(pb::GetStreamSessionResponse { stream_session: Some(out.into()) })
    }
}

impl Unary for pb::ListStreamSessionsRequest {
    const OPERATION: &'static str = "ListStreamSessions";
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
    type Response = pb::TerminateStreamSessionResponse;
    type Input = TerminateStreamSessionInputBuilder;

    fn context(&self) -> CallContext {
        session_ctx(Self::OPERATION, &self.stream_session_identifier)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        let fields = terminate_fields(&self.stream_group_identifier, &self.stream_session_identifier);
        Ok(fields.check(Some(&self.request_id))?)
    }

    async fn send(to: Upstream, input: Self::Input) -> Answer<Self::Response> {
        to.api.terminate_stream_session(input, to.call).await?;
        Ok(pb::TerminateStreamSessionResponse {})
    }
}

impl Unary for pb::CreateStreamSessionConnectionRequest {
    const OPERATION: &'static str = "CreateStreamSessionConnection";
    type Response = pb::CreateStreamSessionConnectionResponse;
    /// The connection, and the session read right after it unless the RPC
    /// waits for the session instead.
    type Input = (CreateStreamSessionConnectionInputBuilder, Option<GetStreamSessionInputBuilder>);

    fn context(&self) -> CallContext {
        session_ctx(Self::OPERATION, &self.stream_session_identifier)
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
            Some(get) => read_session(&to, get).await,
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

/// The session read right after CreateStreamSessionConnection; `None` if the
/// read failed (the connection was created all the same).
async fn read_session(to: &Upstream, input: GetStreamSessionInputBuilder) -> Option<pb::StreamSession> {
    match to.api.get_stream_session(input, to.call).await {
        Ok(s) => Some(without_signal_request(s)),
        Err(err) => {
            tracing::info!(error = %err, "session read after CreateStreamSessionConnection failed");
            None
        }
    }
}

impl Unary for pb::ExportStreamSessionFilesRequest {
    const OPERATION: &'static str = "ExportStreamSessionFiles";
    type Response = pb::ExportStreamSessionFilesResponse;
    type Input = ExportStreamSessionFilesInputBuilder;

    fn context(&self) -> CallContext {
        session_ctx(Self::OPERATION, &self.stream_session_identifier)
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
