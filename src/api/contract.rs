//! The proto's comments are the contract users read: these tests fail when
//! they and the code disagree. Every `ErrorReason` value is answered with a
//! code its comment names (a sample of every error the gateway makes, wire
//! and auth included); the service and RPC comments name only reasons the
//! enum has, with codes the enum's comments allow, and every reason somewhere;
//! the RPCs with a `request_id` or `wait_for_active` list what those add.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::status::{to_status, ApiError, CallContext};
use super::validate::FieldViolation;
use crate::proto::v1 as pb;
use crate::reason::ErrorReason;
use crate::sessions::resilience::GiveUp;
use crate::sessions::{CallFailure, SessionError, UpstreamKind};

const REASONS: &str = include_str!("../../proto/gamelift/streams/v1/error_reason.proto");
const SERVICE: &str = include_str!("../../proto/gamelift/streams/v1/stream_sessions.proto");

/// The gRPC code names, as the comments spell them.
const CODES: [&str; 16] = [
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The name of `code` (CODES is in code order, from 1).
fn code_name(code: Code) -> &'static str {
    usize::try_from(i32::from(code) - 1).ok().and_then(|i| CODES.get(i)).copied().unwrap_or("OK")
}

/// Each value of `enum ErrorReason` and the codes named in its comment.
fn declared() -> BTreeMap<String, BTreeSet<String>> {
    let value = Regex::new(r"^\s*([A-Z_]+) = \d+;").expect("regex");
    let mut out = BTreeMap::new();
    let mut comment = String::new();
    for line in REASONS.lines() {
        if let Some(text) = line.trim().strip_prefix("//") {
            comment.push_str(text);
            comment.push(' ');
        } else if let Some(m) = value.captures(line) {
            let codes = CODES.iter().filter(|c| mentions(&comment, c)).map(|c| c.to_string()).collect();
            out.insert(m[1].to_string(), codes);
            comment.clear();
        } else {
            comment.clear();
        }
    }
    out
}

/// Whether `text` has `word` as a whole upper-case word (not inside `A_WORD`).
fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c == '_' || c.is_ascii_uppercase());
        !part(before) && !part(after)
    })
}

fn failure(error: SessionError, gave_up: GiveUp) -> ApiError {
    ApiError::Call(CallFailure { error, attempts: 1, gave_up, retry_after: None })
}

fn upstream(kind: UpstreamKind) -> ApiError {
    let error = SessionError::Upstream { kind, code: "SomeException".into(), message: "m".into(), request_id: None };
    failure(error, GiveUp::NotRetryable)
}

fn ended(status: pb::StreamSessionStatus, reason: pb::StreamSessionStatusReason) -> ApiError {
    let session = pb::StreamSession { status: status.into(), status_reason: reason.into(), ..Default::default() };
    ApiError::SessionEnded(Box::new(session))
}

/// An error of every kind the gateway answers.
pub(super) fn sample_errors() -> Vec<ApiError> {
    use pb::StreamSessionStatus as S;
    use pb::StreamSessionStatusReason as R;
    let violation = FieldViolation { field: "f".into(), description: "d".into() };
    let mut errors = vec![
        ApiError::InvalidArgument(vec![violation]),
        ApiError::KeyReused,
        ApiError::Internal("x".into()),
        ended(S::Error, R::PlacementTimeout),
        ended(S::Error, R::InvalidSignalRequest),
        ended(S::Error, R::InternalError),
        ended(S::Terminated, R::ConnectionTimeout),
        ApiError::NotReady { arn: "a".into(), status: S::Activating.into() },
        ApiError::WatchClosed,
        failure(SessionError::Timeout, GiveUp::Deadline),
        failure(SessionError::Timeout, GiveUp::AttemptsExhausted),
        failure(SessionError::Connection("c".into()), GiveUp::AttemptsExhausted),
        failure(SessionError::RateLimited, GiveUp::Deadline),
        failure(SessionError::Credentials("c".into()), GiveUp::NotRetryable),
        failure(SessionError::Other("o".into()), GiveUp::NotRetryable),
    ];
    errors.extend(
        [
            UpstreamKind::Validation,
            UpstreamKind::AccessDenied,
            UpstreamKind::NotFound,
            UpstreamKind::Conflict,
            UpstreamKind::TokenReused,
            UpstreamKind::QuotaExceeded,
            UpstreamKind::Throttling,
            UpstreamKind::Internal,
            UpstreamKind::Unauthenticated,
            UpstreamKind::Unknown,
        ]
        .map(upstream),
    );
    errors
}

/// A status of every kind the gateway answers.
fn samples() -> Vec<Status> {
    let ctx = CallContext::new("GetStreamSession", "StreamSession", "s");
    let mut statuses: Vec<Status> = sample_errors().iter().map(|e| to_status(e, &ctx)).collect();
    statuses.extend([
        crate::wire::malformed("m"),
        crate::wire::too_large(1),
        crate::wire::deadline_exceeded(),
        crate::auth::unauthenticated(),
    ]);
    statuses
}

#[test]
fn every_reason_is_answered_with_a_code_its_comment_names() {
    let declared = declared();
    let mut answered = BTreeSet::new();
    for status in samples() {
        let reason = status.get_error_details().error_info().expect("ErrorInfo").reason.clone();
        let codes = declared.get(&reason).unwrap_or_else(|| panic!("{reason} is not in ErrorReason"));
        let code = code_name(status.code());
        assert!(codes.contains(code), "{reason} answered with {code}; its comment names {codes:?}");
        answered.insert(reason);
    }
    let listed: BTreeSet<String> = declared.keys().filter(|r| *r != "ERROR_REASON_UNSPECIFIED").cloned().collect();
    assert_eq!(answered, listed, "a sample of every reason, and no reason the gateway never answers");
    for (name, value) in &declared {
        assert_eq!(ErrorReason::from_str_name(name).map(|r| r.as_str_name()), Some(name.as_str()), "generated");
        assert!(name == "ERROR_REASON_UNSPECIFIED" || !value.is_empty(), "{name}'s comment names its code");
    }
}

/// The comment of `rpc NAME` (the lines just above it).
fn rpc_comment(name: &str) -> String {
    let lines: Vec<&str> = SERVICE.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with(&format!("rpc {name}("))).expect("the rpc");
    let mut comment: Vec<&str> =
        lines[..at].iter().rev().map_while(|l| l.trim().strip_prefix("//")).collect::<Vec<_>>();
    comment.reverse();
    comment.join(" ")
}

/// The service's comment: the reasons every RPC may return.
fn service_comment() -> String {
    let start = SERVICE.find("// Start, inspect").expect("the service comment");
    let end = SERVICE.find("service StreamSessions {").expect("the service");
    SERVICE[start..end].lines().filter_map(|l| l.trim().strip_prefix("//")).collect::<Vec<_>>().join(" ")
}

/// `(reason, codes)` as a comment pairs them: `REASON (CODE or CODE)` in the
/// RPCs' comments, `CODE: REASON, REASON;` in the service's.
fn pairs(comment: &str, declared: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, BTreeSet<String>)> {
    let codes_in = |text: &str| CODES.iter().filter(|c| mentions(text, c)).map(|c| c.to_string()).collect();
    let mut out = Vec::new();
    let grouped = Regex::new(r"([A-Z_]+)(?:, with [^:]+)?: ([^;.]+)[;.]").expect("regex");
    for group in grouped.captures_iter(comment).filter(|g| CODES.contains(&&g[1])) {
        for reason in declared.keys().filter(|r| mentions(&group[2], r)) {
            out.push((reason.clone(), BTreeSet::from([group[1].to_string()])));
        }
    }
    let single = Regex::new(r"([A-Z_]{4,}) \(([^)]*)\)").expect("regex");
    for m in single.captures_iter(comment).filter(|m| declared.contains_key(&m[1])) {
        out.push((m[1].to_string(), codes_in(&m[2])));
    }
    out
}

const RPCS: [&str; 9] = [
    "StartStreamSession",
    "GetStreamSession",
    "ListStreamSessions",
    "ListStreamSessionsByAccount",
    "TerminateStreamSession",
    "CreateStreamSessionConnection",
    "ExportStreamSessionFiles",
    "WatchStreamSession",
    "WatchStreamSessions",
];

#[test]
fn the_service_and_rpc_comments_name_each_reason_with_its_codes() {
    let declared = declared();
    let mut named = BTreeSet::new();
    let comments = std::iter::once(service_comment()).chain(RPCS.map(rpc_comment));
    for comment in comments {
        for (reason, codes) in pairs(&comment, &declared) {
            assert!(!codes.is_empty(), "{reason} without its code in: {comment}");
            let allowed = &declared[&reason];
            assert!(codes.is_subset(allowed), "{reason} with {codes:?}, but ErrorReason says {allowed:?}");
            named.insert(reason);
        }
    }
    let every: BTreeSet<String> = declared.keys().filter(|r| *r != "ERROR_REASON_UNSPECIFIED").cloned().collect();
    assert_eq!(named, every, "every reason is named where an RPC can return it");
}

/// Whether `rpc`'s request message has `field`.
fn request_has(rpc: &str, field: &str) -> bool {
    let start = SERVICE.find(&format!("message {rpc}Request {{")).expect("the request message");
    let body = &SERVICE[start..start + SERVICE[start..].find("\n}").expect("its end")];
    body.contains(&format!(" {field} = "))
}

#[test]
fn each_rpc_lists_what_its_request_id_wait_and_stream_add() {
    for rpc in RPCS {
        let comment = rpc_comment(rpc);
        let lists = |reason: &str| mentions(&comment, reason);
        let (keyed, waits) = (request_has(rpc, "request_id"), request_has(rpc, "wait_for_active"));
        assert_eq!(lists("IDEMPOTENCY_KEY_REUSED"), keyed, "{rpc}: {comment}");
        assert_eq!(lists("SESSION_NOT_READY"), waits, "{rpc}: {comment}");
        assert_eq!(lists("WATCH_CLOSED"), waits || rpc.starts_with("Watch"), "{rpc}: {comment}");
    }
    assert!(RPCS.iter().filter(|r| request_has(r, "request_id")).count() == 4, "the four mutating RPCs");
}
