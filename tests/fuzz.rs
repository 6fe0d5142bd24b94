//! Property tests over what a caller controls: any bytes as any request of
//! either service (decoding, then validation) and any StartStreamSession,
//! CreateStage, CreateParticipantToken or StartComposition field values never
//! panic, and every refusal is a status small enough for every gRPC client
//! (well under C-core's 8 KiB of metadata). A few seconds in the suite;
//! `PROPTEST_CASES=100000 cargo test --test fuzz` for a longer run.

use gamelift_streams_gateway::api::operations::Unary;
use gamelift_streams_gateway::api::status::{to_status, ApiError, CallContext};
use gamelift_streams_gateway::api::validate::FieldViolation;
use gamelift_streams_gateway::proto::ivs;
use gamelift_streams_gateway::proto::v1 as pb;
use proptest::prelude::*;
use prost::Message;
use tonic_types::StatusExt;

/// Status headers (message and details) above this size fail the property.
const MAX_STATUS_BYTES: usize = 6 * 1024;

fn ctx() -> CallContext {
    CallContext::new("StartStreamSession", "StreamGroup", "sg-1")
}

/// The refusal of `violations` is small and lists at most 21 entries.
fn assert_bounded(violations: Vec<FieldViolation>) -> Result<(), TestCaseError> {
    let status = to_status(&ApiError::InvalidArgument(violations), &ctx());
    let mut headers = http::HeaderMap::new();
    prop_assert!(status.add_header(&mut headers).is_ok());
    let size: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    prop_assert!(size < MAX_STATUS_BYTES, "{} bytes of status", size);
    let listed = status.get_error_details().bad_request().map_or(0, |b| b.field_violations.len());
    prop_assert!(listed <= 21, "{} violations listed", listed);
    Ok(())
}

/// The violations the handlers would answer `r` with, if any.
fn violations<R: Unary>(r: &R) -> Option<Vec<FieldViolation>> {
    match r.input(Some("t".repeat(32))) {
        Err(ApiError::InvalidArgument(v)) => Some(v),
        _ => None,
    }
}

/// Checks `bytes` as each request type it decodes to, as the handlers do.
fn validate_as_every_request(bytes: &[u8]) -> Result<(), TestCaseError> {
    fn as_request<R: Unary>(bytes: &[u8]) -> Result<(), TestCaseError> {
        match R::decode(bytes).ok().as_ref().and_then(violations) {
            Some(v) => assert_bounded(v),
            None => Ok(()),
        }
    }
    as_request::<pb::StartStreamSessionRequest>(bytes)?;
    as_request::<pb::GetStreamSessionRequest>(bytes)?;
    as_request::<pb::ListStreamSessionsRequest>(bytes)?;
    as_request::<pb::ListStreamSessionsByAccountRequest>(bytes)?;
    as_request::<pb::TerminateStreamSessionRequest>(bytes)?;
    as_request::<pb::CreateStreamSessionConnectionRequest>(bytes)?;
    as_request::<pb::ExportStreamSessionFilesRequest>(bytes)?;
    as_request::<ivs::CreateStageRequest>(bytes)?;
    as_request::<ivs::GetStageRequest>(bytes)?;
    as_request::<ivs::ListStagesRequest>(bytes)?;
    as_request::<ivs::UpdateStageRequest>(bytes)?;
    as_request::<ivs::DeleteStageRequest>(bytes)?;
    as_request::<ivs::CreateParticipantTokenRequest>(bytes)?;
    as_request::<ivs::GetParticipantRequest>(bytes)?;
    as_request::<ivs::ListParticipantsRequest>(bytes)?;
    as_request::<ivs::DisconnectParticipantRequest>(bytes)?;
    as_request::<ivs::ListParticipantEventsRequest>(bytes)?;
    as_request::<ivs::GetStageSessionRequest>(bytes)?;
    as_request::<ivs::ListStageSessionsRequest>(bytes)?;
    as_request::<ivs::StartCompositionRequest>(bytes)?;
    as_request::<ivs::StopCompositionRequest>(bytes)?;
    as_request::<ivs::GetCompositionRequest>(bytes)?;
    as_request::<ivs::ListCompositionsRequest>(bytes)
}

/// Text a caller might send: anything, including long and non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z0-9-]{1,30}",
        ".{0,64}",
        "[\\PC]{0,64}",
        (1usize..4_000).prop_map(|n| "é".repeat(n)),
    ]
}

fn start_request() -> impl Strategy<Value = pb::StartStreamSessionRequest> {
    (
        (text(), text(), text(), text(), text()),
        prop::collection::vec(text(), 0..150),
        prop::collection::vec(text(), 0..120),
        prop::collection::btree_map(text(), text(), 0..60),
        (any::<Option<i32>>(), any::<Option<i32>>(), any::<i32>()),
    )
        .prop_map(
            |((group, app, signal, description, user), locations, args, env, (timeout, length, protocol))| {
                pb::StartStreamSessionRequest {
                    stream_group_identifier: group,
                    application_identifier: app,
                    signal_request: signal,
                    description,
                    user_id: user,
                    locations,
                    additional_launch_args: args,
                    additional_environment_variables: env,
                    connection_timeout_seconds: timeout,
                    session_length_seconds: length,
                    protocol,
                    ..Default::default()
                }
            },
        )
}

fn token_configuration() -> impl Strategy<Value = ivs::ParticipantTokenConfiguration> {
    (
        any::<Option<i32>>(),
        text(),
        prop::collection::btree_map(text(), text(), 0..20),
        prop::collection::vec(any::<i32>(), 0..5),
    )
        .prop_map(|(duration_minutes, user_id, attributes, capabilities)| ivs::ParticipantTokenConfiguration {
            duration_minutes,
            user_id,
            attributes,
            capabilities,
        })
}

fn create_stage_request() -> impl Strategy<Value = ivs::CreateStageRequest> {
    (text(), prop::collection::vec(token_configuration(), 0..30), text()).prop_map(
        |(name, participant_token_configurations, request_id)| ivs::CreateStageRequest {
            name,
            participant_token_configurations,
            request_id,
        },
    )
}

fn destination() -> impl Strategy<Value = ivs::DestinationConfiguration> {
    (text(), prop::option::of((text(), text())), prop::option::of((text(), prop::collection::vec(text(), 0..5))))
        .prop_map(|(name, channel, s3)| ivs::DestinationConfiguration {
            name,
            channel: channel.map(|(channel_arn, encoder_configuration_arn)| ivs::ChannelDestinationConfiguration {
                channel_arn,
                encoder_configuration_arn,
            }),
            s3: s3.map(|(storage_configuration_arn, encoder_configuration_arns)| ivs::S3DestinationConfiguration {
                storage_configuration_arn,
                encoder_configuration_arns,
            }),
        })
}

fn start_composition_request() -> impl Strategy<Value = ivs::StartCompositionRequest> {
    (text(), prop::collection::vec(destination(), 0..8), any::<(i32, i32, i32, Option<i32>, Option<i32>)>(), text())
        .prop_map(|(stage_arn, destinations, (fill, ratio, position, gap, width), request_id)| {
            ivs::StartCompositionRequest {
                stage_arn,
                layout: Some(ivs::LayoutConfiguration {
                    grid: Some(ivs::GridConfiguration {
                        video_fill_mode: fill,
                        video_aspect_ratio: ratio,
                        grid_gap: gap,
                        ..Default::default()
                    }),
                    pip: Some(ivs::PipConfiguration { pip_position: position, pip_width: width, ..Default::default() }),
                }),
                destinations,
                request_id,
            }
        })
}

/// Cases per property: `PROPTEST_CASES`, else a few seconds' worth.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_decode_and_validate_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        validate_as_every_request(&bytes)?;
    }

    #[test]
    fn any_start_request_is_answered_with_a_bounded_status(request in start_request()) {
        let bytes = request.encode_to_vec();
        let decoded = pb::StartStreamSessionRequest::decode(bytes.as_slice());
        prop_assert_eq!(decoded.ok(), Some(request.clone()));
        if let Some(v) = violations(&request) {
            assert_bounded(v)?;
        }
    }

    #[test]
    fn any_stage_request_is_answered_with_a_bounded_status(
        create in create_stage_request(),
        composition in start_composition_request(),
        configuration in token_configuration(),
        stage_arn in text(),
    ) {
        let token = ivs::CreateParticipantTokenRequest { stage_arn, configuration: Some(configuration), ..Default::default() };
        for v in [violations(&create), violations(&composition), violations(&token)].into_iter().flatten() {
            assert_bounded(v)?;
        }
    }
}
