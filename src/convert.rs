//! The conversions of what GameLift Streams answers into the proto's
//! messages (for the RPCs and the watch pollers alike), and of the proto's
//! enums to AWS's. Inputs are filled in `api::operations`, one row per
//! member. Nothing here calls AWS.

use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionOutput;
use aws_sdk_gameliftstreams::operation::start_stream_session::StartStreamSessionOutput;
use aws_sdk_gameliftstreams::types as aws;
use aws_smithy_types::DateTime;

use crate::proto::v1 as pb;

/// The AWS status a proto status filter names; `None` for UNSPECIFIED.
pub fn status_to_aws(status: pb::StreamSessionStatus) -> Option<aws::StreamSessionStatus> {
    use pb::StreamSessionStatus as P;
    Some(match status {
        P::Unspecified => return None,
        P::Activating => aws::StreamSessionStatus::Activating,
        P::Active => aws::StreamSessionStatus::Active,
        P::Connected => aws::StreamSessionStatus::Connected,
        P::PendingClientReconnection => aws::StreamSessionStatus::PendingClientReconnection,
        P::Reconnecting => aws::StreamSessionStatus::Reconnecting,
        P::Terminating => aws::StreamSessionStatus::Terminating,
        P::Terminated => aws::StreamSessionStatus::Terminated,
        P::Error => aws::StreamSessionStatus::Error,
    })
}

/// The AWS export status a proto filter names; `None` for UNSPECIFIED.
pub fn export_status_to_aws(status: pb::ExportFilesStatus) -> Option<aws::ExportFilesStatus> {
    Some(match status {
        pb::ExportFilesStatus::Unspecified => return None,
        pb::ExportFilesStatus::Succeeded => aws::ExportFilesStatus::Succeeded,
        pb::ExportFilesStatus::Failed => aws::ExportFilesStatus::Failed,
        pb::ExportFilesStatus::Pending => aws::ExportFilesStatus::Pending,
    })
}

fn status_from_aws(status: Option<&aws::StreamSessionStatus>) -> pb::StreamSessionStatus {
    use aws::StreamSessionStatus as A;
    match status {
        Some(A::Activating) => pb::StreamSessionStatus::Activating,
        Some(A::Active) => pb::StreamSessionStatus::Active,
        Some(A::Connected) => pb::StreamSessionStatus::Connected,
        Some(A::PendingClientReconnection) => pb::StreamSessionStatus::PendingClientReconnection,
        Some(A::Reconnecting) => pb::StreamSessionStatus::Reconnecting,
        Some(A::Terminating) => pb::StreamSessionStatus::Terminating,
        Some(A::Terminated) => pb::StreamSessionStatus::Terminated,
        Some(A::Error) => pb::StreamSessionStatus::Error,
        _ => pb::StreamSessionStatus::Unspecified,
    }
}

/// The AWS status reason a proto reason names; `None` for UNSPECIFIED.
pub fn reason_to_aws(reason: pb::StreamSessionStatusReason) -> Option<aws::StreamSessionStatusReason> {
    use aws::StreamSessionStatusReason as A;
    use pb::StreamSessionStatusReason as P;
    Some(match reason {
        P::Unspecified => return None,
        P::InternalError => A::InternalError,
        P::InvalidSignalRequest => A::InvalidSignalRequest,
        P::PlacementTimeout => A::PlacementTimeout,
        P::ApplicationLogS3DestinationError => A::AppLogS3DestinationError,
        P::AssumeRoleFailed => A::AssumeRoleFailed,
        P::ApplicationExit => A::ApplicationExit,
        P::ConnectionTimeout => A::ConnectionTimeout,
        P::ReconnectionTimeout => A::ReconnectionTimeout,
        P::MaxSessionLengthTimeout => A::MaxSessionLengthTimeout,
        P::IdleTimeout => A::IdleTimeout,
        P::ApiTerminated => A::ApiTerminated,
    })
}

fn reason_from_aws(reason: Option<&aws::StreamSessionStatusReason>) -> pb::StreamSessionStatusReason {
    use aws::StreamSessionStatusReason as A;
    use pb::StreamSessionStatusReason as P;
    match reason {
        Some(A::InternalError) => P::InternalError,
        Some(A::InvalidSignalRequest) => P::InvalidSignalRequest,
        Some(A::PlacementTimeout) => P::PlacementTimeout,
        Some(A::AppLogS3DestinationError) => P::ApplicationLogS3DestinationError,
        Some(A::AssumeRoleFailed) => P::AssumeRoleFailed,
        Some(A::ApplicationExit) => P::ApplicationExit,
        Some(A::ConnectionTimeout) => P::ConnectionTimeout,
        Some(A::ReconnectionTimeout) => P::ReconnectionTimeout,
        Some(A::MaxSessionLengthTimeout) => P::MaxSessionLengthTimeout,
        Some(A::IdleTimeout) => P::IdleTimeout,
        Some(A::ApiTerminated) => P::ApiTerminated,
        _ => P::Unspecified,
    }
}

fn protocol_from_aws(protocol: Option<&aws::Protocol>) -> pb::Protocol {
    match protocol {
        Some(aws::Protocol::Webrtc) => pb::Protocol::Webrtc,
        _ => pb::Protocol::Unspecified,
    }
}

fn export_from_aws(export: aws::ExportFilesMetadata) -> pb::ExportFilesMetadata {
    let status = match export.status {
        Some(aws::ExportFilesStatus::Succeeded) => pb::ExportFilesStatus::Succeeded,
        Some(aws::ExportFilesStatus::Failed) => pb::ExportFilesStatus::Failed,
        Some(aws::ExportFilesStatus::Pending) => pb::ExportFilesStatus::Pending,
        _ => pb::ExportFilesStatus::Unspecified,
    };
    pb::ExportFilesMetadata {
        status: status.into(),
        status_reason: export.status_reason.unwrap_or_default(),
        output_uri: export.output_uri.unwrap_or_default(),
    }
}

/// The range of `google.protobuf.Timestamp`: 0001-01-01T00:00:00Z to
/// 9999-12-31T23:59:59.999999999Z.
const MIN_TIMESTAMP_SECONDS: i64 = -62_135_596_800;
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;

/// A time as a valid `google.protobuf.Timestamp`: one outside its range (no
/// real session has one) is clamped to the range's ends.
pub fn timestamp(t: Option<DateTime>) -> Option<prost_types::Timestamp> {
    t.map(|t| match t.secs() {
        s if s > MAX_TIMESTAMP_SECONDS => prost_types::Timestamp { seconds: MAX_TIMESTAMP_SECONDS, nanos: 999_999_999 },
        s if s < MIN_TIMESTAMP_SECONDS => prost_types::Timestamp { seconds: MIN_TIMESTAMP_SECONDS, nanos: 0 },
        seconds => prost_types::Timestamp { seconds, nanos: i32::try_from(t.subsec_nanos()).unwrap_or(0) },
    })
}

/// Both outputs carry GetStreamSession's members under the same names.
macro_rules! stream_session_from {
    ($output:ty) => {
        impl From<$output> for pb::StreamSession {
            fn from(o: $output) -> Self {
                pb::StreamSession {
                    status: status_from_aws(o.status.as_ref()).into(),
                    status_reason: reason_from_aws(o.status_reason.as_ref()).into(),
                    protocol: protocol_from_aws(o.protocol.as_ref()).into(),
                    arn: o.arn.unwrap_or_default(),
                    description: o.description.unwrap_or_default(),
                    stream_group_id: o.stream_group_id.unwrap_or_default(),
                    user_id: o.user_id.unwrap_or_default(),
                    location: o.location.unwrap_or_default(),
                    signal_request: o.signal_request.unwrap_or_default(),
                    signal_response: o.signal_response.unwrap_or_default(),
                    connection_timeout_seconds: o.connection_timeout_seconds.unwrap_or_default(),
                    session_length_seconds: o.session_length_seconds.unwrap_or_default(),
                    additional_launch_args: o.additional_launch_args.unwrap_or_default(),
                    additional_environment_variables: o
                        .additional_environment_variables
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                    performance_stats_configuration: o
                        .performance_stats_configuration
                        .map(|p| pb::PerformanceStatsConfiguration { shared_with_client: p.shared_with_client }),
                    log_file_location_uri: o.log_file_location_uri.unwrap_or_default(),
                    web_sdk_protocol_url: o.web_sdk_protocol_url.unwrap_or_default(),
                    last_updated_at: timestamp(o.last_updated_at),
                    created_at: timestamp(o.created_at),
                    application_arn: o.application_arn.unwrap_or_default(),
                    export_files_metadata: o.export_files_metadata.map(export_from_aws),
                    role_arn: o.role_arn.unwrap_or_default(),
                    display_configuration: o.display_configuration.map(|d| pb::DisplayConfiguration {
                        resolution: d.resolution.map(|r| pb::Resolution { width: r.width, height: r.height }),
                    }),
                }
            }
        }
    };
}

stream_session_from!(GetStreamSessionOutput);
stream_session_from!(StartStreamSessionOutput);

impl From<aws::StreamSessionSummary> for pb::StreamSession {
    fn from(s: aws::StreamSessionSummary) -> Self {
        pb::StreamSession {
            status: status_from_aws(s.status.as_ref()).into(),
            status_reason: reason_from_aws(s.status_reason.as_ref()).into(),
            protocol: protocol_from_aws(s.protocol.as_ref()).into(),
            arn: s.arn.unwrap_or_default(),
            user_id: s.user_id.unwrap_or_default(),
            last_updated_at: timestamp(s.last_updated_at),
            created_at: timestamp(s.created_at),
            application_arn: s.application_arn.unwrap_or_default(),
            export_files_metadata: s.export_files_metadata.map(export_from_aws),
            location: s.location.unwrap_or_default(),
            role_arn: s.role_arn.unwrap_or_default(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_the_timestamp_range_are_clamped_to_it() {
        let far = timestamp(Some(DateTime::from_secs(i64::MAX / 2))).expect("a timestamp");
        assert_eq!((far.seconds, far.nanos), (MAX_TIMESTAMP_SECONDS, 999_999_999));
        let early = timestamp(Some(DateTime::from_secs(i64::MIN / 2))).expect("a timestamp");
        assert_eq!((early.seconds, early.nanos), (MIN_TIMESTAMP_SECONDS, 0));
        let now = timestamp(Some(DateTime::from_fractional_secs(1_764_000_000, 0.5))).expect("a timestamp");
        assert_eq!((now.seconds, now.nanos), (1_764_000_000, 500_000_000));
        for t in [far, early, now] {
            assert!(std::time::SystemTime::try_from(t).is_ok() || t.seconds < 0, "{t:?}");
        }
        assert_eq!(timestamp(None), None);
    }
}
