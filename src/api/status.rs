//! The one mapping from the gateway's errors to gRPC statuses, each with
//! `google.rpc.ErrorInfo` (domain `gameliftstreams.amazonaws.com`, a stable
//! reason, the AWS request id) and the detail the code calls for: BadRequest,
//! ResourceInfo, QuotaFailure or RetryInfo. Over 400 lines with its tests:
//! the mapping is one `match`, kept whole so every code is read in one place.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::validate::{snake_case, FieldViolation};
use crate::convert::{reason_to_aws, status_to_aws};
use crate::proto::v1 as pb;
use crate::reason::{set_error_info_in, ErrorReason};
use crate::sessions::resilience::GiveUp;
use crate::sessions::watch::stream::WatchError;
use crate::sessions::{CallFailure, SessionError, UpstreamKind};

/// The delay advised for a transient failure when the retry layer gave none.
const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// An error of one RPC. Serializable, so that a kept outcome crosses
/// processes (a fleet's shared idempotency records) whole.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ApiError {
    /// The `request_id` was already used with other parameters.
    #[error("request_id was already used for a request with other parameters")]
    KeyReused,
    /// The request broke the input rules; nothing was sent to AWS.
    #[error("invalid request: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The call to GameLift Streams failed, after the retries the policy allowed.
    #[error(transparent)]
    Call(#[from] CallFailure),
    /// The gateway could not build the AWS request.
    #[error("internal error: {0}")]
    Internal(String),
    /// A wait for ACTIVE saw the session end first.
    #[error("stream session {} ended in {} ({})", .0.arn, aws_status(.0.status), aws_reason(.0.status_reason))]
    SessionEnded(#[serde(with = "encoded")] Box<pb::StreamSession>),
    /// A wait for ACTIVE reached the caller's deadline.
    #[error("stream session {arn} is still {}; watch it or terminate it", aws_status(*.status))]
    NotReady {
        /// The session's ARN.
        arn: String,
        /// Its latest status (a `pb::StreamSessionStatus`).
        status: i32,
    },
    /// The sidecar stopped watching (shutting down).
    #[error("the sidecar stopped watching; watch again")]
    WatchClosed,
}

/// A session in serde's data model as its proto encoding.
mod encoded {
    use prost::Message;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::proto::v1 as pb;

    #[allow(clippy::borrowed_box)] // serde's `with` hands over the field as it is
    pub fn serialize<S: Serializer>(session: &Box<pb::StreamSession>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&session.encode_to_vec())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Box<pb::StreamSession>, D::Error> {
        let bytes = Vec::<u8>::deserialize(deserializer)?;
        pb::StreamSession::decode(bytes.as_slice()).map(Box::new).map_err(serde::de::Error::custom)
    }
}

impl From<WatchError> for ApiError {
    fn from(err: WatchError) -> Self {
        match err {
            WatchError::Failed(failure) => Self::Call(failure),
            WatchError::Closed => Self::WatchClosed,
        }
    }
}

/// AWS's name of a proto status, as in `ACTIVE`.
pub fn aws_status(status: i32) -> String {
    pb::StreamSessionStatus::try_from(status)
        .ok()
        .and_then(status_to_aws)
        .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string())
}

/// AWS's name of a proto status reason, as in `placementTimeout`.
pub fn aws_reason(reason: i32) -> String {
    pb::StreamSessionStatusReason::try_from(reason)
        .ok()
        .and_then(reason_to_aws)
        .map_or_else(|| "none".to_string(), |r| r.as_str().to_string())
}

/// The proto's name of a status, as in `STREAM_SESSION_STATUS_ACTIVE`, for
/// ErrorInfo metadata that every language parses with its enum.
fn status_name(status: i32) -> String {
    pb::StreamSessionStatus::try_from(status).unwrap_or_default().as_str_name().to_string()
}

/// The proto's name of a status reason, for ErrorInfo metadata.
fn reason_name(reason: i32) -> String {
    pb::StreamSessionStatusReason::try_from(reason).unwrap_or_default().as_str_name().to_string()
}

impl From<aws_smithy_types::error::operation::BuildError> for ApiError {
    fn from(err: aws_smithy_types::error::operation::BuildError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<Vec<FieldViolation>> for ApiError {
    fn from(violations: Vec<FieldViolation>) -> Self {
        Self::InvalidArgument(violations)
    }
}

/// Field violations listed in a status's BadRequest: at most this many...
pub const MAX_LISTED_VIOLATIONS: usize = 20;
/// ...and at most this many bytes of field paths and descriptions, so that
/// the whole status (message and details, base64 in a header) stays well
/// under gRPC C-core's 8 KiB metadata limit. The rest are counted.
const MAX_VIOLATION_BYTES: usize = 2048;
/// Violations named in `grpc-message` (and log lines); BadRequest has more.
const MESSAGE_VIOLATIONS: usize = 3;
/// Longest field path and description listed, in bytes.
const MAX_FIELD_BYTES: usize = 128;
const MAX_DESCRIPTION_BYTES: usize = 256;
/// Longest violation named in a message, in bytes.
const MAX_MESSAGE_ITEM_BYTES: usize = 200;
/// Longest `grpc-message`, in bytes.
const MAX_MESSAGE_BYTES: usize = 1024;

/// `text` cut to at most `max` bytes at a character boundary, marked with `…`.
pub fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// The violations a status lists (bounded in number and bytes, each field and
/// description truncated), and how many are left out.
fn listed(violations: &[FieldViolation]) -> (Vec<(String, String)>, usize) {
    let mut out = Vec::new();
    let mut bytes = 0;
    for v in violations.iter().take(MAX_LISTED_VIOLATIONS) {
        let field = truncate(&v.field, MAX_FIELD_BYTES).into_owned();
        let description = truncate(&v.description, MAX_DESCRIPTION_BYTES).into_owned();
        bytes += field.len() + description.len();
        if bytes > MAX_VIOLATION_BYTES {
            break;
        }
        out.push((field, description));
    }
    let omitted = violations.len() - out.len();
    (out, omitted)
}

/// The first violations and a count of the others, for messages and logs.
fn describe(violations: &[FieldViolation]) -> String {
    let (listed, _) = listed(violations);
    let shown = listed.len().min(MESSAGE_VIOLATIONS);
    let mut parts: Vec<String> = listed[..shown]
        .iter()
        .map(|(f, d)| truncate(&format!("{f}: {d}"), MAX_MESSAGE_ITEM_BYTES).into_owned())
        .collect();
    if violations.len() > shown {
        parts.push(format!("and {} more", violations.len() - shown));
    }
    parts.join("; ")
}

/// Adds `violations` to `details` as BadRequest, bounded, with a last entry
/// (empty field) saying how many were left out.
fn add_violations(details: &mut ErrorDetails, violations: &[FieldViolation], meta: &mut HashMap<String, String>) {
    let (listed, omitted) = listed(violations);
    for (field, description) in listed {
        details.add_bad_request_violation(field, description);
    }
    if omitted > 0 {
        details.add_bad_request_violation("", format!("and {omitted} more"));
        meta.insert("violations".into(), violations.len().to_string());
    }
}

/// The AWS service an RPC calls, as its errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsService {
    /// Its name in messages.
    pub name: &'static str,
    /// The ErrorInfo domain of its RPCs' errors.
    pub domain: &'static str,
}

/// GameLift Streams: the StreamSessions service's.
pub const GAMELIFT_STREAMS: AwsService = AwsService { name: "GameLift Streams", domain: crate::reason::DOMAIN };

/// IVS Real-Time: the Stages service's.
pub const IVS_REAL_TIME: AwsService = AwsService { name: "IVS Real-Time", domain: "ivsrealtime.amazonaws.com" };

impl AwsService {
    /// A message of the errors (worded for GameLift Streams) in this
    /// service's name.
    fn word(self, message: String) -> String {
        if self == GAMELIFT_STREAMS {
            message
        } else {
            message.replace(GAMELIFT_STREAMS.name, self.name)
        }
    }
}

/// What an RPC was about, for ErrorInfo metadata and ResourceInfo.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The AWS service called.
    pub service: AwsService,
    /// The AWS operation.
    pub operation: &'static str,
    /// The resource type named (`StreamSession` or `StreamGroup`).
    pub resource_type: &'static str,
    /// The identifier the caller gave.
    pub resource_name: String,
    /// Other resources the call names (type, identifier), which a NOT_FOUND
    /// may be about instead (the stream group of a session, an application).
    pub others: Vec<(&'static str, String)>,
}

impl CallContext {
    /// About `resource_name`, a `resource_type`.
    pub fn new(operation: &'static str, resource_type: &'static str, resource_name: &str) -> Self {
        Self {
            service: GAMELIFT_STREAMS,
            operation,
            resource_type,
            resource_name: resource_name.to_string(),
            others: Vec::new(),
        }
    }

    /// The same, for an RPC that calls `service`.
    pub fn calling(self, service: AwsService) -> Self {
        Self { service, ..self }
    }

    /// The same, naming `name`, a `resource_type`, too.
    pub fn also(mut self, resource_type: &'static str, name: &str) -> Self {
        self.others.push((resource_type, name.to_string()));
        self
    }

    /// The resource a NOT_FOUND saying `message` is about: the first the
    /// call names whose identifier (or an ARN's last part) the message
    /// names; the main one when it names none.
    fn missing(&self, message: &str) -> (&'static str, &str) {
        let named = |name: &str| {
            let id = name.rsplit('/').next().unwrap_or(name);
            !id.is_empty() && (message.contains(name) || message.contains(id))
        };
        let main = (self.resource_type, self.resource_name.as_str());
        let all = std::iter::once(main).chain(self.others.iter().map(|(kind, name)| (*kind, name.as_str())));
        all.into_iter().find(|(_, name)| named(name)).unwrap_or(main)
    }
}

/// The gRPC status for `err` in `ctx`.
pub fn to_status(err: &ApiError, ctx: &CallContext) -> Status {
    let mut meta = HashMap::from([("operation".to_string(), ctx.operation.to_string())]);
    let mut details = ErrorDetails::new();
    let (code, reason) = match err {
        ApiError::InvalidArgument(violations) => {
            add_violations(&mut details, violations, &mut meta);
            (Code::InvalidArgument, ErrorReason::InvalidField)
        }
        ApiError::Internal(_) => (Code::Internal, ErrorReason::Internal),
        ApiError::KeyReused => {
            details.add_bad_request_violation("request_id", "already used for a request with other parameters");
            (Code::InvalidArgument, ErrorReason::IdempotencyKeyReused)
        }
        ApiError::SessionEnded(session) => ended_code(session, &mut details, &mut meta),
        ApiError::NotReady { arn, status } => {
            meta.insert("sessionArn".into(), arn.clone());
            meta.insert("status".into(), status_name(*status));
            (Code::DeadlineExceeded, ErrorReason::SessionNotReady)
        }
        ApiError::WatchClosed => {
            details.set_retry_info(Some(DEFAULT_RETRY_DELAY));
            (Code::Unavailable, ErrorReason::WatchClosed)
        }
        ApiError::Call(failure) => {
            if let Some(id) = failure.error.request_id() {
                meta.insert("awsRequestId".into(), id.to_string());
            }
            meta.insert("attempts".into(), failure.attempts.to_string());
            if failure.gave_up != GiveUp::NotRetryable {
                meta.insert("gaveUp".into(), failure.gave_up.as_str().into());
            }
            if failure.gave_up == GiveUp::Unrepeatable {
                // Not retried, so no RetryInfo: a repeat would answer the same.
                if let SessionError::Upstream { code, .. } = &failure.error {
                    meta.insert("awsErrorCode".into(), code.clone());
                }
                (Code::Unknown, ErrorReason::OutcomeUnknown)
            } else if failure.gave_up == GiveUp::Deadline && matches!(failure.error, SessionError::Timeout) {
                // The caller's deadline, not GameLift Streams, cut the attempt short.
                (Code::DeadlineExceeded, ErrorReason::UpstreamTimeout)
            } else {
                let delay = failure.retry_after.unwrap_or(DEFAULT_RETRY_DELAY);
                session_code(&failure.error, ctx, delay, &mut details, &mut meta)
            }
        }
    };
    set_error_info_in(ctx.service.domain, &mut details, reason, meta);
    Status::with_error_details(code, ctx.service.word(summary(err)), details)
}

/// `err` in one bounded line: the status message and what logs carry.
pub fn summary(err: &ApiError) -> String {
    truncate(&err.to_string(), MAX_MESSAGE_BYTES).into_owned()
}

/// A session that ended while the caller waited for it to be ACTIVE: no
/// capacity is RESOURCE_EXHAUSTED, a bad signal request INVALID_ARGUMENT,
/// anything else FAILED_PRECONDITION.
fn ended_code(
    session: &pb::StreamSession,
    details: &mut ErrorDetails,
    meta: &mut HashMap<String, String>,
) -> (Code, ErrorReason) {
    use pb::StreamSessionStatusReason as R;
    meta.insert("sessionArn".into(), session.arn.clone());
    meta.insert("status".into(), status_name(session.status));
    meta.insert("statusReason".into(), reason_name(session.status_reason));
    let reason = if session.status() == pb::StreamSessionStatus::Error {
        ErrorReason::SessionError
    } else {
        ErrorReason::SessionTerminated
    };
    match session.status_reason() {
        R::PlacementTimeout => {
            details.add_quota_failure_violation(
                "StreamCapacity",
                "no stream capacity became free within the placement timeout",
            );
            (Code::ResourceExhausted, reason)
        }
        R::InvalidSignalRequest => {
            details.add_bad_request_violation("signal_request", "GameLift Streams rejected the signal request");
            (Code::InvalidArgument, reason)
        }
        _ => (Code::FailedPrecondition, reason),
    }
}

fn session_code(
    err: &SessionError,
    ctx: &CallContext,
    retry_delay: Duration,
    details: &mut ErrorDetails,
    meta: &mut HashMap<String, String>,
) -> (Code, ErrorReason) {
    if err.class().retryable() {
        details.set_retry_info(Some(retry_delay));
    }
    match err {
        SessionError::Upstream { kind, code, message, .. } => {
            meta.insert("awsErrorCode".into(), code.clone());
            match kind {
                UpstreamKind::Validation => {
                    let fields = upstream_fields(message);
                    let violations: Vec<FieldViolation> = fields
                        .into_iter()
                        .map(|field| FieldViolation { field, description: message.clone() })
                        .collect();
                    add_violations(details, &violations, meta);
                    (Code::InvalidArgument, ErrorReason::UpstreamValidation)
                }
                UpstreamKind::AccessDenied => (Code::PermissionDenied, ErrorReason::AccessDenied),
                UpstreamKind::NotFound => {
                    let (resource_type, name) = ctx.missing(message);
                    let name = truncate(name, MAX_FIELD_BYTES);
                    let description = truncate(message, MAX_DESCRIPTION_BYTES);
                    details.set_resource_info(resource_type, name, "", description);
                    (Code::NotFound, ErrorReason::NotFound)
                }
                UpstreamKind::Conflict => (Code::FailedPrecondition, ErrorReason::Conflict),
                UpstreamKind::TokenReused => {
                    details.add_bad_request_violation("request_id", "already used for a request with other parameters");
                    (Code::InvalidArgument, ErrorReason::IdempotencyKeyReused)
                }
                UpstreamKind::QuotaExceeded => {
                    details.add_quota_failure_violation(ctx.operation, truncate(message, MAX_DESCRIPTION_BYTES));
                    (Code::ResourceExhausted, ErrorReason::QuotaExceeded)
                }
                UpstreamKind::Throttling => (Code::Unavailable, ErrorReason::Throttled),
                UpstreamKind::Internal => (Code::Unavailable, ErrorReason::UpstreamInternalError),
                UpstreamKind::Unauthenticated => (Code::FailedPrecondition, ErrorReason::CredentialsRejected),
                UpstreamKind::PendingVerification => (Code::FailedPrecondition, ErrorReason::PendingVerification),
                UpstreamKind::Unknown => (Code::Internal, ErrorReason::UpstreamUnknownError),
            }
        }
        SessionError::Timeout => (Code::Unavailable, ErrorReason::UpstreamTimeout),
        SessionError::Connection(_) => (Code::Unavailable, ErrorReason::UpstreamUnreachable),
        SessionError::RateLimited => (Code::Unavailable, ErrorReason::RateLimited),
        SessionError::Credentials(_) => (Code::FailedPrecondition, ErrorReason::CredentialsUnavailable),
        SessionError::Other(_) => (Code::Internal, ErrorReason::UpstreamCallFailed),
    }
}

/// The proto fields an AWS ValidationException message names (`at 'x.y'`).
fn upstream_fields(message: &str) -> Vec<String> {
    message
        .split(" at '")
        .skip(1)
        .filter_map(|rest| rest.split('\'').next())
        .map(|path| {
            let mut parts = path.split('.');
            let root = match parts.next().unwrap_or_default() {
                "identifier" => "stream_group_identifier".to_string(),
                "clientToken" | "idempotencyToken" => "request_id".to_string(),
                "maxResults" => "page_size".to_string(),
                "nextToken" => "page_token".to_string(),
                other => snake_case(other),
            };
            parts.fold(root, |acc, p| format!("{acc}.{}", snake_case(p)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_validation_messages_name_proto_fields() {
        let msg = "2 validation errors detected: Value '0' at 'connectionTimeoutSeconds' failed; Value null at 'identifier' failed";
        assert_eq!(upstream_fields(msg), ["connection_timeout_seconds", "stream_group_identifier"]);
    }

    fn header_bytes(status: &Status) -> usize {
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).expect("headers");
        headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum()
    }

    #[test]
    fn a_flood_of_violations_makes_a_bounded_status_and_message() {
        let ctx = CallContext::new("StartStreamSession", "StreamGroup", "sg-1");
        let violations: Vec<FieldViolation> = (0..1000)
            .map(|i| FieldViolation {
                field: format!("additional_environment_variables[\"{}-{i}\"]", "é".repeat(300)),
                description: format!("the key must match the pattern {}", "[a-z]".repeat(200)),
            })
            .collect();
        let err = ApiError::InvalidArgument(violations);
        let status = to_status(&err, &ctx);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(header_bytes(&status) < 6 * 1024, "{} bytes of headers", header_bytes(&status));
        let details = status.get_error_details();
        let listed = &details.bad_request().expect("BadRequest").field_violations;
        assert!(listed.len() <= MAX_LISTED_VIOLATIONS + 1, "{}", listed.len());
        let last = listed.last().expect("a last entry");
        assert_eq!(last.field, "");
        assert_eq!(last.description, format!("and {} more", 1000 - (listed.len() - 1)));
        assert_eq!(
            details.error_info().expect("ErrorInfo").metadata.get("violations").map(String::as_str),
            Some("1000")
        );
        assert!(status.message().ends_with("; and 997 more"), "{}", status.message());
        assert!(summary(&err).len() <= MAX_MESSAGE_BYTES);
    }

    #[test]
    fn a_not_found_names_the_resource_its_message_names() {
        let group = "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1";
        let ctx = CallContext::new("GetStreamSession", "StreamSession", "ss-1").also("StreamGroup", group);
        let not_found = |message: &str| SessionError::Upstream {
            kind: UpstreamKind::NotFound,
            code: "ResourceNotFoundException".into(),
            message: message.into(),
            request_id: None,
        };
        let named = |message: &str| {
            let failure = CallFailure {
                error: not_found(message),
                attempts: 1,
                gave_up: GiveUp::NotRetryable,
                retry_after: None,
            };
            let details = to_status(&ApiError::Call(failure), &ctx).get_error_details();
            let info = details.resource_info().expect("ResourceInfo").clone();
            (info.resource_type, info.resource_name)
        };
        let typed = |kind: &str, name: &str| (kind.to_string(), name.to_string());
        assert_eq!(named("Stream group 'sg-1' was not found."), typed("StreamGroup", group), "an ARN's ID named");
        assert_eq!(
            named("Stream session 'ss-1' was not found in stream group 'sg-1'."),
            typed("StreamSession", "ss-1")
        );
        assert_eq!(named("Resource not found."), typed("StreamSession", "ss-1"), "none named: the main one");
    }

    #[test]
    fn a_few_violations_are_listed_whole() {
        let ctx = CallContext::new("GetStreamSession", "StreamSession", "x");
        let v = |field: &str| FieldViolation { field: field.into(), description: "required".into() };
        let status = to_status(&ApiError::InvalidArgument(vec![v("a"), v("b")]), &ctx);
        assert_eq!(status.message(), "invalid request: a: required; b: required");
        let details = status.get_error_details();
        assert_eq!(details.bad_request().expect("BadRequest").field_violations.len(), 2);
        assert!(!details.error_info().expect("ErrorInfo").metadata.contains_key("violations"));
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééééé", 7), "éé…");
        assert!(truncate(&"x".repeat(5000), 100).len() <= 100);
    }

    #[test]
    fn every_status_carries_error_info_in_the_domain() {
        let ctx = CallContext::new("GetStreamSession", "StreamSession", "x");
        let throttled = ApiError::Call(CallFailure {
            error: SessionError::Upstream {
                kind: UpstreamKind::Throttling,
                code: "ThrottlingException".into(),
                message: "Rate exceeded".into(),
                request_id: Some("req-1".into()),
            },
            attempts: 3,
            gave_up: GiveUp::AttemptsExhausted,
            retry_after: Some(Duration::from_millis(400)),
        });
        let status = to_status(&throttled, &ctx);
        assert_eq!(status.code(), Code::Unavailable);
        let details = status.get_error_details();
        let info = details.error_info().expect("ErrorInfo");
        assert_eq!((info.reason.as_str(), info.domain.as_str()), ("THROTTLED", crate::reason::DOMAIN));
        assert_eq!(info.metadata.get("awsRequestId").map(String::as_str), Some("req-1"));
        assert_eq!(details.retry_info().and_then(|r| r.retry_delay), Some(Duration::from_millis(400)));
        assert_eq!(info.metadata.get("attempts").map(String::as_str), Some("3"));
        assert_eq!(info.metadata.get("gaveUp").map(String::as_str), Some("attempts_exhausted"));
        let creds = ApiError::Call(CallFailure {
            error: SessionError::Credentials("none".into()),
            attempts: 1,
            gave_up: GiveUp::NotRetryable,
            retry_after: None,
        });
        let creds = to_status(&creds, &ctx);
        assert_eq!(creds.code(), Code::FailedPrecondition);
        assert!(creds.get_error_details().retry_info().is_none());
    }
}
