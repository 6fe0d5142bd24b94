//! Each IVS Real-Time operation's input, one row per member, as
//! [`crate::api::inputs`] has them for GameLift Streams: the AWS member, the
//! proto field it comes from, its value and the SDK builder's setter. Left
//! out on purpose (the proto says why): tags, recording configurations.

use aws_sdk_ivsrealtime::operation::create_participant_token::builders::CreateParticipantTokenInputBuilder as CreateToken;
use aws_sdk_ivsrealtime::operation::create_participant_token::CreateParticipantTokenInput;
use aws_sdk_ivsrealtime::operation::create_stage::builders::CreateStageInputBuilder as CreateStage;
use aws_sdk_ivsrealtime::operation::create_stage::CreateStageInput;
use aws_sdk_ivsrealtime::operation::delete_stage::builders::DeleteStageInputBuilder as DeleteStage;
use aws_sdk_ivsrealtime::operation::delete_stage::DeleteStageInput;
use aws_sdk_ivsrealtime::operation::disconnect_participant::builders::DisconnectParticipantInputBuilder as Disconnect;
use aws_sdk_ivsrealtime::operation::disconnect_participant::DisconnectParticipantInput;
use aws_sdk_ivsrealtime::operation::get_composition::builders::GetCompositionInputBuilder as GetComposition;
use aws_sdk_ivsrealtime::operation::get_composition::GetCompositionInput;
use aws_sdk_ivsrealtime::operation::get_participant::builders::GetParticipantInputBuilder as GetParticipant;
use aws_sdk_ivsrealtime::operation::get_participant::GetParticipantInput;
use aws_sdk_ivsrealtime::operation::get_stage::builders::GetStageInputBuilder as GetStage;
use aws_sdk_ivsrealtime::operation::get_stage::GetStageInput;
use aws_sdk_ivsrealtime::operation::get_stage_session::builders::GetStageSessionInputBuilder as GetStageSession;
use aws_sdk_ivsrealtime::operation::get_stage_session::GetStageSessionInput;
use aws_sdk_ivsrealtime::operation::list_compositions::builders::ListCompositionsInputBuilder as ListCompositions;
use aws_sdk_ivsrealtime::operation::list_compositions::ListCompositionsInput;
use aws_sdk_ivsrealtime::operation::list_participant_events::builders::ListParticipantEventsInputBuilder as ListEvents;
use aws_sdk_ivsrealtime::operation::list_participant_events::ListParticipantEventsInput;
use aws_sdk_ivsrealtime::operation::list_participants::builders::ListParticipantsInputBuilder as ListParticipants;
use aws_sdk_ivsrealtime::operation::list_participants::ListParticipantsInput;
use aws_sdk_ivsrealtime::operation::list_stage_sessions::builders::ListStageSessionsInputBuilder as ListStageSessions;
use aws_sdk_ivsrealtime::operation::list_stage_sessions::ListStageSessionsInput;
use aws_sdk_ivsrealtime::operation::list_stages::builders::ListStagesInputBuilder as ListStages;
use aws_sdk_ivsrealtime::operation::list_stages::ListStagesInput;
use aws_sdk_ivsrealtime::operation::start_composition::builders::StartCompositionInputBuilder as StartComposition;
use aws_sdk_ivsrealtime::operation::start_composition::StartCompositionInput;
use aws_sdk_ivsrealtime::operation::stop_composition::builders::StopCompositionInputBuilder as StopComposition;
use aws_sdk_ivsrealtime::operation::stop_composition::StopCompositionInput;
use aws_sdk_ivsrealtime::operation::update_stage::builders::UpdateStageInputBuilder as UpdateStage;
use aws_sdk_ivsrealtime::operation::update_stage::UpdateStageInput;
use aws_sdk_ivsrealtime::types as aws;

use super::convert::{capabilities_to_aws, destinations_to_aws, layout_to_aws, token_config_to_aws};
use crate::api::fields::{text, Fields};
use crate::api::inputs::max_results;
use crate::api::validate::FieldViolation;
use crate::proto::ivs as pb;

/// CreateStage's input.
pub fn create_stage_fields(r: &pb::CreateStageRequest) -> Fields<CreateStage> {
    let tokens: Vec<aws::ParticipantTokenConfiguration> =
        r.participant_token_configurations.iter().map(token_config_to_aws).collect();
    let unknown =
        r.participant_token_configurations.iter().flat_map(|c| &c.capabilities).any(|c| unknown_capability(*c));
    Fields::ivs("CreateStageRequest", CreateStageInput::builder())
        .known::<pb::ParticipantTokenCapability>("participant_token_configurations.capabilities", known(unknown))
        .member("name", "name", text(&r.name), CreateStage::set_name)
        .member(
            "participantTokenConfigurations",
            "participant_token_configurations",
            (!tokens.is_empty()).then_some(tokens),
            CreateStage::set_participant_token_configurations,
        )
}

/// A capability value the enum check passes (PUBLISH) or refuses (-1).
fn known(unknown: bool) -> i32 {
    if unknown {
        -1
    } else {
        pb::ParticipantTokenCapability::Publish.into()
    }
}

/// Whether a capability is not one the contract has (UNSPECIFIED included).
fn unknown_capability(c: i32) -> bool {
    !matches!(
        pb::ParticipantTokenCapability::try_from(c),
        Ok(pb::ParticipantTokenCapability::Publish | pb::ParticipantTokenCapability::Subscribe)
    )
}

/// GetStage's input.
pub fn get_stage_fields(stage_arn: &str) -> Fields<GetStage> {
    Fields::ivs("GetStageRequest", GetStageInput::builder()).member(
        "arn",
        "stage_arn",
        text(stage_arn),
        GetStage::set_arn,
    )
}

/// ListStages's input.
pub fn list_stages_fields(r: &pb::ListStagesRequest) -> Fields<ListStages> {
    Fields::ivs("ListStagesRequest", ListStagesInput::builder())
        .member("maxResults", "page_size", max_results(r.page_size), ListStages::set_max_results)
        .member("nextToken", "page_token", text(&r.page_token), ListStages::set_next_token)
}

/// UpdateStage's input.
pub fn update_stage_fields(r: &pb::UpdateStageRequest) -> Fields<UpdateStage> {
    Fields::ivs("UpdateStageRequest", UpdateStageInput::builder())
        .member("arn", "stage_arn", text(&r.stage_arn), UpdateStage::set_arn)
        .member("name", "name", r.name.clone(), UpdateStage::set_name)
}

/// DeleteStage's input.
pub fn delete_stage_fields(r: &pb::DeleteStageRequest) -> Fields<DeleteStage> {
    Fields::ivs("DeleteStageRequest", DeleteStageInput::builder()).member(
        "arn",
        "stage_arn",
        text(&r.stage_arn),
        DeleteStage::set_arn,
    )
}

/// CreateParticipantToken's input.
pub fn create_token_fields(r: &pb::CreateParticipantTokenRequest) -> Fields<CreateToken> {
    let c = r.configuration.clone().unwrap_or_default();
    let unknown = c.capabilities.iter().any(|c| unknown_capability(*c));
    Fields::ivs("CreateParticipantTokenRequest", CreateParticipantTokenInput::builder())
        .known::<pb::ParticipantTokenCapability>("configuration.capabilities", known(unknown))
        .member("stageArn", "stage_arn", text(&r.stage_arn), CreateToken::set_stage_arn)
        .member("duration", "configuration.duration_minutes", c.duration_minutes, CreateToken::set_duration)
        .member("userId", "configuration.user_id", text(&c.user_id), CreateToken::set_user_id)
        .member(
            "attributes",
            "configuration.attributes",
            (!c.attributes.is_empty()).then(|| c.attributes.into_iter().collect()),
            CreateToken::set_attributes,
        )
        .member(
            "capabilities",
            "configuration.capabilities",
            capabilities_to_aws(&c.capabilities),
            CreateToken::set_capabilities,
        )
}

/// GetParticipant's input.
pub fn get_participant_fields(r: &pb::GetParticipantRequest) -> Fields<GetParticipant> {
    Fields::ivs("GetParticipantRequest", GetParticipantInput::builder())
        .member("stageArn", "stage_arn", text(&r.stage_arn), GetParticipant::set_stage_arn)
        .member("sessionId", "session_id", text(&r.session_id), GetParticipant::set_session_id)
        .member("participantId", "participant_id", text(&r.participant_id), GetParticipant::set_participant_id)
}

/// ListParticipants's input.
pub fn list_participants_fields(r: &pb::ListParticipantsRequest) -> Fields<ListParticipants> {
    type B = ListParticipants;
    let state = pb::ParticipantState::try_from(r.filter_by_state).ok().and_then(|s| match s {
        pb::ParticipantState::Unspecified => None,
        pb::ParticipantState::Connected => Some(aws::ParticipantState::Connected),
        pb::ParticipantState::Disconnected => Some(aws::ParticipantState::Disconnected),
    });
    Fields::ivs("ListParticipantsRequest", ListParticipantsInput::builder())
        .known::<pb::ParticipantState>("filter_by_state", r.filter_by_state)
        .member("stageArn", "stage_arn", text(&r.stage_arn), B::set_stage_arn)
        .member("sessionId", "session_id", text(&r.session_id), B::set_session_id)
        .member("filterByUserId", "filter_by_user_id", text(&r.filter_by_user_id), B::set_filter_by_user_id)
        .member("filterByPublished", "filter_by_published", r.filter_by_published, B::set_filter_by_published)
        .member("filterByState", "filter_by_state", state, B::set_filter_by_state)
        .member("maxResults", "page_size", max_results(r.page_size), B::set_max_results)
        .member("nextToken", "page_token", text(&r.page_token), B::set_next_token)
}

/// DisconnectParticipant's input.
pub fn disconnect_fields(r: &pb::DisconnectParticipantRequest) -> Fields<Disconnect> {
    Fields::ivs("DisconnectParticipantRequest", DisconnectParticipantInput::builder())
        .member("stageArn", "stage_arn", text(&r.stage_arn), Disconnect::set_stage_arn)
        .member("participantId", "participant_id", text(&r.participant_id), Disconnect::set_participant_id)
        .member("reason", "reason", text(&r.reason), Disconnect::set_reason)
}

/// ListParticipantEvents's input.
pub fn list_events_fields(r: &pb::ListParticipantEventsRequest) -> Fields<ListEvents> {
    Fields::ivs("ListParticipantEventsRequest", ListParticipantEventsInput::builder())
        .member("stageArn", "stage_arn", text(&r.stage_arn), ListEvents::set_stage_arn)
        .member("sessionId", "session_id", text(&r.session_id), ListEvents::set_session_id)
        .member("participantId", "participant_id", text(&r.participant_id), ListEvents::set_participant_id)
        .member("maxResults", "page_size", max_results(r.page_size), ListEvents::set_max_results)
        .member("nextToken", "page_token", text(&r.page_token), ListEvents::set_next_token)
}

/// GetStageSession's input.
pub fn get_stage_session_fields(r: &pb::GetStageSessionRequest) -> Fields<GetStageSession> {
    Fields::ivs("GetStageSessionRequest", GetStageSessionInput::builder())
        .member("stageArn", "stage_arn", text(&r.stage_arn), GetStageSession::set_stage_arn)
        .member("sessionId", "session_id", text(&r.session_id), GetStageSession::set_session_id)
}

/// ListStageSessions's input.
pub fn list_stage_sessions_fields(r: &pb::ListStageSessionsRequest) -> Fields<ListStageSessions> {
    Fields::ivs("ListStageSessionsRequest", ListStageSessionsInput::builder())
        .member("stageArn", "stage_arn", text(&r.stage_arn), ListStageSessions::set_stage_arn)
        .member("maxResults", "page_size", max_results(r.page_size), ListStageSessions::set_max_results)
        .member("nextToken", "page_token", text(&r.page_token), ListStageSessions::set_next_token)
}

/// StartComposition's input; destinations missing a required member are
/// refused here (the SDK cannot hold them).
pub fn start_composition_fields(
    r: &pb::StartCompositionRequest,
    idempotency_token: Option<String>,
) -> Result<Fields<StartComposition>, Vec<FieldViolation>> {
    type B = StartComposition;
    let destinations = destinations_to_aws(&r.destinations)?;
    Ok(Fields::ivs("StartCompositionRequest", StartCompositionInput::builder())
        .member("stageArn", "stage_arn", text(&r.stage_arn), B::set_stage_arn)
        .member("idempotencyToken", "request_id", idempotency_token, B::set_idempotency_token)
        .member("layout", "layout", r.layout.as_ref().map(layout_to_aws), B::set_layout)
        .member(
            "destinations",
            "destinations",
            (!destinations.is_empty()).then_some(destinations),
            B::set_destinations,
        ))
}

/// StopComposition's input.
pub fn stop_composition_fields(r: &pb::StopCompositionRequest) -> Fields<StopComposition> {
    Fields::ivs("StopCompositionRequest", StopCompositionInput::builder()).member(
        "arn",
        "composition_arn",
        text(&r.composition_arn),
        StopComposition::set_arn,
    )
}

/// GetComposition's input.
pub fn get_composition_fields(r: &pb::GetCompositionRequest) -> Fields<GetComposition> {
    Fields::ivs("GetCompositionRequest", GetCompositionInput::builder()).member(
        "arn",
        "composition_arn",
        text(&r.composition_arn),
        GetComposition::set_arn,
    )
}

/// ListCompositions's input.
pub fn list_compositions_fields(r: &pb::ListCompositionsRequest) -> Fields<ListCompositions> {
    type B = ListCompositions;
    Fields::ivs("ListCompositionsRequest", ListCompositionsInput::builder())
        .member("filterByStageArn", "filter_by_stage_arn", text(&r.filter_by_stage_arn), B::set_filter_by_stage_arn)
        .member(
            "filterByEncoderConfigurationArn",
            "filter_by_encoder_configuration_arn",
            text(&r.filter_by_encoder_configuration_arn),
            B::set_filter_by_encoder_configuration_arn,
        )
        .member("maxResults", "page_size", max_results(r.page_size), B::set_max_results)
        .member("nextToken", "page_token", text(&r.page_token), B::set_next_token)
}
