//! The `Stages` gRPC service (IVS Real-Time): every unary RPC runs the same
//! skeleton as StreamSessions' ([`crate::api::unary`]) over its definition
//! in [`operations`], through the same retry layer, pacing and idempotency
//! store; WatchStageParticipants is served by the stage watches.

pub mod convert;
pub mod inputs;
pub mod operations;

use std::sync::Arc;

use aws_sdk_ivsrealtime::Client;
use futures_util::StreamExt;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use super::operations::Service;
use super::replay::Idempotency;
use super::status::{to_status, ApiError};
use super::{respond, unary, EventStream};
use crate::proto::ivs as pb;
use crate::sessions::Sender;
use crate::stages::watch::StageWatches;
use operations::{stage_ctx, StagesUpstream};

/// The Stages service implementation.
#[derive(Clone)]
pub struct StagesGateway {
    sender: Sender<Client>,
    idempotency: Arc<Idempotency>,
    watches: StageWatches,
}

impl StagesGateway {
    /// A gateway that calls IVS Real-Time through `sender`, keeping
    /// idempotency keys in `idempotency` (shared with StreamSessions: keys
    /// are per operation), serving watches from `watches`.
    pub fn new(sender: Sender<Client>, idempotency: Arc<Idempotency>, watches: StageWatches) -> Self {
        Self { sender, idempotency, watches }
    }

    /// The stage watches (to end them at shutdown).
    pub fn watches(&self) -> &StageWatches {
        &self.watches
    }
}

impl Service for StagesGateway {
    type Upstream = StagesUpstream;

    fn to(&self, deadline: Option<Instant>) -> StagesUpstream {
        StagesUpstream { sender: self.sender.clone(), deadline }
    }

    fn idempotency(&self) -> &Idempotency {
        &self.idempotency
    }
}

#[tonic::async_trait]
impl pb::stages_server::Stages for StagesGateway {
    async fn create_stage(
        &self,
        request: Request<pb::CreateStageRequest>,
    ) -> Result<Response<pb::CreateStageResponse>, Status> {
        unary(self, request).await
    }

    async fn get_stage(&self, request: Request<pb::GetStageRequest>) -> Result<Response<pb::GetStageResponse>, Status> {
        unary(self, request).await
    }

    async fn list_stages(
        &self,
        request: Request<pb::ListStagesRequest>,
    ) -> Result<Response<pb::ListStagesResponse>, Status> {
        unary(self, request).await
    }

    async fn update_stage(
        &self,
        request: Request<pb::UpdateStageRequest>,
    ) -> Result<Response<pb::UpdateStageResponse>, Status> {
        unary(self, request).await
    }

    async fn delete_stage(
        &self,
        request: Request<pb::DeleteStageRequest>,
    ) -> Result<Response<pb::DeleteStageResponse>, Status> {
        unary(self, request).await
    }

    async fn create_participant_token(
        &self,
        request: Request<pb::CreateParticipantTokenRequest>,
    ) -> Result<Response<pb::CreateParticipantTokenResponse>, Status> {
        unary(self, request).await
    }

    async fn get_participant(
        &self,
        request: Request<pb::GetParticipantRequest>,
    ) -> Result<Response<pb::GetParticipantResponse>, Status> {
        unary(self, request).await
    }

    async fn list_participants(
        &self,
        request: Request<pb::ListParticipantsRequest>,
    ) -> Result<Response<pb::ListParticipantsResponse>, Status> {
        unary(self, request).await
    }

    async fn disconnect_participant(
        &self,
        request: Request<pb::DisconnectParticipantRequest>,
    ) -> Result<Response<pb::DisconnectParticipantResponse>, Status> {
        unary(self, request).await
    }

    async fn list_participant_events(
        &self,
        request: Request<pb::ListParticipantEventsRequest>,
    ) -> Result<Response<pb::ListParticipantEventsResponse>, Status> {
        unary(self, request).await
    }

    async fn get_stage_session(
        &self,
        request: Request<pb::GetStageSessionRequest>,
    ) -> Result<Response<pb::GetStageSessionResponse>, Status> {
        unary(self, request).await
    }

    async fn list_stage_sessions(
        &self,
        request: Request<pb::ListStageSessionsRequest>,
    ) -> Result<Response<pb::ListStageSessionsResponse>, Status> {
        unary(self, request).await
    }

    async fn start_composition(
        &self,
        request: Request<pb::StartCompositionRequest>,
    ) -> Result<Response<pb::StartCompositionResponse>, Status> {
        unary(self, request).await
    }

    async fn stop_composition(
        &self,
        request: Request<pb::StopCompositionRequest>,
    ) -> Result<Response<pb::StopCompositionResponse>, Status> {
        unary(self, request).await
    }

    async fn get_composition(
        &self,
        request: Request<pb::GetCompositionRequest>,
    ) -> Result<Response<pb::GetCompositionResponse>, Status> {
        unary(self, request).await
    }

    async fn list_compositions(
        &self,
        request: Request<pb::ListCompositionsRequest>,
    ) -> Result<Response<pb::ListCompositionsResponse>, Status> {
        unary(self, request).await
    }

    type WatchStageParticipantsStream = EventStream<pb::WatchStageParticipantsResponse>;

    async fn watch_stage_participants(
        &self,
        request: Request<pb::WatchStageParticipantsRequest>,
    ) -> Result<Response<Self::WatchStageParticipantsStream>, Status> {
        let r = request.into_inner();
        let ctx = stage_ctx("WatchStageParticipants", &r.stage_arn);
        respond(ctx.clone(), async {
            inputs::get_stage_fields(&r.stage_arn).check(None)?;
            let events = self.watches.watch(&r.stage_arn).map(move |event| {
                event
                    .map(|event| pb::WatchStageParticipantsResponse { event: Some(event) })
                    .map_err(|err| to_status(&ApiError::from(err), &ctx))
            });
            let stream: Self::WatchStageParticipantsStream = Box::pin(events);
            Ok(stream)
        })
        .await
    }
}
