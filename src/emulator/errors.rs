//! The error shapes of the GameLift Streams and IVS Real-Time APIs as the
//! emulator answers them:
//! an error type (sent as `X-Amzn-ErrorType`), its HTTP status from the model,
//! and a message. Knows nothing about state or routing.

/// An error the emulator answers instead of an operation's output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Input failed the model's constraints or the operation's rules (400).
    #[error("{0}")]
    Validation(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    AccessDenied(String),
    /// The named resource does not exist (404).
    #[error("{0}")]
    ResourceNotFound(String),
    /// The resource is in a state that does not allow the operation (409).
    #[error("{0}")]
    Conflict(String),
    /// A service quota would be exceeded (402).
    #[error("{0}")]
    ServiceQuotaExceeded(String),
    /// The request rate is above the operation's limit (429).
    #[error("{0}")]
    Throttling(String),
    /// The service failed (500).
    #[error("{0}")]
    InternalServer(String),
    /// The body is not the JSON the operation expects (400).
    #[error("{0}")]
    Serialization(String),
    /// No operation of the model has this method and path (404).
    #[error("{0}")]
    UnknownOperation(String),
    /// The operation exists in the model but the emulator does not implement it (501).
    #[error("{0}")]
    NotImplemented(String),
    /// IVS Real-Time's account is not verified yet (403).
    #[error("{0}")]
    PendingVerification(String),
}

impl ApiError {
    /// The error of this type with `message`, for the types the model declares.
    pub fn of_type(error_type: &str, message: String) -> Option<Self> {
        Some(match error_type {
            "ValidationException" => Self::Validation(message),
            "AccessDeniedException" => Self::AccessDenied(message),
            "ResourceNotFoundException" => Self::ResourceNotFound(message),
            "ConflictException" => Self::Conflict(message),
            "ServiceQuotaExceededException" => Self::ServiceQuotaExceeded(message),
            "ThrottlingException" => Self::Throttling(message),
            "InternalServerException" => Self::InternalServer(message),
            "PendingVerification" => Self::PendingVerification(message),
            _ => return None,
        })
    }

    /// The error type, as the `X-Amzn-ErrorType` header and the SDKs name it.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::Conflict(_) => "ConflictException",
            Self::ServiceQuotaExceeded(_) => "ServiceQuotaExceededException",
            Self::Throttling(_) => "ThrottlingException",
            Self::InternalServer(_) => "InternalServerException",
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::NotImplemented(_) => "NotImplementedException",
            Self::PendingVerification(_) => "PendingVerification",
        }
    }

    /// The HTTP status the model gives this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::Serialization(_) => 400,
            Self::ServiceQuotaExceeded(_) => 402,
            Self::AccessDenied(_) | Self::PendingVerification(_) => 403,
            Self::ResourceNotFound(_) | Self::UnknownOperation(_) => 404,
            Self::Conflict(_) => 409,
            Self::Throttling(_) => 429,
            Self::InternalServer(_) => 500,
            Self::NotImplemented(_) => 501,
        }
    }
}
