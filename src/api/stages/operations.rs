//! Each unary RPC of the Stages service defined once, as
//! [`crate::api::operations`] defines StreamSessions': the IVS Real-Time
//! operation it calls, the resource its errors name, its input (the rows of
//! [`inputs`](super::inputs)), what idempotency compares, the call and the
//! conversion of its answer. The skeleton that runs them is
//! [`crate::api::unary`].

use aws_sdk_ivsrealtime::operation::create_participant_token::builders::CreateParticipantTokenInputBuilder;
use aws_sdk_ivsrealtime::operation::create_stage::builders::CreateStageInputBuilder;
use aws_sdk_ivsrealtime::operation::delete_stage::builders::DeleteStageInputBuilder;
use aws_sdk_ivsrealtime::operation::disconnect_participant::builders::DisconnectParticipantInputBuilder;
use aws_sdk_ivsrealtime::operation::get_composition::builders::GetCompositionInputBuilder;
use aws_sdk_ivsrealtime::operation::get_participant::builders::GetParticipantInputBuilder;
use aws_sdk_ivsrealtime::operation::get_stage::builders::GetStageInputBuilder;
use aws_sdk_ivsrealtime::operation::get_stage_session::builders::GetStageSessionInputBuilder;
use aws_sdk_ivsrealtime::operation::list_compositions::builders::ListCompositionsInputBuilder;
use aws_sdk_ivsrealtime::operation::list_participant_events::builders::ListParticipantEventsInputBuilder;
use aws_sdk_ivsrealtime::operation::list_participants::builders::ListParticipantsInputBuilder;
use aws_sdk_ivsrealtime::operation::list_stage_sessions::builders::ListStageSessionsInputBuilder;
use aws_sdk_ivsrealtime::operation::list_stages::builders::ListStagesInputBuilder;
use aws_sdk_ivsrealtime::operation::start_composition::builders::StartCompositionInputBuilder;
use aws_sdk_ivsrealtime::operation::stop_composition::builders::StopCompositionInputBuilder;
use aws_sdk_ivsrealtime::operation::update_stage::builders::UpdateStageInputBuilder;
use aws_sdk_ivsrealtime::Client;
use tokio::time::Instant;

use super::inputs::*;
use super::StagesGateway;
use crate::api::operations::{Answer, Unary};
use crate::api::status::{ApiError, CallContext, IVS_REAL_TIME};
use crate::proto::ivs as pb;
use crate::sessions::{Call, Sender};

/// Where a Stages RPC's call goes: IVS Real-Time, by the caller's deadline.
pub struct StagesUpstream {
    /// IVS Real-Time's client under the retry layer.
    pub sender: Sender<Client>,
    /// The caller's deadline.
    pub deadline: Option<Instant>,
}

impl StagesUpstream {
    /// As the retry policy says.
    fn by(&self) -> Call {
        Call::By(self.deadline)
    }
}

/// Sends the SDK's own input builder `$input` of operation `$op`, retried as
/// `$call` (a method of [`StagesUpstream`]) allows.
macro_rules! send {
    ($to:ident, $call:expr, $input:ident) => {
        $to.sender.call(Self::OPERATION, $call, $input, |input, client| async move { input.send_with(&client).await })
    };
}

/// Errors about a stage (or the account, with an empty ARN).
pub fn stage_ctx(operation: &'static str, stage_arn: &str) -> CallContext {
    CallContext::new(operation, "Stage", stage_arn).calling(IVS_REAL_TIME)
}

/// Errors about a participant or stage session of a stage.
fn in_stage_ctx(operation: &'static str, kind: &'static str, id: &str, stage_arn: &str) -> CallContext {
    CallContext::new(operation, kind, id).also("Stage", stage_arn).calling(IVS_REAL_TIME)
}

/// Errors about a composition.
fn composition_ctx(operation: &'static str, arn: &str) -> CallContext {
    CallContext::new(operation, "Composition", arn).calling(IVS_REAL_TIME)
}

/// A page of items converted, and the next page's token.
fn page<A, P: From<A>>(items: Vec<A>, next_token: Option<String>) -> (Vec<P>, String) {
    (items.into_iter().map(Into::into).collect(), next_token.unwrap_or_default())
}

impl Unary for pb::CreateStageRequest {
    const OPERATION: &'static str = "CreateStage";
    type Service = StagesGateway;
    type Response = pb::CreateStageResponse;
    type Input = CreateStageInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, "")
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(create_stage_fields(self).check(Some(&self.request_id))?)
    }

    /// AWS cannot de-duplicate it: an attempt whose answer was lost is not
    /// repeated (the call answers OUTCOME_UNKNOWN, and so does every repeat
    /// of its request_id).
    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, Call::Unrepeatable(to.deadline), input).await?;
        Ok(pb::CreateStageResponse {
            stage: out.stage.map(Into::into),
            participant_tokens: out.participant_tokens.unwrap_or_default().into_iter().map(Into::into).collect(),
        })
    }
}

impl Unary for pb::GetStageRequest {
    const OPERATION: &'static str = "GetStage";
    type Service = StagesGateway;
    type Response = pb::GetStageResponse;
    type Input = GetStageInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, &self.stage_arn)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(get_stage_fields(&self.stage_arn).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        Ok(pb::GetStageResponse { stage: out.stage.map(Into::into) })
    }
}

impl Unary for pb::ListStagesRequest {
    const OPERATION: &'static str = "ListStages";
    type Service = StagesGateway;
    type Response = pb::ListStagesResponse;
    type Input = ListStagesInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, "")
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(list_stages_fields(self).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        let (stages, next_page_token) = page(out.stages, out.next_token);
        Ok(pb::ListStagesResponse { stages, next_page_token })
    }
}

impl Unary for pb::UpdateStageRequest {
    const OPERATION: &'static str = "UpdateStage";
    type Service = StagesGateway;
    type Response = pb::UpdateStageResponse;
    type Input = UpdateStageInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, &self.stage_arn)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(update_stage_fields(self).check(Some(&self.request_id))?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        Ok(pb::UpdateStageResponse { stage: out.stage.map(Into::into) })
    }
}

impl Unary for pb::DeleteStageRequest {
    const OPERATION: &'static str = "DeleteStage";
    type Service = StagesGateway;
    type Response = pb::DeleteStageResponse;
    type Input = DeleteStageInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, &self.stage_arn)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(delete_stage_fields(self).check(Some(&self.request_id))?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        send!(to, to.by(), input).await?;
        Ok(pb::DeleteStageResponse {})
    }
}

impl Unary for pb::CreateParticipantTokenRequest {
    const OPERATION: &'static str = "CreateParticipantToken";
    type Service = StagesGateway;
    type Response = pb::CreateParticipantTokenResponse;
    type Input = CreateParticipantTokenInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, &self.stage_arn)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(create_token_fields(self).check(Some(&self.request_id))?)
    }

    /// AWS cannot de-duplicate it, but a token whose answer was lost is one
    /// nobody received: sending the call again is harmless.
    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        Ok(pb::CreateParticipantTokenResponse { participant_token: out.participant_token.map(Into::into) })
    }
}

impl Unary for pb::GetParticipantRequest {
    const OPERATION: &'static str = "GetParticipant";
    type Service = StagesGateway;
    type Response = pb::GetParticipantResponse;
    type Input = GetParticipantInputBuilder;

    fn context(&self) -> CallContext {
        in_stage_ctx(Self::OPERATION, "Participant", &self.participant_id, &self.stage_arn)
            .also("StageSession", &self.session_id)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(get_participant_fields(self).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        Ok(pb::GetParticipantResponse { participant: out.participant.map(Into::into) })
    }
}

impl Unary for pb::ListParticipantsRequest {
    const OPERATION: &'static str = "ListParticipants";
    type Service = StagesGateway;
    type Response = pb::ListParticipantsResponse;
    type Input = ListParticipantsInputBuilder;

    fn context(&self) -> CallContext {
        in_stage_ctx(Self::OPERATION, "StageSession", &self.session_id, &self.stage_arn)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(list_participants_fields(self).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        let (participants, next_page_token) = page(out.participants, out.next_token);
        Ok(pb::ListParticipantsResponse { participants, next_page_token })
    }
}

impl Unary for pb::DisconnectParticipantRequest {
    const OPERATION: &'static str = "DisconnectParticipant";
    type Service = StagesGateway;
    type Response = pb::DisconnectParticipantResponse;
    type Input = DisconnectParticipantInputBuilder;

    fn context(&self) -> CallContext {
        in_stage_ctx(Self::OPERATION, "Participant", &self.participant_id, &self.stage_arn)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(disconnect_fields(self).check(Some(&self.request_id))?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        send!(to, to.by(), input).await?;
        Ok(pb::DisconnectParticipantResponse {})
    }

    /// Watchers of the stage see the participant leave at the next round,
    /// not at the next scheduled one.
    async fn finish(
        self,
        service: &StagesGateway,
        response: Self::Response,
        _: Option<Instant>,
    ) -> Result<Self::Response, ApiError> {
        service.watches().refresh(&self.stage_arn);
        Ok(response)
    }
}

impl Unary for pb::ListParticipantEventsRequest {
    const OPERATION: &'static str = "ListParticipantEvents";
    type Service = StagesGateway;
    type Response = pb::ListParticipantEventsResponse;
    type Input = ListParticipantEventsInputBuilder;

    fn context(&self) -> CallContext {
        in_stage_ctx(Self::OPERATION, "Participant", &self.participant_id, &self.stage_arn)
            .also("StageSession", &self.session_id)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(list_events_fields(self).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        let (events, next_page_token) = page(out.events, out.next_token);
        Ok(pb::ListParticipantEventsResponse { events, next_page_token })
    }
}

impl Unary for pb::GetStageSessionRequest {
    const OPERATION: &'static str = "GetStageSession";
    type Service = StagesGateway;
    type Response = pb::GetStageSessionResponse;
    type Input = GetStageSessionInputBuilder;

    fn context(&self) -> CallContext {
        in_stage_ctx(Self::OPERATION, "StageSession", &self.session_id, &self.stage_arn)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(get_stage_session_fields(self).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        Ok(pb::GetStageSessionResponse { stage_session: out.stage_session.map(Into::into) })
    }
}

impl Unary for pb::ListStageSessionsRequest {
    const OPERATION: &'static str = "ListStageSessions";
    type Service = StagesGateway;
    type Response = pb::ListStageSessionsResponse;
    type Input = ListStageSessionsInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, &self.stage_arn)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(list_stage_sessions_fields(self).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        let (stage_sessions, next_page_token) = page(out.stage_sessions, out.next_token);
        Ok(pb::ListStageSessionsResponse { stage_sessions, next_page_token })
    }
}

impl Unary for pb::StartCompositionRequest {
    const OPERATION: &'static str = "StartComposition";
    type Service = StagesGateway;
    type Response = pb::StartCompositionResponse;
    type Input = StartCompositionInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, &self.stage_arn)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    /// AWS's idempotencyToken is derived from request_id as GameLift
    /// Streams' ClientToken is (64 hex digits: within its 1 to 64
    /// characters of [a-zA-Z0-9-_]).
    fn input(&self, client_token: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(start_composition_fields(self, client_token)?.check(Some(&self.request_id))?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        Ok(pb::StartCompositionResponse { composition: out.composition.map(Into::into) })
    }
}

impl Unary for pb::StopCompositionRequest {
    const OPERATION: &'static str = "StopComposition";
    type Service = StagesGateway;
    type Response = pb::StopCompositionResponse;
    type Input = StopCompositionInputBuilder;

    fn context(&self) -> CallContext {
        composition_ctx(Self::OPERATION, &self.composition_arn)
    }

    fn request_id(&self) -> Option<&str> {
        Some(&self.request_id)
    }

    fn params(&self) -> Self {
        Self { request_id: String::new(), ..self.clone() }
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(stop_composition_fields(self).check(Some(&self.request_id))?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        send!(to, to.by(), input).await?;
        Ok(pb::StopCompositionResponse {})
    }
}

impl Unary for pb::GetCompositionRequest {
    const OPERATION: &'static str = "GetComposition";
    type Service = StagesGateway;
    type Response = pb::GetCompositionResponse;
    type Input = GetCompositionInputBuilder;

    fn context(&self) -> CallContext {
        composition_ctx(Self::OPERATION, &self.composition_arn)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(get_composition_fields(self).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        Ok(pb::GetCompositionResponse { composition: out.composition.map(Into::into) })
    }
}

impl Unary for pb::ListCompositionsRequest {
    const OPERATION: &'static str = "ListCompositions";
    type Service = StagesGateway;
    type Response = pb::ListCompositionsResponse;
    type Input = ListCompositionsInputBuilder;

    fn context(&self) -> CallContext {
        stage_ctx(Self::OPERATION, &self.filter_by_stage_arn)
    }

    fn input(&self, _: Option<String>) -> Result<Self::Input, ApiError> {
        Ok(list_compositions_fields(self).check(None)?)
    }

    async fn send(to: StagesUpstream, input: Self::Input) -> Answer<Self::Response> {
        let out = send!(to, to.by(), input).await?;
        let (compositions, next_page_token) = page(out.compositions, out.next_token);
        Ok(pb::ListCompositionsResponse { compositions, next_page_token })
    }
}
