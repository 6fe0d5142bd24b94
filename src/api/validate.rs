//! Strict input checks, before any AWS call: every member of a request is
//! checked against botocore's model of the AWS operation it becomes (required,
//! lengths, patterns, ranges, sizes), plus the gRPC-only fields (`request_id`,
//! enum values). Violations name the proto field. Never echoes a value.

use serde_json::{json, Value};

use crate::proto::v1 as pb;
use crate::service_model::{self, Constraint, PathPart, Violation};
use crate::sessions::idempotency;

/// A bad field, for `google.rpc.BadRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The proto field path, e.g. `display_configuration.resolution.width`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// One AWS input member, the proto field it comes from, and its value as AWS
/// would receive it (`None` when the request leaves it unset).
pub struct Member {
    /// The AWS member name.
    pub aws: &'static str,
    /// The proto field name.
    pub proto: &'static str,
    /// The value, shaped as AWS's JSON.
    pub value: Option<Value>,
}

fn m(aws: &'static str, proto: &'static str, value: Option<Value>) -> Member {
    Member { aws, proto, value }
}

fn text(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| Value::String(s.to_string()))
}

fn strings(items: &[String]) -> Option<Value> {
    (!items.is_empty()).then(|| json!(items))
}

/// The AWS members of StartStreamSession, from a request.
pub fn start_members(r: &pb::StartStreamSessionRequest) -> Vec<Member> {
    vec![
        m("Identifier", "stream_group_identifier", text(&r.stream_group_identifier)),
        m("ApplicationIdentifier", "application_identifier", text(&r.application_identifier)),
        m("Protocol", "protocol", Some(json!("WebRTC"))),
        m("SignalRequest", "signal_request", text(&r.signal_request)),
        m("ClientToken", "request_id", None),
        m("Description", "description", text(&r.description)),
        m("UserId", "user_id", text(&r.user_id)),
        m("Locations", "locations", strings(&r.locations)),
        m("ConnectionTimeoutSeconds", "connection_timeout_seconds", r.connection_timeout_seconds.map(Value::from)),
        m("SessionLengthSeconds", "session_length_seconds", r.session_length_seconds.map(Value::from)),
        m("AdditionalLaunchArgs", "additional_launch_args", strings(&r.additional_launch_args)),
        m(
            "AdditionalEnvironmentVariables",
            "additional_environment_variables",
            (!r.additional_environment_variables.is_empty()).then(|| json!(r.additional_environment_variables)),
        ),
        m(
            "PerformanceStatsConfiguration",
            "performance_stats_configuration",
            r.performance_stats_configuration
                .as_ref()
                .map(|p| json!({ "SharedWithClient": p.shared_with_client })),
        ),
        m("RoleArn", "role_arn", text(&r.role_arn)),
        m(
            "DisplayConfiguration",
            "display_configuration",
            r.display_configuration.as_ref().map(|d| {
                json!({ "Resolution": d.resolution.as_ref().map(|r| json!({ "Width": r.width, "Height": r.height })) })
            }),
        ),
    ]
}

fn session_members(group: &str, session: &str) -> Vec<Member> {
    vec![
        m("Identifier", "stream_group_identifier", text(group)),
        m("StreamSessionIdentifier", "stream_session_identifier", text(session)),
    ]
}

/// The AWS members of GetStreamSession.
pub fn get_members(r: &pb::GetStreamSessionRequest) -> Vec<Member> {
    session_members(&r.stream_group_identifier, &r.stream_session_identifier)
}

/// The AWS members of GetStreamSession a watch of one session reads with.
pub fn watch_members(r: &pb::WatchStreamSessionRequest) -> Vec<Member> {
    session_members(&r.stream_group_identifier, &r.stream_session_identifier)
}

/// The AWS members of ListStreamSessions a watch of a stream group reads with.
pub fn watch_group_members(r: &pb::WatchStreamSessionsRequest) -> Vec<Member> {
    vec![m("Identifier", "stream_group_identifier", text(&r.stream_group_identifier))]
}

/// The AWS members of TerminateStreamSession.
pub fn terminate_members(r: &pb::TerminateStreamSessionRequest) -> Vec<Member> {
    session_members(&r.stream_group_identifier, &r.stream_session_identifier)
}

/// The AWS members of CreateStreamSessionConnection.
pub fn connection_members(r: &pb::CreateStreamSessionConnectionRequest) -> Vec<Member> {
    let mut members = session_members(&r.stream_group_identifier, &r.stream_session_identifier);
    members.push(m("SignalRequest", "signal_request", text(&r.signal_request)));
    members.push(m("ClientToken", "request_id", None));
    members
}

/// The AWS members of ExportStreamSessionFiles.
pub fn export_members(r: &pb::ExportStreamSessionFilesRequest) -> Vec<Member> {
    let mut members = session_members(&r.stream_group_identifier, &r.stream_session_identifier);
    members.push(m("OutputUri", "output_uri", text(&r.output_uri)));
    members
}

fn list_filters(status: i32, export: i32, page_size: Option<i32>, page_token: &str) -> Vec<Member> {
    let status = pb::StreamSessionStatus::try_from(status).ok().and_then(super::convert::status_to_aws);
    let export = pb::ExportFilesStatus::try_from(export).ok().and_then(super::convert::export_status_to_aws);
    vec![
        m("Status", "status", status.map(|s| json!(s.as_str()))),
        m("ExportFilesStatus", "export_files_status", export.map(|s| json!(s.as_str()))),
        m("MaxResults", "page_size", page_size.map(Value::from)),
        m("NextToken", "page_token", text(page_token)),
    ]
}

/// The AWS members of ListStreamSessions.
pub fn list_members(r: &pb::ListStreamSessionsRequest) -> Vec<Member> {
    let mut members = vec![m("Identifier", "stream_group_identifier", text(&r.stream_group_identifier))];
    members.extend(list_filters(r.status, r.export_files_status, r.page_size, &r.page_token));
    members
}

/// The AWS members of ListStreamSessionsByAccount.
pub fn list_by_account_members(r: &pb::ListStreamSessionsByAccountRequest) -> Vec<Member> {
    list_filters(r.status, r.export_files_status, r.page_size, &r.page_token)
}

/// Most locations a StartStreamSession may name. The model sets no maximum;
/// GameLift Streams has far fewer locations than this.
pub const MAX_LOCATIONS: usize = 100;

/// Longest map key a field path quotes (the key is the caller's text).
const MAX_QUOTED_KEY_CHARS: usize = 32;

/// Checks a StartStreamSession: its repeated and map fields are counted
/// first, and one that is too long fails the request before any per-element
/// work (so a request of a million junk locations costs one comparison).
pub fn check_start(r: &pb::StartStreamSessionRequest, enums: &[(&str, bool)]) -> Result<(), Vec<FieldViolation>> {
    let model = service_model::model();
    let max = |member| model.max_items("StartStreamSessionInput", member).and_then(|m| usize::try_from(m).ok());
    let counts = [
        ("locations", r.locations.len(), Some(MAX_LOCATIONS)),
        ("additional_launch_args", r.additional_launch_args.len(), max("AdditionalLaunchArgs")),
        (
            "additional_environment_variables",
            r.additional_environment_variables.len(),
            max("AdditionalEnvironmentVariables"),
        ),
    ];
    let too_many: Vec<FieldViolation> = counts
        .into_iter()
        .filter_map(|(field, len, max)| {
            max.filter(|max| len > *max).map(|max| FieldViolation {
                field: field.into(),
                description: format!("must have at most {max} elements (got {len})"),
            })
        })
        .collect();
    if !too_many.is_empty() {
        return Err(too_many);
    }
    check("StartStreamSessionInput", &start_members(r), Some(&r.request_id), enums)
}

/// Checks `members` against the model's `input` structure, plus the request's
/// `request_id` and enum fields.
pub fn check(
    input: &str,
    members: &[Member],
    request_id: Option<&str>,
    enums: &[(&str, bool)],
) -> Result<(), Vec<FieldViolation>> {
    let model = service_model::model();
    let mut out: Vec<FieldViolation> = enums
        .iter()
        .filter(|(_, known)| !known)
        .map(|(field, _)| FieldViolation { field: (*field).to_string(), description: "unknown enum value".into() })
        .collect();
    if let Some(id) = request_id.filter(|id| !id.is_empty() && !idempotency::is_valid_request_id(id)) {
        out.push(FieldViolation {
            field: "request_id".into(),
            description: format!(
                "must be 1 to {} printable ASCII characters without spaces (got {} bytes)",
                idempotency::MAX_REQUEST_ID_LEN,
                id.len()
            ),
        });
    }
    for member in members.iter().filter(|m| m.aws != "ClientToken") {
        for v in model.check_member(input, member.aws, member.value.as_ref()) {
            out.push(FieldViolation { field: proto_path(member.proto, &v), description: describe(&v) });
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

fn proto_path(root: &str, v: &Violation) -> String {
    let mut out = root.to_string();
    for part in v.path.iter().skip(1) {
        match part {
            PathPart::Member(name) => {
                out.push('.');
                out.push_str(&snake_case(name));
            }
            PathPart::Index(i) => out.push_str(&format!("[{i}]")),
            PathPart::Key(k) | PathPart::Value(k) => out.push_str(&format!("[{:?}]", quoted_key(k))),
        }
    }
    out
}

/// A map key as a field path quotes it: at most [`MAX_QUOTED_KEY_CHARS`].
fn quoted_key(key: &str) -> String {
    match key.char_indices().nth(MAX_QUOTED_KEY_CHARS) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_string(),
    }
}

fn describe(v: &Violation) -> String {
    let subject = match v.path.last() {
        Some(PathPart::Key(_)) => "the key ",
        _ => "",
    };
    let rule = match &v.constraint {
        Constraint::Required => return "required".into(),
        Constraint::MinLength(n) => format!("length must be at least {n}"),
        Constraint::MaxLength(n) => format!("length must be at most {n}"),
        Constraint::MinValue(n) => format!("must be at least {n}"),
        Constraint::MaxValue(n) => format!("must be at most {n}"),
        Constraint::Pattern(p) => format!("must match the pattern {p}"),
        Constraint::Enum(values) => format!("must be one of {}", values.join(", ")),
        Constraint::Type(t) => format!("must be {t}"),
    };
    format!("{subject}{rule}")
}

/// `ConnectionTimeoutSeconds` → `connection_timeout_seconds`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws_names(members: &[Member]) -> Vec<&'static str> {
        let mut names: Vec<_> = members.iter().map(|m| m.aws).collect();
        names.sort_unstable();
        names
    }

    fn model_names(input: &str) -> Vec<&'static str> {
        let mut names = service_model::model().member_names(input);
        names.sort_unstable();
        names
    }

    #[test]
    fn every_member_of_every_aws_input_comes_from_a_proto_field() {
        let cases = [
            ("StartStreamSessionInput", start_members(&Default::default())),
            ("GetStreamSessionInput", get_members(&Default::default())),
            ("ListStreamSessionsInput", list_members(&Default::default())),
            ("ListStreamSessionsByAccountInput", list_by_account_members(&Default::default())),
            ("TerminateStreamSessionInput", terminate_members(&Default::default())),
            ("CreateStreamSessionConnectionInput", connection_members(&Default::default())),
            ("ExportStreamSessionFilesInput", export_members(&Default::default())),
        ];
        for (input, members) in cases {
            assert_eq!(aws_names(&members), model_names(input), "{input}");
        }
    }

    #[test]
    fn nested_violations_name_the_proto_path() {
        let req = pb::StartStreamSessionRequest {
            stream_group_identifier: "sg-1".into(),
            application_identifier: "a-1".into(),
            signal_request: "offer".into(),
            locations: vec!["us-west-2".into(), "bad location".into()],
            additional_environment_variables: [("1BAD".to_string(), "x".to_string())].into(),
            display_configuration: Some(pb::DisplayConfiguration {
                resolution: Some(pb::Resolution { width: 100, height: 720 }),
            }),
            ..Default::default()
        };
        let err = check("StartStreamSessionInput", &start_members(&req), Some(&req.request_id), &[]).unwrap_err();
        let fields: Vec<&str> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["locations[1]", "additional_environment_variables[\"1BAD\"]", "display_configuration.resolution.width"]
        );
        assert_eq!(err[2].description, "must be at least 320");
        assert!(err[1].description.starts_with("the key must match"), "{}", err[1].description);
    }

    #[test]
    fn oversized_repeated_fields_fail_before_any_element_is_checked() {
        let req = pb::StartStreamSessionRequest {
            locations: vec!["not a location!".into(); 1_000_000],
            additional_launch_args: vec![String::new(); 101],
            additional_environment_variables: (0..51).map(|i| (format!("bad-{i}"), String::new())).collect(),
            ..Default::default()
        };
        let err = check_start(&req, &[]).unwrap_err();
        let found: Vec<(&str, &str)> = err.iter().map(|v| (v.field.as_str(), v.description.as_str())).collect();
        assert_eq!(
            found,
            [
                ("locations", "must have at most 100 elements (got 1000000)"),
                ("additional_launch_args", "must have at most 100 elements (got 101)"),
                ("additional_environment_variables", "must have at most 50 elements (got 51)"),
            ]
        );
    }

    #[test]
    fn a_long_map_key_is_quoted_cut_short() {
        let key = "K-".repeat(500);
        let req = pb::StartStreamSessionRequest {
            additional_environment_variables: [(key, "v".to_string())].into(),
            ..Default::default()
        };
        let err = check_start(&req, &[]).unwrap_err();
        let quoted = err.iter().find(|v| v.field.starts_with("additional_environment_variables[")).expect("the key");
        assert_eq!(quoted.field, format!("additional_environment_variables[\"{}…\"]", "K-".repeat(16)));
    }

    #[test]
    fn required_fields_request_ids_and_enums() {
        let req = pb::GetStreamSessionRequest::default();
        let err =
            check("GetStreamSessionInput", &get_members(&req), Some("with space"), &[("status", false)]).unwrap_err();
        let fields: Vec<&str> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["status", "request_id", "stream_group_identifier", "stream_session_identifier"]);
        assert_eq!(err[2].description, "required");
    }
}
