//! The proto's comments are the contract users read: these tests fail when
//! they and the code disagree, for both services (StreamSessions and
//! Stages, each with its own `ErrorReason`). Every `ErrorReason` value is
//! answered with a code its comment names (a sample of every error the
//! gateway makes, wire and auth included); the service and RPC comments name
//! only reasons the enum has, with codes the enum's comments allow, and
//! every reason somewhere; the RPCs with a `request_id` or `wait_for_active`
//! list what those add.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::status::{to_status, ApiError, CallContext, IVS_REAL_TIME};
use super::validate::FieldViolation;
use crate::proto::v1 as pb;
use crate::reason::ErrorReason;
use crate::sessions::resilience::GiveUp;
use crate::sessions::{CallFailure, SessionError, UpstreamKind};

/// One service's contract: its proto files, and what the tests need to know
/// about them.
struct Contract {
    /// `error_reason.proto`.
    reasons: &'static str,
    /// The service's proto file.
    service: &'static str,
    /// Where the service's comment starts, and its declaration.
    comment_start: &'static str,
    declaration: &'static str,
    /// Its RPCs.
    rpcs: &'static [&'static str],
    /// How many of them take a request_id.
    mutating: usize,
    /// What its errors are about.
    ctx: fn() -> CallContext,
    /// Reasons of its enum that it never answers (each says so in its
    /// comment: the enums of both services mean the same by each value).
    not_sent: &'static [&'static str],
}

const STREAM_SESSIONS: Contract = Contract {
    reasons: include_str!("../../proto/gamelift/streams/v1/error_reason.proto"),
    service: include_str!("../../proto/gamelift/streams/v1/stream_sessions.proto"),
    comment_start: "// Start, inspect",
    declaration: "service StreamSessions {",
    rpcs: &[
        "StartStreamSession",
        "GetStreamSession",
        "ListStreamSessions",
        "ListStreamSessionsByAccount",
        "TerminateStreamSession",
        "CreateStreamSessionConnection",
        "ExportStreamSessionFiles",
        "WatchStreamSession",
        "WatchStreamSessions",
    ],
    mutating: 4,
    ctx: || CallContext::new("GetStreamSession", "StreamSession", "s"),
    not_sent: &["PENDING_VERIFICATION", "OUTCOME_UNKNOWN"],
};

const STAGES: Contract = Contract {
    reasons: include_str!("../../proto/ivs/realtime/v1/error_reason.proto"),
    service: include_str!("../../proto/ivs/realtime/v1/stages.proto"),
    comment_start: "// Create, inspect and delete",
    declaration: "service Stages {",
    rpcs: &[
        "CreateStage",
        "GetStage",
        "ListStages",
        "UpdateStage",
        "DeleteStage",
        "CreateParticipantToken",
        "GetParticipant",
        "ListParticipants",
        "DisconnectParticipant",
        "ListParticipantEvents",
        "GetStageSession",
        "ListStageSessions",
        "StartComposition",
        "StopComposition",
        "GetComposition",
        "ListCompositions",
        "WatchStageParticipants",
    ],
    mutating: 7,
    ctx: || CallContext::new("GetStage", "Stage", "s").calling(IVS_REAL_TIME),
    not_sent: &[],
};

const CONTRACTS: [Contract; 2] = [STREAM_SESSIONS, STAGES];

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
fn declared(contract: &Contract) -> BTreeMap<String, BTreeSet<String>> {
    let value = Regex::new(r"^\s*([A-Z_]+) = \d+;").expect("regex");
    let mut out = BTreeMap::new();
    let mut comment = String::new();
    for line in contract.reasons.lines() {
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
        failure(SessionError::Connection("c".into()), GiveUp::Unrepeatable),
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
            UpstreamKind::PendingVerification,
            UpstreamKind::Unknown,
        ]
        .map(upstream),
    );
    errors
}

/// A status of every kind the gateway answers for `contract`'s service (the
/// waits for a session only StreamSessions has).
fn samples(contract: &Contract) -> Vec<Status> {
    let ctx = (contract.ctx)();
    let waits = |e: &&ApiError| matches!(e, ApiError::SessionEnded(_) | ApiError::NotReady { .. });
    let errors = sample_errors();
    let of_service = errors.iter().filter(|e| ctx.service == super::status::GAMELIFT_STREAMS || !waits(e));
    let mut statuses: Vec<Status> = of_service.map(|e| to_status(e, &ctx)).collect();
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
    for contract in &CONTRACTS {
        every_reason_answered(contract);
    }
}

fn every_reason_answered(contract: &Contract) {
    let declared = declared(contract);
    let mut answered = BTreeSet::new();
    for status in samples(contract) {
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
fn rpc_comment(contract: &Contract, name: &str) -> String {
    let lines: Vec<&str> = contract.service.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with(&format!("rpc {name}("))).expect("the rpc");
    let mut comment: Vec<&str> =
        lines[..at].iter().rev().map_while(|l| l.trim().strip_prefix("//")).collect::<Vec<_>>();
    comment.reverse();
    comment.join(" ")
}

/// The service's comment: the reasons every RPC may return.
fn service_comment(contract: &Contract) -> String {
    let service = contract.service;
    let start = service.find(contract.comment_start).expect("the service comment");
    let end = service.find(contract.declaration).expect("the service");
    service[start..end].lines().filter_map(|l| l.trim().strip_prefix("//")).collect::<Vec<_>>().join(" ")
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

#[test]
fn the_service_and_rpc_comments_name_each_reason_with_its_codes() {
    for contract in &CONTRACTS {
        comments_name_each_reason(contract);
    }
}

fn comments_name_each_reason(contract: &Contract) {
    let declared = declared(contract);
    let mut named = BTreeSet::new();
    let rpcs = contract.rpcs.iter().map(|rpc| rpc_comment(contract, rpc));
    let comments = std::iter::once(service_comment(contract)).chain(rpcs);
    for comment in comments {
        for (reason, codes) in pairs(&comment, &declared) {
            assert!(!codes.is_empty(), "{reason} without its code in: {comment}");
            let allowed = &declared[&reason];
            assert!(codes.is_subset(allowed), "{reason} with {codes:?}, but ErrorReason says {allowed:?}");
            named.insert(reason);
        }
    }
    let every: BTreeSet<String> = declared
        .keys()
        .filter(|r| *r != "ERROR_REASON_UNSPECIFIED" && !contract.not_sent.contains(&r.as_str()))
        .cloned()
        .collect();
    assert_eq!(named, every, "every reason is named where an RPC can return it");
}

/// Whether `rpc`'s request message has `field`.
fn request_has(contract: &Contract, rpc: &str, field: &str) -> bool {
    let service = contract.service;
    let start = service.find(&format!("message {rpc}Request {{")).expect("the request message");
    let body = &service[start..start + service[start..].find("\n}").expect("its end")];
    body.contains(&format!(" {field} = "))
}

#[test]
fn each_rpc_lists_what_its_request_id_wait_and_stream_add() {
    for contract in &CONTRACTS {
        rpcs_list_what_they_add(contract);
    }
}

fn rpcs_list_what_they_add(contract: &Contract) {
    let request_has = |rpc: &str, field: &str| request_has(contract, rpc, field);
    for rpc in contract.rpcs.iter().copied() {
        let comment = rpc_comment(contract, rpc);
        let lists = |reason: &str| mentions(&comment, reason);
        let (keyed, waits) = (request_has(rpc, "request_id"), request_has(rpc, "wait_for_active"));
        assert_eq!(lists("IDEMPOTENCY_KEY_REUSED"), keyed, "{rpc}: {comment}");
        assert_eq!(lists("SESSION_NOT_READY"), waits, "{rpc}: {comment}");
        assert_eq!(lists("WATCH_CLOSED"), waits || rpc.starts_with("Watch"), "{rpc}: {comment}");
    }
    let mutating = contract.rpcs.iter().filter(|r| request_has(r, "request_id")).count();
    assert_eq!(mutating, contract.mutating, "the mutating RPCs");
}

/// Each value of `enum ErrorReason` in `reasons` and its number.
fn numbered(reasons: &str) -> BTreeMap<String, i32> {
    let value = Regex::new(r"^\s*([A-Z_]+) = (\d+);").expect("regex");
    reasons.lines().filter_map(|l| value.captures(l)).map(|m| (m[1].to_string(), m[2].parse().expect("n"))).collect()
}

#[test]
fn both_services_reasons_are_one_vocabulary() {
    let streams = numbered(STREAM_SESSIONS.reasons);
    let stages = numbered(STAGES.reasons);
    for (name, number) in &stages {
        assert_eq!(streams.get(name), Some(number), "{name} means the same in both enums");
    }
    for reserved in ["SESSION_ERROR", "SESSION_TERMINATED", "SESSION_NOT_READY"] {
        assert!(STAGES.reasons.contains(&format!("\"{reserved}\"")), "{reserved} is reserved in Stages' enum");
    }
}
