//! Which of the emulator's two services a request is for (GameLift Streams or
//! IVS Real-Time), and what follows from it: the model, the key its calls are
//! counted, limited and faulted under, and the error body. The SigV4
//! credential scope's service decides when present; otherwise the path does
//! (the tag operations share `/tags/{arn}`: an `arn:aws:ivs:` resource is IVS's).

use serde_json::{json, Value};

use crate::service_model::{self, ServiceModel};

/// The prefix of the keys of IVS Real-Time's operations whose names GameLift
/// Streams also has (`ivs-realtime:TagResource`).
pub const IVS_KEY_PREFIX: &str = "ivs-realtime:";

/// A service the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Amazon GameLift Streams (restJson1, errors `{"Message": ...}`).
    GameLiftStreams,
    /// Amazon IVS Real-Time (restJson1, errors `{"exceptionMessage": ...}`).
    IvsRealTime,
}

impl Service {
    /// The service's model.
    pub fn model(self) -> &'static ServiceModel {
        match self {
            Self::GameLiftStreams => service_model::model(),
            Self::IvsRealTime => service_model::ivs_realtime_model(),
        }
    }

    /// The service a request is for, from its `Authorization` header's
    /// credential scope, else from its method and path.
    pub fn of_request(authorization: Option<&str>, method: &str, path: &str) -> Self {
        let scoped = authorization.and_then(credential_service);
        for service in [Self::GameLiftStreams, Self::IvsRealTime] {
            if scoped == Some(service.model().metadata.signing_name.as_str()) {
                return service;
            }
        }
        let gls = Self::GameLiftStreams.model().route(method, path);
        let ivs = Self::IvsRealTime.model().route(method, path);
        match (gls, ivs) {
            (None, Some(_)) => Self::IvsRealTime,
            (Some(_), Some((_, labels))) if labels.values().any(|v| v.starts_with("arn:aws:ivs:")) => Self::IvsRealTime,
            _ => Self::GameLiftStreams,
        }
    }

    /// The key calls of `operation` are counted, limited and faulted under:
    /// the name itself, but `ivs-realtime:<name>` for an IVS operation whose
    /// name GameLift Streams also has.
    pub fn call_key(self, operation: &str) -> String {
        match self {
            Self::IvsRealTime if Self::GameLiftStreams.model().operation(operation).is_some() => {
                format!("{IVS_KEY_PREFIX}{operation}")
            }
            _ => operation.to_string(),
        }
    }

    /// The body of an error answer with `message`, as the model's error shapes have it.
    pub fn error_body(self, message: &str) -> Value {
        match self {
            Self::GameLiftStreams => json!({ "Message": message }),
            Self::IvsRealTime => json!({ "exceptionMessage": message }),
        }
    }
}

/// Whether `key` names an operation as [`Service::call_key`] writes it.
pub fn is_call_key(key: &str) -> bool {
    [Service::GameLiftStreams, Service::IvsRealTime]
        .iter()
        .any(|s| s.model().operations().any(|op| s.call_key(&op.name) == key))
}

/// The service of a SigV4 `Authorization` header's credential scope
/// (`Credential=AKID/20260101/us-west-2/ivs/aws4_request`).
fn credential_service(authorization: &str) -> Option<&str> {
    let credential = authorization.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_scope_wins_over_the_path() {
        let ivs =
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/ivs/aws4_request, SignedHeaders=host, Signature=x";
        let gls = ivs.replace("/ivs/", "/gameliftstreams/");
        assert_eq!(Service::of_request(Some(ivs), "GET", "/tags/x"), Service::IvsRealTime);
        assert_eq!(Service::of_request(Some(&gls), "POST", "/CreateStage"), Service::GameLiftStreams);
    }

    #[test]
    fn without_a_signature_the_path_and_the_arn_decide() {
        assert_eq!(Service::of_request(None, "POST", "/CreateStage"), Service::IvsRealTime);
        assert_eq!(Service::of_request(None, "GET", "/streamgroups"), Service::GameLiftStreams);
        let ivs_tags = "/tags/arn%3Aaws%3Aivs%3Aus-west-2%3A111122223333%3Astage%2Fabc";
        assert_eq!(Service::of_request(None, "GET", ivs_tags), Service::IvsRealTime);
        let gls_tags = "/tags/arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A111122223333%3Astreamgroup%2Fsg-1";
        assert_eq!(Service::of_request(None, "GET", gls_tags), Service::GameLiftStreams);
        assert_eq!(Service::of_request(None, "GET", "/nowhere"), Service::GameLiftStreams);
    }

    #[test]
    fn only_colliding_ivs_names_are_prefixed() {
        assert_eq!(Service::IvsRealTime.call_key("CreateStage"), "CreateStage");
        assert_eq!(Service::IvsRealTime.call_key("TagResource"), "ivs-realtime:TagResource");
        assert_eq!(Service::GameLiftStreams.call_key("TagResource"), "TagResource");
        for key in ["CreateStage", "TagResource", "ivs-realtime:UntagResource", "StartStreamSession"] {
            assert!(is_call_key(key), "{key}");
        }
        for key in ["ivs-realtime:CreateStage", "Nope", "ivs-realtime:StartStreamSession"] {
            assert!(!is_call_key(key), "{key}");
        }
    }
}
