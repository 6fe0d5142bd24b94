//! What can go wrong talking to GameLift Streams, classified from the SDK's
//! errors into the few cases callers act on differently. Messages never carry
//! signal requests, signal responses or credentials.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_gameliftstreams::config::http::HttpResponse;
use aws_sdk_gameliftstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_gameliftstreams::operation::RequestId;

/// An error type GameLift Streams answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UpstreamKind {
    /// ValidationException (400).
    Validation,
    /// AccessDeniedException (403).
    AccessDenied,
    /// ResourceNotFoundException (404).
    NotFound,
    /// ConflictException (409).
    Conflict,
    /// ConflictException (or IdempotentParameterMismatchException) saying the
    /// ClientToken was already used with other parameters: the caller's
    /// `request_id` was, by a sidecar that did not know it (Redis down).
    TokenReused,
    /// ServiceQuotaExceededException (402).
    QuotaExceeded,
    /// ThrottlingException (429).
    Throttling,
    /// InternalServerException (500) or another 5xx.
    Internal,
    /// AWS rejected the credentials or the signature (expired, unknown key).
    Unauthenticated,
    /// PendingVerification (IVS Real-Time): the account may not create
    /// resources until AWS verified it.
    PendingVerification,
    /// An error type this sidecar does not know.
    Unknown,
}

/// A failed call to GameLift Streams.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SessionError {
    /// GameLift Streams answered with an error.
    #[error("GameLift Streams {code}: {message}")]
    Upstream {
        /// The classified error type.
        kind: UpstreamKind,
        /// The error type as AWS named it.
        code: String,
        /// AWS's message.
        message: String,
        /// The AWS request id, when AWS sent one.
        request_id: Option<String>,
    },
    /// No answer in time.
    #[error("GameLift Streams did not answer in time")]
    Timeout,
    /// The connection failed or broke before an answer.
    #[error("cannot reach GameLift Streams: {0}")]
    Connection(String),
    /// The sidecar's own rate limit for the operation leaves no send slot
    /// before the caller's deadline; nothing was sent.
    #[error("the sidecar's rate limit for this operation leaves no slot before the deadline")]
    RateLimited,
    /// No usable AWS credentials.
    #[error("AWS credentials are unavailable: {0}")]
    Credentials(String),
    /// Anything else the SDK reported (a malformed answer, a request it could not build).
    #[error("GameLift Streams call failed: {0}")]
    Other(String),
}

/// What a failure means, decided once here and read by the retry layer (what
/// it retries), the idempotency replay (what it keeps for a repeated
/// `request_id`), the watch pollers (what the next round may fix) and the
/// gRPC status mapping (what carries RetryInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// GameLift Streams throttled: worth retrying, later and slower.
    Throttling,
    /// No answer, a 5xx, a broken connection or no local send slot: the same
    /// call may succeed if made again.
    Transient,
    /// Made again with the same parameters it fails again (invalid input, an
    /// unknown resource): kept and replayed to a repeated `request_id`.
    Final,
    /// Not retried, and not kept either: it depends on state that can change
    /// (a conflict, a quota, access, credentials, an unknown error).
    Refused,
}

impl Class {
    /// Whether making the same call again may succeed.
    pub fn retryable(self) -> bool {
        matches!(self, Self::Throttling | Self::Transient)
    }

    /// Whether the outcome may be replayed to a repeated `request_id`.
    pub fn replayable(self) -> bool {
        self == Self::Final
    }
}

impl SessionError {
    /// Whether this failure of TerminateStreamSession may be AWS refusing a
    /// session still in ACTIVATING (a ValidationException, or a
    /// ConflictException which would say the same): a read of the session tells.
    pub fn refused_while_activating(&self) -> bool {
        matches!(self, Self::Upstream { kind: UpstreamKind::Validation | UpstreamKind::Conflict, .. })
    }

    /// The failure's [`Class`].
    pub fn class(&self) -> Class {
        match self {
            Self::Upstream { kind: UpstreamKind::Throttling, .. } => Class::Throttling,
            Self::Upstream { kind: UpstreamKind::Internal, .. }
            | Self::Timeout
            | Self::Connection(_)
            | Self::RateLimited => Class::Transient,
            Self::Upstream { kind: UpstreamKind::Validation | UpstreamKind::NotFound, .. } => Class::Final,
            // A ClientToken conflict is refused, never kept: the outcome of the
            // key is its first parameters', not these.
            Self::Upstream {
                kind:
                    UpstreamKind::Conflict
                    | UpstreamKind::TokenReused
                    | UpstreamKind::QuotaExceeded
                    | UpstreamKind::AccessDenied
                    | UpstreamKind::Unauthenticated
                    | UpstreamKind::PendingVerification
                    | UpstreamKind::Unknown,
                ..
            }
            | Self::Credentials(_)
            | Self::Other(_) => Class::Refused,
        }
    }

    /// How an attempt that failed so ended, as a metric label: the AWS error
    /// type, or what kept AWS from answering.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Upstream { kind, .. } => match kind {
                UpstreamKind::Validation => "ValidationException",
                UpstreamKind::AccessDenied => "AccessDeniedException",
                UpstreamKind::NotFound => "ResourceNotFoundException",
                UpstreamKind::Conflict | UpstreamKind::TokenReused => "ConflictException",
                UpstreamKind::QuotaExceeded => "ServiceQuotaExceededException",
                UpstreamKind::Throttling => "ThrottlingException",
                UpstreamKind::Internal => "InternalServerException",
                UpstreamKind::Unauthenticated => "Unauthenticated",
                UpstreamKind::PendingVerification => "PendingVerification",
                UpstreamKind::Unknown => "UnknownError",
            },
            Self::Timeout => "Timeout",
            Self::Connection(_) => "ConnectionError",
            Self::RateLimited => "RateLimited",
            Self::Credentials(_) => "CredentialsUnavailable",
            Self::Other(_) => "Other",
        }
    }

    /// The AWS request id, when there is one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Upstream { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }
}

fn kind_of(code: &str, message: &str) -> UpstreamKind {
    match code {
        "ConflictException" if message.contains("ClientToken") => UpstreamKind::TokenReused,
        "IdempotentParameterMismatchException" => UpstreamKind::TokenReused,
        "ValidationException" => UpstreamKind::Validation,
        "AccessDeniedException" => UpstreamKind::AccessDenied,
        "ResourceNotFoundException" => UpstreamKind::NotFound,
        "ConflictException" => UpstreamKind::Conflict,
        "ServiceQuotaExceededException" => UpstreamKind::QuotaExceeded,
        "PendingVerification" => UpstreamKind::PendingVerification,
        "ThrottlingException" | "TooManyRequestsException" => UpstreamKind::Throttling,
        "InternalServerException" | "ServiceUnavailableException" => UpstreamKind::Internal,
        "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "MissingAuthenticationTokenException" => UpstreamKind::Unauthenticated,
        _ => UpstreamKind::Unknown,
    }
}

/// The message of an error whose service models it as a member of its own
/// (IVS Real-Time's `exceptionMessage`), from the answer's JSON body; empty
/// when there is none.
fn modelled_message(body: Option<&[u8]>) -> String {
    let parsed = body.and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
    parsed
        .as_ref()
        .and_then(|v| v.get("exceptionMessage"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Why a connection could not be made, from `err`'s chain: the kind (DNS,
/// refused, TLS) and the innermost error's words.
fn connection_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        chain.push(e);
        current = e.source();
    }
    let refused = chain.iter().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    let text: Vec<String> = chain.iter().map(|e| e.to_string().to_lowercase()).collect();
    let said = |words: &[&str]| text.iter().any(|t| words.iter().any(|w| t.contains(w)));
    let kind = if said(&["dns error", "failed to lookup address", "name or service not known"]) {
        "DNS lookup failed"
    } else if refused {
        "connection refused"
    } else if said(&["certificate", "tls", "handshake"]) {
        "TLS failed"
    } else {
        "connection failed"
    };
    match chain.last().map(ToString::to_string) {
        Some(innermost) if chain.len() > 1 => format!("{kind} ({innermost})"),
        _ => kind.to_string(),
    }
}

/// The credentials error anywhere in `err`'s chain, as text.
fn credentials_in(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(creds) = e.downcast_ref::<CredentialsError>() {
            return Some(creds.to_string());
        }
        current = e.source();
    }
    None
}

impl SessionError {
    /// The same, a connection failure naming `endpoint`, the address it was for.
    pub fn at(self, endpoint: &str) -> Self {
        match self {
            Self::Connection(cause) => Self::Connection(format!("{endpoint}: {cause}")),
            other => other,
        }
    }
}

impl<E> From<SdkError<E, HttpResponse>> for SessionError
where
    E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
{
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        if let Some(reason) = credentials_in(&err) {
            return Self::Credentials(reason);
        }
        match &err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let status = ctx.raw().status().as_u16();
                let code = e.code().unwrap_or("Unknown").to_string();
                let message = match e.message().filter(|m| !m.is_empty()) {
                    Some(message) => message.to_string(),
                    None => modelled_message(ctx.raw().body().bytes()),
                };
                let kind = match kind_of(&code, &message) {
                    UpstreamKind::Unknown if status >= 500 => UpstreamKind::Internal,
                    UpstreamKind::Unknown if status == 429 => UpstreamKind::Throttling,
                    kind => kind,
                };
                Self::Upstream { kind, code, message, request_id: e.request_id().map(str::to_string) }
            }
            SdkError::TimeoutError(_) => Self::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => Self::Timeout,
            SdkError::DispatchFailure(d) if d.is_io() => Self::Connection(connection_cause(&err)),
            SdkError::DispatchFailure(d) if !d.is_user() => {
                Self::Connection("the connection broke before an answer".into())
            }
            SdkError::ResponseError(_) => Self::Connection("the connection closed before a complete answer".into()),
            other => Self::Other(aws_sdk_gameliftstreams::error::DisplayErrorContext(other).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(kind: UpstreamKind) -> SessionError {
        SessionError::Upstream { kind, code: "X".into(), message: "m".into(), request_id: None }
    }

    #[test]
    fn every_failure_has_one_class_that_decides_retry_and_replay() {
        use UpstreamKind as K;
        let cases = [
            (upstream(K::Throttling), Class::Throttling),
            (upstream(K::Internal), Class::Transient),
            (SessionError::Timeout, Class::Transient),
            (SessionError::Connection("reset".into()), Class::Transient),
            (SessionError::RateLimited, Class::Transient),
            (upstream(K::Validation), Class::Final),
            (upstream(K::NotFound), Class::Final),
            (upstream(K::TokenReused), Class::Refused),
            (upstream(K::Conflict), Class::Refused),
            (upstream(K::QuotaExceeded), Class::Refused),
            (upstream(K::AccessDenied), Class::Refused),
            (upstream(K::Unauthenticated), Class::Refused),
            (upstream(K::Unknown), Class::Refused),
            (SessionError::Credentials("none".into()), Class::Refused),
            (SessionError::Other("odd".into()), Class::Refused),
        ];
        for (error, class) in cases {
            assert_eq!(error.class(), class, "{error}");
            assert!(!(class.retryable() && class.replayable()), "{error}: retried outcomes are never replayed");
        }
    }
}
