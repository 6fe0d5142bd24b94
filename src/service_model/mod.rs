//! botocore's models of GameLift Streams (`service-2.json`) and of IVS Real-Time
//! (`ivs-realtime-2.json`), embedded and read once: which operation a method and
//! path name, where each input member lives on the wire, every constraint an
//! input must satisfy, and how an output's timestamps are written. The emulator
//! validates requests with them as AWS does; the gateway validates its gRPC input
//! with the same constraints before any AWS call. Never echoes a sensitive value.
//!
//! [`parse`] reads the JSON, [`route`] maps the wire to operations and inputs,
//! [`validate`] checks values, [`messages`] words violations as AWS does,
//! [`pattern`] translates the model's Java patterns, and [`render`] writes an
//! output as its shape says.

mod messages;
mod parse;
mod pattern;
mod render;
mod route;
mod validate;

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

pub use messages::aws_message;
pub use validate::{Constraint, PathPart, Violation};

/// GameLift Streams' model as botocore ships it, documentation stripped.
const MODEL_JSON: &str = include_str!("../service-2.json");

/// IVS Real-Time's model as botocore ships it, documentation stripped.
const IVS_REALTIME_MODEL_JSON: &str = include_str!("../ivs-realtime-2.json");

/// One operation of the model.
#[derive(Debug)]
pub struct Operation {
    /// The operation's name, e.g. `StartStreamSession`.
    pub name: String,
    /// The HTTP method.
    pub method: String,
    /// The status of a successful answer.
    pub response_code: u16,
    /// The input shape, if the operation takes one.
    pub input: Option<String>,
    /// The output shape, if the operation answers one.
    pub output: Option<String>,
    segments: Vec<Segment>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Label(String),
}

/// Where an input member travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A member of the JSON body.
    Body,
    /// A label of the path.
    Uri,
    /// A query-string parameter.
    Query,
    /// An HTTP header.
    Header,
}

/// A member of a structure.
#[derive(Debug)]
pub struct Member {
    /// The member's name.
    pub name: String,
    /// The member's target shape.
    pub shape: String,
    /// Where it travels.
    pub location: Location,
    /// Its name on the wire (path label, query parameter or header).
    pub location_name: String,
}

/// A shape of the model with the constraints the emulator checks.
#[derive(Debug)]
pub enum Shape {
    /// A structure with its members.
    Structure {
        /// Members in model order.
        members: Vec<Member>,
        /// Names of the required members.
        required: Vec<String>,
    },
    /// A list.
    List {
        /// Element shape.
        member: String,
        /// Size range.
        min: Option<i64>,
        /// Size range.
        max: Option<i64>,
    },
    /// A map.
    Map {
        /// Key shape.
        key: String,
        /// Value shape.
        value: String,
        /// Size range.
        min: Option<i64>,
        /// Size range.
        max: Option<i64>,
    },
    /// A string.
    String {
        /// Length range.
        min: Option<i64>,
        /// Length range.
        max: Option<i64>,
        /// The pattern as the model writes it, and compiled (whole-value match).
        pattern: Option<(String, Regex)>,
        /// Allowed values.
        enumeration: Option<Vec<String>>,
        /// Whether values must never be echoed.
        sensitive: bool,
    },
    /// An integer or long.
    Integer {
        /// Value range.
        min: Option<i64>,
        /// Value range.
        max: Option<i64>,
    },
    /// A boolean.
    Boolean,
    /// A timestamp, written on the wire in this format.
    Timestamp(TimestampFormat),
    /// Anything the emulator does not check (blobs, doubles).
    Other,
}

/// How a timestamp travels (the shape's `timestampFormat`, or the protocol's
/// default: epoch seconds for rest-json bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// Seconds since the epoch, a JSON number.
    EpochSeconds,
    /// An RFC 3339 (ISO 8601) string, e.g. `2026-11-01T12:00:00.250Z`.
    Iso8601,
    /// An RFC 7231 HTTP date string.
    HttpDate,
}

/// The model's metadata the emulator uses.
#[derive(Debug)]
pub struct Metadata {
    /// The SigV4 signing name (`gameliftstreams`, `ivs`): the service in a
    /// request's credential scope.
    pub signing_name: String,
    /// The service's full name, for messages.
    pub service_full_name: String,
}

/// The service model: operations and shapes.
#[derive(Debug)]
pub struct ServiceModel {
    /// What the model says about the service.
    pub metadata: Metadata,
    operations: Vec<Operation>,
    shapes: HashMap<String, Shape>,
}

/// The embedded GameLift Streams model, parsed on first use.
pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(MODEL_JSON).unwrap_or_else(|e| panic!("embedded service-2.json: {e}")))
}

/// The embedded IVS Real-Time model, parsed on first use.
pub fn ivs_realtime_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        ServiceModel::parse(IVS_REALTIME_MODEL_JSON).unwrap_or_else(|e| panic!("embedded ivs-realtime-2.json: {e}"))
    })
}

impl ServiceModel {
    /// The operation with this name.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.name == name)
    }

    /// Every operation, by name.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.operations.iter()
    }

    /// The names of a structure's members, in model order.
    pub fn member_names(&self, structure: &str) -> Vec<&str> {
        match self.shapes.get(structure) {
            Some(Shape::Structure { members, .. }) => members.iter().map(|m| m.name.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pattern::compile_pattern;
    use super::*;
    use serde_json::{json, Map, Value};

    fn start_input(body: Value) -> Result<Value, String> {
        let m = model();
        let (op, labels) = m.route("POST", "/streamgroups/sg-000000001/streamsessions").expect("route");
        let Value::Object(body) = body else { panic!("object") };
        m.input(op, &labels, &[], body).map_err(|v| aws_message(&v))
    }

    #[test]
    fn every_pattern_of_the_model_compiles() {
        let m = model();
        assert!(m.operations.len() >= 30);
        assert!(m.shapes.values().any(|s| matches!(s, Shape::String { pattern: Some(_), .. })));
    }

    #[test]
    fn description_pattern_keeps_java_meaning() {
        let re = compile_pattern("[a-zA-Z0-9-_.!+@/][a-zA-Z0-9-_.!+@/ ]*").expect("compiles");
        assert!(re.is_match("my-session_1.x"));
        assert!(!re.is_match(" leading space"));
        assert!(!re.is_match("semi;colon"));
    }

    #[test]
    fn routes_encoded_arn_labels_and_prefers_literals() {
        let m = model();
        let (op, labels) = m
            .route(
                "GET",
                "/streamgroups/arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A111122223333%3Astreamgroup%2Fsg-1/streamsessions/abc",
            )
            .expect("route");
        assert_eq!(op.name, "GetStreamSession");
        assert_eq!(labels["Identifier"], "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1");
        assert_eq!(m.route("GET", "/streamgroups/sg-1/streamsessions").expect("r").0.name, "ListStreamSessions");
        assert!(m.route("PATCH", "/nothing/here").is_none());
    }

    #[test]
    fn range_violation_names_the_member_like_aws() {
        let err = start_input(json!({
            "Protocol": "WebRTC", "SignalRequest": "offer", "ApplicationIdentifier": "a-1",
            "ConnectionTimeoutSeconds": 0
        }))
        .unwrap_err();
        assert_eq!(
            err,
            "1 validation error detected: Value '0' at 'connectionTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
    }

    #[test]
    fn missing_required_members_are_all_reported() {
        let err = start_input(json!({"Protocol": "WebRTC"})).unwrap_err().to_string();
        assert!(err.starts_with("2 validation errors detected"), "{err}");
        assert!(err.contains("Value null at 'signalRequest'"), "{err}");
        assert!(err.contains("Value null at 'applicationIdentifier'"), "{err}");
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        let err = start_input(json!({
            "Protocol": "WebRTC", "SignalRequest": "offer", "ApplicationIdentifier": "a-1",
            "RoleArn": "arn:aws:iam::12:role/secret-role-name"
        }))
        .unwrap_err();
        assert!(err.contains("at 'roleArn'"), "{err}");
        assert!(!err.contains("secret-role-name"), "{err}");
    }

    #[test]
    fn nested_lists_maps_and_enums_are_checked() {
        let err = start_input(json!({
            "Protocol": "SRT", "SignalRequest": "offer", "ApplicationIdentifier": "a-1",
            "Locations": ["us west"], "AdditionalEnvironmentVariables": {"1BAD": "x"},
            "DisplayConfiguration": {"Resolution": {"Width": 100, "Height": 720}},
            "ClientToken": "short"
        }))
        .unwrap_err();
        for needle in [
            "at 'protocol' failed to satisfy constraint: Member must satisfy enum value set: [WebRTC]",
            "at 'locations.1.member'",
            "at 'additionalEnvironmentVariables.key'",
            "at 'displayConfiguration.resolution.width' failed to satisfy constraint: Member must have value greater than or equal to 320",
            "at 'clientToken' failed to satisfy constraint: Member must have length greater than or equal to 32",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
    }

    #[test]
    fn query_integers_are_typed_and_ranged() {
        let m = model();
        let (op, labels) = m.route("GET", "/streamgroups/sg-1/streamsessions").expect("route");
        let q = |v: &str| vec![("MaxResults".to_string(), v.to_string())];
        assert!(m.input(op, &labels, &q("100"), Map::new()).is_ok());
        let err = aws_message(&m.input(op, &labels, &q("101"), Map::new()).unwrap_err());
        assert!(err.contains("at 'maxResults'"), "{err}");
        let err = aws_message(&m.input(op, &labels, &q("ten"), Map::new()).unwrap_err());
        assert!(err.contains("Member must be an integer"), "{err}");
    }
}
