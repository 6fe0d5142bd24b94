//! IVS Real-Time for the Stages service's watch: the reads a stage's
//! poller makes (GetStage, ListStageSessions, ListParticipants,
//! ListParticipantEvents) ([`StageReads`], a seam: IVS Real-Time's SDK client under
//! the retry layer in the gateway, a fake in unit tests) and the watches
//! themselves ([`watch`]). The unary RPCs call the SDK directly (see
//! `api::stages`).

pub mod shared;
pub mod watch;

use aws_sdk_ivsrealtime::operation::get_stage::GetStageInput;
use aws_sdk_ivsrealtime::operation::list_participant_events::ListParticipantEventsInput;
use aws_sdk_ivsrealtime::operation::list_participants::ListParticipantsInput;
use aws_sdk_ivsrealtime::operation::list_stage_sessions::ListStageSessionsInput;
use aws_sdk_ivsrealtime::Client;
use futures_util::future::BoxFuture;

use crate::proto::ivs as pb;
use crate::sessions::{Call, CallFailure, Sender, SessionError, UpstreamKind};

/// The most participants (and events) a page holds.
const PAGE: i32 = 100;

/// What a stage's poller reads, one AWS call each, as a watch poll (one
/// attempt, in the send slots callers leave).
pub trait StageReads: Send + Sync + 'static {
    /// GetStage: the stage's active session ID (empty when none); fails
    /// NOT_FOUND when there is no such stage.
    fn active_session(&self, stage_arn: &str) -> BoxFuture<'_, Result<String, CallFailure>>;

    /// ListStageSessions, its first page: the stage's latest sessions,
    /// newest first.
    fn sessions(&self, stage_arn: &str) -> BoxFuture<'_, Result<Vec<pb::StageSession>, CallFailure>>;

    /// One page of ListParticipants of `session` (summary members), and the
    /// next page's token (empty on the last page).
    fn participants<'a>(
        &'a self,
        stage_arn: &'a str,
        session: &'a str,
        page_token: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<pb::Participant>, String), CallFailure>>;

    /// The events of one participant (ListParticipantEvents, its first page:
    /// 100 events).
    fn events<'a>(
        &'a self,
        stage_arn: &'a str,
        session: &'a str,
        participant: &'a str,
    ) -> BoxFuture<'a, Result<Vec<pb::ParticipantEvent>, CallFailure>>;
}

/// Whether a failure says the stage (or its session) is gone.
pub fn is_not_found(failure: &CallFailure) -> bool {
    matches!(failure.error, SessionError::Upstream { kind: UpstreamKind::NotFound, .. })
}

impl StageReads for Sender<Client> {
    fn active_session(&self, stage_arn: &str) -> BoxFuture<'_, Result<String, CallFailure>> {
        let input = GetStageInput::builder().arn(stage_arn);
        Box::pin(async move {
            let out = self.call("GetStage", Call::Poll, input, |i, c| async move { i.send_with(&c).await }).await?;
            Ok(out.stage.and_then(|s| s.active_session_id).unwrap_or_default())
        })
    }

    fn sessions(&self, stage_arn: &str) -> BoxFuture<'_, Result<Vec<pb::StageSession>, CallFailure>> {
        let input = ListStageSessionsInput::builder().stage_arn(stage_arn).max_results(PAGE);
        Box::pin(async move {
            let out =
                self.call("ListStageSessions", Call::Poll, input, |i, c| async move { i.send_with(&c).await }).await?;
            Ok(out.stage_sessions.into_iter().map(Into::into).collect())
        })
    }

    fn participants<'a>(
        &'a self,
        stage_arn: &'a str,
        session: &'a str,
        page_token: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<pb::Participant>, String), CallFailure>> {
        let input = ListParticipantsInput::builder()
            .stage_arn(stage_arn)
            .session_id(session)
            .max_results(PAGE)
            .set_next_token((!page_token.is_empty()).then(|| page_token.to_string()));
        Box::pin(async move {
            let out =
                self.call("ListParticipants", Call::Poll, input, |i, c| async move { i.send_with(&c).await }).await?;
            let page = out.participants.into_iter().map(Into::into).collect();
            Ok((page, out.next_token.unwrap_or_default()))
        })
    }

    fn events<'a>(
        &'a self,
        stage_arn: &'a str,
        session: &'a str,
        participant: &'a str,
    ) -> BoxFuture<'a, Result<Vec<pb::ParticipantEvent>, CallFailure>> {
        let input = ListParticipantEventsInput::builder()
            .stage_arn(stage_arn)
            .session_id(session)
            .participant_id(participant)
            .max_results(PAGE);
        Box::pin(async move {
            let out = self
                .call("ListParticipantEvents", Call::Poll, input, |i, c| async move { i.send_with(&c).await })
                .await?;
            Ok(out.events.into_iter().map(Into::into).collect())
        })
    }
}
